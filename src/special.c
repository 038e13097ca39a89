/*
 * special.c - special records: what hangs from an object besides its bytes.
 *
 * Go's mspan.specials.  A finalizer, a cleanup or a weak handle is a record
 * on the list of the object's span, sorted by slot, then kind (a finalizer
 * first), and a heap profile sample's record last.  Records
 * come from a fixalloc (metadata, never scanned), so there is no limit to how
 * many there are.  Each heap arena keeps a bitmap of the first pages of its
 * spans that have records, so the collector finds them without walking the
 * heap.
 *
 * Locking: one of SPECIAL_LOCKS mutexes, chosen by the span's base, guards a
 * span's list.  It is only ever held inside an allocator section (a thread is
 * never stopped holding it: a stop-the-world may find lists in any state but
 * mid-update).  Under it a holder may take the finalizer queue's lock, the
 * record allocator's and the mark queue's, never the heap's or central's.
 *
 * The collector and the records:
 *   - marking: the walk (special_mark_roots, after write tracking is armed)
 *     treats each record as a root: a finalizer's and a cleanup's arg, a weak
 *     record's handle cell, and, for a finalizer, everything the object points
 *     to, though not the object itself (Go's markrootSpans).  So an object
 *     with a finalizer that dies keeps what it points to, for the finalizer,
 *     and a cycle through it is never collected.  A record added while
 *     marking runs, once the walk has begun, is shaded by the thread adding
 *     it (special_shade_now); mark.c rescans a written finalized object like
 *     a marked one.
 *   - sweeping (special_sweep, before the span's bits turn over): a dead
 *     object with a finalizer is revived (its mark bit set, so the sweep keeps
 *     it), its finalizer queued and its weak handles cleared; its cleanups
 *     wait for its real death.  A dead object without one has its cleanups
 *     queued and its weak handles cleared.  Records go with what they did.
 *   - a profile record goes when its object dies (not when it is revived):
 *     the sweeper reports the death to profile.c.
 *   - gc_free drops an object's records unrun (special_drop); a profile
 *     record reports an explicit free.
 */
#include "internal.h"

#define SPECIAL_LOCKS 64

static pthread_mutex_t special_locks[SPECIAL_LOCKS];
static fixalloc_t special_alloc;
static _Atomic bool walk_started; /* this mark phase's root walk has begun */

void special_init(void)
{
    for (int i = 0; i < SPECIAL_LOCKS; i++)
        pthread_mutex_init(&special_locks[i], NULL);
    fixalloc_init(&special_alloc, sizeof(special_t), SYS_OTHER);
}

/* The record allocator's lock (and the metadata allocator's under it) is
 * one a thread inside an allocator section may wait for: it is only ever
 * held inside one, so that no stopped thread holds it. */
special_t *special_new(void)
{
    gc_thread_t *t = tls_thread;
    if (t)
        enter_alloc(t);
    special_t *sp = fixalloc_alloc(&special_alloc);
    if (t)
        leave_alloc(t);
    return sp;
}

void special_free(special_t *sp)
{
    gc_thread_t *t = tls_thread;
    if (t)
        enter_alloc(t);
    fixalloc_free(&special_alloc, sp);
    if (t)
        leave_alloc(t);
}

static pthread_mutex_t *lock_of(uintptr_t base) { return &special_locks[(base >> PAGE_SHIFT) % SPECIAL_LOCKS]; }

gc_thread_t *special_lock_take(uintptr_t base) { return section_lock(lock_of(base)); }

void special_lock_give(uintptr_t base, gc_thread_t *t) { section_unlock(lock_of(base), t); }

static inline bool before(const special_t *sp, unsigned idx, int kind)
{
    return sp->idx < idx || (sp->idx == idx && sp->kind < kind);
}

special_t *special_find(span_t *s, unsigned idx, int kind)
{
    special_t *last = s->specials_last;
    if (!last || before(last, idx, kind))
        return NULL; /* past the end: the common case of a new object's first record */
    special_t *sp = atomic_load_explicit(&s->specials, memory_order_relaxed);
    while (sp && before(sp, idx, kind))
        sp = sp->next;
    return sp && sp->idx == idx && sp->kind == kind ? sp : NULL;
}

static void arena_bit(span_t *s, bool on)
{
    heap_arena_t *a = arena_of(s->base);
    size_t i = (s->base - a->base) / PAGE_SIZE;
    uint64_t bit = (uint64_t)1 << (i % 64);
    if (on) /* seq_cst: against the walk's reads (special_mark_roots) */
        __atomic_fetch_or(&a->specials[i / 64], bit, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&a->specials[i / 64], ~bit, __ATOMIC_RELAXED);
}

/* After the records of one slot and kind: a kind may have several records
 * (cleanups), kept in the order they were added. */
void special_insert(span_t *s, special_t *sp)
{
    special_t *head = atomic_load_explicit(&s->specials, memory_order_relaxed);
    special_t *last = s->specials_last;
    sp->next = NULL;
    if (!head) {
        atomic_store_explicit(&s->specials, sp, memory_order_release);
        s->specials_last = sp;
        arena_bit(s, true);
    } else if (!before(sp, last->idx, last->kind)) { /* the common case: objects in address order */
        last->next = sp;
        s->specials_last = sp;
    } else {
        special_t *prev = NULL, *q = head;
        while (q && !before(sp, q->idx, q->kind))
            prev = q, q = q->next;
        sp->next = q;
        if (prev)
            prev->next = sp;
        else
            atomic_store_explicit(&s->specials, sp, memory_order_release);
    }
    if (sp->kind == SPECIAL_FINALIZER)
        atomic_fetch_add_explicit(&s->nfinal, 1, memory_order_relaxed);
}

/* Unlink sp, whose predecessor is prev (NULL: the head). */
static void unlink_after(span_t *s, special_t *prev, special_t *sp)
{
    if (prev)
        prev->next = sp->next;
    else
        atomic_store_explicit(&s->specials, sp->next, memory_order_relaxed);
    if (s->specials_last == sp)
        s->specials_last = prev;
    if (sp->kind == SPECIAL_FINALIZER)
        atomic_fetch_sub_explicit(&s->nfinal, 1, memory_order_relaxed);
    if (!atomic_load_explicit(&s->specials, memory_order_relaxed))
        arena_bit(s, false);
}

void special_unlink(span_t *s, special_t *sp)
{
    special_t *prev = NULL;
    for (special_t *q = atomic_load_explicit(&s->specials, memory_order_relaxed); q != sp; q = q->next)
        prev = q;
    unlink_after(s, prev, sp);
}

bool special_shade_now(void) { return gc_marking() && atomic_load(&walk_started); }

/* ---- marking ---------------------------------------------------------------- */

static void mark_span_specials(span_t *s)
{
    bool scan = !span_noscan(s);
    for (special_t *sp = atomic_load_explicit(&s->specials, memory_order_relaxed); sp; sp = sp->next) {
        switch (sp->kind) {
        case SPECIAL_FINALIZER:
            if (scan && !sp->unordered) {
                uintptr_t obj = s->base + sp->idx * s->elemsize;
                if (sp->ignore_self)
                    mark_range_except(obj, obj + s->elemsize, obj, obj + s->elemsize);
                else
                    mark_push_range(obj, obj + s->elemsize);
            }
            /* fallthrough */
        case SPECIAL_CLEANUP:
            mark_range((uintptr_t)&sp->arg, (uintptr_t)(&sp->arg + 1));
            break;
        case SPECIAL_WEAK:
            mark_range((uintptr_t)&sp->handle, (uintptr_t)(&sp->handle + 1));
            break;
        case SPECIAL_PROFILE: /* keeps nothing alive */
            break;
        }
    }
}

/*
 * Every span with records, by the arenas' bitmaps.  Runs beside the program
 * after write tracking is armed (or with the world stopped): a span in use now
 * stays in use until the sweep, and one taken while marking runs holds only
 * black objects, whose records need nothing.  walk_started is set first: an
 * adder sets the span's bit, then reads walk_started; the walk sets
 * walk_started, then reads the bits, all sequentially consistent.  So either
 * the adder sees the walk started (and shades for itself) or the walk sees
 * the bit, and then the record, under the span's lock.
 */
/* fn(s) for every in-use span with records, by the arenas' bitmaps, under
 * the span's record lock. */
static void each_span_with_records(void (*fn)(span_t *s, void *arg), void *arg)
{
    for (heap_arena_t *a = arena_first(); a; a = a->next) {
        for (size_t w = 0; w < PAGES_PER_ARENA / 64; w++) {
            uint64_t bits = __atomic_load_n(&a->specials[w], __ATOMIC_SEQ_CST);
            while (bits) {
                size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                uintptr_t base = a->base + i * PAGE_SIZE;
                gc_thread_t *t = special_lock_take(base);
                span_t *s = a->spans[i];
                if (s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SPAN_INUSE && s->base == base)
                    fn(s, arg);
                special_lock_give(base, t);
            }
        }
    }
}

static void mark_span_specials_cb(span_t *s, void *arg)
{
    (void)arg;
    mark_span_specials(s);
}

void special_mark_roots(void)
{
    atomic_store(&walk_started, true);
    each_span_with_records(mark_span_specials_cb, NULL);
}

void special_mark_done(void) { atomic_store(&walk_started, false); }

_Atomic long unordered_finalizers;

/* An unreachable object whose unordered finalizer will be queued at its
 * sweep keeps what it points to from now on, for that finalizer.  The
 * object itself stays unmarked: the sweep revives it. */
static void doom_unordered(span_t *s, void *arg)
{
    if (span_noscan(s))
        return;
    for (special_t *sp = atomic_load_explicit(&s->specials, memory_order_relaxed); sp; sp = sp->next) {
        if (sp->kind != SPECIAL_FINALIZER || !sp->unordered || mark_object_marked(s, sp->idx))
            continue;
        /* Decided now: marking its referents may reach the object itself
         * (a cycle), which must not save it. */
        sp->doomed = 1;
        uintptr_t obj = s->base + sp->idx * s->elemsize;
        mark_push_range(obj, obj + s->elemsize);
        *(bool *)arg = true;
    }
}

bool special_mark_unordered(void)
{
    if (!atomic_load(&unordered_finalizers))
        return false;
    bool queued = false;
    each_span_with_records(doom_unordered, &queued);
    return queued;
}

/* ---- sweeping ---------------------------------------------------------------- */

static void weak_clear(special_t *sp) { atomic_store_explicit((_Atomic uintptr_t *)sp->handle, 0, memory_order_release); }

/*
 * The records of s's dead objects, before s is swept (the caller owns s: no
 * one else sweeps it, and marking is over).  Live records stay.  What a
 * record cannot do for want of memory (queueing) it does next cycle: the
 * object is kept meanwhile.
 */
void special_sweep(span_t *s)
{
    bool queued = false;
    gc_thread_t *t = special_lock_take(s->base);
    special_t *prev = NULL, *sp = atomic_load_explicit(&s->specials, memory_order_relaxed);
    while (sp) {
        unsigned idx = sp->idx;
        uint64_t bit = (uint64_t)1 << (idx % 64);
        if (s->mark_bits[idx / 64] & bit) { /* live: its records stay */
            while (sp && sp->idx == idx) {
                special_t *next = sp->next;
                if (unlikely(sp->doomed) &&
                    finq_push_locked(&queued, SPECIAL_FINALIZER, sp->fn, (void *)(s->base + idx * s->elemsize), sp->arg)) {
                    /* Unreachable when marking ended (special_mark_unordered),
                     * marked since only for its finalizer. */
                    atomic_fetch_sub(&unordered_finalizers, 1);
                    unlink_after(s, prev, sp);
                    special_free(sp);
                } else {
                    prev = sp;
                }
                sp = next;
            }
            continue;
        }
        uintptr_t obj = s->base + idx * s->elemsize;
        bool revive = false, finalized = false;
        while (sp && sp->idx == idx) {
            special_t *next = sp->next;
            bool drop = false;
            switch (sp->kind) {
            case SPECIAL_FINALIZER:
                /* Revived either way: by the finalizer, or to wait for memory. */
                revive = true;
                drop = finalized = finq_push_locked(&queued, SPECIAL_FINALIZER, sp->fn, (void *)obj, sp->arg);
                if (drop && sp->unordered)
                    atomic_fetch_sub(&unordered_finalizers, 1);
                break;
            case SPECIAL_CLEANUP:
                if (!revive) {
                    drop = finq_push_locked(&queued, SPECIAL_CLEANUP, sp->fn, NULL, sp->arg);
                    revive = !drop;
                }
                break;
            case SPECIAL_WEAK:
                /* Cleared when the object dies or its finalizer is queued
                 * (Go's weak package): not when it waits for memory. */
                drop = !revive || finalized;
                if (drop)
                    weak_clear(sp);
                break;
            case SPECIAL_PROFILE: /* last: whether the object lives on is known */
                drop = !revive;
                if (drop)
                    profile_free(sp->bucket, s->elemsize, true);
                break;
            }
            if (drop) {
                unlink_after(s, prev, sp);
                special_free(sp);
            } else {
                prev = sp;
            }
            sp = next;
        }
        if (revive) {
            s->mark_bits[idx / 64] |= bit;
            atomic_fetch_add(&heap_live, (int64_t)s->elemsize);
        }
    }
    if (queued)
        finq_unlock();
    special_lock_give(s->base, t);
    if (queued)
        finq_wake();
}

void special_drop(span_t *s, unsigned idx)
{
    gc_thread_t *t = special_lock_take(s->base);
    special_t *prev = NULL, *sp = atomic_load_explicit(&s->specials, memory_order_relaxed);
    while (sp && sp->idx < idx)
        prev = sp, sp = sp->next;
    while (sp && sp->idx == idx) {
        special_t *next = sp->next;
        if (sp->kind == SPECIAL_WEAK)
            weak_clear(sp);
        else if (sp->kind == SPECIAL_FINALIZER && sp->unordered)
            atomic_fetch_sub(&unordered_finalizers, 1);
        else if (sp->kind == SPECIAL_PROFILE)
            profile_free(sp->bucket, s->elemsize, false);
        unlink_after(s, prev, sp);
        special_free(sp);
        sp = next;
    }
    special_lock_give(s->base, t);
}

void special_lock_all(void)
{
    for (int i = 0; i < SPECIAL_LOCKS; i++)
        pthread_mutex_lock(&special_locks[i]);
    pthread_mutex_lock(&special_alloc.lock);
}

void special_unlock_all(void)
{
    pthread_mutex_unlock(&special_alloc.lock);
    for (int i = SPECIAL_LOCKS - 1; i >= 0; i--)
        pthread_mutex_unlock(&special_locks[i]);
}
