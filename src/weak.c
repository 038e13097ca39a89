/*
 * weak.c - weak pointers (Go's weak package: weak.Make, Pointer.Value).
 *
 * A handle is a one-word noscan object holding the object's address: noscan,
 * so the address keeps nothing alive.  The object's SPECIAL_WEAK record
 * points to its handle, so gc_weak_make finds the same handle for the same
 * object every time, and the record keeps the handle alive as long as the
 * object lives (special.c marks it); after that the handle lives as long as
 * the program holds it, reading NULL.
 *
 * The sweeper clears the handle when it finds the object dead (or queues its
 * finalizer), before the span's sweep completes.  So a handle read on a swept
 * span is the truth.  gc_weak_get makes sure the span is swept first (Go's
 * ensureSwept), then reads again: an unswept span may hold a dead object the
 * handle still names.  A get while marking runs shades the object: the
 * program may store it where the collector has already looked.
 */
#include "internal.h"

#include <errno.h>

struct gc_weak {
    _Atomic uintptr_t obj;
};

gc_weak *gc_weak_make(void *obj)
{
    gc_thread_t *t = current_thread();
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    gc_weak *fresh = NULL;
    special_t *sp = NULL;
    for (;;) {
        enter_alloc(t);
        unsigned idx;
        span_t *s = object_at(t, (uintptr_t)obj, &idx);
        if (!s) {
            leave_alloc(t);
            if (sp)
                special_free(sp);
            errno = EINVAL;
            return NULL;
        }
        bool shade = false;
        gc_thread_t *lt = special_lock_take(s->base);
        special_t *have = special_find(s, idx, SPECIAL_WEAK);
        gc_weak *w = have ? have->handle : NULL;
        if (!w && fresh && sp) {
            atomic_store_explicit(&fresh->obj, (uintptr_t)obj, memory_order_relaxed);
            sp->idx = idx;
            sp->kind = SPECIAL_WEAK;
            sp->handle = fresh;
            special_insert(s, sp);
            w = fresh;
            sp = NULL;
            shade = special_shade_now();
        }
        special_lock_give(s->base, lt);
        /* Made before the root walk passed and now held by the record: the
         * walk did not see it. */
        if (shade)
            mark_shade(t, (uintptr_t)&fresh, (uintptr_t)(&fresh + 1));
        leave_alloc(t);
        if (w) {
            if (sp)
                special_free(sp);
            return w; /* (a fresh handle not used is garbage) */
        }
        /* None yet: make one outside the section (allocation may collect). */
        fresh = gc_alloc_noscan(sizeof *fresh);
        sp = fresh ? special_new() : NULL;
        if (!sp) {
            errno = ENOMEM;
            return NULL;
        }
    }
}

void *gc_weak_get(const gc_weak *cw)
{
    if (!cw)
        return NULL;
    gc_weak *w = (gc_weak *)cw;
    uintptr_t p = atomic_load_explicit(&w->obj, memory_order_acquire);
    if (!p)
        return NULL;
    gc_thread_t *t = current_thread();
    if (!t)
        return NULL;
    enter_alloc(t);
    p = atomic_load_explicit(&w->obj, memory_order_acquire);
    if (p && swept_span_of(t, p))
        p = atomic_load_explicit(&w->obj, memory_order_acquire);
    else
        p = 0; /* no span: cleared and freed meanwhile */
    if (p && gc_marking())
        mark_shade(t, (uintptr_t)&p, (uintptr_t)(&p + 1));
    leave_alloc(t);
    return (void *)p;
}
