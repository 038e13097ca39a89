/*
 * roots_common.h - the survival and reclamation procedures the root tests share.
 *
 * rt_populate puts RT_N objects, each filled with its own pattern, into slots
 * that live in the root under test (as the object's address plus an offset, to
 * test interior pointers), and keeps hidden copies of the addresses.
 * rt_survive_check collects several times with garbage of the same size in
 * between and checks every object is still there with its bytes intact.
 * rt_reclaim_check clears the slots, collects, and counts how many objects died.
 * rt_control stores only hidden addresses, so every object should die: it shows
 * the test's own stale copies do not keep objects alive, so a survival seen by
 * the other checks is the root's doing.
 */
#ifndef TC_ROOTS_COMMON_H
#define TC_ROOTS_COMMON_H

#include "common.h"

#define RT_N 64        /* objects per check */
#define RT_SIZE 96     /* their size */
#define RT_SLACK 4     /* conservatively retained objects allowed when counting deaths */

typedef struct {
    uintptr_t hid[RT_N];
    size_t size, off;
    uint32_t seed;
    int n;
} rt_set;

TC_UNUSED TC_NOINLINE static void rt_populate(rt_set *s, void *volatile *slots, int n, size_t size, size_t off,
                                              uint32_t seed)
{
    s->n = n;
    s->size = size;
    s->off = off;
    s->seed = seed;
    for (int i = 0; i < n; i++) {
        char *p = gc_alloc(size);
        TC_CHECK(p != NULL, "gc_alloc(%zu)", size);
        tc_fill(p, size, seed + (uint32_t)i);
        s->hid[i] = tc_hide(p);
        slots[i] = p + off;
    }
}

/* Objects whose only trace is their hidden address. */
TC_UNUSED TC_NOINLINE static void rt_populate_hidden(rt_set *s, int n, size_t size, uint32_t seed)
{
    s->n = n;
    s->size = size;
    s->off = 0;
    s->seed = seed;
    for (int i = 0; i < n; i++) {
        char *p = gc_alloc(size);
        TC_CHECK(p != NULL, "gc_alloc(%zu)", size);
        tc_fill(p, size, seed + (uint32_t)i);
        s->hid[i] = tc_hide(p);
    }
}

/* Every object is alive, at its place, with its pattern. */
TC_UNUSED TC_NOINLINE static void rt_verify(const rt_set *s, void *volatile *slots, const char *what)
{
    for (int i = 0; i < s->n; i++) {
        char *p = tc_unhide(s->hid[i]);
        if (slots)
            TC_CHECK((char *)slots[i] == p + s->off, "%s: slot %d changed from %p to %p", what, i,
                     (void *)(p + s->off), slots[i]);
        void *b = gc_base(p + s->off);
        TC_CHECK(b == p, "%s: object %d of %d (%zu bytes at %p) was freed: gc_base(%p) = %p", what, i, s->n,
                 s->size, (void *)p, (void *)(p + s->off), b);
        long d = tc_pattern_diff(p, s->size, s->seed + (uint32_t)i);
        TC_CHECK(d < 0, "%s: object %d of %d (%zu bytes at %p) was freed and reused: byte %ld changed", what, i,
                 s->n, s->size, (void *)p, d);
    }
}

TC_UNUSED TC_NOINLINE static int rt_count_dead(const rt_set *s)
{
    int dead = 0;
    for (int i = 0; i < s->n; i++)
        dead += gc_base(tc_unhide(s->hid[i])) == NULL;
    return dead;
}

/* Collections with garbage in between, then the objects must all be there. */
TC_UNUSED static void rt_survive_check(const rt_set *s, void *volatile *slots, const char *what)
{
    size_t count = s->size <= 4096 ? (size_t)s->n * 8 : (size_t)s->n * 2;
    tc_collect_churn(s->size, count, 4);
    rt_verify(s, slots, what);
}

/* Clear the slots: the objects must (nearly all) die at the next collection. */
TC_UNUSED static void rt_reclaim_check(const rt_set *s, void *volatile *slots, const char *what)
{
    if (slots)
        for (int i = 0; i < s->n; i++)
            slots[i] = NULL;
    tc_collect_clean();
    int dead = rt_count_dead(s);
    TC_CHECK(dead >= s->n - RT_SLACK, "%s: after clearing the root, only %d of %d objects were reclaimed", what,
             dead, s->n);
}

/* Populate, survive, clear, die: the whole check for one kind of root. */
TC_UNUSED static void rt_full_check(void *volatile *slots, int n, size_t size, size_t off, uint32_t seed,
                                    const char *what)
{
    static rt_set s;
    rt_populate(&s, slots, n, size, off, seed);
    rt_survive_check(&s, slots, what);
    rt_reclaim_check(&s, slots, what);
}

/* Objects known only by their hidden addresses must die. */
TC_UNUSED static void rt_control(const char *what)
{
    static rt_set s;
    rt_populate_hidden(&s, RT_N, RT_SIZE, 4242);
    tc_collect_clean();
    int dead = rt_count_dead(&s);
    TC_CHECK(dead >= RT_N - RT_SLACK,
             "%s: control: only %d of %d objects held by nothing but hidden addresses were reclaimed", what, dead,
             RT_N);
}

#endif
