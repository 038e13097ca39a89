/* hello.c - the smallest program built against an installed tricolor.
 *
 * Built by cmake/install-smoke.sh with pkg-config and with find_package(tricolor), to check
 * that the installed header, libraries, tricolor.pc and CMake package work.  Exits 0 when a
 * collection ran and the linked list allocated below survived it. */
#include <stdio.h>
#include <tricolor.h>

struct node {
    struct node *next;
    int v;
};

int main(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 1000; i++) {
        struct node *n = gc_new(struct node);
        if (!n)
            return 1;
        n->v = i;
        n->next = head;
        head = n;
    }
    gc_collect();

    long sum = 0;
    for (struct node *n = head; n; n = n->next)
        sum += n->v;

    gc_memstats ms;
    gc_read_memstats(&ms);
    printf("hello from tricolor: sum=%ld num_gc=%u heap_objects=%llu\n", sum, ms.num_gc,
           (unsigned long long)ms.heap_objects);
    return (sum == 999L * 1000 / 2 && ms.num_gc >= 1) ? 0 : 1;
}
