/*
 * heap.c - the page heap (Go's mheap): hands out runs of pages as spans and
 * takes them back, coalescing neighbours.
 *
 * Owns: span descriptors (a fixalloc), the free page runs, and the span
 * bitmaps (alloc and mark bits, in pairs, pooled by size).
 *
 * Free runs live in size-indexed lists (1..127 pages) and one list for larger
 * runs (best fit).  A free span's first and last pages point at it in the
 * arena's span table, which is how a freed neighbour finds it to merge; the
 * pages of an in-use span all point at it, which is how span_of() finds
 * objects from interior pointers.  Entries inside a free run may be stale: every
 * reader checks base <= p < limit and the state.
 *
 * Everything here runs under heap_lock, which nests inside a central lock and
 * never the other way.  When no free run fits, the heap first asks the sweeper
 * to finish pending sweeping (which may free spans), then maps new arenas.
 */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
_Atomic uint64_t heap_inuse_pages;
_Atomic uint64_t nspans_inuse;

#define FREE_LISTS 128
#define HEAP_SWEEP_TRIES 64
static span_list_t free_small[FREE_LISTS]; /* [n]: runs of exactly n pages */
static span_list_t free_large;             /* runs of FREE_LISTS pages or more */
static fixalloc_t span_alloc;
static fixalloc_t bitmap_pool[5]; /* pairs of 1, 2, 4, 8, 16 words */

void heap_init(void)
{
    fixalloc_init(&span_alloc, sizeof(span_t), SYS_SPAN);
    for (int i = 0; i < 5; i++)
        fixalloc_init(&bitmap_pool[i], 2 * sizeof(uint64_t) << i, SYS_GC);
}

static unsigned bitmap_bucket(unsigned nwords)
{
    unsigned b = 0;
    while ((1u << b) < nwords)
        b++;
    return b;
}

/* 2 * nwords zeroed words (nwords <= 16): alloc bits, then mark bits. */
uint64_t *bitmap_alloc(unsigned nwords) { return fixalloc_alloc(&bitmap_pool[bitmap_bucket(nwords)]); }

void bitmap_free(uint64_t *b, unsigned nwords) { fixalloc_free(&bitmap_pool[bitmap_bucket(nwords)], b); }

static span_list_t *free_list_for(size_t npages) { return npages < FREE_LISTS ? &free_small[npages] : &free_large; }

static void free_insert(span_t *s)
{
    s->state = SPAN_FREE;
    arena_set_spans(s->base, 1, s);
    arena_set_spans(s->base + (s->npages - 1) * PAGE_SIZE, 1, s);
    list_push(free_list_for(s->npages), s);
}

static span_t *free_find(size_t npages)
{
    for (size_t n = npages; n < FREE_LISTS; n++)
        if (free_small[n].head)
            return free_small[n].head;
    span_t *best = NULL;
    for (span_t *s = free_large.head; s; s = s->next)
        if (s->npages >= npages && (!best || s->npages < best->npages ||
                                    (s->npages == best->npages && s->base < best->base)))
            best = s;
    return best;
}

/* The free span whose page contains p, if p is in the heap. */
static span_t *free_span_at(uintptr_t p)
{
    if (p < heap_min() || p >= heap_max())
        return NULL;
    heap_arena_t *a = arena_of(p);
    if (!a)
        return NULL;
    span_t *s = a->spans[(p >> PAGE_SHIFT) % PAGES_PER_ARENA];
    if (!s || s->state != SPAN_FREE || p < s->base || p >= s->base + s->npages * PAGE_SIZE)
        return NULL;
    return s;
}

/* Add a free run, merging it with free neighbours.  heap_lock held. */
static void free_add(span_t *s)
{
    span_t *prev = free_span_at(s->base - 1);
    if (prev && prev->base + prev->npages * PAGE_SIZE == s->base) {
        list_remove(prev->list, prev);
        s->base = prev->base;
        s->npages += prev->npages;
        prev->state = SPAN_DEAD;
        fixalloc_free(&span_alloc, prev);
    }
    span_t *next = free_span_at(s->base + s->npages * PAGE_SIZE);
    if (next && next->base == s->base + s->npages * PAGE_SIZE) {
        list_remove(next->list, next);
        s->npages += next->npages;
        next->state = SPAN_DEAD;
        fixalloc_free(&span_alloc, next);
    }
    s->limit = s->base;
    free_insert(s);
}

static bool heap_grow(size_t npages)
{
    size_t want = npages * PAGE_SIZE, got;
    if (want / PAGE_SIZE != npages)
        return false;
    uintptr_t base = arena_grow(want, &got);
    if (!base)
        return false;
    span_t *s = fixalloc_alloc(&span_alloc);
    if (!s)
        return false;
    s->base = base;
    s->npages = got / PAGE_SIZE;
    free_add(s);
    return true;
}

/* Carve npages off free span s; heap_lock held. */
static span_t *take_pages(span_t *s, size_t npages)
{
    list_remove(s->list, s);
    if (s->npages > npages) {
        span_t *rest = fixalloc_alloc(&span_alloc);
        if (!rest) {
            free_insert(s);
            return NULL;
        }
        rest->base = s->base + npages * PAGE_SIZE;
        rest->npages = s->npages - npages;
        rest->limit = rest->base;
        free_insert(rest);
        s->npages = npages;
    }
    return s;
}

span_t *heap_alloc_span(size_t npages, unsigned spanclass)
{
    unsigned cls = spanclass >> 1;
    unsigned nelems = cls ? class_nelems[cls] : 1;
    unsigned nwords = (nelems + 63) / 64;
    uint64_t *bits = bitmap_alloc(nwords);
    if (!bits) {
        errno = ENOMEM;
        return NULL;
    }

    pthread_mutex_lock(&heap_lock);
    span_t *s = free_find(npages);
    if (!s && atomic_load(&spans_unswept) > 0) {
        /* Sweeping may free whole spans: try a little of it before asking the
         * OS.  Only a little: a heap of live objects with garbage between them
         * frees few whole spans, and sweeping all of it here would stall
         * this allocation for milliseconds.  The background sweeper and
         * the other allocations finish the job. */
        pthread_mutex_unlock(&heap_lock);
        for (int tries = 0; tries < HEAP_SWEEP_TRIES && sweep_one(); tries++) {
            pthread_mutex_lock(&heap_lock);
            s = free_find(npages);
            pthread_mutex_unlock(&heap_lock);
            if (s)
                break;
        }
        pthread_mutex_lock(&heap_lock);
        s = free_find(npages);
    }
    if (!s && heap_grow(npages))
        s = free_find(npages);
    if (s)
        s = take_pages(s, npages);
    if (!s) {
        pthread_mutex_unlock(&heap_lock);
        bitmap_free(bits, nwords);
        errno = ENOMEM;
        return NULL;
    }
    s->spanclass = (uint8_t)spanclass;
    s->nelems = (uint16_t)nelems;
    s->elemsize = cls ? class_size[cls] : npages * PAGE_SIZE;
    s->divmul = class_divmul[cls];
    s->limit = s->base + s->nelems * s->elemsize;
    s->freeindex = 0;
    s->alloc_count = 0;
    s->cache_count = 0;
    s->alloc_cache = 0;
    s->incache = 0;
    s->black = 0;
    atomic_store(&s->shadow, NULL);
    s->alloc_bits = bits;
    s->mark_bits = bits + nwords;
    atomic_store(&s->freed_bits, NULL);
    s->needzero = arena_needzero(s->base, npages);
    arena_take_pages(s->base, npages);
    atomic_store(&s->sweepgen, atomic_load(&heap_sweepgen));
    /* Markers run beside this while the program runs, reading the span
     * through stale page entries: publish it only once it is whole. */
    __atomic_store_n(&s->state, SPAN_INUSE, __ATOMIC_RELEASE);
    arena_set_spans(s->base, npages, s);
    atomic_fetch_add(&heap_inuse_pages, npages);
    atomic_fetch_add(&nspans_inuse, 1);
    pthread_mutex_unlock(&heap_lock);
    return s;
}

/* Return an in-use span's pages to the heap.  The span is on no list. */
void heap_free_span(span_t *s)
{
    tc_assert(s->state == SPAN_INUSE && !s->list && !s->incache);
    unsigned nwords = span_bitmap_words(s);
    uint64_t *freed = atomic_exchange(&s->freed_bits, NULL);
    /* Sweeping swaps the halves: the pair starts at the lower one. */
    bitmap_free(s->alloc_bits < s->mark_bits ? s->alloc_bits : s->mark_bits, nwords);
    if (freed)
        bitmap_free(freed, nwords);
    pthread_mutex_lock(&heap_lock);
    atomic_fetch_sub(&heap_inuse_pages, s->npages);
    atomic_fetch_sub(&nspans_inuse, 1);
    s->alloc_bits = s->mark_bits = NULL;
    s->state = SPAN_FREE;
    free_add(s);
    pthread_mutex_unlock(&heap_lock);
}

/* fork(): the parent's atfork handler holds every heap lock across fork(). */
void heap_lock_all(void)
{
    pthread_mutex_lock(&heap_lock);
    pthread_mutex_lock(&span_alloc.lock);
    for (int i = 0; i < 5; i++)
        pthread_mutex_lock(&bitmap_pool[i].lock);
}

void heap_unlock_all(void)
{
    for (int i = 4; i >= 0; i--)
        pthread_mutex_unlock(&bitmap_pool[i].lock);
    pthread_mutex_unlock(&span_alloc.lock);
    pthread_mutex_unlock(&heap_lock);
}

/* madvise every free run away.  The pages read back as zero, but the heap
 * still counts them as used for zeroing (zeroing twice is safe). */
void heap_release_free(void)
{
    pthread_mutex_lock(&heap_lock);
    for (size_t n = 1; n <= FREE_LISTS; n++) {
        span_list_t *l = n < FREE_LISTS ? &free_small[n] : &free_large;
        for (span_t *s = l->head; s; s = s->next)
            if (madvise((void *)s->base, s->npages * PAGE_SIZE, MADV_DONTNEED) == 0)
                arena_mark_released(s->base, s->npages);
    }
    pthread_mutex_unlock(&heap_lock);
}
