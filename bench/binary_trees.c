/*
 * binary_trees.c - the Computer Language Benchmarks Game's binary-trees,
 * single-threaded, over the allocation shim (shim.h).
 *
 *   binary_trees [max_depth]        (default 20)
 *
 * A stretch tree of depth max_depth+1 is built, checked and dropped; a
 * long-lived tree of depth max_depth is kept for the whole run; then for
 * d = 4, 6, ..., max_depth, 1 << (max_depth - d + 4) trees of depth d are built
 * bottom-up and checked (a check counts the nodes).  Every node is 16 bytes:
 * two child pointers.  Under the collectors nothing is freed by hand; under
 * malloc and mimalloc each tree is freed right after its check.
 */
#include "shim.h"

typedef struct node {
    struct node *left, *right;
} node;

static node *bottom_up_tree(int depth)
{
    node *n = bench_alloc(sizeof(node));
    if (depth > 0) {
        n->left = bottom_up_tree(depth - 1);
        n->right = bottom_up_tree(depth - 1);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static long item_check(const node *n)
{
    if (n->left == NULL) return 1;
    return 1 + item_check(n->left) + item_check(n->right);
}

static void delete_tree(node *n)
{
#if BENCH_GC
    (void)n;
#else
    if (n->left) {
        delete_tree(n->left);
        delete_tree(n->right);
    }
    bench_free(n);
#endif
}

int main(int argc, char **argv)
{
    bench_init();
    const int min_depth = 4;
    int n = argc > 1 ? atoi(argv[1]) : 20;
    int max_depth = n < min_depth + 2 ? min_depth + 2 : n;
    int stretch_depth = max_depth + 1;

    node *stretch = bottom_up_tree(stretch_depth);
    printf("stretch tree of depth %d\t check: %ld\n", stretch_depth, item_check(stretch));
    delete_tree(stretch);
    stretch = NULL;

    node *long_lived = bottom_up_tree(max_depth);

    for (int d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth);
        long check = 0;
        for (long i = 0; i < iterations; i++) {
            node *t = bottom_up_tree(d);
            check += item_check(t);
            delete_tree(t);
        }
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, check);
    }

    printf("long lived tree of depth %d\t check: %ld\n", max_depth, item_check(long_lived));
    delete_tree(long_lived);
    bench_report();
    return 0;
}
