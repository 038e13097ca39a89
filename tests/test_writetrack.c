/*
 * test_writetrack.c - the kernel tells which pages were written (writetrack.c).
 *
 * A unit test of an internal component: it calls the library's hidden
 * functions, which a static link resolves.  Every subtest runs in a forked
 * child that sets GODEBUG=gcwritetrack=... and parses the environment
 * (env_parse) before writetrack_init; the library itself is never started, so
 * the processes stay single-threaded (qemu-user can fork them).  The memory
 * under test is an "arena" of the test's own: 64 MiB, 64 MiB-aligned, mapped
 * read-write and registered as the heap registers its arenas.
 *
 * The same scenarios run for each backend; the granule is the OS page (uffd)
 * or the 64 KiB unit (mprotect, writetrack.c's WT_UNIT):
 *   uffd, mprotect     after protecting 64 granules, writes to granules 3,
 *                      10-11 (and for uffd a read(2) from a pipe into 40) are
 *                      reported exactly as the runs {3}, {10, 11} ({40}); a
 *                      second scan reports nothing; a write after the scan is
 *                      seen by the next one; granules never protected read as
 *                      written, once.
 *   *_unprotect        after unprotect, writes do not fault (read(2) into the
 *                      range works) and the range reads as written at the next
 *                      scan, which arms it again.
 *   *_race             two threads write while scans run (and a third registers
 *                      more arenas); every run a scan reports is copied to a
 *                      shadow, as the collector rescans it.  Every write done
 *                      before a scan starts is in the shadow when it ends
 *                      (checked every 16th scan: each word has one writer and
 *                      rising values), and after the writers stop and a last
 *                      scan the shadow equals the memory.
 *   *_fork             writetrack_fork_child in a forked child keeps the
 *                      backend and still sees every write.
 * mprotect only:
 *   mprotect_read      the documented limitation: read(2) into a protected
 *                      page fails with EFAULT; after writing a byte to the page
 *                      it works.
 *   mprotect_segv      faults that are not ours still kill with SIGSEGV: a write
 *                      to a read-only page outside the heap, to a hole in a
 *                      registered arena, a jump into a protected arena, and a
 *                      write outside the heap when SIGSEGV was ignored before.
 *   mprotect_chain     a handler installed before writetrack_init (SA_SIGINFO,
 *                      and plain) gets the faults outside the heap, not ours.
 *   mprotect_partial   protect rounds inward to units, scan outward.
 *   mprotect_maxmap    4 GiB written at every other unit (enough holes for
 *                      more VMAs than vm.max_map_count allows): past the hole
 *                      budget faults open 2 MiB blocks, every write is
 *                      reported, and the mappings merge back at the scan.
 *                      Then at the VMA limit itself (a filler mapping uses up
 *                      the rest) a write still succeeds and is reported.
 *   none, default      GODEBUG=gcwritetrack=none chooses no backend and says
 *                      why; without GODEBUG, uffd or else none (mprotect only
 *                      on request), with the reason uffd was not used.
 */
#include "common.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>

enum writetrack_backend { WT_NONE, WT_UFFD, WT_MPROTECT };
enum writetrack_backend writetrack_init(void);
enum writetrack_backend writetrack_backend(void);
enum writetrack_backend writetrack_fork_child(void);
const char *writetrack_name(void);
const char *writetrack_reason(void);
bool writetrack_register(uintptr_t base, size_t len);
bool writetrack_protect(uintptr_t base, size_t len);
bool writetrack_unprotect(uintptr_t base, size_t len);
long writetrack_scan(uintptr_t base, size_t len, void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg);
void env_parse(void);

#define ARENA ((size_t)64 << 20)
#define MP_UNIT ((size_t)64 << 10) /* writetrack.c's WT_UNIT */

static size_t pg;   /* the OS page */
static size_t gran; /* what a backend reports: the OS page (uffd) or the unit (mprotect) */

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

/* Scan [b, b + ngran granules) and check the runs, in granules from b. */
static void expect_runs(uintptr_t b, size_t ngran, int nwant, const size_t (*want)[2], const char *what)
{
    struct runs r = {0};
    long pages = writetrack_scan(b, ngran * gran, note, &r);
    long want_pages = 0;
    for (int i = 0; i < nwant; i++)
        want_pages += (long)((want[i][1] - want[i][0]) * (gran / pg));
    TC_CHECK(pages == want_pages, "%s: scan reported %ld pages, want %ld (%d runs)", what, pages, want_pages, r.n);
    TC_CHECK(r.n == nwant, "%s: scan reported %d runs, want %d", what, r.n, nwant);
    for (int i = 0; i < nwant; i++)
        TC_CHECK(r.start[i] == b + want[i][0] * gran && r.end[i] == b + want[i][1] * gran,
                 "%s: run %d is granules %zu-%zu, want %zu-%zu", what, i, (size_t)((r.start[i] - b) / gran),
                 (size_t)((r.end[i] - b) / gran), want[i][0], want[i][1]);
}

static void expect_nothing(uintptr_t b, size_t ngran, const char *what) { expect_runs(b, ngran, 0, NULL, what); }

/* n contiguous 64 MiB-aligned arenas of our own, read-write, not registered.
 * Never unmapped: a registration outlives its memory. */
static char *map_arenas(size_t n)
{
    size_t len = n * ARENA;
    char *raw = mmap(NULL, len + ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    TC_CHECK(raw != MAP_FAILED, "mmap %zu MiB: %s", (len + ARENA) >> 20, strerror(errno));
    uintptr_t r = (uintptr_t)raw, b = (r + ARENA - 1) & ~(uintptr_t)(ARENA - 1);
    if (b > r)
        munmap(raw, b - r);
    if (r + ARENA > b)
        munmap((void *)(b + len), r + ARENA - b);
    return (char *)b;
}

static char *arena_registered(void)
{
    char *m = map_arenas(1);
    TC_CHECK(writetrack_register((uintptr_t)m, ARENA), "register: %s", strerror(errno));
    return m;
}

/* Set `value` as GODEBUG (NULL: none) and choose the backend as the library does. */
static enum writetrack_backend choose(const char *value)
{
    if (value)
        setenv("GODEBUG", value, 1);
    else
        unsetenv("GODEBUG");
    env_parse();
    enum writetrack_backend w = writetrack_init();
    pg = (size_t)getpagesize();
    gran = w == WT_MPROTECT ? MP_UNIT : pg;
    return w;
}

/* Run body in a forked child with backend w forced by GODEBUG.  The child
 * exits 77 (skipped) when uffd is not available, and so does this process. */
static void in_child(enum writetrack_backend w, void (*body)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(120);
        enum writetrack_backend got = choose(w == WT_UFFD ? "gcwritetrack=uffd" : "gcwritetrack=mprotect");
        if (got != w) {
            if (w == WT_UFFD) {
                printf("skipped: %s\n", writetrack_reason());
                fflush(stdout);
                _exit(77);
            }
            TC_FAIL("GODEBUG=gcwritetrack=mprotect chose %s: %s", writetrack_name(), writetrack_reason());
        }
        TC_CHECK(writetrack_backend() == w, "writetrack_backend() disagrees with writetrack_init()");
#if defined(__x86_64__)
        /* The self-test fails only under emulators (see mp_selftest), never on x86-64 hardware. */
        TC_CHECK(!strstr(writetrack_reason(), "WARNING"), "%s", writetrack_reason());
#endif
        TC_CHECK(strcmp(writetrack_name(), w == WT_UFFD ? "uffd" : "mprotect") == 0, "name %s", writetrack_name());
        body();
        fflush(stdout);
        _exit(0);
    }
    int st = tc_wait(pid);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        exit(77);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child %s", tc_status_str(st));
}

/* ---- the scenarios, for each backend ------------------------------------ */

static void scenario_basic(void)
{
    char *m = arena_registered();
    uintptr_t b = (uintptr_t)m;
    size_t len = 64 * gran;
    memset(m, 1, len);
    TC_CHECK(writetrack_protect(b, len), "protect: %s", strerror(errno));

    m[3 * gran + 17] = 2;
    m[10 * gran] = 2;
    m[11 * gran + gran - 1] = 2;
    bool syscall_tracked = writetrack_backend() == WT_UFFD;
    if (syscall_tracked) {
        int fd[2];
        TC_CHECK(pipe(fd) == 0, "pipe: %s", strerror(errno));
        TC_CHECK(write(fd[1], "pointer!", 8) == 8, "write to the pipe");
        TC_CHECK(read(fd[0], m + 40 * gran + 64, 8) == 8, "read(2) into a protected page: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
    }
    static const size_t want[4][2] = {{3, 4}, {10, 12}, {40, 41}};
    expect_runs(b, 64, syscall_tracked ? 3 : 2, want, "after 3 (or 4) writes");
    if (syscall_tracked)
        TC_CHECK(memcmp(m + 40 * gran + 64, "pointer!", 8) == 0, "read(2) lost its bytes");
    TC_CHECK(m[3 * gran + 17] == 2 && m[10 * gran] == 2 && m[11 * gran + gran - 1] == 2, "a write was lost");

    expect_nothing(b, 64, "a second scan with no writes");
    m[63 * gran] = 3;
    static const size_t last[1][2] = {{63, 64}};
    expect_runs(b, 64, 1, last, "a write after the scan");
    expect_nothing(b, 64, "and then");

    /* Granules 64-127 were never protected: written, once. */
    m[100 * gran] = 4;
    static const size_t fresh[1][2] = {{64, 128}};
    expect_runs(b, 128, 1, fresh, "never protected");
    expect_nothing(b, 128, "never protected, scanned");
}

static void scenario_unprotect(void)
{
    char *m = arena_registered();
    uintptr_t b = (uintptr_t)m;
    size_t len = 64 * gran;
    memset(m, 1, len);
    TC_CHECK(writetrack_protect(b, len), "protect: %s", strerror(errno));
    m[5 * gran] = 2;
    TC_CHECK(writetrack_unprotect(b, len), "unprotect: %s", strerror(errno));

    /* No longer protected: a system call may write (mprotect: no EFAULT). */
    int fd[2];
    TC_CHECK(pipe(fd) == 0, "pipe: %s", strerror(errno));
    TC_CHECK(write(fd[1], "abcdefgh", 8) == 8, "write to the pipe");
    TC_CHECK(read(fd[0], m + 7 * gran + 8, 8) == 8, "read(2) after unprotect: %s", strerror(errno));
    close(fd[0]);
    close(fd[1]);
    m[9 * gran] = 2;

    /* Untracked reads as written: the whole range, once; the scan arms it again. */
    static const size_t all[1][2] = {{0, 64}};
    expect_runs(b, 64, 1, all, "after unprotect");
    expect_nothing(b, 64, "after unprotect and a scan");
    m[20 * gran] = 3;
    static const size_t one[1][2] = {{20, 21}};
    expect_runs(b, 64, 1, one, "armed again by the scan");
}

#define RACE_BYTES ((size_t)16 << 20)
#define RACE_WORDS (RACE_BYTES / 8)

/* Writer k writes the words w with w % 2 == k, values rising: a word's value
 * tells how recent it is.  After each store to the arena it records the value
 * in latest[w] (release), so that a reader who sees latest[w] == v knows the
 * store of v is done. */
struct race {
    char *m;
    _Atomic uint64_t *latest;
    _Atomic bool stop;
    int k;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    uint64_t s = (uint64_t)r->k + 1, n = 0;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        size_t w = (size_t)(tc_rand(&s) % (RACE_WORDS / 2)) * 2 + (size_t)r->k;
        __atomic_store_n((uint64_t *)(void *)(r->m + w * 8), ++n, __ATOMIC_RELAXED);
        atomic_store_explicit(&r->latest[w], n, memory_order_release);
    }
    return NULL;
}

static void *race_registrar(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 4 && !atomic_load_explicit(&r->stop, memory_order_relaxed); i++) {
        char *a = map_arenas(1);
        TC_CHECK(writetrack_register((uintptr_t)a, ARENA), "register while writes fault: %s", strerror(errno));
        tc_sleep_ms(20);
    }
    return NULL;
}

struct shadow {
    char *m, *copy;
};

/* The collector's rescan: read the reported run now. */
static void copy_run(uintptr_t start, uintptr_t end, void *arg)
{
    struct shadow *sh = arg;
    size_t off = start - (uintptr_t)sh->m;
    TC_CHECK(start >= (uintptr_t)sh->m && end <= (uintptr_t)sh->m + RACE_BYTES, "run outside the range");
    for (size_t i = 0; i < end - start; i += 8) {
        uint64_t v = __atomic_load_n((uint64_t *)(void *)(sh->m + off + i), __ATOMIC_RELAXED);
        memcpy(sh->copy + off + i, &v, 8);
    }
}

static void scenario_race(void)
{
    char *m = arena_registered();
    uintptr_t b = (uintptr_t)m;
    memset(m, 0, RACE_BYTES);
    TC_CHECK(writetrack_protect(b, RACE_BYTES), "protect: %s", strerror(errno));
    struct shadow sh = {m, calloc(1, RACE_BYTES)};
    _Atomic uint64_t *latest = calloc(RACE_WORDS, sizeof *latest);
    uint64_t *snap = calloc(RACE_WORDS, sizeof *snap);
    TC_CHECK(sh.copy && latest && snap, "calloc");

    struct race w[2] = {{.m = m, .latest = latest, .k = 0}, {.m = m, .latest = latest, .k = 1}};
    struct race reg = {.m = m};
    pthread_t t[3] = {tc_thread(race_writer, &w[0]), tc_thread(race_writer, &w[1]), tc_thread(race_registrar, &reg)};
    double t0 = tc_now();
    long scans = 0, checked = 0, pages = 0;
    while (tc_now() - t0 < 0.5) {
        /* Now and then: every write done before a scan starts is in the copy when it ends. */
        bool check = scans % 16 == 0;
        if (check)
            for (size_t i = 0; i < RACE_WORDS; i++)
                snap[i] = atomic_load_explicit(&latest[i], memory_order_acquire);
        long n = writetrack_scan(b, RACE_BYTES, copy_run, &sh);
        TC_CHECK(n >= 0, "scan: %s", strerror(errno));
        pages += n;
        scans++;
        if (check) {
            for (size_t i = 0; i < RACE_WORDS; i++) {
                uint64_t v;
                memcpy(&v, sh.copy + i * 8, 8);
                TC_CHECK(v >= snap[i], "scan %ld: word %zu (granule %zu) holds %llu in the copy, but %llu was "
                         "written before the scan", scans, i, i * 8 / gran, (unsigned long long)v,
                         (unsigned long long)snap[i]);
            }
            checked++;
        }
    }
    atomic_store(&w[0].stop, true);
    atomic_store(&w[1].stop, true);
    atomic_store(&reg.stop, true);
    for (int i = 0; i < 3; i++)
        tc_join(t[i]);
    TC_CHECK(writetrack_scan(b, RACE_BYTES, copy_run, &sh) >= 0, "last scan: %s", strerror(errno));
    for (size_t i = 0; i < RACE_BYTES; i += 8)
        TC_CHECK(memcmp(m + i, sh.copy + i, 8) == 0,
                 "a write at offset %zu (granule %zu) was never reported (%ld scans, %ld pages)", i, i / gran,
                 scans, pages);
    printf("%ld scans (%ld checked), %ld pages reported\n", scans, checked, pages);
    free(sh.copy);
    free(latest);
    free(snap);
}

static void scenario_fork(void)
{
    char *m = arena_registered();
    uintptr_t b = (uintptr_t)m;
    size_t len = 64 * gran;
    memset(m, 1, len);
    TC_CHECK(writetrack_protect(b, len), "protect: %s", strerror(errno));
    m[3 * gran] = 2;
    enum writetrack_backend before = writetrack_backend();
    fflush(stdout);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        enum writetrack_backend w = writetrack_fork_child();
        TC_CHECK(w == before, "the fork child's backend is %s (%s)", writetrack_name(), writetrack_reason());
        m[5 * gran] = 2;
        /* At least granules 3 and 5 (uffd: everything, the child's pages were never protected). */
        struct runs r = {0};
        TC_CHECK(writetrack_scan(b, len, note, &r) > 0, "scan in the child: %s", strerror(errno));
        bool saw3 = false, saw5 = false;
        for (int i = 0; i < r.n && i < 16; i++) {
            saw3 |= r.start[i] <= b + 3 * gran && b + 3 * gran < r.end[i];
            saw5 |= r.start[i] <= b + 5 * gran && b + 5 * gran < r.end[i];
        }
        TC_CHECK(saw3 && saw5, "the child's scan missed a write (%d runs)", r.n);
        if (w == WT_MPROTECT) {
            TC_CHECK(r.n == 2, "mprotect: the child reported %d runs, want 2", r.n);
        }
        expect_nothing(b, 64, "the child's second scan");
        m[9 * gran] = 2;
        static const size_t one[1][2] = {{9, 10}};
        expect_runs(b, 64, 1, one, "a write in the child after its scan");
        _exit(0);
    }
    int st = tc_wait(pid);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fork child %s", tc_status_str(st));
    /* The parent's tracking is its own. */
    m[7 * gran] = 2;
    static const size_t two[2][2] = {{3, 4}, {7, 8}};
    expect_runs(b, 64, 2, two, "the parent after the fork");
}

static void test_uffd(void) { in_child(WT_UFFD, scenario_basic); }
static void test_mprotect(void) { in_child(WT_MPROTECT, scenario_basic); }
static void test_uffd_unprotect(void) { in_child(WT_UFFD, scenario_unprotect); }
static void test_mprotect_unprotect(void) { in_child(WT_MPROTECT, scenario_unprotect); }
static void test_uffd_race(void) { in_child(WT_UFFD, scenario_race); }
static void test_mprotect_race(void) { in_child(WT_MPROTECT, scenario_race); }
static void test_uffd_fork(void) { in_child(WT_UFFD, scenario_fork); }
static void test_mprotect_fork(void) { in_child(WT_MPROTECT, scenario_fork); }

/* ---- mprotect only -------------------------------------------------------- */

static void body_read(void)
{
    char *m = arena_registered();
    uintptr_t b = (uintptr_t)m;
    size_t len = 16 * gran;
    memset(m, 1, len);
    TC_CHECK(writetrack_protect(b, len), "protect: %s", strerror(errno));
    int fd[2];
    TC_CHECK(pipe(fd) == 0, "pipe: %s", strerror(errno));
    TC_CHECK(write(fd[1], "pointer!", 8) == 8, "write to the pipe");
    char *dst = m + 4 * gran + 64;
    errno = 0;
    ssize_t n = read(fd[0], dst, 8);
    TC_CHECK(n == -1 && errno == EFAULT, "read(2) into a protected page: %zd (%s), want -1 EFAULT", n,
             strerror(errno));
    expect_nothing(b, 16, "a failed read(2) is no write");
    /* The workaround: write to each page of the buffer first, then read. */
    *(volatile char *)dst = *dst;
    n = read(fd[0], dst, 8);
    TC_CHECK(n == 8, "read(2) after touching the page: %zd (%s)", n, strerror(errno));
    TC_CHECK(memcmp(dst, "pointer!", 8) == 0, "read(2) lost its bytes");
    static const size_t want[1][2] = {{4, 5}};
    expect_runs(b, 16, 1, want, "after the touch and read(2)");
    close(fd[0]);
    close(fd[1]);
}

static void test_mprotect_read(void) { in_child(WT_MPROTECT, body_read); }

static void body_partial(void)
{
    char *m = arena_registered();
    uintptr_t b = (uintptr_t)m;
    /* Units 0-3 whole and half of unit 4: unit 4 is not armed and still
     * reads as written (never protected). */
    TC_CHECK(writetrack_protect(b, 4 * gran + gran / 2), "protect: %s", strerror(errno));
    static const size_t u4[1][2] = {{4, 5}};
    expect_runs(b, 5, 1, u4, "the partial unit");
    expect_nothing(b, 5, "then");
    /* A scan of part of a unit reports (and clears) the whole unit. */
    m[2 * gran + gran - 1] = 1;
    struct runs r = {0};
    long pages = writetrack_scan(b + 2 * gran + pg, pg, note, &r);
    TC_CHECK(pages == (long)(gran / pg) && r.n == 1 && r.start[0] == b + 2 * gran && r.end[0] == b + 3 * gran,
             "a scan of one page of a written unit: %ld pages, %d runs", pages, r.n);
    expect_nothing(b, 5, "after the partial scan");
    /* Ranges outside the registered memory are refused. */
    errno = 0;
    TC_CHECK(!writetrack_protect(b + ARENA - gran, 2 * gran) && errno == EINVAL, "protect past the arena");
    TC_CHECK(writetrack_scan(b + ARENA, gran, note, &r) == -1, "scan of unregistered memory");
    TC_CHECK(!writetrack_register(b + 1, gran), "register of an unaligned range");
}

static void test_mprotect_partial(void) { in_child(WT_MPROTECT, body_partial); }

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    TC_CHECK(f, "open /proc/self/maps: %s", strerror(errno));
    int n = 0, c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = 65530;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

static void body_maxmap(void)
{
    const size_t narenas = 64; /* 4 GiB: 65536 units, every other one written */
    char *m = map_arenas(narenas);
    uintptr_t b = (uintptr_t)m;
    size_t len = narenas * ARENA, units = len / gran;
    long maxmap = max_map_count();
    /* Touched before it is tracked, as the heap's used memory is: one anon_vma
     * for the whole mapping, which every piece shares, so the pieces merge
     * again when re-protected.  (A piece first written while split off gets an
     * anon_vma of its own, and the kernel never merges it back.) */
    m[0] = 1;
    TC_CHECK(writetrack_register(b, len), "register 4 GiB: %s", strerror(errno));
    TC_CHECK(writetrack_protect(b, len), "protect 4 GiB: %s", strerror(errno));
    int maps0 = count_maps();
    double t0 = tc_now();
    for (size_t u = 0; u < units; u += 2)
        m[u * gran] = 1;
    double t1 = tc_now();
    int maps1 = count_maps();
    struct runs r = {0};
    long pages = writetrack_scan(b, len, note, &r);
    double t2 = tc_now();
    int maps2 = count_maps();
    printf("%zu writes in %.2fs; mappings %d -> %d -> %d after the scan (%ld pages in %d runs, %.1f ms)\n",
           units / 2, t1 - t0, maps0, maps1, maps2, pages, r.n, (t2 - t1) * 1e3);
    /* Holes are budgeted (vm.max_map_count / 8, two VMAs each), then 2 MiB blocks open. */
    TC_CHECK(maps1 < maps0 + maxmap / 4 + (long)(len / (2 << 20)) * 2, "%d mappings after the writes", maps1);
    TC_CHECK(pages >= (long)(units / 2 * (gran / pg)), "the scan reported %ld pages, fewer than written", pages);
    TC_CHECK(maps2 <= maps0 + 2, "the scan left %d mappings (%d before the writes)", maps2, maps0);
    for (size_t u = 0; u < units; u += 2)
        TC_CHECK(m[u * gran] == 1, "a write was lost");
    r.n = 0;
    TC_CHECK(writetrack_scan(b, len, note, &r) == 0 && r.n == 0, "a second scan reported %d runs", r.n);
    m[12345 * gran] = 2;
    r.n = 0;
    pages = writetrack_scan(b, len, note, &r);
    TC_CHECK(pages == (long)(gran / pg) && r.n == 1 && r.start[0] == b + 12345 * gran, "one write: %ld pages", pages);

    /* At the limit itself: use up the VMAs with a filler mapping of our own,
     * protecting every other page, until mprotect says ENOMEM.  A write to the
     * heap now needs a split the kernel refuses; the handler opens the whole
     * clean run around the unit instead (here all 4 GiB), which needs none. */
    size_t fpages = (size_t)maxmap + 1024, fl = fpages * pg;
    char *f = mmap(NULL, fl, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    TC_CHECK(f != MAP_FAILED, "mmap the filler: %s", strerror(errno));
    f[0] = 1;
    size_t i = 1;
    for (; i < fpages; i += 2)
        if (mprotect(f + i * pg, pg, PROT_READ) != 0)
            break;
    TC_CHECK(i < fpages && errno == ENOMEM, "the filler never reached the VMA limit (%zu pages)", i);
    m[40000 * gran + 5] = 3; /* survives, or the handler aborts */
    TC_CHECK(munmap(f, fl) == 0, "munmap the filler: %s", strerror(errno));
    r.n = 0;
    pages = writetrack_scan(b, len, note, &r);
    printf("at the VMA limit (%zu filler mprotects) one write opened %ld pages in %d runs\n", i / 2, pages, r.n);
    TC_CHECK(pages >= (long)(gran / pg) && r.n >= 1, "the write at the limit was not reported");
    bool seen = false;
    for (int k = 0; k < r.n && k < 16; k++)
        seen |= r.start[k] <= b + 40000 * gran && b + 40000 * gran < r.end[k];
    TC_CHECK(seen && m[40000 * gran + 5] == 3, "the write at the limit is not in a reported run");
    r.n = 0;
    TC_CHECK(writetrack_scan(b, len, note, &r) == 0 && r.n == 0, "after the limit, a scan reported %d runs", r.n);
    TC_CHECK(count_maps() <= maps0 + 2, "the mappings did not merge after the limit");
}

static void test_mprotect_maxmap(void) { in_child(WT_MPROTECT, body_maxmap); }

/* A child that sets SIGSEGV's disposition (how: 0 leave, 1 SIG_IGN), chooses
 * mprotect, registers and protects an arena, and calls bad(arena).  It must be
 * killed by SIGSEGV. */
static void expect_segv(const char *what, int how, void (*bad)(char *arena))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        alarm(10); /* a fault that loops dies of SIGALRM instead */
        if (how == 1)
            signal(SIGSEGV, SIG_IGN);
        TC_CHECK(choose("gcwritetrack=mprotect") == WT_MPROTECT, "no mprotect: %s", writetrack_reason());
        char *m = arena_registered();
        TC_CHECK(writetrack_protect((uintptr_t)m, ARENA), "protect: %s", strerror(errno));
        m[0] = 1; /* one of ours first: the handler works */
        bad(m);
        _exit(3);
    }
    int st = tc_wait(pid);
    TC_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s: the child %s, want killed by SIGSEGV", what,
             tc_status_str(st));
}

static char *readonly_page(void)
{
    char *p = mmap(NULL, (size_t)getpagesize(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TC_CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
    return p;
}

static void bad_write_outside(char *arena)
{
    (void)arena;
    *(volatile char *)readonly_page() = 1;
}

static void bad_write_hole(char *arena)
{
    char *hole = arena + 8 * MP_UNIT;
    TC_CHECK(munmap(hole, MP_UNIT) == 0, "munmap: %s", strerror(errno));
    *(volatile char *)hole = 1;
}

static void bad_jump(char *arena)
{
    void (*f)(void);
    char *code = arena + 16 * MP_UNIT;
    memcpy(&f, &code, sizeof f);
    f();
}

static void test_mprotect_segv(void)
{
    expect_segv("a write to a read-only page outside the heap", 0, bad_write_outside);
    expect_segv("a write to a hole in a registered arena", 0, bad_write_hole);
    expect_segv("a jump into a protected arena", 0, bad_jump);
    expect_segv("a write outside the heap with SIGSEGV ignored before", 1, bad_write_outside);
}

static char *volatile chain_page;
static volatile sig_atomic_t chain_calls;
static void *volatile chain_addr;

static void own_handler_info(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    chain_calls++;
    chain_addr = si->si_addr;
    mprotect(chain_page, (size_t)getpagesize(), PROT_READ | PROT_WRITE);
}

static void own_handler_plain(int sig)
{
    (void)sig;
    chain_calls++;
    mprotect(chain_page, (size_t)getpagesize(), PROT_READ | PROT_WRITE);
}

static void chain_child(bool siginfo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (siginfo) {
        sa.sa_sigaction = own_handler_info;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = own_handler_plain;
    }
    TC_CHECK(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
    TC_CHECK(choose("gcwritetrack=mprotect") == WT_MPROTECT, "no mprotect: %s", writetrack_reason());
    char *m = arena_registered();
    uintptr_t b = (uintptr_t)m;
    TC_CHECK(writetrack_protect(b, 16 * gran), "protect: %s", strerror(errno));
    /* Volatile stores: a plain one may move past the volatile reads of chain_calls. */
    *(volatile char *)(m + 6 * gran) = 1;
    TC_CHECK(chain_calls == 0, "the program's handler saw a heap fault");
    chain_page = readonly_page();
    *(volatile char *)(chain_page + 10) = 7;
    TC_CHECK(chain_calls == 1 && chain_page[10] == 7, "the program's handler ran %d times", (int)chain_calls);
    if (siginfo)
        TC_CHECK(chain_addr == chain_page + 10, "the program's handler got %p, want %p", chain_addr,
                 (void *)(chain_page + 10));
    *(volatile char *)(m + 7 * gran) = 1;
    static const size_t want[1][2] = {{6, 8}};
    expect_runs(b, 16, 1, want, "heap writes around the program's fault");
    TC_CHECK(chain_calls == 1, "the program's handler ran again");
    _exit(0);
}

static void test_mprotect_chain(void)
{
    for (int siginfo = 1; siginfo >= 0; siginfo--) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(30);
            chain_child(siginfo);
        }
        int st = tc_wait(pid);
        TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child with a %s handler %s",
                 siginfo ? "SA_SIGINFO" : "plain", tc_status_str(st));
    }
}

/* ---- the choice ----------------------------------------------------------- */

static void body_choice(const char *godebug)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        enum writetrack_backend w = choose(godebug);
        printf("backend %s: %s\n", writetrack_name(), writetrack_reason());
        TC_CHECK(writetrack_init() == w && writetrack_backend() == w, "a second init changed the choice");
        if (godebug) {
            TC_CHECK(w == WT_NONE && strcmp(writetrack_name(), "none") == 0, "GODEBUG=%s chose %s", godebug,
                     writetrack_name());
            TC_CHECK(strstr(writetrack_reason(), "GODEBUG=gcwritetrack=none") != NULL,
                     "the reason does not name GODEBUG: %s", writetrack_reason());
            TC_CHECK(!writetrack_register((uintptr_t)map_arenas(1), ARENA), "none registered an arena");
        } else {
            /* mprotect is never the default: system calls into the heap would fail. */
            TC_CHECK(w == WT_UFFD || w == WT_NONE, "by default %s was chosen: %s", writetrack_name(),
                     writetrack_reason());
            if (w == WT_NONE)
                TC_CHECK(strncmp(writetrack_reason(), "none: marking with the world stopped (", 38) == 0 &&
                             strstr(writetrack_reason(), "GODEBUG=gcwritetrack=mprotect") != NULL,
                         "the reason does not say why not uffd, nor how to get mprotect: %s",
                         writetrack_reason());
            TC_CHECK(strcmp(writetrack_name(), w == WT_UFFD ? "uffd" : w == WT_MPROTECT ? "mprotect" : "none") == 0,
                     "name %s", writetrack_name());
        }
        fflush(stdout);
        _exit(0);
    }
    int st = tc_wait(pid);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child %s", tc_status_str(st));
}

static void test_none(void) { body_choice("gcwritetrack=none"); }
static void test_default(void) { body_choice(NULL); }

int main(int argc, char **argv)
{
    /* uffd last: where it is missing its subtests exit 77 and end the run. */
    static const tc_subtest tests[] = {
        {"none", test_none},
        {"default", test_default},
        {"mprotect", test_mprotect},
        {"mprotect_unprotect", test_mprotect_unprotect},
        {"mprotect_race", test_mprotect_race},
        {"mprotect_fork", test_mprotect_fork},
        {"mprotect_read", test_mprotect_read},
        {"mprotect_segv", test_mprotect_segv},
        {"mprotect_chain", test_mprotect_chain},
        {"mprotect_partial", test_mprotect_partial},
        {"mprotect_maxmap", test_mprotect_maxmap},
        {"uffd", test_uffd},
        {"uffd_unprotect", test_uffd_unprotect},
        {"uffd_race", test_uffd_race},
        {"uffd_fork", test_uffd_fork},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
