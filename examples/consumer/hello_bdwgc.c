/* A bdwgc program, built with tricolor's gc.h (pkg-config tricolor-bdwgc):
 * the install smoke test runs it on the installed libgc.so.1. */
#include <gc.h>
#include <stdio.h>
#include <string.h>

struct node {
    struct node *next;
    int value;
};

static int finalized;

static void on_final(void *obj, void *cd)
{
    (void)obj;
    (void)cd;
    finalized++;
}

int main(void)
{
    GC_INIT();
    struct node *head = NULL;
    for (int i = 0; i < 100000; i++) {
        struct node *n = GC_NEW(struct node);
        n->value = i;
        n->next = head;
        head = n;
        if (i % 1000 == 0)
            GC_REGISTER_FINALIZER(GC_MALLOC(32), on_final, NULL, NULL, NULL);
    }
    GC_gcollect();
    long sum = 0;
    for (struct node *n = head; n; n = n->next)
        sum += n->value;
    char *s = GC_STRDUP("collected");
    if (sum != 4999950000L || strcmp(s, "collected") != 0) {
        fprintf(stderr, "hello_bdwgc: wrong sum %ld or string %s\n", sum, s);
        return 1;
    }
    printf("hello from bdwgc's API on tricolor: sum %ld, %lu collections\n", sum, (unsigned long)GC_get_gc_no());
    return 0;
}
