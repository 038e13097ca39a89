/*
 * cache.c - per-thread caches (Go's mcache) and the allocation paths.
 *
 * Owns: gc_alloc and friends.  Every registered thread has a cache holding one
 * span per span class.  The fast path takes the next free slot of that span
 * from its alloc_cache (the inverted alloc bits, shifted so that bit 0 is slot
 * freeindex) with no lock and no atomic read-modify-write.  When the cached
 * word runs out, the slow path refills it from the span's bitmap; when the span
 * is full, it goes back to central and central hands out another.
 *
 * Objects larger than 32 KiB get a span of their own from the page heap.
 *
 * Zeroing: a span fresh from the OS is zero; a span that had objects freed
 * by the sweeper has needzero set and each slot is zeroed as it is handed out.
 *
 * Allocate-black: while marking runs, a span a cache takes is flagged black
 * and the mark bits of each window of free slots are set as alloc_cache is
 * loaded with it, so the fast path does not look at the phase (mgc.c).
 *
 * Every path runs inside enter_alloc/leave_alloc: a thread is never stopped
 * for a collection while its cache or an allocator lock is mid-update, so the
 * collector may flush every cache while the world is stopped.  Statistics:
 * a span counts its allocations in alloc_count; what a cache allocated is added
 * to the global counters when the span leaves it (central_uncache_span).
 */
#include "internal.h"

#include <errno.h>

/* The placeholder cached for every class until the first allocation: its
 * alloc_cache is 0, so the fast path always falls through to the slow one. */
span_t empty_span;

void cache_init_empty(cache_t *c)
{
    for (int i = 0; i < NUM_SPAN_CLASSES; i++)
        c->alloc[i] = &empty_span;
}

/* Load alloc_cache with the free slots of the bitmap word holding freeindex,
 * moving freeindex over allocated slots.  False when the span is full. */
static bool span_refill_cache(span_t *s)
{
    unsigned fi = s->freeindex;
    while (fi < s->nelems) {
        unsigned w = fi / 64;
        uint64_t free = ~s->alloc_bits[w] >> (fi % 64);
        unsigned remain = s->nelems - fi;
        if (remain < 64)
            free &= ((uint64_t)1 << remain) - 1;
        if (free) {
            /* Allocate-black a window at a time: one atomic OR here instead
             * of one per object in span_take.  A slot marked but not yet
             * handed out is not an object (span_slot_allocated), and the
             * cache unmarks what it did not hand out when it lets the span
             * go (central_uncache_span). */
            if (unlikely(s->black))
                __atomic_fetch_or(&s->mark_bits[w], free << (fi % 64), __ATOMIC_RELAXED);
            __atomic_store_n(&s->freeindex, (uint16_t)fi, __ATOMIC_RELAXED);
            s->alloc_cache = free;
            return true;
        }
        fi = (w + 1) * 64;
    }
    __atomic_store_n(&s->freeindex, s->nelems, __ATOMIC_RELAXED);
    s->alloc_cache = 0;
    return false;
}

/* The commonest small sizes are zeroed inline: a call to memset (or the
 * rep stos a compiler turns a loop into) costs more than two stores. */
static inline void zero_object(void *p, size_t n)
{
    uint64_t *q = p;
    switch (n) {
    case 8:
        q[0] = 0;
        return;
    case 16:
        q[0] = q[1] = 0;
        return;
    case 32:
        q[0] = q[1] = q[2] = q[3] = 0;
        return;
    default:
        memset(p, 0, n);
    }
}

static inline void *span_take(span_t *s)
{
    uint64_t ac = s->alloc_cache;
    unsigned b = (unsigned)__builtin_ctzll(ac);
    unsigned idx = s->freeindex + b;
    s->alloc_cache = (ac >> b) >> 1;
    __atomic_store_n(&s->freeindex, (uint16_t)(idx + 1), __ATOMIC_RELAXED);
    s->alloc_count++;
    void *p = (void *)(s->base + idx * s->elemsize);
    if (s->needzero)
        zero_object(p, s->elemsize);
    return p;
}

static void *small_refill(gc_thread_t *t, unsigned spc)
{
    span_t *s = t->cache.alloc[spc];
    if (s != &empty_span) {
        if (span_refill_cache(s))
            return span_take(s);
        central_uncache_span(s);
        t->cache.alloc[spc] = &empty_span;
    }
    s = central_cache_span(spc);
    if (!s)
        return NULL;
    if (!span_refill_cache(s))
        tc_fatal("central handed out a full span %p", (void *)s->base);
    t->cache.alloc[spc] = s;
    if (s->black) {
        t->assist_debt += (int64_t)(s->nelems - s->alloc_count) * (int64_t)s->elemsize;
        t->gc_wanted |= GC_WANT_ASSIST;
    }
    if (pacer_should_trigger())
        t->gc_wanted |= GC_WANT_CYCLE;
    return span_take(s);
}

static NOINLINE void *alloc_small_slow(gc_thread_t *t, unsigned spc)
{
    slow_enter(t);
    void *p = small_refill(t, spc);
    slow_leave(t);
    return p;
}

static void *large_alloc(gc_thread_t *t, size_t size, int noscan, unsigned kind)
{
    size_t npages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
    span_t *s = heap_alloc_span(npages, span_class_of(0, noscan));
    if (!s)
        return NULL;
    s->kind = (uint8_t)kind; /* before the object is handed out: no marker has seen it */
    if (s->needzero)
        memset((void *)s->base, 0, s->elemsize);
    s->alloc_count = 1;
    __atomic_store_n(&s->freeindex, 1, __ATOMIC_RELAXED);
    if (gc_marking()) {
        /* Allocate-black; its pages count as written until a round arms
         * them (barrier_fresh_span). */
        __atomic_fetch_or(&s->mark_bits[0], 1, __ATOMIC_RELAXED);
        mark_add_black(s->elemsize);
        barrier_fresh_span(s);
        t->assist_debt += (int64_t)s->elemsize;
        t->gc_wanted |= GC_WANT_ASSIST;
    }
    central_put_swept(s);
    atomic_fetch_add(&gstats.large_alloc, 1);
    atomic_fetch_add(&gstats.large_alloc_bytes, s->elemsize);
    atomic_fetch_add(&heap_live, (int64_t)s->elemsize);
    atomic_fetch_add(&heap_alloc_bytes, (int64_t)s->elemsize);
    if (pacer_should_trigger())
        t->gc_wanted |= GC_WANT_CYCLE;
    return (void *)s->base;
}

static NOINLINE void *alloc_large(gc_thread_t *t, size_t size, int noscan)
{
    slow_enter(t);
    void *p = large_alloc(t, size, noscan, 0);
    slow_leave(t);
    return p;
}

static NOINLINE void after_alloc_slow(gc_thread_t *t, void *p, uintptr_t ra);

void *alloc_kind(size_t size, unsigned kind)
{
    gc_thread_t *t = current_thread();
    if (!t || size > MAX_ALLOC_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    enter_alloc(t);
    slow_enter(t);
    void *p = large_alloc(t, size ? size : 1, 0, kind);
    slow_leave(t);
    leave_alloc(t);
    if (unlikely(t->gc_wanted))
        after_alloc_slow(t, p, (uintptr_t)__builtin_return_address(0));
    if (!p)
        errno = ENOMEM;
    return p;
}

static NOINLINE void after_alloc_slow(gc_thread_t *t, void *p, uintptr_t ra)
{
    int want = t->gc_wanted;
    t->gc_wanted = 0;
    if (want & GC_WANT_PROFILE)
        profile_alloc(t, p, ra);
    if (want & GC_WANT_SCAVENGE)
        scavenge_pay(t);
    if (want & GC_WANT_ASSIST)
        gc_assist(t);
    if (want & GC_WANT_CYCLE)
        gc_maybe_collect();
}

static NOINLINE void *alloc_failed(size_t size, int noscan);

/* Inlined into each public entry, so that noscan is a constant there and the
 * return address of the entry the program called (where the heap profile's
 * stacks start) is read only when a sample needs it; ra, when not 0, stands
 * for it (an entry that allocates on its caller's behalf: gc_realloc). */
static inline __attribute__((always_inline)) void *alloc(size_t size, int noscan, uintptr_t ra)
{
    gc_thread_t *t = tls_thread;
    if (unlikely(!t) && !(t = thread_register_self(false)))
        return alloc_failed(size, noscan); /* no memory for the thread's record */
    void *p;
    size_t n; /* the object's size, which the profile's sampling counts */
    enter_alloc(t);
    if (likely(size <= MAX_SMALL_SIZE)) {
        unsigned cls = size_to_class(size);
        span_t *s = t->cache.alloc[span_class_of(cls, noscan)];
        if (likely(s->alloc_cache)) {
            p = span_take(s);
            n = s->elemsize;
        } else {
            p = alloc_small_slow(t, span_class_of(cls, noscan));
            n = class_size[cls];
        }
    } else if (size <= MAX_ALLOC_SIZE) {
        p = alloc_large(t, size, noscan);
        n = round_up(size, PAGE_SIZE);
    } else {
        p = NULL;
        n = 0;
    }
    if (unlikely((t->sample_left -= (int64_t)n) <= 0))
        t->gc_wanted |= GC_WANT_PROFILE;
    leave_alloc(t);
    if (unlikely(t->gc_wanted))
        after_alloc_slow(t, p, ra ? ra : (uintptr_t)__builtin_return_address(0));
    if (unlikely(!p))
        return alloc_failed(size, noscan);
    return p;
}

static _Atomic(gc_oom_fn) oom_fn;

gc_oom_fn gc_set_oom_fn(gc_oom_fn fn)
{
    gc_init_once();
    return atomic_exchange(&oom_fn, fn);
}

/* Out of memory, or an impossible size.  The OS refused memory: collect
 * (sweeping all, so that free spans are back in the heap), return free pages
 * to the OS (under a cgroup's limit that is what makes room), and retry
 * once; then the program's out-of-memory function, else NULL and ENOMEM. */
static NOINLINE void *alloc_failed(size_t size, int noscan)
{
    void *p = NULL;
    gc_thread_t *t = size <= MAX_ALLOC_SIZE ? current_thread() : NULL;
    if (t) {
        t->gc_wanted = 0;
        t->scav_need = 0;
        gc_collect();
        scavenge_all(t);
        enter_alloc(t);
        p = size <= MAX_SMALL_SIZE ? alloc_small_slow(t, span_class_of(size_to_class(size), noscan))
                                   : alloc_large(t, size, noscan);
        t->gc_wanted = 0;
        leave_alloc(t);
    }
    if (p)
        return p;
    /* The function may allocate; if that fails too, it is not called again
     * from inside itself. */
    static __thread bool in_oom_fn;
    gc_oom_fn fn = atomic_load(&oom_fn);
    if (fn && size <= MAX_ALLOC_SIZE && !in_oom_fn) {
        in_oom_fn = true;
        p = fn(size);
        in_oom_fn = false;
        if (p)
            return p;
    }
    errno = ENOMEM;
    return NULL;
}

void *gc_alloc(size_t size) { return alloc(size, 0, 0); }

void *gc_alloc_noscan(size_t size) { return alloc(size, 1, 0); }

void *alloc_from(size_t size, int noscan, uintptr_t ra) { return noscan ? alloc(size, 1, ra) : alloc(size, 0, ra); }

void *gc_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc(total, 0, 0);
}

char *gc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = alloc(n, 1, 0);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Return every span of a cache to central.  The owner is stopped outside an
 * allocator section, exiting, or is the caller. */
void cache_flush(cache_t *c)
{
    for (int i = 0; i < NUM_SPAN_CLASSES; i++) {
        span_t *s = c->alloc[i];
        if (s != &empty_span) {
            central_uncache_span(s);
            c->alloc[i] = &empty_span;
        }
    }
}

/*
 * In a fork child, the cache of a thread that did not come along.  That
 * thread may have been inside span_take when the parent forked - fork waits
 * for slow paths, not for the fast path - between moving freeindex and
 * counting the allocation, so alloc_count is recomputed from what the bits
 * say is allocated (every slot below freeindex, and those above with their
 * alloc bit set) before the span goes back to central.
 */
void cache_flush_forked(cache_t *c)
{
    for (int i = 0; i < NUM_SPAN_CLASSES; i++) {
        span_t *s = c->alloc[i];
        if (s == &empty_span)
            continue;
        unsigned fi = s->freeindex, n = fi;
        for (unsigned idx = fi; idx < s->nelems; idx++)
            n += (unsigned)(s->alloc_bits[idx / 64] >> (idx % 64) & 1);
        s->alloc_count = (uint16_t)n;
        if (s->cache_count > n)
            s->cache_count = (uint16_t)n;
    }
    cache_flush(c);
}

/* Allocations in cached spans that the global counters don't have yet. */
void cache_add_unflushed_stats(cache_t *c, uint64_t *nmalloc)
{
    for (int i = 0; i < NUM_SPAN_CLASSES; i++) {
        span_t *s = c->alloc[i];
        if (s != &empty_span)
            nmalloc[i >> 1] += s->alloc_count - s->cache_count;
    }
}
