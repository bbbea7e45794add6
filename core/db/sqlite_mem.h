/*
 * sqlite_mem.h - SQLite's allocator: glibc's malloc behind a per-thread
 * cache of small freed blocks (issue 17, bench/RESULTS.md update 71).
 *
 * Debian's libsqlite3 is built with SQLITE_OMIT_LOOKASIDE, so every small
 * allocation of a statement's run (cursors, records, unpacked keys) is a
 * malloc and a free: about 60 a reminder.  The blocks here come from
 * malloc as before; a freed block of up to TK_SQLITE_MEM_CLASS_MAX bytes
 * goes onto its thread's list for its size class (powers of two from 16)
 * and serves that thread's next request of the class.  Each list holds at
 * most TK_SQLITE_MEM_LIST_MAX blocks; a thread's lists are freed when it
 * ends.  A block may be freed on any thread (it joins that thread's list):
 * no lock, as SQLite's connections run on several threads at once.
 *
 * Internal to core/db (sqlite.c installs it, the unit test calls it).
 */
#ifndef TK_DB_SQLITE_MEM_H
#define TK_DB_SQLITE_MEM_H

#include <sqlite3.h>

/* 1 when built with AddressSanitizer (gcc's macro, clang's feature). */
#if defined(__SANITIZE_ADDRESS__)
#define TK_SQLITE_MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TK_SQLITE_MEM_ASAN 1
#endif
#endif
#ifndef TK_SQLITE_MEM_ASAN
#define TK_SQLITE_MEM_ASAN 0
#endif

#define TK_SQLITE_MEM_CLASS_MIN 16
#define TK_SQLITE_MEM_CLASS_MAX 1024
#define TK_SQLITE_MEM_LIST_MAX 256

/* The allocator's methods for SQLITE_CONFIG_MALLOC; never NULL.  Borrowed
 * for the process's lifetime. */
const sqlite3_mem_methods *tk_sqlite_mem_methods(void);

/* Set to 1 before the first store is opened to leave SQLite's own
 * allocator in place: the allocation fault tests (test_fault_alloc*),
 * which fail the Nth malloc of the process, so that every one of SQLite's
 * allocations stays a malloc they can fail, as before the cache. */
extern int tk_sqlite_mem_off;

/* Blocks in the calling thread's lists (for the unit test). */
unsigned tk_sqlite_mem_cached(void);

/* Free the calling thread's cached blocks now.  A thread's lists go when it
 * ends, but the main thread's at exit() do not (no key destructor runs
 * there): a test under LeakSanitizer calls this before it returns. */
void tk_sqlite_mem_release(void);

#endif
