/*
 * test_writetrack.c - the kernel tells which pages were written (writetrack.c).
 *
 * A unit test of an internal component: it calls the library's hidden
 * functions, which a static link resolves.
 *
 *   uffd   on a kernel with asynchronous userfaultfd write-protect and
 *          PAGEMAP_SCAN (6.7+; skipped, exit 77, with the reason elsewhere):
 *          after protecting 64 pages, writes to pages 3, 10-11 and a read(2)
 *          from a pipe into page 40 are reported exactly as the runs {3},
 *          {10, 11}, {40}; a second scan reports nothing; a write after the
 *          scan is seen by the next one.
 *   none   GODEBUG=gcwritetrack=none (child process) chooses no backend and
 *          says why.
 */
#include "common.h"

#include <stdbool.h>
#include <sys/mman.h>

enum writetrack_backend { WT_NONE, WT_UFFD };
enum writetrack_backend writetrack_init(void);
const char *writetrack_reason(void);
bool writetrack_register(uintptr_t base, size_t len);
bool writetrack_protect(uintptr_t base, size_t len);
long writetrack_scan(uintptr_t base, size_t len, void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg);

struct runs {
    int n;
    uintptr_t start[16], end[16];
};

static void note(uintptr_t start, uintptr_t end, void *arg)
{
    struct runs *r = arg;
    if (r->n < 16) {
        r->start[r->n] = start;
        r->end[r->n] = end;
    }
    r->n++;
}

static void test_uffd(void)
{
    gc_collect(); /* initialise the library, as any first call does */
    if (writetrack_init() != WT_UFFD) {
        printf("skipped: %s\n", writetrack_reason());
        exit(77);
    }
    size_t pg = (size_t)getpagesize(), len = 64 * pg;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TC_CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
    memset(m, 1, len);
    uintptr_t b = (uintptr_t)m;
    TC_CHECK(writetrack_register(b, len), "register: %s", strerror(errno));
    TC_CHECK(writetrack_protect(b, len), "protect: %s", strerror(errno));

    m[3 * pg + 17] = 2;
    m[10 * pg] = 2;
    m[11 * pg + pg - 1] = 2;
    int fd[2];
    TC_CHECK(pipe(fd) == 0, "pipe: %s", strerror(errno));
    TC_CHECK(write(fd[1], "pointer!", 8) == 8, "write to the pipe");
    TC_CHECK(read(fd[0], m + 40 * pg + 64, 8) == 8, "read(2) into a protected page: %s", strerror(errno));
    close(fd[0]);
    close(fd[1]);

    struct runs r = {0};
    long pages = writetrack_scan(b, len, note, &r);
    TC_CHECK(pages == 4, "scan after writing 4 pages reported %ld pages", pages);
    TC_CHECK(r.n == 3, "scan reported %d runs, want 3", r.n);
    uintptr_t want[3][2] = {{3, 4}, {10, 12}, {40, 41}};
    for (int i = 0; i < 3; i++)
        TC_CHECK(r.start[i] == b + want[i][0] * pg && r.end[i] == b + want[i][1] * pg,
                 "run %d is pages %zu-%zu, want %zu-%zu", i, (size_t)((r.start[i] - b) / pg),
                 (size_t)((r.end[i] - b) / pg), (size_t)want[i][0], (size_t)want[i][1]);
    TC_CHECK(memcmp(m + 40 * pg + 64, "pointer!", 8) == 0, "read(2) lost its bytes");

    struct runs r2 = {0};
    pages = writetrack_scan(b, len, note, &r2);
    TC_CHECK(pages == 0 && r2.n == 0, "a second scan with no writes reported %ld pages", pages);
    m[63 * pg] = 3;
    struct runs r3 = {0};
    pages = writetrack_scan(b, len, note, &r3);
    TC_CHECK(pages == 1 && r3.n == 1 && r3.start[0] == b + 63 * pg, "a write after the scan: %ld pages", pages);
    munmap(m, len);
}

static void test_none(void)
{
    if (getenv("TRICOLOR_TEST_CHILD")) {
        gc_collect();
        enum writetrack_backend w = writetrack_init();
        printf("backend %d: %s\n", (int)w, writetrack_reason());
        exit(w == WT_NONE ? 0 : 1);
    }
    tc_child c;
    const char *args[] = {"none", NULL};
    const char *envs[] = {"GODEBUG=gcwritetrack=none", NULL};
    tc_run_self(&c, args, envs, 30);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child chose a backend: %s", c.out);
    TC_CHECK(strstr(c.out, "GODEBUG=gcwritetrack=none") != NULL, "the reason does not name GODEBUG: %s", c.out);
    tc_child_free(&c);
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"uffd", test_uffd},
        {"none", test_none},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
