/*
 * free.c - objects by pointer: gc_free, gc_realloc, gc_size, gc_base.
 *
 * Owns the freed bits: gc_free marks a small object freed in a per-span
 * bitmap, made on the first free in the span.  A freed object is no longer
 * allocated for anyone: the marker skips it, gc_size and gc_base ignore it,
 * and the next sweep of its span makes the slot free (without counting it
 * again: the free was counted when it happened).  Its bytes are zeroed at once
 * so that stale pointers inside it keep nothing alive.
 *
 * Every lookup runs inside an allocator section on a span already swept for
 * this cycle (swept_span_of sweeps it first if needed): no sweeper can rewrite
 * the span's bits under the lookup, and no collection can start before it ends.
 *
 * A large object's span goes straight back to the page heap.
 *
 * Misuse (a pointer that is not the start of a live object, a double free)
 * stops the program with a message naming the pointer, as glibc's free does.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>

/*
 * The span holding p, swept for this cycle.  A lookup must not read a span's
 * bits while a sweeper rewrites them, so an unswept span is swept here first
 * (or waited for, if another thread is sweeping it).  The caller is inside an
 * allocator section: no collection can start, so the span stays swept until
 * the caller leaves.
 */
span_t *swept_span_of(gc_thread_t *t, uintptr_t p)
{
    for (;;) {
        span_t *s = span_of(p);
        if (!s)
            return NULL;
        uint32_t sg = atomic_load(&heap_sweepgen), ssg = atomic_load(&s->sweepgen);
        if (ssg == sg)
            return s;
        if (ssg == sg - 2) {
            central_t *c = &centrals[s->spanclass];
            slow_enter(t);
            pthread_mutex_lock(&c->lock);
            bool mine = s->state == SPAN_INUSE && atomic_load(&s->sweepgen) == sg - 2 && s->list;
            if (mine) {
                list_remove(s->list, s);
                atomic_store(&s->sweepgen, sg - 1);
            }
            pthread_mutex_unlock(&c->lock);
            if (mine && sweep_span(s, false))
                central_put_swept(s);
            slow_leave(t);
            continue;
        }
        sched_yield(); /* another thread is sweeping it */
    }
}

/* The live object starting at or holding p, or NULL; inside an allocator section. */
static span_t *object_of(gc_thread_t *t, uintptr_t p, unsigned *idxp)
{
    span_t *s = swept_span_of(t, p);
    if (!s)
        return NULL;
    unsigned idx = span_obj_index(s, p);
    if (!span_slot_allocated(s, idx))
        return NULL;
    uint64_t *fb = atomic_load_explicit(&s->freed_bits, memory_order_acquire);
    if (fb && (__atomic_load_n(&fb[idx / 64], __ATOMIC_RELAXED) >> (idx % 64) & 1))
        return NULL;
    *idxp = idx;
    return s;
}

span_t *object_at(gc_thread_t *t, uintptr_t p, unsigned *idxp)
{
    span_t *s = object_of(t, p, idxp);
    return s && s->base + *idxp * s->elemsize == p ? s : NULL;
}

size_t gc_size(const void *p)
{
    gc_thread_t *t = current_thread();
    unsigned idx;
    enter_alloc(t);
    span_t *s = object_of(t, (uintptr_t)p, &idx);
    size_t n = s ? s->elemsize : 0;
    leave_alloc(t);
    return n;
}

void *gc_base(const void *p)
{
    gc_thread_t *t = current_thread();
    unsigned idx;
    enter_alloc(t);
    span_t *s = object_of(t, (uintptr_t)p, &idx);
    void *b = s ? (void *)(s->base + idx * s->elemsize) : NULL;
    leave_alloc(t);
    return b;
}

static void free_large(gc_thread_t *t, span_t *s)
{
    central_t *c = &centrals[s->spanclass];
    slow_enter(t);
    for (;;) {
        pthread_mutex_lock(&c->lock);
        if (s->list)
            break;
        /* A sweeper owns it right now: let it finish. */
        pthread_mutex_unlock(&c->lock);
        slow_leave(t);
        leave_alloc(t);
        sched_yield();
        enter_alloc(t);
        slow_enter(t);
    }
    if (atomic_load(&s->sweepgen) != atomic_load(&heap_sweepgen))
        atomic_fetch_sub(&spans_unswept, 1);
    list_remove(s->list, s);
    pthread_mutex_unlock(&c->lock);
    atomic_fetch_add(&gstats.large_free, 1);
    atomic_fetch_add(&gstats.large_free_bytes, s->elemsize);
    atomic_fetch_sub(&heap_live, (int64_t)s->elemsize);
    atomic_fetch_sub(&heap_alloc_bytes, (int64_t)s->elemsize);
    heap_free_span(s);
    slow_leave(t);
}

static void free_object(void *p, const char *who)
{
    gc_thread_t *t = current_thread();
    uintptr_t a = (uintptr_t)p;
    enter_alloc(t);
    span_t *s = swept_span_of(t, a);
    if (!s)
        tc_fatal("%s(%p): not a heap object (invalid pointer or double free)", who, p);
    unsigned idx = span_obj_index(s, a);
    if (s->base + idx * s->elemsize != a)
        tc_fatal("%s(%p): not the start of an object (interior pointer)", who, p);
    if (!span_slot_allocated(s, idx))
        tc_fatal("%s(%p): not a live object (double free?)", who, p);
    if (unlikely(atomic_load_explicit(&s->specials, memory_order_relaxed) != NULL)) {
        uint64_t *fb0 = atomic_load_explicit(&s->freed_bits, memory_order_acquire);
        if (fb0 && (__atomic_load_n(&fb0[idx / 64], __ATOMIC_RELAXED) >> (idx % 64) & 1))
            tc_fatal("%s(%p): double free", who, p);
        special_drop(s, idx); /* its finalizer and cleanups never run; its weak handles clear */
    }
    bool large = span_sizeclass(s) == 0;
    if (large && !gc_marking()) {
        free_large(t, s);
        leave_alloc(t);
        return;
    }
    /* While marking runs, markers may be reading a large object's pages and
     * bits: its span stays until the sweeper frees it, like a small object. */
    unsigned nw = span_bitmap_words(s);
    uint64_t *fb = atomic_load_explicit(&s->freed_bits, memory_order_acquire);
    if (!fb) {
        uint64_t *nb = bitmap_alloc(nw);
        if (!nb) {
            leave_alloc(t);
            return; /* no memory for the bits: leave it to the collector */
        }
        if (atomic_compare_exchange_strong(&s->freed_bits, &fb, nb))
            fb = nb;
        else
            bitmap_free(nb, nw);
    }
    uint64_t bit = (uint64_t)1 << (idx % 64);
    if (__atomic_fetch_or(&fb[idx / 64], bit, __ATOMIC_ACQ_REL) & bit)
        tc_fatal("%s(%p): double free", who, p);
    if (large) {
        atomic_fetch_add(&gstats.large_free, 1);
        atomic_fetch_add(&gstats.large_free_bytes, s->elemsize);
        atomic_fetch_sub(&heap_live, (int64_t)s->elemsize);
        atomic_fetch_sub(&heap_alloc_bytes, (int64_t)s->elemsize);
    } else {
        atomic_fetch_sub(&heap_alloc_bytes, (int64_t)s->elemsize);
        memset(p, 0, s->elemsize);
        atomic_fetch_add(&gstats.nfree[span_sizeclass(s)], 1);
    }
    leave_alloc(t);
}

void gc_free(void *p)
{
    if (p)
        free_object(p, "gc_free");
}

void *gc_realloc(void *p, size_t size)
{
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
    if (!p)
        return alloc_from(size, 0, ra);
    if (size == 0) {
        free_object(p, "gc_realloc");
        return NULL;
    }
    gc_thread_t *t = current_thread();
    unsigned idx;
    enter_alloc(t);
    span_t *s = object_of(t, (uintptr_t)p, &idx);
    if (!s || s->base + idx * s->elemsize != (uintptr_t)p)
        tc_fatal("gc_realloc(%p): not the start of a live object", p);
    size_t old = s->elemsize;
    bool noscan = span_noscan(s);
    bool fits = span_sizeclass(s) ? size <= MAX_SMALL_SIZE && size_to_class(size) == span_sizeclass(s)
                                  : size <= old && size > old / 2;
    if (fits)
        memset((char *)p + size, 0, old - size);
    leave_alloc(t);
    if (fits)
        return p;
    void *n = alloc_from(size, noscan, ra);
    if (!n)
        return NULL;
    memcpy(n, p, old < size ? old : size);
    free_object(p, "gc_realloc");
    return n;
}
