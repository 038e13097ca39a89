/*
 * test_realloc.c - gc_realloc.
 *
 *   grow_shrink  a chain of reallocations through sizes 1 .. 300000 and back:
 *                the first min(old, new) bytes are kept, bytes from the old size
 *                to the new are zero, the result is an object start with
 *                gc_size >= the size, and a moved-from object is freed
 *   kind         an object that was gc_alloc_noscan'd and then grown (moved) is
 *                still noscan: a pointer stored only in it does not keep its
 *                target alive; a gc_alloc'd one grown the same way still does
 *   edge         gc_realloc(NULL, n) is gc_alloc(n) (zeroed, scanned);
 *                gc_realloc(p, 0) frees p and returns NULL; gc_realloc(p, huge)
 *                returns NULL with ENOMEM and leaves p as it was
 */
#include "common.h"

static void *volatile g_obj;

static void check_object(void *p, size_t size, const char *what)
{
    TC_CHECK(p != NULL, "%s: gc_realloc to %zu returned NULL", what, size);
    TC_CHECK(gc_base(p) == p, "%s: result %p is not an object start (gc_base %p)", what, p, gc_base(p));
    TC_CHECK(gc_size(p) >= size, "%s: gc_size %zu < %zu", what, gc_size(p), size);
    if (size >= 16)
        TC_CHECK((uintptr_t)p % 16 == 0, "%s: %p not 16-aligned", what, p);
}

static void step(size_t *cur, size_t next, uint32_t seed, int noscan)
{
    char *p = g_obj;
    size_t old = *cur;
    char *q = gc_realloc(p, next);
    check_object(q, next, noscan ? "noscan" : "scan");
    size_t keep = old < next ? old : next;
    long d = tc_pattern_diff(q, keep, seed);
    TC_CHECK(d < 0, "realloc %zu -> %zu (%p -> %p): byte %ld of the kept %zu changed", old, next, p, q, d, keep);
    if (next > old) {
        long nz = tc_nonzero_at(q + old, next - old);
        TC_CHECK(nz < 0, "realloc %zu -> %zu: new byte %zu is 0x%02x, not zero", old, next, old + (size_t)nz,
                 (uint8_t)q[old + nz]);
    }
    if (q != p)
        TC_CHECK(gc_base(p) == NULL, "realloc %zu -> %zu moved %p -> %p but the old object still exists", old,
                 next, p, q);
    /* refill the whole new size with the pattern */
    tc_fill(q, next, seed);
    g_obj = q;
    *cur = next;
}

static void chain(int noscan)
{
    static const size_t sizes[] = {1,     7,     8,     9,     16,    17,    100,   112,   113,   255,
                                   256,   257,   1000,  1024,  1025,  4000,  8192,  8193,  20000, 32768,
                                   32769, 40000, 65536, 65537, 300000, 100000, 33000, 32768, 30000, 5000,
                                   4096,  1024,  200,   100,   16,    8,     3,     1,     2,     300000,
                                   1};
    uint32_t seed = 99;
    size_t cur = sizes[0];
    g_obj = noscan ? gc_alloc_noscan(cur) : gc_alloc(cur);
    tc_fill(g_obj, cur, seed);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
        step(&cur, sizes[i], seed, noscan);
        if (i % 8 == 0) {
            tc_churn_kind(cur, 64, noscan);
            tc_collect_clean();
            long d = tc_pattern_diff(g_obj, cur, seed);
            TC_CHECK(d < 0, "after a collection, the reallocated object (%zu bytes) changed at byte %ld", cur, d);
        }
    }
    /* many small steps up through the classes */
    for (size_t s = 1; s < 40000; s += s / 8 + 1)
        step(&cur, s, seed, noscan);
    for (size_t s = 40000; s > 1; s -= s / 8 + 1)
        step(&cur, s, seed, noscan);
    g_obj = NULL;
}

static void test_grow_shrink(void)
{
    chain(0);
    chain(1);
}

/* ------------------------------------------------------------------------ */

#define NT 64
static void *volatile g_holders[NT];
static uintptr_t g_targets[NT]; /* hidden */

/* Each holder: allocated small with the given kind, grown past the small
 * classes (so it moves), and given the only pointer to a 96-byte target. */
TC_NOINLINE static void make_holders(int noscan, size_t grow_to)
{
    for (int i = 0; i < NT; i++) {
        void *h = noscan ? gc_alloc_noscan(24) : gc_alloc(24);
        memset(h, 0x5c, 24);
        h = gc_realloc(h, grow_to);
        TC_CHECK(h != NULL, "gc_realloc(holder, %zu)", grow_to);
        void *t = gc_alloc(96);
        tc_fill(t, 96, (uint32_t)i);
        memcpy((char *)h + grow_to - 16, &t, sizeof t);
        g_holders[i] = h;
        g_targets[i] = tc_hide(t);
    }
}

static size_t count_dead_targets(void)
{
    size_t dead = 0;
    for (int i = 0; i < NT; i++)
        dead += tc_reclaimed(g_targets[i], 96, (uint32_t)i);
    return dead;
}

static void test_kind(void)
{
    static const size_t grow[] = {200, 5000, 100000};
    for (size_t g = 0; g < sizeof grow / sizeof grow[0]; g++) {
        /* noscan: targets die */
        make_holders(1, grow[g]);
        tc_collect_clean();
        size_t dead = count_dead_targets();
        TC_CHECK(dead >= NT - 4, "grown to %zu: %zu of %d targets held only by reallocated noscan objects were "
                                 "reclaimed (a noscan object was scanned)",
                 grow[g], dead, NT);
        for (int i = 0; i < NT; i++)
            TC_CHECK(gc_base(g_holders[i]) == g_holders[i], "a rooted noscan holder died");
        /* scan: targets live */
        make_holders(0, grow[g]);
        tc_collect_churn(96, 4 * NT, 3);
        for (int i = 0; i < NT; i++) {
            void *t = tc_unhide(g_targets[i]);
            void *held;
            memcpy(&held, (char *)g_holders[i] + grow[g] - 16, sizeof held);
            TC_CHECK(held == t, "holder %d lost its pointer", i);
            TC_CHECK(gc_base(t) == t && tc_pattern_diff(t, 96, (uint32_t)i) < 0,
                     "grown to %zu: target %d held only by a reallocated scanned object was freed", grow[g], i);
        }
        memset((void *)g_holders, 0, sizeof g_holders);
    }
}

/* ------------------------------------------------------------------------ */

TC_NOINLINE static void make_null_holders(void)
{
    for (int i = 0; i < NT; i++) {
        void *h = gc_realloc(NULL, 64);
        void *t = gc_alloc(96);
        tc_fill(t, 96, (uint32_t)i + 1000);
        memcpy(h, &t, sizeof t);
        g_holders[i] = h;
        g_targets[i] = tc_hide(t);
    }
}

static void test_edge(void)
{
    /* gc_realloc(NULL, n) */
    for (size_t n = 1; n < 100000; n = n * 5 + 3) {
        char *p = gc_realloc(NULL, n);
        check_object(p, n, "gc_realloc(NULL, n)");
        TC_CHECK(tc_nonzero_at(p, gc_size(p)) < 0, "gc_realloc(NULL, %zu) is not zeroed", n);
    }
    /* ... and it is a scanned object */
    make_null_holders();
    tc_collect_churn(96, 4 * NT, 3);
    for (int i = 0; i < NT; i++) {
        void *t = tc_unhide(g_targets[i]);
        TC_CHECK(gc_base(t) == t && tc_pattern_diff(t, 96, (uint32_t)i + 1000) < 0,
                 "target %d held only by a gc_realloc(NULL, 64) object was freed", i);
    }
    memset((void *)g_holders, 0, sizeof g_holders);

    /* gc_realloc(p, 0) */
    for (size_t n = 8; n < 200000; n = n * 7 + 1) {
        void *p = gc_alloc(n);
        errno = 0;
        void *r = gc_realloc(p, 0);
        TC_CHECK(r == NULL, "gc_realloc(%p, 0) returned %p, want NULL", p, r);
        TC_CHECK(gc_base(p) == NULL && gc_size(p) == 0, "gc_realloc(p, 0) did not free the %zu-byte object", n);
    }

    /* impossible sizes: NULL, ENOMEM, p untouched */
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 62};
    char *p = gc_alloc(100);
    tc_fill(p, 100, 5);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *r = gc_realloc(p, huge[i]);
        int e = errno;
        TC_CHECK(r == NULL, "gc_realloc(p, %zu) returned %p", huge[i], r);
        TC_CHECK(e == ENOMEM, "gc_realloc(p, %zu): errno %d, want ENOMEM", huge[i], e);
        TC_CHECK(gc_base(p) == p && tc_pattern_diff(p, 100, 5) < 0,
                 "a failed gc_realloc(p, %zu) changed or freed p", huge[i]);
    }
    errno = 0;
    void *r = gc_realloc(NULL, SIZE_MAX);
    TC_CHECK(r == NULL && errno == ENOMEM, "gc_realloc(NULL, SIZE_MAX) = %p, errno %d", r, errno);
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"grow_shrink", test_grow_shrink},
        {"kind", test_kind},
        {"edge", test_edge},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
