/*
 * symtab.c - the process's loaded objects, for profiles: where each one's
 * code is mapped, its build ID, and its function names.
 *
 * Owns symtab_load (a snapshot of the objects loaded now, from
 * dl_iterate_phdr: the program first, then shared libraries and the vDSO)
 * and the lookups pprof.c makes in it.  A profile names functions itself, so
 * that it reads well without the binaries; its mappings (start, limit, file
 * offset, path, build ID) are what pprof needs to find each binary and add
 * file:line from its debug info.
 *
 * Names come from the ELF symbol tables of each object's file, read with
 * mmap when a lookup first needs them: .symtab where the file has one (static
 * functions too), else the debug file that its build ID names under
 * /usr/lib/debug/.build-id/, else .dynsym; dladdr answers for objects with no
 * readable file (the vDSO).  Every offset read from a file is checked against
 * its size: a malformed file gives no names, never a crash.
 *
 * Runs outside allocator sections, with malloc: a writer is an ordinary
 * caller.  Nothing here is shared between threads: each writer loads its own.
 * One lock, load_lock, is held around dl_iterate_phdr and taken by fork's
 * prepare handler (profile_lock_all): glibc does not reset the loader's
 * lock for dl_iterate_phdr in a fork child, so a fork while a writer was in
 * there left the child to hang at its first collection's walk of the
 * loaded objects.
 */
#include "internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct load {
    symtab_t *st;
    size_t cap;
    uintptr_t vdso;
    uintptr_t page;
    bool oom;
};

/* The GNU build ID among the notes in [p, end), as hex into out (n bytes);
 * false if none. */
static bool notes_build_id(const uint8_t *p, const uint8_t *end, char *out, size_t n)
{
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        ElfW(Nhdr) nh;
        memcpy(&nh, p, sizeof nh);
        const uint8_t *name = p + sizeof nh;
        const uint8_t *desc = name + round_up(nh.n_namesz, 4);
        const uint8_t *next = desc + round_up(nh.n_descsz, 4);
        if (next > end || next < p)
            return false;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
            nh.n_descsz * 2 < n) {
            for (unsigned k = 0; k < nh.n_descsz; k++)
                snprintf(out + 2 * k, 3, "%02x", desc[k]);
            return true;
        }
        p = next;
    }
    return false;
}

static void build_id_of(objfile_t *o, const struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        if (ph->p_type == PT_NOTE && notes_build_id(p, p + ph->p_memsz, o->build_id, sizeof o->build_id))
            return;
    }
}

static int load_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct load *l = arg;
    symtab_t *st = l->st;
    unsigned nx = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        nx += info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X);
    if (!nx)
        return 0;
    if (st->nobjs == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        objfile_t *objs = realloc(st->objs, cap * sizeof *objs);
        if (!objs) {
            l->oom = true;
            return 1;
        }
        st->objs = objs;
        l->cap = cap;
    }
    objfile_t *o = &st->objs[st->nobjs];
    memset(o, 0, sizeof *o);
    o->bias = info->dlpi_addr;
    o->segs = malloc(nx * sizeof *o->segs);
    if (!o->segs) {
        l->oom = true;
        return 1;
    }
    char exe[4096];
    const char *path = info->dlpi_name;
    if (l->vdso && info->dlpi_addr == l->vdso) {
        path = "[vdso]";
    } else if (!path || !*path) {
        ssize_t n = st->nobjs == 0 ? readlink("/proc/self/exe", exe, sizeof exe - 1) : -1;
        exe[n > 0 ? n : 0] = 0;
        path = exe;
    }
    /* As /proc/self/maps names it (the link resolved: /lib -> /usr/lib). */
    o->path = path[0] == '/' ? realpath(path, NULL) : NULL;
    if (!o->path)
        o->path = strdup(path);
    if (!o->path) {
        free(o->segs);
        l->oom = true;
        return 1;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        /* As the kernel maps it, and /proc/self/maps shows it: whole pages. */
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        uintptr_t lead = start & (l->page - 1);
        o->segs[o->nsegs++] = (objseg_t){start - lead, round_up(start + ph->p_memsz, l->page),
                                         (uintptr_t)ph->p_offset - lead};
    }
    build_id_of(o, info);
    st->nobjs++;
    return 0;
}

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

void symtab_lock(void) { pthread_mutex_lock(&load_lock); }

void symtab_unlock(void) { pthread_mutex_unlock(&load_lock); }

symtab_t *symtab_load(void)
{
    symtab_t *st = calloc(1, sizeof *st);
    if (!st) {
        errno = ENOMEM;
        return NULL;
    }
    long page = sysconf(_SC_PAGESIZE);
    struct load l = {.st = st, .vdso = getauxval(AT_SYSINFO_EHDR), .page = page > 0 ? (uintptr_t)page : 4096};
    symtab_lock();
    dl_iterate_phdr(load_one, &l);
    symtab_unlock();
    if (l.oom) {
        symtab_free(st);
        errno = ENOMEM;
        return NULL;
    }
    return st;
}

void symtab_free(symtab_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nobjs; i++) {
        objfile_t *o = &st->objs[i];
        for (int k = 0; k < 2; k++)
            if (o->maps[k])
                munmap(o->maps[k], o->maplens[k]);
        for (size_t k = 0; k < o->nowned; k++)
            free(o->owned[k]);
        free(o->owned);
        free(o->syms);
        free(o->segs);
        free(o->path);
    }
    free(st->objs);
    free(st);
}

objfile_t *symtab_object(symtab_t *st, uintptr_t pc, unsigned *seg)
{
    for (size_t i = 0; i < st->nobjs; i++) {
        objfile_t *o = &st->objs[i];
        for (unsigned k = 0; k < o->nsegs; k++)
            if (pc >= o->segs[k].start && pc < o->segs[k].limit) {
                if (seg)
                    *seg = k;
                return o;
            }
    }
    return NULL;
}

/* ---- ELF symbol tables ------------------------------------------------------ */

/* By address, then by how well each alias names the function: global
 * before local, and a plain name before a versioned one (the default
 * version, "name@@V", before the others). */
static unsigned sym_rank(unsigned bind, const char *name)
{
    const char *at = strchr(name, '@');
    return (bind == STB_LOCAL ? 4u : 0u) + (!at ? 0u : at[1] == '@' ? 1u : 2u);
}

static int sym_cmp(const void *a, const void *b)
{
    const sym_t *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* One symbol per address, its name without a version. */
static void sym_dedupe(objfile_t *o)
{
    size_t k = 0;
    for (size_t i = 0; i < o->nsyms; i++)
        if (k == 0 || o->syms[k - 1].addr != o->syms[i].addr)
            o->syms[k++] = o->syms[i];
    o->nsyms = k;
    for (size_t i = 0; i < o->nsyms; i++) {
        const char *at = strchr(o->syms[i].name, '@');
        if (!at || at == o->syms[i].name)
            continue;
        char **owned = realloc(o->owned, (o->nowned + 1) * sizeof *owned);
        char *name = owned ? strndup(o->syms[i].name, (size_t)(at - o->syms[i].name)) : NULL;
        if (owned)
            o->owned = owned;
        if (!name)
            return; /* out of memory: the versioned names stay */
        o->owned[o->nowned++] = name;
        o->syms[i].name = name;
    }
}

/* The function symbols of table `want` (SHT_SYMTAB or SHT_DYNSYM) of the ELF
 * image [base, base + len), appended to o->syms.  False if it has none. */
static bool read_syms(objfile_t *o, const uint8_t *base, size_t len, unsigned want)
{
    if (len < sizeof(ElfW(Ehdr)) || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
        return false;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
    if (eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff > len ||
        (len - eh->e_shoff) / sizeof(ElfW(Shdr)) < eh->e_shnum)
        return false;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(ElfW(Sym)))
            continue;
        const ElfW(Shdr) *strs = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > len || len - sh[i].sh_offset < sh[i].sh_size || strs->sh_offset > len ||
            len - strs->sh_offset < strs->sh_size)
            continue;
        const ElfW(Sym) *sym = (const ElfW(Sym) *)(base + sh[i].sh_offset);
        const char *names = (const char *)(base + strs->sh_offset);
        size_t nsym = sh[i].sh_size / sizeof *sym, nstr = strs->sh_size;
        sym_t *v = realloc(o->syms, (o->nsyms + nsym) * sizeof *v);
        if (!v)
            return false;
        o->syms = v;
        size_t before = o->nsyms;
        for (size_t k = 0; k < nsym; k++) {
            unsigned type = ELF64_ST_TYPE(sym[k].st_info);
            if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym[k].st_shndx == SHN_UNDEF || !sym[k].st_value ||
                sym[k].st_name >= nstr || !memchr(names + sym[k].st_name, 0, nstr - sym[k].st_name) ||
                !names[sym[k].st_name])
                continue;
            const char *name = names + sym[k].st_name;
            v[o->nsyms++] = (sym_t){sym[k].st_value, sym[k].st_size, name, sym_rank(ELF64_ST_BIND(sym[k].st_info), name)};
        }
        if (o->nsyms > before)
            return true;
    }
    return false;
}

/* Map a whole file read-only into slot k of o; NULL if it cannot be read. */
static const uint8_t *map_file(objfile_t *o, int k, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* (a FIFO in its place does not block) */
    if (fd < 0)
        return NULL;
    struct stat sb;
    void *m = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
        m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return NULL;
    o->maps[k] = m;
    o->maplens[k] = (size_t)sb.st_size;
    return m;
}

/* Whether the ELF image [base, base + len) has the build ID of o (or o has
 * none): a file replaced since it was loaded (an upgrade) must not name it. */
static bool same_build(const objfile_t *o, const uint8_t *base, size_t len)
{
    if (!o->build_id[0])
        return true;
    if (len < sizeof(ElfW(Ehdr)) || memcmp(base, ELFMAG, SELFMAG) != 0 || base[EI_CLASS] != ELFCLASS64)
        return false;
    ElfW(Ehdr) eh;
    memcpy(&eh, base, sizeof eh);
    if (eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shoff > len || (len - eh.e_shoff) / sizeof(ElfW(Shdr)) < eh.e_shnum)
        return false;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        ElfW(Shdr) sh;
        memcpy(&sh, base + eh.e_shoff + i * sizeof sh, sizeof sh);
        char id[sizeof o->build_id];
        if (sh.sh_type == SHT_NOTE && sh.sh_offset <= len && len - sh.sh_offset >= sh.sh_size &&
            notes_build_id(base + sh.sh_offset, base + sh.sh_offset + sh.sh_size, id, sizeof id))
            return strcmp(id, o->build_id) == 0;
    }
    return false;
}

static void load_syms(objfile_t *o)
{
    o->loaded = true;
    if (o->path[0] != '/')
        return; /* the vDSO, or a name that is not a path: dladdr answers */
    const uint8_t *f = map_file(o, 0, o->path);
    if (!f)
        return;
    if (!same_build(o, f, o->maplens[0]))
        return; /* dladdr answers */
    if (!read_syms(o, f, o->maplens[0], SHT_SYMTAB)) {
        /* Stripped: the debug file its build ID names, if installed. */
        bool found = false;
        if (o->build_id[0] && o->build_id[1] && o->build_id[2]) {
            char dbg[320];
            snprintf(dbg, sizeof dbg, "/usr/lib/debug/.build-id/%.2s/%s.debug", o->build_id, o->build_id + 2);
            const uint8_t *d = map_file(o, 1, dbg);
            found = d && same_build(o, d, o->maplens[1]) && read_syms(o, d, o->maplens[1], SHT_SYMTAB);
        }
        if (!found)
            read_syms(o, f, o->maplens[0], SHT_DYNSYM);
    }
    if (o->nsyms) {
        qsort(o->syms, o->nsyms, sizeof *o->syms, sym_cmp);
        sym_dedupe(o);
    }
}

const char *symtab_name(symtab_t *st, objfile_t *o, uintptr_t pc, uintptr_t *start)
{
    (void)st;
    if (o && !o->loaded)
        load_syms(o);
    if (o && o->nsyms) {
        uintptr_t a = pc - o->bias;
        size_t lo = 0, hi = o->nsyms; /* the last symbol at or below a */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (o->syms[mid].addr <= a)
                lo = mid;
            else
                hi = mid;
        }
        const sym_t *s = &o->syms[lo];
        if (s->addr <= a && (s->size == 0 ? lo + 1 == o->nsyms || a < o->syms[lo + 1].addr : a < s->addr + s->size)) {
            *start = s->addr + o->bias;
            return s->name;
        }
    }
    /* A copy: a dlclose before the profile is written would unmap the name. */
    Dl_info di;
    if (dladdr((void *)pc, &di) && di.dli_sname && di.dli_saddr && o) {
        char **owned = realloc(o->owned, (o->nowned + 1) * sizeof *owned);
        char *name = owned ? strdup(di.dli_sname) : NULL;
        if (owned)
            o->owned = owned;
        if (name) {
            o->owned[o->nowned++] = name;
            *start = (uintptr_t)di.dli_saddr;
            return name;
        }
    }
    return NULL;
}
