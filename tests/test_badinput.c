/*
 * test_badinput.c - misuse and impossible requests.
 *
 * Each gc_free misuse runs in a child process (this program re-executed) that
 * prints the pointer with %p on stdout and then calls gc_free: the child must
 * die of SIGABRT, and its stderr must name the pointer (its %p text) and
 * gc_free.
 *   free_interior        gc_free of a pointer 16 bytes into a live object
 *   free_large_interior  gc_free of a pointer one page into a large object
 *   free_stack           gc_free of a stack address
 *   free_global          gc_free of a global's address
 *   free_malloc          gc_free of a malloc'd block
 *   double_free          gc_free twice (small object; and large object)
 * In process:
 *   queries              gc_free(NULL) is a no-op; gc_size/gc_base of NULL, a stack
 *                        address, a global, a function, a malloc'd block, an
 *                        object just freed give 0/NULL
 *   overflow             gc_alloc(SIZE_MAX), gc_alloc(SIZE_MAX/2),
 *                        gc_alloc(1 << 62), gc_alloc_noscan(SIZE_MAX),
 *                        gc_calloc(SIZE_MAX/2, 3), gc_calloc(2^32, 2^32),
 *                        gc_new_array overflow: NULL with errno ENOMEM, and the
 *                        heap still works afterwards
 */
#include "common.h"

static char g_global[64] = "global";

static void report(void *p)
{
    printf("PTR %p\n", p);
    fflush(stdout);
}

static int child_main(const char *mode)
{
    if (strcmp(mode, "free_interior") == 0) {
        char *p = gc_alloc(64);
        report(p + 16);
        gc_free(p + 16);
    } else if (strcmp(mode, "free_large_interior") == 0) {
        char *p = gc_alloc(100000);
        report(p + 8192);
        gc_free(p + 8192);
    } else if (strcmp(mode, "free_stack") == 0) {
        char local[32];
        void *volatile p = local;
        tc_sink = gc_alloc(16); /* the heap exists */
        report(p);
        gc_free(p);
    } else if (strcmp(mode, "free_global") == 0) {
        tc_sink = gc_alloc(16);
        report(g_global);
        gc_free(g_global);
    } else if (strcmp(mode, "free_malloc") == 0) {
        tc_sink = gc_alloc(16);
        void *p = malloc(64);
        report(p);
        gc_free(p);
    } else if (strcmp(mode, "double_free") == 0) {
        void *q = gc_alloc(48);
        tc_sink = gc_alloc(48);
        gc_free(q);
        report(q);
        gc_free(q);
    } else if (strcmp(mode, "double_free_large") == 0) {
        void *q = gc_alloc(300000);
        gc_free(q);
        report(q);
        gc_free(q);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 3;
    }
    printf("RETURNED\n");
    return 0;
}

static void expect_abort(const char *mode)
{
    tc_child c;
    const char *args[] = {"--child", mode, NULL};
    tc_run_self(&c, args, NULL, 30);
    char ptr[64] = "";
    TC_CHECK(sscanf(c.out, "PTR %63s", ptr) == 1, "%s: the child printed no pointer (stdout \"%s\", %s)", mode, c.out,
             tc_status_str(c.status));
    TC_CHECK(!strstr(c.out, "RETURNED"), "%s: gc_free(%s) returned instead of stopping the program", mode, ptr);
    TC_CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "%s: the child %s, want killed by SIGABRT",
             mode, tc_status_str(c.status));
    TC_CHECK(strstr(c.err, ptr) != NULL, "%s: stderr does not name the pointer %s:\n%s", mode, ptr, c.err);
    TC_CHECK(strstr(c.err, "gc_free") != NULL, "%s: stderr does not mention gc_free:\n%s", mode, c.err);
    printf("     %s: %s", mode, c.err);
    if (c.err[0] && c.err[strlen(c.err) - 1] != '\n')
        printf("\n");
    tc_child_free(&c);
}

static void test_free_interior(void) { expect_abort("free_interior"); }
static void test_free_large_interior(void) { expect_abort("free_large_interior"); }
static void test_free_stack(void) { expect_abort("free_stack"); }
static void test_free_global(void) { expect_abort("free_global"); }
static void test_free_malloc(void) { expect_abort("free_malloc"); }
static void test_double_free(void)
{
    expect_abort("double_free");
    expect_abort("double_free_large");
}

/* ------------------------------------------------------------------------ */

static void function(void) {}

static void test_queries(void)
{
    gc_free(NULL);
    char local[64];
    void *m = malloc(100);
    void *h = gc_alloc(100);
    TC_CHECK(gc_size(h) >= 100, "a live object has gc_size %zu", gc_size(h));
    struct {
        const char *what;
        const void *p;
    } cases[] = {
        {"NULL", NULL},
        {"a stack address", local},
        {"a global", g_global},
        {"a function", (const void *)(uintptr_t)function},
        {"a malloc'd block", m},
        {"address 1", (const void *)1},
        {"address -1", (const void *)(uintptr_t)-1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TC_CHECK(gc_size(cases[i].p) == 0, "gc_size(%s = %p) = %zu, want 0", cases[i].what, cases[i].p,
                 gc_size(cases[i].p));
        TC_CHECK(gc_base(cases[i].p) == NULL, "gc_base(%s = %p) = %p, want NULL", cases[i].what, cases[i].p,
                 gc_base(cases[i].p));
    }
    gc_free(h);
    TC_CHECK(gc_size(h) == 0 && gc_base(h) == NULL, "gc_size/gc_base of an object just freed: %zu, %p", gc_size(h),
             gc_base(h));
    void *big = gc_alloc(5 * 8192);
    TC_CHECK(gc_base((char *)big + 5 * 8192 - 1) == big, "gc_base of the last byte of a 5-page object");
    gc_free(big);
    TC_CHECK(gc_base((char *)big + 8192) == NULL, "gc_base inside a freed large object is %p",
             gc_base((char *)big + 8192));
    free(m);
}

static void test_overflow(void)
{
    struct {
        const char *what;
        void *(*fn)(size_t, size_t);
        size_t a, b;
    } cases[] = {
        {"gc_alloc(SIZE_MAX)", NULL, SIZE_MAX, 0},
        {"gc_alloc(SIZE_MAX / 2)", NULL, SIZE_MAX / 2, 0},
        {"gc_alloc(SIZE_MAX - 4095)", NULL, SIZE_MAX - 4095, 0},
        {"gc_alloc(1 << 62)", NULL, (size_t)1 << 62, 0},
        {"gc_alloc_noscan(SIZE_MAX)", NULL, SIZE_MAX, 1},
        {"gc_alloc_noscan(1 << 62)", NULL, (size_t)1 << 62, 1},
        {"gc_calloc(SIZE_MAX / 2, 3)", gc_calloc, SIZE_MAX / 2, 3},
        {"gc_calloc(1 << 32, 1 << 32)", gc_calloc, (size_t)1 << 32, (size_t)1 << 32},
        {"gc_calloc(3, SIZE_MAX / 2)", gc_calloc, 3, SIZE_MAX / 2},
        {"gc_calloc(1 << 31, 1 << 31)", gc_calloc, (size_t)1 << 31, (size_t)1 << 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        void *p;
        if (cases[i].fn)
            p = cases[i].fn(cases[i].a, cases[i].b);
        else if (cases[i].b)
            p = gc_alloc_noscan(cases[i].a);
        else
            p = gc_alloc(cases[i].a);
        int e = errno;
        TC_CHECK(p == NULL, "%s returned %p, want NULL", cases[i].what, p);
        TC_CHECK(e == ENOMEM, "%s: errno %d (%s), want ENOMEM", cases[i].what, e, strerror(e));
    }
    /* A size no machine here can back: the kernel's overcommit check refuses it
     * (unless overcommit is unlimited, vm.overcommit_memory = 1). */
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = -1;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = -1;
        fclose(f);
    }
    if (mode != 1) {
        errno = 0;
        void *p = gc_alloc_noscan((size_t)1 << 40);
        int e = errno;
        TC_CHECK(p == NULL && e == ENOMEM, "gc_alloc_noscan(1 TiB) returned %p, errno %d, want NULL, ENOMEM", p, e);
    }
    errno = 0;
    struct big {
        char c[1024];
    } *a = gc_new_array(struct big, SIZE_MAX / 512);
    TC_CHECK(a == NULL && errno == ENOMEM, "gc_new_array(struct big, SIZE_MAX / 512) = %p, errno %d", (void *)a,
             errno);
    /* the heap still works */
    for (int i = 0; i < 1000; i++) {
        char *p = gc_alloc(100);
        TC_CHECK(p && gc_base(p) == p && tc_nonzero_at(p, 100) < 0, "gc_alloc after the failures");
    }
    gc_collect();
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    static const tc_subtest tests[] = {
        {"free_interior", test_free_interior},
        {"free_large_interior", test_free_large_interior},
        {"free_stack", test_free_stack},
        {"free_global", test_free_global},
        {"free_malloc", test_free_malloc},
        {"double_free", test_double_free},
        {"queries", test_queries},
        {"overflow", test_overflow},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
