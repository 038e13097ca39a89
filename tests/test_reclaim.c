/*
 * test_reclaim.c - dropped objects are reclaimed, and their memory is reused.
 *
 *   objects  N objects kept reachable raise heap_objects by N after a collection
 *            (10000 x 48 B, 2000 x 3000 B, 200 x 100 KiB); dropped, at least 99% of
 *            them are freed (heap_objects and frees)
 *   cycles   a dropped ring of 20000 nodes and 5000 two-node cycles are reclaimed
 *   reuse    with 48 MiB live, allocating 10x that in garbage lets the automatic
 *            collector run (num_gc advances without gc_collect) and keeps heap_sys
 *            within 3 x live + 128 MiB; the live data is intact afterwards
 *   free     gc_free releases at once: gc_base/gc_size of the freed object give
 *            NULL/0, frees rises by exactly the count, heap_objects returns
 *   deep_stack  a chain built by a 20,000-deep recursion (each frame held its node),
 *            dropped, is reclaimed by the next gc_collect(), with no stack wiping by
 *            the test (8 rounds, 15.6-21.1 MiB each)
 */
#include "common.h"

static gc_memstats ms;
static void **volatile g_arr;

TC_NOINLINE static void alloc_into_array(size_t n, size_t size)
{
    g_arr = gc_alloc(n * sizeof(void *));
    TC_CHECK(g_arr != NULL, "gc_alloc of the array");
    for (size_t i = 0; i < n; i++) {
        g_arr[i] = gc_alloc(size);
        TC_CHECK(g_arr[i] != NULL, "gc_alloc(%zu)", size);
    }
}

static void objects_case(size_t n, size_t size)
{
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint64_t obj0 = ms.heap_objects, frees0 = ms.frees;
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "mallocs %llu - frees %llu != heap_objects %llu",
             (unsigned long long)ms.mallocs, (unsigned long long)ms.frees, (unsigned long long)ms.heap_objects);

    alloc_into_array(n, size);
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint64_t obj1 = ms.heap_objects;
    /* n objects + the array */
    TC_CHECK(obj1 + 2 >= obj0 + n + 1 && obj1 <= obj0 + n + 1 + 10,
             "%zu reachable objects of %zu bytes: heap_objects went from %llu to %llu after a collection", n, size,
             (unsigned long long)obj0, (unsigned long long)obj1);
    for (size_t i = 0; i < n; i++)
        TC_CHECK(gc_base(g_arr[i]) == g_arr[i], "reachable object %zu was freed", i);

    g_arr = NULL;
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint64_t slack = n / 100;
    TC_CHECK(ms.heap_objects <= obj0 + slack,
             "%zu dropped objects of %zu bytes: heap_objects %llu after a collection (was %llu before allocating "
             "them, %llu while they were reachable)",
             n, size, (unsigned long long)ms.heap_objects, (unsigned long long)obj0, (unsigned long long)obj1);
    TC_CHECK(ms.frees - frees0 + slack >= n + 1, "%zu dropped objects: frees rose by only %llu", n,
             (unsigned long long)(ms.frees - frees0));
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "mallocs - frees != heap_objects after a collection");
}

static void test_objects(void)
{
    objects_case(10000, 48);
    objects_case(2000, 3000);
    objects_case(200, 100 * 1024);
    objects_case(100000, 16);
}

/* ------------------------------------------------------------------------ */

struct ring {
    struct ring *next, *prev;
    uint64_t v;
};

TC_NOINLINE static void make_cycles(void)
{
    struct ring *first = gc_new(struct ring), *last = first;
    for (int i = 1; i < 20000; i++) {
        struct ring *r = gc_new(struct ring);
        r->prev = last;
        last->next = r;
        last = r;
    }
    last->next = first;
    first->prev = last;
    for (int i = 0; i < 5000; i++) {
        struct ring *a = gc_new(struct ring), *b = gc_new(struct ring);
        a->next = a->prev = b;
        b->next = b->prev = a;
    }
}

static void test_cycles(void)
{
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint64_t obj0 = ms.heap_objects;
    make_cycles();
    tc_collect_clean();
    gc_read_memstats(&ms);
    TC_CHECK(ms.heap_objects <= obj0 + 300,
             "30000 objects in dropped cycles: heap_objects %llu after a collection, was %llu before",
             (unsigned long long)ms.heap_objects, (unsigned long long)obj0);
}

/* ------------------------------------------------------------------------ */

struct live {
    struct live *next;
    char *payload; /* noscan, len bytes of pattern */
    size_t len;
    uint32_t seed;
};

static struct live *volatile g_live;

TC_NOINLINE static size_t build_live(size_t bytes)
{
    size_t total = 0, n = 0;
    uint64_t rng = 12345;
    struct live *head = NULL;
    while (total < bytes) {
        struct live *l = gc_new(struct live);
        size_t len = 16 + tc_rand(&rng) % 2000;
        if (n % 100 == 0)
            len = 40000 + tc_rand(&rng) % 60000;
        l->payload = gc_alloc_noscan(len);
        l->len = len;
        l->seed = (uint32_t)n;
        tc_fill(l->payload, len, l->seed);
        l->next = head;
        head = l;
        total += len + sizeof *l;
        n++;
    }
    g_live = head;
    return n;
}

static size_t check_live(void)
{
    size_t n = 0;
    for (struct live *l = g_live; l; l = l->next, n++) {
        TC_CHECK(gc_base(l) == l && gc_base(l->payload) == l->payload, "live node %zu was freed", n);
        long d = tc_pattern_diff(l->payload, l->len, l->seed);
        TC_CHECK(d < 0, "live node %zu: payload byte %ld changed", n, d);
    }
    return n;
}

TC_NOINLINE static void garbage(size_t bytes)
{
    uint64_t rng = 999;
    size_t total = 0;
    while (total < bytes) {
        size_t len = 8 + tc_rand(&rng) % 3000;
        if (tc_rand(&rng) % 200 == 0)
            len = 33000 + tc_rand(&rng) % 200000;
        char *p = (tc_rand(&rng) & 1) ? gc_alloc(len) : gc_alloc_noscan(len);
        TC_CHECK(p != NULL, "gc_alloc(%zu) while making garbage", len);
        p[0] = 1;
        p[len - 1] = 2;
        total += len;
    }
}

static void test_reuse(void)
{
    const size_t live = 48 * TC_MiB;
    size_t n = build_live(live);
    tc_collect_clean();
    gc_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc;
    uint64_t sys_after_live = ms.heap_sys;
    for (int round = 0; round < 10; round++) {
        garbage(live);
        gc_read_memstats(&ms);
        TC_CHECK(ms.heap_sys <= 3 * live + 128 * TC_MiB,
                 "after %d x the live heap (48 MiB) in garbage, heap_sys is %.1f MiB: freed memory is not reused",
                 round + 1, ms.heap_sys / 1048576.0);
    }
    gc_read_memstats(&ms);
    uint32_t autos = ms.num_gc - gc0;
    printf("     reuse: %zu live nodes, heap_sys %.1f MiB after the live set, %.1f MiB after 480 MiB of garbage, "
           "%u automatic collections\n",
           n, sys_after_live / 1048576.0, ms.heap_sys / 1048576.0, autos);
    TC_CHECK(autos >= 3, "only %u automatic collections while allocating 10x the live heap with GOGC=100", autos);
    TC_CHECK(check_live() == n, "the live list lost nodes");
    g_live = NULL;
}

/* ------------------------------------------------------------------------ */

static void *volatile g_fobj[1000];

TC_NOINLINE static void alloc_and_free(size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++)
        g_fobj[i] = gc_alloc(size);
    for (size_t i = 0; i < n; i++) {
        void *p = g_fobj[i];
        g_fobj[i] = NULL;
        gc_free(p);
        TC_CHECK(gc_base(p) == NULL && gc_size(p) == 0, "object %zu of %zu bytes right after gc_free: base %p size %zu",
                 i, size, gc_base(p), gc_size(p));
    }
}

static void test_free(void)
{
    static const size_t sizes[] = {8, 48, 500, 4096, 32768, 40000, 1 << 20};
    gc_free(NULL);
    /* no automatic collection: the counts below are exact */
    gc_set_percent(-1);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k] >= 32768 ? 50 : 1000;
        tc_collect_clean();
        gc_read_memstats(&ms);
        uint64_t obj0 = ms.heap_objects, frees0 = ms.frees, mallocs0 = ms.mallocs;
        alloc_and_free(n, sizes[k]);
        gc_read_memstats(&ms);
        TC_CHECK(ms.mallocs - mallocs0 == n, "%zu allocations of %zu bytes: mallocs rose by %llu", n, sizes[k],
                 (unsigned long long)(ms.mallocs - mallocs0));
        TC_CHECK(ms.frees - frees0 == n, "%zu gc_free's of %zu-byte objects: frees rose by %llu (no collection ran)",
                 n, sizes[k], (unsigned long long)(ms.frees - frees0));
        TC_CHECK(ms.heap_objects == obj0, "heap_objects %llu after allocating and freeing %zu objects, was %llu",
                 (unsigned long long)ms.heap_objects, n, (unsigned long long)obj0);
        tc_collect_clean();
        gc_read_memstats(&ms);
        TC_CHECK(ms.frees - frees0 >= n && ms.frees - frees0 <= n + 5,
                 "a collection after %zu gc_free's counted them again: frees +%llu", n,
                 (unsigned long long)(ms.frees - frees0));
        TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "mallocs - frees != heap_objects");
    }
    gc_set_percent(100);
}

/* deep_stack ---------------------------------------------------------------- */

/* A chain built by a deep recursion: each frame held its node, so the dead
 * stack below the caller is full of pointers into the chain once it returns.
 * The collection that follows must not read them: a frame of the collector's
 * own (or of the program's) that leaves a slot unwritten would find one and
 * keep the rest of the chain. */
struct dnode {
    struct dnode *next;
    void *payload;
    uint64_t pad[4];
};

static struct dnode *volatile g_deep;

TC_NOINLINE static struct dnode *deep_build(int depth)
{
    if (depth == 0)
        return NULL;
    struct dnode *n = gc_alloc(sizeof *n);
    TC_CHECK(n != NULL, "gc_alloc in the recursion");
    n->payload = gc_alloc_noscan(768);
    volatile uintptr_t spill[4] = {(uintptr_t)n, (uintptr_t)n->payload, (uintptr_t)n, 0};
    n->next = deep_build(depth - 1);
    __asm__ volatile("" : : "r"(spill) : "memory");
    return n;
}

TC_NOINLINE static void deep_make(int depth) { g_deep = deep_build(depth); }

static void deep_case(int depth, int round)
{
    gc_collect();
    gc_read_memstats(&ms);
    uint64_t base = ms.heap_alloc;
    uint64_t bytes = (uint64_t)depth * (48 + 768); /* the two objects' classes */
    deep_make(depth);
    g_deep = NULL;
    gc_collect(); /* no stack wiping of the test's own: the library's job */
    gc_read_memstats(&ms);
    uint64_t kept = ms.heap_alloc > base ? ms.heap_alloc - base : 0;
    TC_CHECK(kept < bytes / 20,
             "round %d: a %d-deep chain of %.1f MiB, dropped, then one collection: %.1f MiB still in use (kept by "
             "a dead stack word)",
             round, depth, (double)bytes / (1 << 20), (double)kept / (1 << 20));
}

static void test_deep_stack(void)
{
    gc_set_percent(-1); /* the one collection is the test's */
    for (int round = 0; round < 8; round++)
        deep_case(20000 + 1000 * round, round);
    gc_set_percent(100);
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"objects", test_objects},
        {"cycles", test_cycles},
        {"reuse", test_reuse},
        {"free", test_free},
        {"deep_stack", test_deep_stack},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
