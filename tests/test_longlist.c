/*
 * test_longlist.c - a singly linked list of 50,000,000 16-byte nodes (about
 * 800 MB) built with gc_alloc and kept only through a global head.
 *
 * The mark phase must follow a chain 50 million links long: a recursive marker
 * would overflow its stack, a bounded mark stack without an overflow strategy
 * would lose nodes.  After building (with automatic collections along the way)
 * and a gc_collect, every node is walked and its value checked; heap_objects
 * counts them all; then the list is dropped and a collection frees them.
 *
 * TRICOLOR_LONGLIST_NODES overrides the node count.
 */
#include "common.h"

struct node {
    struct node *next;
    uint64_t v;
};

static struct node *volatile g_head;
static gc_memstats ms;

static uint64_t value_of(uint64_t i) { return tc_mix(i) | 1; }

TC_NOINLINE static void build(uint64_t n)
{
    struct node *head = NULL;
    for (uint64_t i = 0; i < n; i++) {
        struct node *x = gc_alloc(sizeof *x);
        if (!x)
            TC_FAIL("gc_alloc returned NULL at node %llu", (unsigned long long)i);
        x->v = value_of(i);
        x->next = head;
        head = x;
    }
    g_head = head;
}

TC_NOINLINE static void walk(uint64_t n, const char *when)
{
    uint64_t i = n;
    for (struct node *x = g_head; x; x = x->next) {
        if (i == 0)
            TC_FAIL("%s: the list is longer than %llu nodes", when, (unsigned long long)n);
        i--;
        if (x->v != value_of(i))
            TC_FAIL("%s: node %llu from the tail (at %p) holds %#llx, want %#llx: it was freed and reused", when,
                    (unsigned long long)i, (void *)x, (unsigned long long)x->v, (unsigned long long)value_of(i));
        if ((i & 0xfffff) == 0 && gc_base(x) != x)
            TC_FAIL("%s: node %llu at %p is no longer a heap object", when, (unsigned long long)i, (void *)x);
    }
    TC_CHECK(i == 0, "%s: the list lost %llu of its %llu nodes", when, (unsigned long long)i, (unsigned long long)n);
}

static void test_longlist(void)
{
    uint64_t n = 50000000;
    const char *e = getenv("TRICOLOR_LONGLIST_NODES");
    if (e)
        n = strtoull(e, NULL, 10);
    double t0 = tc_now();
    build(n);
    double t1 = tc_now();
    gc_read_memstats(&ms);
    uint32_t gcs_during_build = ms.num_gc;
    walk(n, "after building (automatic collections ran)");
    tc_collect_clean();
    double t2 = tc_now();
    gc_read_memstats(&ms);
    TC_CHECK(ms.heap_objects >= n, "heap_objects %llu with %llu nodes alive", (unsigned long long)ms.heap_objects,
             (unsigned long long)n);
    TC_CHECK(ms.heap_alloc >= n * 16, "heap_alloc %llu with %llu 16-byte nodes alive",
             (unsigned long long)ms.heap_alloc, (unsigned long long)n);
    walk(n, "after gc_collect");
    tc_collect_clean();
    walk(n, "after a second gc_collect");
    double t3 = tc_now();
    printf("     %llu nodes: built in %.1fs (%u automatic collections), gc_collect %.1fs, heap_alloc %.0f MB, "
           "pause %.1f ms, total %.1fs\n",
           (unsigned long long)n, t1 - t0, gcs_during_build, t2 - t1,
           ms.heap_alloc / 1e6, ms.pause_ns[(ms.num_gc + 255) % 256] / 1e6, t3 - t0);
    uint64_t live = ms.heap_objects;
    g_head = NULL;
    tc_collect_clean();
    gc_read_memstats(&ms);
    TC_CHECK(ms.heap_objects + n - n / 1000 <= live,
             "after dropping the list heap_objects is %llu (was %llu): fewer than 99.9%% of the nodes were freed",
             (unsigned long long)ms.heap_objects, (unsigned long long)live);
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"longlist", test_longlist},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
