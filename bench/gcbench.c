/*
 * gcbench.c - a GCBench-style benchmark (after the shape of Hans Boehm's
 * GCBench; written anew) over the allocation shim (shim.h).
 *
 *   gcbench [rounds]        (default 10)
 *
 * 1. A stretch tree of depth 18 is built and dropped.
 * 2. A long-lived tree of depth 16 (built top-down) and a long-lived array of
 *    500000 doubles (pointer-free, "noscan") stay live for the whole run.
 * 3. `rounds` times: for d = 4, 6, ..., 16, NumIters(d) = 2 * TreeSize(18) /
 *    TreeSize(d) temporary trees of depth d are built top-down (allocate a node,
 *    then populate its children) and as many bottom-up (children first), and
 *    dropped.  Each depth allocates about 2 * 2 * 2^19 nodes.
 * 4. The long-lived tree and array are checked.
 *
 * A node is two child pointers and two ints (24 bytes).  Under the collectors
 * nothing is freed by hand; under malloc and mimalloc each temporary tree is
 * freed when dropped.  Per-depth times go to stdout for information only.
 */
#include "shim.h"

enum {
    kStretchTreeDepth = 18,
    kLongLivedTreeDepth = 16,
    kArraySize = 500000,
    kMinTreeDepth = 4,
    kMaxTreeDepth = 16,
};

typedef struct node {
    struct node *left, *right;
    int i, j;
} node;

static node *new_node(node *l, node *r)
{
    node *n = bench_alloc_zero(sizeof(node));
    n->left = l;
    n->right = r;
    return n;
}

static long tree_size(int depth) { return (1L << (depth + 1)) - 1; }

static long num_iters(int depth) { return 2 * tree_size(kStretchTreeDepth) / tree_size(depth); }

/* Build the children of n down to depth, top-down. */
static void populate(int depth, node *n)
{
    if (depth <= 0) return;
    depth--;
    n->left = new_node(NULL, NULL);
    n->right = new_node(NULL, NULL);
    populate(depth, n->left);
    populate(depth, n->right);
}

/* Build a tree of the given depth, bottom-up. */
static node *make_tree(int depth)
{
    if (depth <= 0) return new_node(NULL, NULL);
    node *l = make_tree(depth - 1);
    node *r = make_tree(depth - 1);
    return new_node(l, r);
}

static long count_nodes(const node *n)
{
    return n ? 1 + count_nodes(n->left) + count_nodes(n->right) : 0;
}

static void drop_tree(node *n)
{
#if BENCH_GC
    (void)n;
#else
    if (!n) return;
    drop_tree(n->left);
    drop_tree(n->right);
    bench_free(n);
#endif
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void time_construction(int depth)
{
    long iters = num_iters(depth);
    double t0 = now_ms();
    for (long i = 0; i < iters; i++) {
        node *t = new_node(NULL, NULL);
        populate(depth, t);
        drop_tree(t);
    }
    double t1 = now_ms();
    for (long i = 0; i < iters; i++) {
        node *t = make_tree(depth);
        drop_tree(t);
    }
    double t2 = now_ms();
    printf("depth %2d: %6ld trees top-down %6.0f ms, bottom-up %6.0f ms\n", depth, iters, t1 - t0,
           t2 - t1);
}

int main(int argc, char **argv)
{
    bench_init();
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    if (rounds < 1) rounds = 1;

    printf("GCBench (%s): stretch depth %d, long-lived depth %d, array %d doubles, "
           "depths %d..%d, %d rounds\n",
           BENCH_SYSTEM, kStretchTreeDepth, kLongLivedTreeDepth, kArraySize, kMinTreeDepth,
           kMaxTreeDepth, rounds);

    node *stretch = make_tree(kStretchTreeDepth);
    drop_tree(stretch);
    stretch = NULL;

    node *long_lived = new_node(NULL, NULL);
    populate(kLongLivedTreeDepth, long_lived);

    double *array = bench_alloc_noscan(kArraySize * sizeof(double));
    for (int i = 0; i < kArraySize; i++) array[i] = 1.0 / (i + 1);

    for (int r = 0; r < rounds; r++)
        for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2) time_construction(d);

    long n = count_nodes(long_lived);
    int ok = n == tree_size(kLongLivedTreeDepth);
    for (int i = 0; i < kArraySize; i++)
        if (array[i] != 1.0 / (i + 1)) ok = 0;
    printf("long-lived tree: %ld nodes, array %s\n", n, ok ? "intact" : "DAMAGED");
    if (!ok) {
        fprintf(stderr, "gcbench: long-lived data damaged\n");
        return 1;
    }
    drop_tree(long_lived);
    bench_free(array);
    bench_report();
    return 0;
}
