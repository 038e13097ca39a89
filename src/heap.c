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
 * Taking released pages makes the OS back them again: scavenge_on_growth
 * then gives other free pages back if the memory limit would be crossed.
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
    s->kind = 0;
    atomic_store_explicit(&s->ext, NULL, memory_order_relaxed);
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
    bool dirty = arena_needzero(s->base, npages);
    size_t backed = arena_take_pages(s->base, npages); /* pages the OS backs anew */
    /* Pages given back with MADV_DONTNEED read as zero, like fresh ones. */
    s->needzero = dirty && !(env.madvdontneed && backed == npages);
    atomic_store(&s->sweepgen, atomic_load(&heap_sweepgen));
    /* Markers run beside this while the program runs, reading the span
     * through stale page entries: publish it only once it is whole. */
    __atomic_store_n(&s->state, SPAN_INUSE, __ATOMIC_RELEASE);
    arena_set_spans(s->base, npages, s);
    atomic_fetch_add(&heap_inuse_pages, npages);
    atomic_fetch_add(&nspans_inuse, 1);
    pthread_mutex_unlock(&heap_lock);
    if (backed)
        scavenge_on_growth(backed * PAGE_SIZE);
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

/* ---- scavenging ------------------------------------------------------------ */

/*
 * The scavenger (scavenge.c) gives free pages back to the OS from the top of
 * the heap down, as Go's does, so that what stays backed is the low, densely
 * used part.  A run to release is carved out of its free run first and held
 * in state SPAN_SCAV, off every list: the madvise then runs with heap_lock
 * dropped, and no allocation can take those pages meanwhile.
 * heap_scavenge_put gives the run back, merged with its free neighbours.
 *
 * The search walks arenas newest (highest) first and each arena's pages
 * downward from a cursor kept between calls, skipping released pages a
 * bitmap word at a time and in-use spans a span at a time.  The top and
 * bottom pages of a free run point at it; inner entries may be stale, so a
 * run is recognised at either end.
 */
static heap_arena_t *scav_arena; /* cursor: the arena searched last... */
static size_t scav_page;         /* ...and the page below which to go on */
static span_t *scav_hint;        /* the free run the last release went back into */

/* Carve [lo, hi) out of free span s as a SPAN_SCAV span.  heap_lock held. */
static span_t *scav_carve(span_t *s, uintptr_t lo, uintptr_t hi)
{
    uintptr_t end = s->base + s->npages * PAGE_SIZE;
    span_t *mid = lo > s->base ? fixalloc_alloc(&span_alloc) : s;
    span_t *right = hi < end ? fixalloc_alloc(&span_alloc) : NULL;
    if (!mid || (hi < end && !right)) {
        if (mid && mid != s)
            fixalloc_free(&span_alloc, mid);
        if (right)
            fixalloc_free(&span_alloc, right);
        return NULL;
    }
    list_remove(s->list, s);
    if (mid != s) {
        s->npages = (lo - s->base) / PAGE_SIZE;
        s->limit = s->base;
        free_insert(s);
    }
    if (right) {
        right->base = hi;
        right->npages = (end - hi) / PAGE_SIZE;
        right->limit = hi;
        free_insert(right);
    }
    mid->base = lo;
    mid->npages = (hi - lo) / PAGE_SIZE;
    mid->limit = lo;
    mid->state = SPAN_SCAV;
    arena_set_spans(lo, 1, mid);
    arena_set_spans(hi - PAGE_SIZE, 1, mid);
    return mid;
}

/* The end of the highest backed page in [lo, hi), or lo if none: released
 * pages are skipped a bitmap word at a time. */
static uintptr_t top_backed(uintptr_t lo, uintptr_t hi)
{
    while (hi > lo) {
        uintptr_t p = hi - PAGE_SIZE;
        heap_arena_t *a = arena_of(p);
        size_t i = (p - a->base) / PAGE_SIZE;
        uint64_t below = i % 64 == 63 ? ~(uint64_t)0 : ((uint64_t)1 << (i % 64 + 1)) - 1;
        uint64_t backed = ~a->released[i / 64] & below;
        if (backed) {
            uintptr_t top = a->base + (i / 64 * 64 + 63 - (size_t)__builtin_clzll(backed)) * PAGE_SIZE + PAGE_SIZE;
            return top > lo ? top : lo;
        }
        uintptr_t next = a->base + i / 64 * 64 * PAGE_SIZE; /* the word's first page */
        hi = next > lo ? next : lo;
    }
    return lo;
}

/* The highest backed pages of free span s, at most max, carved out; the
 * cursor moves below them.  NULL if s has none (or descriptors ran out). */
static span_t *scav_take_from(span_t *s, size_t max)
{
    uintptr_t j = top_backed(s->base, s->base + s->npages * PAGE_SIZE); /* the backed pages: [k, j) */
    uintptr_t k = j;
    while (k > s->base && !arena_page_released(k - PAGE_SIZE) && (j - k) / PAGE_SIZE < max)
        k -= PAGE_SIZE;
    if (k == j)
        return NULL;
    span_t *r = scav_carve(s, k, j);
    if (r) {
        scav_arena = arena_of(k);
        scav_page = (k - scav_arena->base) / PAGE_SIZE;
    }
    return r;
}

/* In arena a, below page pg: the highest backed free pages, at most max. */
static span_t *scav_find(heap_arena_t *a, size_t pg, size_t max)
{
    size_t top = a->zeroed_base / PAGE_SIZE; /* above: never used, so released */
    if (pg > top)
        pg = top;
    while (pg > 0) {
        size_t i = pg - 1;
        uint64_t w = a->released[i / 64];
        uint64_t below = i % 64 == 63 ? ~(uint64_t)0 : ((uint64_t)1 << (i % 64 + 1)) - 1;
        if ((w & below) == below) { /* released up to the word's start */
            pg = i / 64 * 64;
            continue;
        }
        uintptr_t p = a->base + i * PAGE_SIZE;
        span_t *s = a->spans[i];
        if ((w >> (i % 64) & 1) || !s || p < s->base || p >= s->base + s->npages * PAGE_SIZE ||
            (s->state != SPAN_FREE && s->state != SPAN_INUSE)) {
            pg = i; /* released, or a stale entry inside a free run, or being released */
            continue;
        }
        uintptr_t lo = s->base > a->base ? s->base : a->base;
        if (s->state == SPAN_INUSE) { /* skip it whole */
            pg = (lo - a->base) / PAGE_SIZE;
            continue;
        }
        /* The whole run, which may cross into other arenas (found at its
         * top or bottom page, the only ones that name it). */
        span_t *r = scav_take_from(s, max);
        if (r)
            return r;
        pg = (lo - a->base) / PAGE_SIZE;
    }
    return NULL;
}

span_t *heap_scavenge_take(size_t max_pages)
{
    span_t *r = NULL;
    pthread_mutex_lock(&heap_lock);
    /* First the run the last release merged back into: its inner page
     * entries are stale, and finding it again from the cursor would walk
     * them one by one.  (Any free run is a fine place to release from.) */
    if (scav_hint && scav_hint->state == SPAN_FREE && (r = scav_take_from(scav_hint, max_pages))) {
        pthread_mutex_unlock(&heap_lock);
        return r;
    }
    scav_hint = NULL;
    /* From the cursor to the bottom, then once more from the top. */
    for (int pass = 0; pass < 2 && !r; pass++) {
        heap_arena_t *a = scav_arena;
        size_t pg = scav_page;
        if (!a) {
            a = arena_first();
            pg = PAGES_PER_ARENA;
        }
        for (; a; a = a->next, pg = PAGES_PER_ARENA) {
            scav_arena = a;
            if ((r = scav_find(a, pg, max_pages)))
                break; /* scav_find moved the cursor */
        }
        if (!r)
            scav_arena = NULL;
    }
    pthread_mutex_unlock(&heap_lock);
    return r;
}

void heap_scavenge_put(span_t *s, bool released)
{
    pthread_mutex_lock(&heap_lock);
    if (released)
        arena_mark_released(s->base, s->npages);
    free_add(s); /* s is the merged run now */
    scav_hint = s;
    pthread_mutex_unlock(&heap_lock);
}
