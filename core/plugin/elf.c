/* elf.c - look for the entry symbol in a plugin file before dlopen().
 *
 * dlopen() runs a shared object's constructors, so a stray .so in the
 * plugins folder would run code even though tickler then refuses it.
 * Reading the dynamic symbol table first refuses such files without running
 * anything of theirs.  Only the native ELF class and byte order are
 * accepted; anything unexpected is "not a shared object". */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
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

/* 1: defined, 0: absent, -1: not a readable ELF shared object. */
static int scan(const unsigned char *m, size_t size, const char *name)
{
    const ehdr_t *eh = (const ehdr_t *)m;
    const unsigned char want_data =
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        ELFDATA2LSB;
#else
        ELFDATA2MSB;
#endif
    if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != TK_ELFCLASS || eh->e_ident[EI_DATA] != want_data ||
        eh->e_type != ET_DYN || eh->e_shentsize != sizeof(shdr_t) || eh->e_shoff > size ||
        eh->e_shnum > (size - eh->e_shoff) / sizeof(shdr_t))
        return -1;
    const shdr_t *sh = (const shdr_t *)(m + eh->e_shoff);
    for (size_t i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum ||
            sh[i].sh_entsize != sizeof(sym_t))
            continue;
        const shdr_t *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            str->sh_offset > size || str->sh_size > size - str->sh_offset || !str->sh_size)
            return -1;
        const sym_t *syms = (const sym_t *)(m + sh[i].sh_offset);
        const char *strs = (const char *)(m + str->sh_offset);
        for (size_t k = 0; k < sh[i].sh_size / sizeof(sym_t); k++) {
            size_t off = syms[k].st_name;
            if (off >= str->sh_size || syms[k].st_shndx == SHN_UNDEF)
                continue;
            if (strncmp(strs + off, name, str->sh_size - off) == 0)
                return 1;
        }
    }
    return 0;
}

int tk_plugin_check_elf(int fd, const char *path, struct tk_error *err)
{
    struct stat st;
    void *m;
    int found;
    if (fstat(fd, &st) != 0 || st.st_size <= 0)
        return tk_error_set(err, TK_ERR, "plugin %s: refused: not a shared object", path);
    /* Mapped from the descriptor the loader will dlopen(): what is read here
     * is what runs. */
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return tk_error_set(err, TK_EIO, "plugin %s: refused: cannot read: %s", path,
                            strerror(errno));
    found = scan(m, (size_t)st.st_size, TK_PLUGIN_ENTRY_NAME);
    munmap(m, (size_t)st.st_size);
    if (found < 0)
        return tk_error_set(err, TK_ERR, "plugin %s: refused: not a shared object for this machine",
                            path);
    if (!found)
        return tk_error_set(err, TK_ERR, "plugin %s: refused: not a tickler plugin: no %s symbol",
                            path, TK_PLUGIN_ENTRY_NAME);
    return 0;
}
