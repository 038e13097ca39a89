/*
 * arena.c - memory from the OS.
 *
 * Owns:
 *   - heap arenas: 64 MiB, 64 MiB-aligned regions that hold every object.  A
 *     growth that needs more (a 1 GiB object) maps several contiguous arenas at
 *     once.  Arenas are never unmapped: pages go back to the OS by madvise.
 *   - the address -> arena map, arena_l1, one entry per possible arena of the
 *     48-bit address space (reserved, touched only where arenas exist), and in
 *     each arena the page -> span table that span_of() reads.
 *   - sys_map / persistent_alloc / fixalloc: metadata memory (span
 *     descriptors, bitmaps, thread records, work buffers).  It comes straight
 *     from mmap, never from malloc, because the collector allocates metadata
 *     while other threads are stopped, perhaps inside malloc, and it is never
 *     scanned for roots.
 *
 * Invariants: heap_min() <= every arena < heap_max(); arena_l1[i] is set before
 * the bounds admit its addresses, so span_of() never sees a half-made arena.
 * zeroed_base: every page at or above it in its arena has never held an object,
 * so it is still zero from the OS (the heap skips zeroing it).
 * released: a bit per page not backed by memory (never touched, or given back
 * with madvise); heap_released_bytes counts the set bits, so HeapReleased is
 * exact.  Only free pages are released: taking pages for a span clears them.
 * Releasing is the scavenger's (scavenge.c, with heap.c finding the pages);
 * sys_retained() - what the OS backs, all kinds - is what the memory limit
 * bounds.
 */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

#define ARENA_HINT ((uintptr_t)0xc0 << 32)

heap_arena_t **arena_l1;
_Atomic uintptr_t heap_lo_inv = ~(uintptr_t)0, heap_hi_inv = ~(uintptr_t)0; /* empty: [0, 0) */
_Atomic uint64_t sys_bytes[SYS_NKINDS];
static heap_arena_t *all_arenas; /* written under heap_lock */

void *sys_map(size_t bytes, enum sys_kind kind)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    atomic_fetch_add(&sys_bytes[kind], bytes);
    return p;
}

void sys_unmap(void *p, size_t bytes, enum sys_kind kind)
{
    munmap(p, bytes);
    atomic_fetch_sub(&sys_bytes[kind], bytes);
}

/* Persistent bump allocation, in 256 KiB chunks, one chunk per kind so that
 * statistics stay per kind. */
static pthread_mutex_t persistent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *cur, *end;
} persistent[SYS_NKINDS];

void *persistent_alloc(size_t bytes, enum sys_kind kind)
{
    const size_t chunk = 256 << 10;
    bytes = round_up(bytes, 16);
    if (bytes >= chunk / 4)
        return sys_map(round_up(bytes, 4096), kind);
    pthread_mutex_lock(&persistent_lock);
    if ((size_t)(persistent[kind].end - persistent[kind].cur) < bytes) {
        char *p = sys_map(chunk, kind);
        if (!p) {
            pthread_mutex_unlock(&persistent_lock);
            return NULL;
        }
        persistent[kind].cur = p;
        persistent[kind].end = p + chunk;
    }
    void *r = persistent[kind].cur;
    persistent[kind].cur += bytes;
    pthread_mutex_unlock(&persistent_lock);
    return r;
}

void fixalloc_init(fixalloc_t *f, size_t size, enum sys_kind kind)
{
    f->size = round_up(size < sizeof(void *) ? sizeof(void *) : size, 16);
    f->kind = kind;
    pthread_mutex_init(&f->lock, NULL);
    f->free_list = NULL;
}

void *fixalloc_alloc(fixalloc_t *f)
{
    pthread_mutex_lock(&f->lock);
    void *p = f->free_list;
    if (p)
        f->free_list = *(void **)p;
    pthread_mutex_unlock(&f->lock);
    if (p) {
        memset(p, 0, f->size);
        return p;
    }
    p = persistent_alloc(f->size, f->kind);
    return p;
}

void fixalloc_free(fixalloc_t *f, void *p)
{
    pthread_mutex_lock(&f->lock);
    *(void **)p = f->free_list;
    f->free_list = p;
    pthread_mutex_unlock(&f->lock);
}

void arena_init(void)
{
    size_t bytes = ARENA_L1_ENTRIES * sizeof(heap_arena_t *);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        tc_fatal("cannot reserve the arena map (%zu bytes): %s", bytes, strerror(errno));
    arena_l1 = p;
}

/* Map at least `bytes` of new heap, arena-aligned.  Returns its base and the
 * size mapped, or 0.  Called with heap_lock held. */
uintptr_t arena_grow(size_t bytes, size_t *got)
{
    size_t size = round_up(bytes, ARENA_SIZE);
    if (size < bytes)
        return 0;
    /* No MAP_NORESERVE: the kernel's overcommit check then refuses a request no
     * machine could back (gc_alloc of a terabyte returns NULL, ENOMEM), as Go's
     * heap mappings are refused. */
    const int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
    /* Like Go, grow upward from a fixed, out-of-the-way address: the heap stays
     * contiguous, and far from the 64 MiB-aligned regions glibc's malloc maps
     * near the libraries, whose bookkeeping (in libc's data, scanned as a root)
     * would otherwise hold addresses that happen to fall into our arenas. */
    uintptr_t hint = heap_max() ? heap_max() : ARENA_HINT;
    uintptr_t base = 0;
    if (hint) {
        void *p = mmap((void *)hint, size, prot, flags, -1, 0);
        if (p != MAP_FAILED) {
            if ((uintptr_t)p % ARENA_SIZE == 0)
                base = (uintptr_t)p;
            else
                munmap(p, size);
        }
    }
    if (!base) {
        void *p = mmap(NULL, size + ARENA_SIZE, prot, flags, -1, 0);
        if (p == MAP_FAILED)
            return 0;
        uintptr_t raw = (uintptr_t)p;
        base = round_up(raw, ARENA_SIZE);
        if (base > raw)
            munmap(p, base - raw);
        if (raw + ARENA_SIZE > base)
            munmap((void *)(base + size), raw + ARENA_SIZE - base);
    }
    if ((base + size - 1) >> ADDR_BITS) {
        munmap((void *)base, size);
        return 0;
    }
    for (uintptr_t a = base; a < base + size; a += ARENA_SIZE) {
        heap_arena_t *ha = sys_map(sizeof(heap_arena_t), SYS_GC);
        if (!ha) {
            munmap((void *)a, base + size - a);
            size = a - base;
            break;
        }
        memset(ha->released, 0xff, sizeof ha->released); /* fresh: nothing backed */
        ha->base = a;
        writetrack_register(a, ARENA_SIZE);
        ha->next = all_arenas;
        __atomic_store_n(&all_arenas, ha, __ATOMIC_RELEASE);
        arena_l1[a >> ARENA_SHIFT] = ha;
    }
    if (size == 0)
        return 0;
    /* Transparent huge pages: the system's choice unless GODEBUG=gcthp says. */
    if (env.gcthp >= 0)
        madvise((void *)base, size, env.gcthp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    atomic_fetch_add(&sys_bytes[SYS_HEAP], size);
    atomic_fetch_add(&heap_released_bytes, size);
    atomic_thread_fence(memory_order_release);
    uintptr_t lo = heap_min(), hi = heap_max();
    if (lo == 0 || base < lo)
        atomic_store(&heap_lo_inv, ~base);
    if (base + size > hi)
        atomic_store(&heap_hi_inv, ~(base + size));
    if (ext_hooks.heap_grown)
        ext_hooks.heap_grown(heap_min(), heap_max());
    *got = size;
    return base;
}

/* Point every page of [base, base + npages pages) at s. */
void arena_set_spans(uintptr_t base, size_t npages, span_t *s)
{
    for (size_t i = 0; i < npages;) {
        uintptr_t p = base + i * PAGE_SIZE;
        heap_arena_t *a = arena_of(p);
        size_t first = (p >> PAGE_SHIFT) % PAGES_PER_ARENA;
        size_t n = PAGES_PER_ARENA - first;
        if (n > npages - i)
            n = npages - i;
        for (size_t j = 0; j < n; j++)
            a->spans[first + j] = s;
        i += n;
    }
}

/* Whether a run of pages may hold old bytes; records the run as used. */
bool arena_needzero(uintptr_t base, size_t npages)
{
    bool need = false;
    uintptr_t end = base + npages * PAGE_SIZE;
    for (uintptr_t p = base; p < end;) {
        heap_arena_t *a = arena_of(p);
        uintptr_t abase = p & ~(ARENA_SIZE - 1);
        uintptr_t off = p - abase;
        uintptr_t stop = end - abase < ARENA_SIZE ? end - abase : ARENA_SIZE;
        if (off < a->zeroed_base)
            need = true;
        if (stop > a->zeroed_base)
            a->zeroed_base = stop;
        p = abase + stop;
    }
    return need;
}

_Atomic uint64_t heap_released_bytes;

/* Set (or clear) the released bits of a run of pages; returns how many changed. */
static size_t released_update(uintptr_t base, size_t npages, bool set)
{
    size_t changed = 0;
    for (size_t i = 0; i < npages; i++) {
        uintptr_t p = base + i * PAGE_SIZE;
        heap_arena_t *a = arena_of(p);
        size_t pg = (p >> PAGE_SHIFT) % PAGES_PER_ARENA;
        uint64_t bit = (uint64_t)1 << (pg % 64), *w = &a->released[pg / 64];
        if (set ? !(*w & bit) : (*w & bit) != 0) {
            *w ^= bit;
            changed++;
        }
    }
    return changed;
}

/* The run's pages are no longer backed by memory.  heap_lock held. */
void arena_mark_released(uintptr_t base, size_t npages)
{
    atomic_fetch_add(&heap_released_bytes, released_update(base, npages, true) * PAGE_SIZE);
}

/* The run's pages are about to hold objects.  heap_lock held.  Returns how
 * many of them were released (they come back backed by memory now). */
size_t arena_take_pages(uintptr_t base, size_t npages)
{
    size_t n = released_update(base, npages, false);
    atomic_fetch_sub(&heap_released_bytes, n * PAGE_SIZE);
    return n;
}

/* Whether page p is released.  heap_lock held. */
bool arena_page_released(uintptr_t p)
{
    heap_arena_t *a = arena_of(p);
    size_t pg = (p >> PAGE_SHIFT) % PAGES_PER_ARENA;
    return a->released[pg / 64] >> (pg % 64) & 1;
}

uint64_t sys_total(void)
{
    uint64_t sys = 0;
    for (int k = 0; k < SYS_NKINDS; k++)
        sys += atomic_load_explicit(&sys_bytes[k], memory_order_relaxed);
    return sys;
}

uint64_t sys_retained(void)
{
    uint64_t sys = sys_total(), rel = atomic_load_explicit(&heap_released_bytes, memory_order_relaxed);
    return sys > rel ? sys - rel : 0;
}

heap_arena_t *arena_first(void) { return __atomic_load_n(&all_arenas, __ATOMIC_ACQUIRE); }

void arena_lock_all(void) { pthread_mutex_lock(&persistent_lock); }
void arena_unlock_all(void) { pthread_mutex_unlock(&persistent_lock); }
