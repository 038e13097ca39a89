/* debug_libgc_child.c - a bdwgc program (gc.h, GC_MALLOC) for test_debug's libgc subtest: run on
 * tricolor's libgc.so.1 with libtricolor-debug preloaded and TRICOLOR_DEBUG_ADDR set, it never
 * calls the endpoint's API.  It keeps 4 MiB from libgc_child_keeps, collects, prints "ready",
 * and churns until its stdin closes. */
#include <gc.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct node {
    struct node *next;
    char payload[4088];
};

static struct node *kept;

__attribute__((noinline)) void libgc_child_keeps(void);
__attribute__((noinline)) void libgc_child_keeps(void)
{
    for (int i = 0; i < 1024; i++) {
        struct node *n = GC_MALLOC(sizeof *n);
        n->next = kept;
        memset(n->payload, i, sizeof n->payload);
        kept = n;
    }
}

int main(void)
{
    GC_INIT();
    libgc_child_keeps();
    GC_gcollect();
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        if (poll(&p, 1, 10) > 0) {
            char c;
            if (read(0, &c, 1) <= 0)
                break;
        }
        for (int i = 0; i < 100; i++)
            (void)GC_MALLOC(64);
    }
    long n = 0;
    for (struct node *x = kept; x; x = x->next)
        n++;
    printf("child done: %ld nodes\n", n);
    return n == 1024 ? 0 : 1;
}
