/*
 * sweep.c - sweeping: turning a span's mark bits into its new alloc bits.
 *
 * Go's sweepgen scheme.  The heap's sweepgen h grows by 2 at the end of each
 * mark phase.  A span's sweepgen says:
 *   h - 2   it needs sweeping (it is on an unswept central list)
 *   h - 1   it is being swept (whoever popped it from the list owns it)
 *   h       it is swept (on a swept list, or in a thread cache)
 * Thread caches are flushed while the world is stopped, so no span is cached
 * across the increment and Go's h+1 / h+3 states are not needed.
 *
 * Three kinds of sweeper take unswept spans:
 *   - an allocating thread, for the class it needs (central_cache_span), or
 *     for any class when the page heap has no room (heap_alloc_span);
 *   - the background sweeper thread, woken after each collection;
 *   - the collector itself, which finishes all sweeping before the next
 *     collection starts, and gc_collect(), which returns only when all is swept.
 *
 * spans_unswept counts spans still to sweep; every sweeper decrements it when it
 * has placed the span.  Sweeping does not move heap_live: the mark phase reset
 * it to the marked bytes, which already exclude what sweeping frees.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>

_Atomic uint32_t heap_sweepgen = 4;
_Atomic int64_t spans_unswept;

/* Sweep s, which the caller owns (sweepgen h - 1, on no list).  With keep, an
 * empty span stays in use for the caller; without, it goes back to the heap.
 * Returns whether s is still an in-use span owned by the caller. */
bool sweep_span(span_t *s, bool keep)
{
    if (unlikely(atomic_load_explicit(&s->specials, memory_order_relaxed) != NULL))
        special_sweep(s); /* may revive objects: before the bits are counted */
    unsigned nw = span_bitmap_words(s);
    uint64_t *fb = atomic_load_explicit(&s->freed_bits, memory_order_acquire);
    unsigned nlive = 0, nfreed = 0;
    for (unsigned w = 0; w < nw; w++) {
        uint64_t m = s->mark_bits[w];
        if (fb) {
            uint64_t f = __atomic_exchange_n(&fb[w], 0, __ATOMIC_ACQ_REL);
            nfreed += (unsigned)__builtin_popcountll(f);
            m &= ~f;
            s->mark_bits[w] = m;
        }
        nlive += (unsigned)__builtin_popcountll(m);
    }
    tc_assert(s->state == SPAN_INUSE && !s->incache && !s->list);
    tc_assert(nlive + nfreed <= s->alloc_count);
    unsigned ndead = s->alloc_count - nlive - nfreed; /* freed objects were counted by gc_free */
    unsigned cls = span_sizeclass(s);
    if (ndead)
        atomic_fetch_sub(&heap_alloc_bytes, (int64_t)ndead * (int64_t)s->elemsize);
    if (cls) {
        if (ndead)
            atomic_fetch_add(&gstats.nfree[cls], ndead);
    } else if (ndead) {
        atomic_fetch_add(&gstats.large_free, 1);
        atomic_fetch_add(&gstats.large_free_bytes, s->elemsize);
    }
    if (nlive == 0 && !keep) {
        heap_free_span(s);
        atomic_fetch_sub(&spans_unswept, 1); /* last: sweep_finish waits on it */
        return false;
    }
    uint64_t *old = s->alloc_bits;
    s->alloc_bits = s->mark_bits;
    s->mark_bits = old;
    memset(old, 0, nw * sizeof(uint64_t));
    if (nlive < s->alloc_count)
        s->needzero = 1;
    s->alloc_count = (uint16_t)nlive;
    __atomic_store_n(&s->freeindex, 0, __ATOMIC_RELAXED);
    s->alloc_cache = 0;
    atomic_store(&s->sweepgen, atomic_load(&heap_sweepgen));
    atomic_fetch_sub(&spans_unswept, 1); /* last: sweep_finish waits on it */
    return true;
}

static _Atomic unsigned sweep_cursor;

/* Sweep one span of any class.  False when no unswept span is left. */
bool sweep_one(void)
{
    if (atomic_load(&spans_unswept) <= 0)
        return false;
    uint32_t sg = atomic_load(&heap_sweepgen);
    unsigned unswept = !((sg / 2) % 2);
    unsigned start = atomic_load_explicit(&sweep_cursor, memory_order_relaxed);
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
        unsigned spc = (start + i) % NUM_SPAN_CLASSES;
        central_t *c = &centrals[spc];
        if (!c->partial[unswept].head && !c->full[unswept].head)
            continue;
        pthread_mutex_lock(&c->lock);
        span_t *s = list_pop(&c->partial[unswept]);
        if (!s)
            s = list_pop(&c->full[unswept]);
        if (s)
            atomic_store(&s->sweepgen, sg - 1);
        pthread_mutex_unlock(&c->lock);
        if (!s)
            continue;
        atomic_store_explicit(&sweep_cursor, spc, memory_order_relaxed);
        if (sweep_span(s, false))
            central_put_swept(s);
        return true;
    }
    return false;
}

/* sweep_one for a thread outside the allocator: one span, one section. */
bool sweep_one_section(gc_thread_t *t)
{
    enter_alloc(t);
    slow_enter(t);
    bool more = sweep_one();
    slow_leave(t);
    leave_alloc(t);
    return more;
}

/* Sweep until nothing is left, including spans other sweepers hold. */
void sweep_finish(void)
{
    gc_thread_t *t = current_thread();
    while (sweep_one_section(t))
        ;
    while (atomic_load(&spans_unswept) > 0)
        sched_yield();
}

/* ---- the background sweeper --------------------------------------------- */

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static bool bg_started, bg_work;

static void *bg_sweeper(void *arg)
{
    (void)arg;
    gc_thread_t *t = thread_register_self(true);
    if (!t)
        return NULL; /* sweeping stays with allocating threads */
    for (;;) {
        pthread_mutex_lock(&bg_lock);
        while (!bg_work)
            pthread_cond_wait(&bg_cond, &bg_lock);
        bg_work = false;
        pthread_mutex_unlock(&bg_lock);
        unsigned n = 0;
        while (sweep_one_section(t))
            if (++n % 16 == 0)
                sched_yield(); /* Go's bgsweep yields after each span */
        scavenge_wake(); /* the sweep freed what it freed: over to the scavenger */
    }
    return NULL;
}

void sweep_start_background(void)
{
    pthread_mutex_lock(&bg_lock);
    if (!bg_started)
        bg_started = thread_start_internal(bg_sweeper, true);
    bg_work = true;
    pthread_cond_signal(&bg_cond);
    pthread_mutex_unlock(&bg_lock);
}

void sweep_fork_child(void)
{
    pthread_mutex_init(&bg_lock, NULL);
    pthread_cond_init(&bg_cond, NULL);
    bg_started = false;
    bg_work = false;
}
