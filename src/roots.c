/*
 * roots.c - where pointers live outside the heap: the roots.
 *
 * Owns:
 *   - globals: the writable PT_LOAD segments (data and bss) of every loaded
 *     object, less its PT_GNU_RELRO part, found with dl_iterate_phdr at each
 *     collection, so libraries dlopen'd at any time are roots from then on.
 *   - TLS: the PT_TLS size of every module with thread-local storage, read on
 *     the same walk; roots_mark_tls then scans each block a thread has, found
 *     through the thread's dynamic thread vector (glibc's DTV: static TLS of
 *     the initial modules and dynamic TLS of dlopen'd ones alike).  bdwgc does
 *     not scan these and frees objects held only in __thread variables.
 *   - registered regions (gc_add_roots / gc_remove_roots), a growable array.
 *
 * The collector calls these with the world stopped and from inside
 * dl_iterate_phdr (mgc.c), whose lock is recursive: no thread can be stopped
 * halfway through loading or unloading an object, and the walk here cannot
 * deadlock against a thread stopped in its own dl_iterate_phdr.
 * No function here may call malloc: a stopped thread may hold malloc's lock.
 *
 * Globals under concurrent marking: the final pause must rescan every root,
 * and a program may keep a big table in bss.  With the userfaultfd backend,
 * each global range's whole pages are write-tracked like the heap
 * (roots_track_globals, after the first pause): pre-cleaning rounds rescan
 * the written pages (roots_rescan_globals), and mark termination rescans only
 * the pages written since, plus the partial pages at each range's ends and
 * any range it does not know (a library loaded meanwhile).  Every walk over
 * the globals, the pre-cleaning rescans included, runs inside
 * dl_iterate_phdr: an object dlclose'd while marking runs is never read after
 * it was unmapped (bdwgc asks programs to call GC_dlopen for this).
 */
#include "internal.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <unistd.h>

/* ---- registered roots ---------------------------------------------------- */

typedef struct root_range {
    uintptr_t start, end;
} root_range_t;

static pthread_mutex_t roots_mutex = PTHREAD_MUTEX_INITIALIZER;
static root_range_t *roots;
static size_t nroots, roots_cap;

static bool roots_reserve(size_t n)
{
    if (n <= roots_cap)
        return true;
    size_t cap = roots_cap ? roots_cap * 2 : 64;
    while (cap < n)
        cap *= 2;
    root_range_t *r = sys_map(cap * sizeof(*r), SYS_OTHER);
    if (!r)
        return false;
    if (roots)
        memcpy(r, roots, nroots * sizeof(*r));
    /* The old array is kept: a stopped collector may not unmap under anyone,
     * and growth doubles, so what is kept is at most the size of the live one. */
    roots = r;
    roots_cap = cap;
    return true;
}

static void roots_append(uintptr_t start, uintptr_t end)
{
    /* Losing a root would free live objects: failing to record one is fatal. */
    if (!roots_reserve(nroots + 1))
        tc_fatal("out of memory recording root [%p, %p)", (void *)start, (void *)end);
    roots[nroots++] = (root_range_t){start, end};
}

/* Cut [s, e) out of every registered region: up to two pieces of each remain. */
static void roots_cut(uintptr_t s, uintptr_t e)
{
    for (size_t i = 0; i < nroots;) {
        root_range_t r = roots[i];
        if (r.end <= s || r.start >= e) {
            i++;
            continue;
        }
        roots[i] = roots[--nroots];
        if (r.start < s)
            roots_append(r.start, s);
        if (r.end > e)
            roots_append(e, r.end);
    }
}

static void roots_edit(void *start, size_t len, bool add)
{
    uintptr_t s = (uintptr_t)start, e = s + len;
    if (len == 0 || e < s)
        return;
    gc_thread_t *t = current_thread();
    enter_alloc(t);
    pthread_mutex_lock(&roots_mutex);
    if (add)
        roots_append(s, e);
    else
        roots_cut(s, e);
    pthread_mutex_unlock(&roots_mutex);
    leave_alloc(t);
}

void gc_add_roots(void *start, size_t len) { roots_edit(start, len, true); }

void gc_remove_roots(void *start, size_t len) { roots_edit(start, len, false); }

void roots_lock(void) { pthread_mutex_lock(&roots_mutex); }
void roots_unlock(void) { pthread_mutex_unlock(&roots_mutex); }

/* Edits happen inside allocator sections, so no stopped thread holds the
 * lock; the collector's own section keeps a stop away while it holds it. */
void roots_mark_registered(void)
{
    gc_thread_t *t = current_thread();
    enter_alloc(t);
    pthread_mutex_lock(&roots_mutex);
    for (size_t i = 0; i < nroots; i++)
        mark_range(roots[i].start, roots[i].end);
    pthread_mutex_unlock(&roots_mutex);
    leave_alloc(t);
}

/* ---- globals and TLS modules --------------------------------------------- */

typedef struct tls_module {
    size_t modid;
    size_t size;
} tls_module_t;

static tls_module_t *tls_mods;
static size_t ntls_mods, tls_cap;
static uint64_t globals_bytes;

static void tls_note(size_t modid, size_t size)
{
    if (ntls_mods == tls_cap) {
        size_t cap = tls_cap ? tls_cap * 2 : 32;
        tls_module_t *m = sys_map(cap * sizeof(*m), SYS_OTHER);
        if (!m)
            return; /* cannot happen short of exhausting memory */
        if (tls_mods)
            memcpy(m, tls_mods, ntls_mods * sizeof(*m));
        tls_mods = m;
        tls_cap = cap;
    }
    tls_mods[ntls_mods++] = (tls_module_t){modid, size};
}

/* ---- tracked global ranges ----------------------------------------------- */

enum globals_mode { G_SCAN, G_TRACK, G_FINAL, G_RESCAN };

typedef struct global_range {
    uintptr_t lo, hi;   /* the range */
    uintptr_t tlo, thi; /* its whole pages, write-tracked */
    uintptr_t *shadow;  /* [tlo, thi) as last scanned (mark.c), or NULL */
} global_range_t;

static global_range_t *gtracked;
static size_t ngtracked, gtracked_cap;
#define TRACK_MIN_PAGES 4 /* smaller ranges are simply rescanned */

/* A written run of a tracked range: rescan what changed. */
static void scan_written(uintptr_t start, uintptr_t end, void *arg)
{
    global_range_t *g = arg;
    if (g->shadow)
        mark_range_diff(start, end, g->shadow + (start - g->tlo) / sizeof(uintptr_t));
    else
        mark_range(start, end);
}

static void track_range(uintptr_t lo, uintptr_t hi)
{
    uintptr_t pg = (uintptr_t)getpagesize();
    uintptr_t tlo = round_up(lo, pg), thi = hi & ~(pg - 1);
    if (thi <= tlo || (thi - tlo) / pg < TRACK_MIN_PAGES)
        return;
    if (ngtracked == gtracked_cap) {
        size_t cap = gtracked_cap ? gtracked_cap * 2 : 64;
        global_range_t *g = sys_map(cap * sizeof(*g), SYS_GC);
        if (!g)
            return; /* untracked: rescanned whole in the final pause */
        if (gtracked)
            memcpy(g, gtracked, ngtracked * sizeof(*g));
        gtracked = g;
        gtracked_cap = cap;
    }
    /* Registration is per mapping and lasts while it does; registering again
     * is harmless, and catches a library mapped where another was. */
    if (!writetrack_register(tlo, thi - tlo) || !writetrack_protect(tlo, thi - tlo))
        return;
    gtracked[ngtracked++] = (global_range_t){lo, hi, tlo, thi, mark_shadow_alloc(thi - tlo)};
}

static void global_range(uintptr_t lo, uintptr_t hi, enum globals_mode mode)
{
    if (mode == G_TRACK) {
        size_t n = ngtracked;
        track_range(lo, hi); /* before the scan: a later write is seen */
        if (ngtracked > n && gtracked[n].shadow) {
            global_range_t *g = &gtracked[n];
            mark_range(lo, g->tlo);
            mark_range_shadow(g->tlo, g->thi, g->shadow);
            mark_range(g->thi, hi);
            return;
        }
    }
    if (mode == G_RESCAN) {
        /* Pre-cleaning: the written pages of a range still loaded. */
        for (size_t i = 0; i < ngtracked; i++) {
            global_range_t *g = &gtracked[i];
            if (g->lo == lo && g->hi == hi &&
                writetrack_scan(g->tlo, g->thi - g->tlo, scan_written, g) < 0)
                mark_range(g->tlo, g->thi);
        }
        return;
    }
    if (mode == G_FINAL) {
        for (size_t i = 0; i < ngtracked; i++) {
            global_range_t *g = &gtracked[i];
            if (g->lo != lo || g->hi != hi)
                continue;
            mark_range(lo, g->tlo);
            mark_range(g->thi, hi);
            if (writetrack_scan(g->tlo, g->thi - g->tlo, scan_written, g) < 0)
                mark_range(g->tlo, g->thi);
            return;
        }
    }
    mark_range(lo, hi);
}

static int globals_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    enum globals_mode mode = *(enum globals_mode *)data;
    uintptr_t relro_lo = 0, relro_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO) {
            relro_lo = info->dlpi_addr + ph->p_vaddr;
            relro_hi = relro_lo + ph->p_memsz;
        } else if (ph->p_type == PT_TLS && ph->p_memsz && info->dlpi_tls_modid && mode != G_RESCAN) {
            tls_note(info->dlpi_tls_modid, ph->p_memsz);
        }
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        /* RELRO is read-only after relocation: nothing there points into a
         * heap that did not exist yet. */
        if (relro_hi > lo && relro_lo < hi) {
            if (relro_lo > lo)
                global_range(lo, relro_lo, mode);
            if (relro_hi < hi)
                global_range(relro_hi, hi, mode);
        } else {
            global_range(lo, hi, mode);
        }
        if (mode != G_RESCAN)
            globals_bytes += hi - lo;
    }
    return 0;
}

static void walk_globals(enum globals_mode mode)
{
    ntls_mods = 0;
    globals_bytes = 0;
    dl_iterate_phdr(globals_cb, &mode);
}

void roots_mark_globals(void) { walk_globals(ngtracked ? G_FINAL : G_SCAN); }

void roots_mark_globals_all(void) { walk_globals(G_SCAN); }

void roots_track_globals(void)
{
    ngtracked = 0;
    walk_globals(writetrack_backend() == WT_UFFD ? G_TRACK : G_SCAN);
}

/* With the world running, so inside dl_iterate_phdr too: dlclose cannot
 * unmap an object while the walk holds the loader's lock, and a range whose
 * object was unloaded since it was tracked is not in the walk. */
void roots_rescan_globals(void)
{
    if (!ngtracked)
        return;
    enum globals_mode mode = G_RESCAN;
    dl_iterate_phdr(globals_cb, &mode);
}

void roots_untrack_globals(void)
{
    for (size_t i = 0; i < ngtracked; i++) {
        writetrack_unprotect(gtracked[i].tlo, gtracked[i].thi - gtracked[i].tlo);
        mark_shadow_free(gtracked[i].shadow, gtracked[i].thi - gtracked[i].tlo);
    }
    ngtracked = 0;
}

uint64_t roots_globals_bytes(void) { return globals_bytes; }

/*
 * glibc's dynamic thread vector: an array of {void *val; void *to_free}
 * indexed by module id; entry -1 holds its length, entry 0 a generation.
 * The thread pointer finds it: on x86-64 the TCB starts {tcb, dtv, self},
 * on aarch64 {dtv, private}.  An entry of NULL or -1 is a block the thread
 * has not allocated (it never touched that module's variables).
 */
typedef struct dtv_entry {
    uintptr_t val;
    uintptr_t to_free;
} dtv_entry_t;

static const dtv_entry_t *dtv_of(uintptr_t tp)
{
#if defined(__x86_64__)
    return ((const dtv_entry_t *const *)tp)[1];
#elif defined(__aarch64__)
    return ((const dtv_entry_t *const *)tp)[0];
#else
#error "tricolor supports x86-64 and aarch64"
#endif
}

void roots_mark_tls(uintptr_t tp)
{
    const dtv_entry_t *dtv = dtv_of(tp);
    if (!dtv)
        return;
    size_t len = dtv[-1].val;
    for (size_t i = 0; i < ntls_mods; i++) {
        size_t id = tls_mods[i].modid;
        if (id > len)
            continue;
        uintptr_t block = dtv[id].val;
        if (block == 0 || block == (uintptr_t)-1)
            continue;
        mark_range(block, block + tls_mods[i].size);
    }
}

/* Check once that the DTV reads as this file expects: for the calling thread,
 * each module's block must be what dl_iterate_phdr reports. */
static int tls_check_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const dtv_entry_t *dtv = dtv_of(thread_pointer());
    if (info->dlpi_tls_modid && info->dlpi_tls_data && dtv &&
        info->dlpi_tls_modid <= dtv[-1].val && dtv[info->dlpi_tls_modid].val != (uintptr_t)info->dlpi_tls_data)
        *(bool *)data = false;
    return 0;
}

void roots_init(void)
{
    bool ok = true;
    dl_iterate_phdr(tls_check_cb, &ok);
    if (!ok)
        tc_print("warning: this glibc's thread vector is not laid out as expected; "
                 "__thread variables may not be scanned");
}

/* ---- diagnostics ---------------------------------------------------------- */

struct finding {
    uintptr_t lo, hi, at;
    char *buf;
    size_t n;
};

static bool find_word(uintptr_t from, uintptr_t to, struct finding *f)
{
    for (const uintptr_t *q = (const uintptr_t *)round_up(from, sizeof(uintptr_t)); (uintptr_t)(q + 1) <= to; q++)
        if (*q >= f->lo && *q < f->hi) {
            f->at = (uintptr_t)q;
            return true;
        }
    return false;
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct finding *f = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (find_word(lo, lo + ph->p_memsz, f)) {
            snprintf(f->buf, f->n, "the global at %p (%s + 0x%lx)", (void *)f->at,
                     info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "the program",
                     (unsigned long)(f->at - info->dlpi_addr));
            return 1;
        }
    }
    return 0;
}

bool roots_find(uintptr_t lo, uintptr_t hi, char *buf, size_t n)
{
    struct finding f = {lo, hi, 0, buf, n};
    if (dl_iterate_phdr(find_cb, &f))
        return true;
    for (size_t i = 0; i < nroots; i++)
        if (find_word(roots[i].start, roots[i].end, &f)) {
            snprintf(buf, n, "the registered region %p-%p at %p", (void *)roots[i].start, (void *)roots[i].end,
                     (void *)f.at);
            return true;
        }
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        const dtv_entry_t *dtv = t->dead ? NULL : dtv_of(t->tp);
        if (!dtv)
            continue;
        for (size_t i = 0; i < ntls_mods; i++) {
            size_t id = tls_mods[i].modid;
            uintptr_t block = id <= dtv[-1].val ? dtv[id].val : 0;
            if (block && block != (uintptr_t)-1 && find_word(block, block + tls_mods[i].size, &f)) {
                snprintf(buf, n, "thread %d's thread-local block of module %zu at %p", (int)t->tid, id, (void *)f.at);
                return true;
            }
        }
    }
    return false;
}
