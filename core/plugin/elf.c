/* elf.c - look for the entry symbol in a plugin file before dlopen().
 *
 * dlopen() runs a shared object's constructors, so a stray .so in the
 * plugins folder would run code even though tickler then refuses it.
 * Reading the dynamic symbol table first refuses such files without running
 * anything of theirs.  Only the native ELF class and byte order are
 * accepted; anything unexpected is "not a shared object". */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"

#if UINTPTR_MAX == 0xffffffffffffffffu
typedef Elf64_Ehdr ehdr_t;
typedef Elf64_Shdr shdr_t;
typedef Elf64_Sym sym_t;
#define TK_ELFCLASS ELFCLASS64
#else
typedef Elf32_Ehdr ehdr_t;
typedef Elf32_Shdr shdr_t;
typedef Elf32_Sym sym_t;
#define TK_ELFCLASS ELFCLASS32
#endif

/* The file is read with pread(), not mapped: on the VMs we measure, a
 * mapping, its page faults and its munmap cost about 30 us a plugin, and
 * every command that sends checks all of them (bench/RESULTS.md update
 * 51).  HEAD holds the file's first bytes, where a linker puts .dynsym and
 * .dynstr; what lies beyond it is read apart. */
struct elf_file {
    int fd;
    size_t size;
    unsigned char head[4096];
    size_t nhead;
};

/* LEN bytes at OFF (within the file: the caller checked) in *OUT, from
 * HEAD or, in a buffer *OWNED the caller frees, from the file.  0, or -2
 * when the file cannot be read. */
static int range(struct elf_file *f, size_t off, size_t len, const unsigned char **out,
                 unsigned char **owned)
{
    *owned = NULL;
    if (off <= f->nhead && len <= f->nhead - off) {
        *out = f->head + off;
        return 0;
    }
    if (!(*owned = malloc(len ? len : 1)))
        return -2;
    for (size_t got = 0; got < len;) {
        ssize_t n = pread(f->fd, *owned + got, len - got, (off_t)(off + got));
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            free(*owned);
            *owned = NULL;
            if (n == 0)
                errno = EIO; /* shorter than fstat said: changed under us */
            return -2;
        }
        got += (size_t)n;
    }
    *out = *owned;
    return 0;
}

/* 1: defined, 0: absent, -1: not a readable ELF shared object, -2: the
 * file cannot be read (errno). */
static int scan(struct elf_file *f, const char *name)
{
    const ehdr_t *eh = (const ehdr_t *)f->head;
    const unsigned char want_data =
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        ELFDATA2LSB;
#else
        ELFDATA2MSB;
#endif
    const size_t size = f->size;
    const unsigned char *shm;
    unsigned char *shown = NULL;
    int found = 0;
    if (f->nhead < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != TK_ELFCLASS || eh->e_ident[EI_DATA] != want_data ||
        eh->e_type != ET_DYN || eh->e_shentsize != sizeof(shdr_t) || eh->e_shoff > size ||
        eh->e_shnum > (size - eh->e_shoff) / sizeof(shdr_t))
        return -1;
    if (range(f, eh->e_shoff, eh->e_shnum * sizeof(shdr_t), &shm, &shown))
        return -2;
    const shdr_t *sh = (const shdr_t *)shm;
    for (size_t i = 0; i < eh->e_shnum && !found; i++) {
        const unsigned char *symm, *strm;
        unsigned char *symo, *stro;
        if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum ||
            sh[i].sh_entsize != sizeof(sym_t))
            continue;
        const shdr_t *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            str->sh_offset > size || str->sh_size > size - str->sh_offset || !str->sh_size) {
            found = -1;
            break;
        }
        if (range(f, sh[i].sh_offset, sh[i].sh_size, &symm, &symo)) {
            found = -2;
            break;
        }
        if (range(f, str->sh_offset, str->sh_size, &strm, &stro)) {
            free(symo);
            found = -2;
            break;
        }
        const sym_t *syms = (const sym_t *)symm;
        const char *strs = (const char *)strm;
        for (size_t k = 0; k < sh[i].sh_size / sizeof(sym_t); k++) {
            size_t off = syms[k].st_name;
            if (off >= str->sh_size || syms[k].st_shndx == SHN_UNDEF)
                continue;
            if (strncmp(strs + off, name, str->sh_size - off) == 0) {
                found = 1;
                break;
            }
        }
        free(symo);
        free(stro);
    }
    free(shown);
    return found;
}

int tk_plugin_check_elf(int fd, const char *path, struct tk_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tk_error_set(err, TK_ERR, "plugin %s: refused: not a shared object", path);
    return tk_plugin_check_elf_sized(fd, st.st_size, path, err);
}

int tk_plugin_check_elf_sized(int fd, off_t size, const char *path, struct tk_error *err)
{
    struct elf_file *f;
    ssize_t n;
    int found;
    if (size <= 0)
        return tk_error_set(err, TK_ERR, "plugin %s: refused: not a shared object", path);
    /* Read from the descriptor the loader will dlopen(): what is read here
     * is what runs. */
    if (!(f = malloc(sizeof *f)))
        return tk_error_set(err, TK_ENOMEM, "out of memory");
    f->fd = fd;
    f->size = (size_t)size;
    do
        n = pread(fd, f->head, f->size < sizeof f->head ? f->size : sizeof f->head, 0);
    while (n < 0 && errno == EINTR);
    f->nhead = n > 0 ? (size_t)n : 0;
    found = n < 0 ? -2 : scan(f, TK_PLUGIN_ENTRY_NAME);
    free(f);
    if (found == -2)
        return tk_error_set(err, TK_EIO, "plugin %s: refused: cannot read: %s", path,
                            strerror(errno));
    if (found < 0)
        return tk_error_set(err, TK_ERR, "plugin %s: refused: not a shared object for this machine",
                            path);
    if (!found)
        return tk_error_set(err, TK_ERR, "plugin %s: refused: not a tickler plugin: no %s symbol",
                            path, TK_PLUGIN_ENTRY_NAME);
    return 0;
}
