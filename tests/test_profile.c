/*
 * test_profile.c - heap profiles: sampling, what they count, and the pprof
 * files they make, read back by an independent decoder (pprof_decode.h) and,
 * where Go is installed, by `go tool pprof` itself.
 *
 * Subtests:
 *   before_gc    before any collection, a profile shows every allocation
 *   rate         gc_set_profile_rate's contract; GODEBUG=memprofilerate
 *   exact        rate 1: each site's objects and bytes, allocated and in use, exactly;
 *                the stacks (site, then its caller); the profile's header fields
 *   as_of_gc     figures are as of the last collection: newer allocations wait for
 *                the next one, and what a collection found unreachable is not in use
 *   free         gc_free and a moving gc_realloc count as frees; realloc's new
 *                object is counted at realloc's caller
 *   sampling     the default rate, the fixed seed: estimates within 4 sigma of the
 *                truth, sigma = sqrt((1 - p) / (N p)) relative, p = 1 - e^(-size/rate)
 *   seed         GODEBUG=memprofileseed: the same samples in every run, whether the
 *                collector's threads started first or not
 *   threads      threads that come and go allocate beside collections (marking
 *                beside them): every count exact
 *   fork         a child's profile has its parent's figures and its own; the
 *                parent's has none of the child's
 *   fork_writers children forked while two threads write profiles collect and
 *                write their own (none hangs on a lock a writer held)
 *   text         the legacy text form (debug=1), and the "allocs" view
 *   exit         TRICOLOR_HEAPPROFILE=dir/heap.%p.pb.gz: a profile per process at
 *                exit, forked children included, counting allocations after the
 *                last collection too
 *   mappings     the program's mapping: path, build ID (read from the file), offset
 *                as /proc/self/maps says; every location inside its mapping
 *   nofp         sites built without frame pointers get whole stacks
 *   badfd        EBADF, EPIPE, ENOSPC; a good write afterwards
 *   many_sites   16,384 distinct stacks
 *   pprof_top, pprof_sampled, pprof_text, pprof_lines, pprof_svg, pprof_http:
 *                `go tool pprof` reads the profiles (skipped, 77, where go, or
 *                for svg graphviz's dot, is missing; .ci/run installs both)
 *
 * Every subtest but rate and exit runs with GODEBUG=memprofileseed (main sets it):
 * the samples are the same on every run.
 */
#include "common.h"
#include "pprof_decode.h"

#include <arpa/inet.h>
#include <elf.h>
#include <link.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define SEED "memprofileseed=20261203"

void *nofp_top(int n); /* profile_nofp.c */

/* Write the heap profile (or another view) to tc_tmpdir/name. */
static const char *write_named(const char *name, const char *view, int debug)
{
    const char *path = tc_tmp_path(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    TC_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    int rc = view ? gc_write_profile(view, fd, debug) : gc_write_heap_profile(fd);
    TC_CHECK(rc == 0, "writing the profile to %s: %s", path, strerror(errno));
    close(fd);
    return path;
}

static void load(pp_profile *p, const char *name)
{
    pp_read_file(p, write_named(name, NULL, 0));
}

#define BARRIER(p) __asm__ volatile("" : : "r"(p) : "memory") /* also: no tail call */

/* An allocation site: a function of its own (the profile's leaf), which
 * returns what it allocated, or drops it. */
#define SITE(name, alloc)                                                                                          \
    TC_NOINLINE static void *name(void)                                                                            \
    {                                                                                                              \
        void *p = alloc;                                                                                           \
        BARRIER(p);                                                                                                \
        return p;                                                                                                  \
    }
#define GARBAGE_SITE(name, alloc)                                                                                  \
    TC_NOINLINE static void name(void)                                                                             \
    {                                                                                                              \
        void *p = alloc;                                                                                           \
        BARRIER(p);                                                                                                \
    }

/* ---- allocation sites ---------------------------------------------------------------- */

#define NKEEP 6000
static void *keep[NKEEP];
static uintptr_t hidden[NKEEP];

SITE(site_small, gc_alloc(48))
SITE(site_noscan, gc_alloc_noscan(4096))
SITE(site_large, gc_alloc(100000)) /* 13 pages */
GARBAGE_SITE(site_garbage, gc_alloc(100)) /* the 112-byte class */
SITE(site_calloc, gc_calloc(10, 24)) /* 240 */
SITE(site_strdup, gc_strdup("fifteen bytes!")) /* 16 */

/* A site whose objects the caller hides: they die at the next collection. */
TC_NOINLINE static uintptr_t site_hidden(size_t size)
{
    void *p = gc_alloc(size);
    BARRIER(p);
    return tc_hide(p);
}

SITE(site_w, gc_alloc(64))
SITE(site_x, gc_alloc(64))

/* The counts of one site (its leaf function) in a decoded profile. */
typedef struct {
    int64_t alloc_objects, alloc_space, inuse_objects, inuse_space;
} site_counts;

static site_counts counts_of(const pp_profile *p, const char *fn)
{
    site_counts c = {pp_sum(p, "alloc_objects", fn, PP_LEAF), pp_sum(p, "alloc_space", fn, PP_LEAF),
                     pp_sum(p, "inuse_objects", fn, PP_LEAF), pp_sum(p, "inuse_space", fn, PP_LEAF)};
    return c;
}

static void expect_site(const pp_profile *p, const char *fn, int64_t allocs, int64_t inuse, int64_t size)
{
    site_counts c = counts_of(p, fn);
    TC_CHECK(c.alloc_objects == allocs && c.alloc_space == allocs * size && c.inuse_objects == inuse &&
                 c.inuse_space == inuse * size,
             "%s: alloc %lld objects %lld bytes, inuse %lld objects %lld bytes; want %lld/%lld, %lld/%lld", fn,
             (long long)c.alloc_objects, (long long)c.alloc_space, (long long)c.inuse_objects,
             (long long)c.inuse_space, (long long)allocs, (long long)(allocs * size), (long long)inuse,
             (long long)(inuse * size));
}

/* Every sample at leaf fn has caller as its next frame. */
static void expect_caller(const pp_profile *p, const char *fn, const char *caller)
{
    int seen = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        const pp_sample *s = &p->samples[i];
        if (!pp_sample_has(p, s, fn, PP_LEAF))
            continue;
        seen++;
        TC_CHECK(s->nlocs >= 2, "%s's stack has %zu frames", fn, s->nlocs);
        const char *n = pp_loc_name(p, s->locs[1]);
        TC_CHECK(n && strcmp(n, caller) == 0, "%s is called from %s, the profile says %s", fn, caller,
                 n ? n : "(no name)");
    }
    TC_CHECK(seen, "no sample at %s", fn);
}

/* ---- before_gc -------------------------------------------------------------------------- */

TC_NOINLINE static void t_before_gc(void)
{
    gc_set_percent(-1);
    gc_set_profile_rate(1);
    for (int i = 0; i < 500; i++)
        keep[i] = site_small();
    for (int i = 0; i < 300; i++)
        site_garbage();
    pp_profile p;
    load(&p, "before.pb.gz");
    /* No collection yet: everything so far, nothing known freed (Go's rule). */
    expect_site(&p, "site_small", 500, 500, 48);
    expect_site(&p, "site_garbage", 300, 300, 112);
    pp_free(&p);
    memset(keep, 0, sizeof keep);
}

/* ---- rate ----------------------------------------------------------------------------------- */

GARBAGE_SITE(site_rate_off, gc_alloc(100))
GARBAGE_SITE(site_rate_on, gc_alloc(100))

static void child_rate(void)
{
    printf("rate %lld\n", (long long)gc_set_profile_rate(-1));
    exit(0);
}

static int64_t rate_in_child(const char *godebug)
{
    tc_child c;
    const char *args[] = {"child-rate", NULL};
    const char *env[] = {godebug, NULL};
    tc_run_self(&c, args, env, 60);
    long long r = -1;
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && sscanf(c.out, "rate %lld", &r) == 1,
             "child with %s: %s, out %s err %s", godebug, tc_status_str(c.status), c.out, c.err);
    tc_child_free(&c);
    return r;
}

static void t_rate(void)
{
    TC_CHECK(rate_in_child("GODEBUG=") == 512 * 1024, "the default rate");
    gc_set_profile_rate(512 * 1024);
    TC_CHECK(gc_set_profile_rate(4096) == 512 * 1024, "set returns the previous rate");
    TC_CHECK(gc_set_profile_rate(-5) == 4096, "negative only asks");
    TC_CHECK(gc_set_profile_rate(0) == 4096, "off");
    TC_CHECK(gc_set_profile_rate(1) == 0, "back on");
    TC_CHECK(rate_in_child("GODEBUG=memprofilerate=1") == 1, "GODEBUG=memprofilerate=1");
    TC_CHECK(rate_in_child("GODEBUG=gctrace=0,memprofilerate=0") == 0, "GODEBUG=...,memprofilerate=0");
    TC_CHECK(rate_in_child("GODEBUG=memprofilerate=65536") == 65536, "GODEBUG=memprofilerate=65536");
    TC_CHECK(rate_in_child("GODEBUG=memprofilerate=x") == 512 * 1024, "a malformed value is ignored");

    /* Off: nothing sampled, whatever is allocated. */
    gc_set_profile_rate(0);
    for (int i = 0; i < 20000; i++)
        site_rate_off();
    gc_collect();
    pp_profile p;
    load(&p, "off.pb.gz");
    TC_CHECK(counts_of(&p, "site_rate_off").alloc_objects == 0, "rate 0 sampled site_rate_off");
    TC_CHECK(p.period == 0, "period %lld at rate 0", (long long)p.period);
    pp_free(&p);
    /* On again: at once, in this thread and every other. */
    gc_set_profile_rate(1);
    for (int i = 0; i < 10; i++)
        site_rate_on();
    tc_collect_clean();
    load(&p, "on.pb.gz");
    site_counts on = counts_of(&p, "site_rate_on");
    TC_CHECK(on.alloc_objects == 10 && on.alloc_space == 1120 && on.inuse_objects <= 2, "site_rate_on: %lld objects",
             (long long)on.alloc_objects);
    pp_free(&p);
}

/* ---- exact ------------------------------------------------------------------------------ */

TC_NOINLINE static void exact_allocate(void)
{
    int k = 0;
    for (int i = 0; i < 3000; i++)
        keep[k++] = site_small();
    for (int i = 0; i < 200; i++)
        keep[k++] = site_noscan();
    for (int i = 0; i < 20; i++)
        keep[k++] = site_large();
    for (int i = 0; i < 100; i++)
        keep[k++] = site_calloc();
    for (int i = 0; i < 100; i++)
        keep[k++] = site_strdup();
    for (int i = 0; i < 5000; i++)
        site_garbage();
}

static void t_exact(void)
{
    gc_set_profile_rate(1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    exact_allocate();
    tc_collect_clean();
    pp_profile p;
    load(&p, "exact.pb.gz");
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t1 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    expect_site(&p, "site_small", 3000, 3000, 48);
    expect_site(&p, "site_noscan", 200, 200, 4096);
    expect_site(&p, "site_large", 20, 20, 13 * 8192);
    expect_site(&p, "site_calloc", 100, 100, 240);
    expect_site(&p, "site_strdup", 100, 100, 16);
    site_counts g = counts_of(&p, "site_garbage");
    /* Unreachable, but a stale copy of an address may keep an object or two. */
    TC_CHECK(g.alloc_objects == 5000 && g.alloc_space == 5000 * 112 && g.inuse_objects <= 4 &&
                 g.inuse_space == g.inuse_objects * 112,
             "site_garbage: alloc %lld/%lld inuse %lld/%lld", (long long)g.alloc_objects, (long long)g.alloc_space,
             (long long)g.inuse_objects, (long long)g.inuse_space);
    expect_caller(&p, "site_small", "exact_allocate");
    expect_caller(&p, "site_large", "exact_allocate");
    expect_caller(&p, "site_garbage", "exact_allocate");
    /* The stack goes on to main and beyond. */
    int64_t through_main = pp_sum(&p, "alloc_objects", "main", PP_ANY);
    TC_CHECK(through_main >= 8420, "only %lld objects' stacks reach main", (long long)through_main);
    /* No frame of the library itself. */
    for (size_t i = 0; i < p.nlocations; i++) {
        const char *n = pp_loc_name(&p, p.locations[i].id);
        TC_CHECK(!n || (strcmp(n, "gc_alloc") != 0 && strcmp(n, "alloc_from") != 0 && strcmp(n, "profile_alloc") != 0 &&
                        strcmp(n, "gc_calloc") != 0 && strncmp(n, "after_alloc", 11) != 0),
                 "the library's own %s is in a stack", n);
    }
    /* The header, as Go writes a heap profile. */
    static const char *const types[4][2] = {
        {"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    TC_CHECK(p.ntypes == 4, "%zu sample types", p.ntypes);
    for (int i = 0; i < 4; i++)
        TC_CHECK(strcmp(pp_str(&p, p.type[i]), types[i][0]) == 0 && strcmp(pp_str(&p, p.unit[i]), types[i][1]) == 0,
                 "sample type %d is %s/%s", i, pp_str(&p, p.type[i]), pp_str(&p, p.unit[i]));
    TC_CHECK(strcmp(pp_str(&p, p.period_type), "space") == 0 && strcmp(pp_str(&p, p.period_unit), "bytes") == 0,
             "period type %s/%s", pp_str(&p, p.period_type), pp_str(&p, p.period_unit));
    TC_CHECK(p.period == 1, "period %lld", (long long)p.period);
    TC_CHECK(p.default_sample_type == 0, "a heap profile leaves the default view to pprof (inuse_space)");
    TC_CHECK((uint64_t)p.time_nanos >= t0 && (uint64_t)p.time_nanos <= t1, "time_nanos %lld", (long long)p.time_nanos);
    /* Each sample: four values, and the object size as Go's "bytes" label. */
    for (size_t i = 0; i < p.nsamples; i++) {
        const pp_sample *s = &p.samples[i];
        TC_CHECK(s->nvalues == 4, "a sample with %zu values", s->nvalues);
        if (s->values[0])
            TC_CHECK(strcmp(pp_str(&p, s->label_key), "bytes") == 0 && s->label_num == s->values[1] / s->values[0],
                     "sample %zu: label %s=%lld, %lld bytes in %lld objects", i, pp_str(&p, s->label_key),
                     (long long)s->label_num, (long long)s->values[1], (long long)s->values[0]);
    }
    pp_free(&p);
    memset(keep, 0, sizeof keep);
}

/* ---- as_of_gc ---------------------------------------------------------------------------- */

TC_NOINLINE static void make_x(int n)
{
    for (int i = 0; i < n; i++)
        hidden[i] = tc_hide(site_x());
}

TC_NOINLINE static void keep_x(int n)
{
    for (int i = 0; i < n; i++)
        keep[i] = tc_unhide(hidden[i]);
}

static void t_as_of_gc(void)
{
    gc_set_profile_rate(1);
    for (int i = 0; i < 100; i++)
        keep[1000 + i] = site_w();
    tc_collect_clean();
    make_x(200);
    keep_x(200);
    pp_profile p;
    load(&p, "asof1.pb.gz");
    expect_site(&p, "site_w", 100, 100, 64);
    expect_site(&p, "site_x", 0, 0, 64); /* after the last collection: not yet */
    pp_free(&p);

    tc_collect_clean();
    load(&p, "asof2.pb.gz");
    expect_site(&p, "site_x", 200, 200, 64);
    pp_free(&p);

    memset(keep, 0, 200 * sizeof keep[0]); /* site_x's objects are garbage now */
    load(&p, "asof3.pb.gz");
    expect_site(&p, "site_x", 200, 200, 64); /* no collection has found them yet */
    pp_free(&p);
    tc_collect_clean();
    load(&p, "asof4.pb.gz");
    site_counts x = counts_of(&p, "site_x");
    TC_CHECK(x.alloc_objects == 200 && x.inuse_objects <= 2, "site_x after the collection that found it dead: "
             "alloc %lld, inuse %lld (want 200, 0)", (long long)x.alloc_objects, (long long)x.inuse_objects);
    expect_site(&p, "site_w", 100, 100, 64);
    pp_free(&p);

    /* Garbage made while the next cycle's mark runs is not shown either. */
    for (int i = 0; i < 300; i++)
        hidden[i] = site_hidden(80);
    tc_collect_clean();
    load(&p, "asof5.pb.gz");
    site_counts h = counts_of(&p, "site_hidden");
    TC_CHECK(h.alloc_objects == 300 && h.inuse_objects <= 2, "site_hidden: alloc %lld inuse %lld (want 300, 0)",
             (long long)h.alloc_objects, (long long)h.inuse_objects);
    pp_free(&p);
    memset(keep, 0, sizeof keep);
}

/* ---- free --------------------------------------------------------------------------------- */

SITE(site_f, gc_alloc(160))
TC_NOINLINE static void *site_grow(void *p)
{
    void *q = gc_realloc(p, 4000); /* 4096: moves */
    BARRIER(q);
    return q;
}
TC_NOINLINE static void *site_shrink(void *p)
{
    void *q = gc_realloc(p, 150); /* the same class: stays */
    BARRIER(q);
    return q;
}
TC_NOINLINE static void *site_zero(void *p)
{
    void *q = gc_realloc(p, 0); /* frees */
    BARRIER(q);
    return q;
}
TC_NOINLINE static void *site_realloc_null(void)
{
    void *q = gc_realloc(NULL, 48);
    BARRIER(q);
    return q;
}

static void t_free(void)
{
    gc_set_profile_rate(1);
    for (int i = 0; i < 1000; i++)
        keep[i] = site_f();
    tc_collect_clean();
    for (int i = 0; i < 400; i++) {
        gc_free(keep[i]);
        keep[i] = NULL;
    }
    for (int i = 400; i < 500; i++)
        keep[i] = site_grow(keep[i]);
    for (int i = 500; i < 550; i++)
        keep[i] = site_shrink(keep[i]);
    for (int i = 550; i < 580; i++)
        keep[i] = site_zero(keep[i]);
    for (int i = 0; i < 25; i++)
        keep[2000 + i] = site_realloc_null();
    pp_profile p;
    load(&p, "free1.pb.gz");
    /* Explicit frees count with the allocations: at the next collection. */
    expect_site(&p, "site_f", 1000, 1000, 160);
    pp_free(&p);
    tc_collect_clean();
    load(&p, "free2.pb.gz");
    /* 400 freed, 100 moved by realloc, 30 freed by realloc(p, 0); 50 shrunk in place. */
    expect_site(&p, "site_f", 1000, 470, 160);
    expect_site(&p, "site_grow", 100, 100, 4096);
    expect_site(&p, "site_realloc_null", 25, 25, 48);
    expect_site(&p, "site_shrink", 0, 0, 160);
    expect_caller(&p, "site_grow", "t_free");
    pp_free(&p);
    memset(keep, 0, sizeof keep);
}

/* ---- sampling ----------------------------------------------------------------------------- */

SITE(site_s64, gc_alloc(64))
SITE(site_s4k, gc_alloc_noscan(4096))
SITE(site_s256k, gc_alloc_noscan(256 * 1024))
SITE(site_skeep, gc_alloc_noscan(4096))

static struct {
    const char *fn;
    size_t size, n;
    int kept;
} sampled_sites[] = {
    {"site_s64", 64, 2000000, 0},
    {"site_s4k", 4096, 50000, 0},
    {"site_s256k", 256 * 1024, 1000, 0},
    {"site_skeep", 4096, 25000, 1},
};

static void **sampled_keep;

TC_NOINLINE static void sampling_allocate(void)
{
    sampled_keep = malloc(25000 * sizeof *sampled_keep);
    gc_add_roots(sampled_keep, 25000 * sizeof *sampled_keep);
    for (size_t i = 0; i < 2000000; i++)
        BARRIER(site_s64());
    for (size_t i = 0; i < 50000; i++)
        BARRIER(site_s4k());
    for (size_t i = 0; i < 1000; i++)
        BARRIER(site_s256k());
    for (size_t i = 0; i < 25000; i++)
        sampled_keep[i] = site_skeep();
}

/* The estimate's relative standard deviation: sampled ~ Binomial(n, p). */
static double rel_sigma(size_t size, size_t n, int64_t rate)
{
    double p = 1 - exp(-(double)size / (double)rate);
    return sqrt((1 - p) / ((double)n * p));
}

static void check_sampled(const pp_profile *p, int from_pprof_sum)
{
    (void)from_pprof_sum;
    for (size_t i = 0; i < TC_NTESTS(sampled_sites); i++) {
        const char *fn = sampled_sites[i].fn;
        double truth = (double)sampled_sites[i].size * (double)sampled_sites[i].n;
        double bound = 4 * rel_sigma(sampled_sites[i].size, sampled_sites[i].n, 512 * 1024);
        site_counts c = counts_of(p, fn);
        double err = fabs((double)c.alloc_space - truth) / truth;
        printf("  %-11s %8zu x %6zu B: estimated %11lld B, true %11.0f B, error %5.2f%% (bound %5.2f%%)\n", fn,
               sampled_sites[i].n, sampled_sites[i].size, (long long)c.alloc_space, truth, err * 100, bound * 100);
        TC_CHECK(err <= bound, "%s: alloc_space %lld estimates %.0f with error %.2f%%, over 4 sigma (%.2f%%)", fn,
                 (long long)c.alloc_space, truth, err * 100, bound * 100);
        double oerr = fabs((double)c.alloc_objects - (double)sampled_sites[i].n) / (double)sampled_sites[i].n;
        TC_CHECK(oerr <= bound, "%s: alloc_objects %lld for %zu", fn, (long long)c.alloc_objects, sampled_sites[i].n);
        if (sampled_sites[i].kept) {
            double ierr = fabs((double)c.inuse_space - truth) / truth;
            TC_CHECK(ierr <= bound, "%s: inuse_space %lld for %.0f (%.2f%%)", fn, (long long)c.inuse_space, truth,
                     ierr * 100);
        } else {
            TC_CHECK(c.inuse_space <= (int64_t)(truth * bound), "%s: %lld bytes in use, all garbage", fn,
                     (long long)c.inuse_space);
        }
    }
}

static void t_sampling(void)
{
    gc_set_profile_rate(512 * 1024); /* the default (other subtests, in this process, may have set another) */
    sampling_allocate();
    tc_collect_clean();
    pp_profile p;
    load(&p, "sampled.pb.gz");
    TC_CHECK(p.period == 512 * 1024, "period %lld", (long long)p.period);
    check_sampled(&p, 0);
    /* Sampled, not everything: the 64-byte site is sampled at p ~ 1/8192. */
    size_t nsamples = 0;
    for (size_t i = 0; i < p.nsamples; i++)
        if (pp_sample_has(&p, &p.samples[i], "site_s64", PP_LEAF))
            nsamples++;
    TC_CHECK(nsamples == 1, "site_s64: %zu samples (one bucket: one stack, one size)", nsamples);
    pp_free(&p);
}

/* ---- seed ------------------------------------------------------------------------------------- */

/* GODEBUG=memprofileseed: the same program takes the same samples every
 * run, whether or not the collector's own threads started before its
 * allocations did (they registered first, and took the program's seed). */
static void child_seed(const char *mode, const char *name)
{
    if (strcmp(mode, "threads-first") == 0) {
        gc_set_percent(200);
        gc_collect();
        tc_sleep_ms(50);
    }
    for (int i = 0; i < 5000; i++)
        keep[i] = site_noscan();
    gc_collect();
    pp_profile p;
    load(&p, name);
    site_counts c = counts_of(&p, "site_noscan");
    printf("%lld %lld %zu\n", (long long)c.alloc_objects, (long long)c.alloc_space, p.nsamples);
    pp_free(&p);
    tc_rm_tmpdir();
    exit(0);
}

static void t_seed(void)
{
    char first[64] = "";
    for (int run = 0; run < 4; run++) {
        tc_child c;
        const char *args[] = {"child-seed", run % 2 ? "threads-first" : "at-once", "seed.pb.gz", NULL};
        const char *env[] = {"GODEBUG=memprofileseed=77", NULL};
        tc_run_self(&c, args, env, 60);
        TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child %s: %s, err %s", args[1],
                 tc_status_str(c.status), c.err);
        c.out[strcspn(c.out, "\n")] = 0;
        printf("     %s: %s\n", args[1], c.out);
        if (run == 0)
            snprintf(first, sizeof first, "%s", c.out);
        else
            TC_CHECK(strcmp(first, c.out) == 0, "with the same seed, run %d (%s) sampled \"%.40s\", run 0 \"%.40s\"",
                     run, args[1], c.out, first);
        tc_child_free(&c);
    }
}

/* ---- threads -------------------------------------------------------------------------------- */

#define LANES 4
#define GENERATIONS 4
#define PER_THREAD 2500

static void *thread_keep[LANES * GENERATIONS * PER_THREAD];
static _Atomic int threads_done;

SITE(site_t_keep, gc_alloc(32))
GARBAGE_SITE(site_t_drop, gc_alloc(96))

static void *lane_thread(void *arg)
{
    size_t base = (size_t)(uintptr_t)arg * PER_THREAD;
    for (int i = 0; i < PER_THREAD; i++) {
        thread_keep[base + (size_t)i] = site_t_keep();
        site_t_drop();
        if (i % 500 == 0)
            sched_yield();
    }
    tc_clear_stack();
    return NULL;
}

static void *collector(void *arg)
{
    (void)arg;
    unsigned n = 0;
    while (!atomic_load(&threads_done)) {
        gc_collect();
        n++;
    }
    return (void *)(uintptr_t)n;
}

static void t_threads(void)
{
    gc_set_profile_rate(1);
    gc_memstats m0;
    gc_read_memstats(&m0);
    pthread_t col = tc_thread(collector, NULL);
    for (int g = 0; g < GENERATIONS; g++) {
        pthread_t th[LANES];
        for (int l = 0; l < LANES; l++)
            th[l] = tc_thread(lane_thread, (void *)(uintptr_t)(g * LANES + l));
        for (int l = 0; l < LANES; l++)
            tc_join(th[l]);
    }
    atomic_store(&threads_done, 1);
    unsigned cycles = (unsigned)(uintptr_t)tc_join(col);
    tc_collect_clean();
    pp_profile p;
    load(&p, "threads.pb.gz");
    int64_t total = LANES * GENERATIONS * PER_THREAD;
    expect_site(&p, "site_t_keep", total, total, 32);
    site_counts d = counts_of(&p, "site_t_drop");
    TC_CHECK(d.alloc_objects == total && d.inuse_objects <= 16, "site_t_drop: alloc %lld (want %lld), inuse %lld",
             (long long)d.alloc_objects, (long long)total, (long long)d.inuse_objects);
    expect_caller(&p, "site_t_keep", "lane_thread");
    gc_memstats m1;
    gc_read_memstats(&m1);
    printf("  %u collections beside %d threads (%u in all)\n", cycles, LANES * GENERATIONS, m1.num_gc - m0.num_gc);
    TC_CHECK(cycles >= 2, "only %u collections ran beside the threads", cycles);
    pp_free(&p);
    memset(thread_keep, 0, sizeof thread_keep);
}

/* ---- fork ------------------------------------------------------------------------------------- */

SITE(site_parent, gc_alloc(208))
SITE(site_child, gc_alloc(208))

static void t_fork(void)
{
    tc_make_tmpdir(); /* one directory for both processes */
    gc_set_profile_rate(1);
    for (int i = 0; i < 500; i++)
        keep[i] = site_parent();
    tc_collect_clean();
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        for (int i = 0; i < 300; i++)
            keep[1000 + i] = site_child();
        tc_collect_clean();
        pp_profile p;
        load(&p, "child.pb.gz");
        expect_site(&p, "site_parent", 500, 500, 208);
        expect_site(&p, "site_child", 300, 300, 208);
        pp_free(&p);
        _exit(0);
    }
    int st = tc_wait(pid);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child: %s", tc_status_str(st));
    for (int i = 0; i < 100; i++)
        keep[2000 + i] = site_parent();
    tc_collect_clean();
    pp_profile p;
    load(&p, "parent.pb.gz");
    expect_site(&p, "site_parent", 600, 600, 208);
    expect_site(&p, "site_child", 0, 0, 208);
    pp_free(&p);
    memset(keep, 0, sizeof keep);
}

/* ---- fork_writers ---------------------------------------------------------------------------- */

/* Forks while other threads write profiles: a writer inside dl_iterate_phdr
 * at the fork left the loader's lock taken in the child (glibc does not
 * reset that one), and the child hung at its first collection.  Each child
 * allocates, collects and writes a profile under an alarm. */
#define FW_FORKS 200
static _Atomic int fw_stop;
static _Atomic long fw_writes;

static void *fw_writer(void *arg)
{
    int fd = open("/dev/null", O_WRONLY);
    TC_CHECK(fd >= 0, "/dev/null: %s", strerror(errno));
    for (long i = 0; !atomic_load(&fw_stop); i++) {
        int rc = (i + (long)(intptr_t)arg) % 2 ? gc_write_heap_profile(fd) : gc_write_profile("heap", fd, 1);
        TC_CHECK(rc == 0, "writing a profile beside forks: %s", strerror(errno));
        atomic_fetch_add(&fw_writes, 1);
    }
    close(fd);
    return NULL;
}

static void t_fork_writers(void)
{
    gc_set_profile_rate(4096);
    for (int i = 0; i < 500; i++)
        keep[i] = site_parent();
    pthread_t w[2];
    for (int i = 0; i < 2; i++)
        TC_CHECK(pthread_create(&w[i], NULL, fw_writer, (void *)(intptr_t)i) == 0, "pthread_create");
    int hung = 0, failed = 0;
    for (int k = 0; k < FW_FORKS; k++) {
        pid_t pid = fork();
        TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(10);
            for (int i = 0; i < 300; i++)
                keep[1000 + i] = site_child();
            gc_collect();
            int fd = open("/dev/null", O_WRONLY);
            _exit(fd >= 0 && gc_write_heap_profile(fd) == 0 ? 0 : 3);
        }
        int st = tc_wait(pid);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
            hung++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    atomic_store(&fw_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    printf("     %d forks beside %ld profile writes\n", FW_FORKS, atomic_load(&fw_writes));
    TC_CHECK(hung == 0 && failed == 0, "of %d children forked while profiles were written, %d hung (killed by "
             "alarm after 10 s) and %d failed", FW_FORKS, hung, failed);
    memset(keep, 0, sizeof keep);
}

/* ---- text ------------------------------------------------------------------------------------- */

SITE(site_text, gc_alloc(1024))

static void t_text(void)
{
    gc_set_profile_rate(1);
    for (int i = 0; i < 700; i++)
        keep[i] = site_text();
    for (int i = 0; i < 900; i++)
        keep[1000 + i] = site_small();
    tc_collect_clean();
    const char *path = write_named("heap.txt", "heap", 1);
    size_t len;
    char *txt = (char *)pp_slurp(path, &len);
    txt = realloc(txt, len + 1);
    txt[len] = 0;
    unsigned long long t[4];
    long long period;
    TC_CHECK(sscanf(txt, "heap profile: %llu: %llu [%llu: %llu] @ heap/%lld\n", &t[0], &t[1], &t[2], &t[3], &period) == 5,
             "header: %.80s", txt);
    TC_CHECK(period == 2, "heap/%lld: Go writes twice the rate", period);
    /* The records: counts, then "@ addresses", then a frame per line. */
    unsigned long long s[4] = {0}, prev_inuse = ~0ull;
    int text_records = 0, small_records = 0;
    char *line = strchr(txt, '\n') + 1;
    while (*line && *line != '\n') {
        unsigned long long v[4];
        TC_CHECK(sscanf(line, "%llu: %llu [%llu: %llu] @", &v[0], &v[1], &v[2], &v[3]) == 4, "record line: %.80s", line);
        TC_CHECK(v[1] <= prev_inuse, "records are sorted by in-use bytes, biggest first");
        prev_inuse = v[1];
        for (int k = 0; k < 4; k++)
            s[k] += v[k];
        char *at = strstr(line, "@ 0x");
        TC_CHECK(at && at < strchr(line, '\n'), "a record without addresses: %.80s", line);
        line = strchr(line, '\n') + 1;
        bool first = true;
        while (line[0] == '#') {
            if (first && strstr(line, "\tsite_text+0x") && strstr(line, "\tsite_text+0x") < strchr(line, '\n')) {
                TC_CHECK(v[0] == 700 && v[1] == 700 * 1024 && v[2] == 700 && v[3] == 700 * 1024,
                         "site_text's record: %llu: %llu [%llu: %llu]", v[0], v[1], v[2], v[3]);
                text_records++;
            }
            if (first && strstr(line, "\tsite_small+0x") && strstr(line, "\tsite_small+0x") < strchr(line, '\n'))
                small_records++;
            first = false;
            line = strchr(line, '\n') + 1;
        }
        TC_CHECK(line[0] == '\n', "a record's frames end with a blank line: %.40s", line);
        line++;
    }
    TC_CHECK(text_records == 1 && small_records == 1, "site_text: %d records, site_small: %d", text_records,
             small_records);
    TC_CHECK(s[0] == t[0] && s[1] == t[1] && s[2] == t[2] && s[3] == t[3], "the header's totals are the records' sums");
    TC_CHECK(strstr(txt, "\n# runtime.MemStats\n") && strstr(txt, "\n# HeapAlloc = ") && strstr(txt, "\n# NumGC = ") &&
                 strstr(txt, "\n# PauseNs = ["),
             "no MemStats section");
    TC_CHECK(strstr(txt, "\nMAPPED_LIBRARIES:\n"), "no memory map");
    free(txt);

    /* The allocs view: the same data, alloc_space by default. */
    pp_profile p;
    pp_read_file(&p, write_named("allocs.pb.gz", "allocs", 0));
    TC_CHECK(p.default_sample_type && strcmp(pp_str(&p, p.default_sample_type), "alloc_space") == 0,
             "allocs' default sample type");
    expect_site(&p, "site_text", 700, 700, 1024);
    pp_free(&p);
    pp_read_file(&p, write_named("heap.pb.gz", "heap", 0));
    TC_CHECK(p.default_sample_type == 0, "heap's default sample type is pprof's (inuse_space)");
    pp_free(&p);
    int fd = open(tc_tmp_path("bad"), O_WRONLY | O_CREAT, 0644);
    errno = 0;
    TC_CHECK(gc_write_profile("goroutine", fd, 0) == -1 && errno == EINVAL, "an unknown profile: EINVAL");
    errno = 0;
    TC_CHECK(gc_write_profile(NULL, fd, 1) == -1 && errno == EINVAL, "no name: EINVAL");
    close(fd);
    memset(keep, 0, sizeof keep);
}

/* ---- exit --------------------------------------------------------------------------------------- */

SITE(site_exit, gc_alloc(128))
SITE(site_exit_after, gc_alloc(128))
SITE(site_exit_child, gc_alloc(128))

/* In a child with TRICOLOR_HEAPPROFILE and memprofilerate=1: allocate,
 * collect, allocate more, fork a grandchild that allocates too; both exit. */
static void child_exit(void)
{
    for (int i = 0; i < 400; i++)
        keep[i] = site_exit();
    gc_collect();
    for (int i = 0; i < 100; i++)
        keep[1000 + i] = site_exit_after();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 50; i++)
            keep[2000 + i] = site_exit_child();
        exit(0);
    }
    int st = tc_wait(pid);
    printf("pids %ld %ld %d\n", (long)getpid(), (long)pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    exit(0);
}

static void t_exit(void)
{
    tc_make_tmpdir();
    char envvar[400];
    snprintf(envvar, sizeof envvar, "TRICOLOR_HEAPPROFILE=%s/heap.%%p.pb.gz", tc_tmpdir);
    tc_child c;
    const char *args[] = {"child-exit", NULL};
    char godebug[256];
    const char *backend = getenv("TRICOLOR_TEST_GODEBUG");
    snprintf(godebug, sizeof godebug, "GODEBUG=%s%smemprofilerate=1", backend && *backend ? backend : "",
             backend && *backend ? "," : "");
    const char *env[] = {envvar, godebug, NULL};
    tc_run_self(&c, args, env, 120);
    long a = 0, b = 0;
    int bst = -1;
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && sscanf(c.out, "pids %ld %ld %d", &a, &b, &bst) == 3,
             "child: %s, out %s err %s", tc_status_str(c.status), c.out, c.err);
    TC_CHECK(bst == 0, "grandchild exited with %d", bst);
    tc_child_free(&c);
    char name[64];
    pp_profile p;
    snprintf(name, sizeof name, "heap.%ld.pb.gz", a);
    pp_read_file(&p, tc_tmp_path(name));
    /* At exit: the allocations after the last collection count too. */
    expect_site(&p, "site_exit", 400, 400, 128);
    expect_site(&p, "site_exit_after", 100, 100, 128);
    expect_site(&p, "site_exit_child", 0, 0, 128);
    pp_free(&p);
    snprintf(name, sizeof name, "heap.%ld.pb.gz", b);
    pp_read_file(&p, tc_tmp_path(name));
    expect_site(&p, "site_exit", 400, 400, 128);
    expect_site(&p, "site_exit_child", 50, 50, 128);
    pp_free(&p);
    /* A path that cannot be opened: a message, and the program's own exit. */
    tc_run_self(&c, args, (const char *[]){"TRICOLOR_HEAPPROFILE=/nonexistent/dir/heap.pb.gz", NULL}, 60);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child: %s", tc_status_str(c.status));
    TC_CHECK(strstr(c.err, "tricolor: TRICOLOR_HEAPPROFILE: cannot open /nonexistent/dir/heap.pb.gz: No such file"),
             "stderr: %s", c.err);
    tc_child_free(&c);
}

/* ---- mappings ------------------------------------------------------------------------------------ */

/* The build ID in an ELF file's notes, as hex; "" if none. */
static void file_build_id(const char *path, char *out, size_t n)
{
    size_t len;
    uint8_t *f = pp_slurp(path, &len);
    out[0] = 0;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
    TC_CHECK(len > sizeof *eh && memcmp(f, ELFMAG, SELFMAG) == 0, "%s is not ELF", path);
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(f + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_NOTE)
            continue;
        const uint8_t *q = f + sh[i].sh_offset, *end = q + sh[i].sh_size;
        while (q + 12 <= end) {
            const Elf64_Nhdr *nh = (const Elf64_Nhdr *)q;
            const uint8_t *desc = q + 12 + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(q + 12, "GNU", 4) == 0) {
                for (unsigned k = 0; k < nh->n_descsz && 2 * k + 2 < n; k++)
                    snprintf(out + 2 * k, 3, "%02x", desc[k]);
                free(f);
                return;
            }
            q = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    free(f);
}

static void t_mappings(void)
{
    gc_set_profile_rate(1);
    for (int i = 0; i < 10; i++)
        keep[i] = site_small();
    tc_collect_clean();
    pp_profile p;
    load(&p, "maps.pb.gz");
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    TC_CHECK(n > 0, "readlink: %s", strerror(errno));
    exe[n] = 0;
    TC_CHECK(p.nmappings >= 2, "%zu mappings", p.nmappings);
    const pp_mapping *m = &p.mappings[0];
    TC_CHECK(strcmp(pp_str(&p, m->filename), exe) == 0, "the first mapping is %s, not the program %s",
             pp_str(&p, m->filename), exe);
    char id[130];
    file_build_id(exe, id, sizeof id);
    TC_CHECK(id[0] && strcmp(pp_str(&p, m->build_id), id) == 0, "build ID %s, the file's %s", pp_str(&p, m->build_id),
             id);
    TC_CHECK(!m->has_functions, "mappings leave symbolization to pprof when it has the binary");
    /* As /proc/self/maps shows the program's executable mapping. */
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4608];
    bool found = false, libc = false;
    while (fgets(line, sizeof line, maps)) {
        unsigned long lo, hi, off;
        char perms[8], path[4096] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &lo, &hi, perms, &off, path) < 4 || perms[2] != 'x')
            continue;
        for (size_t i = 0; i < p.nmappings; i++) {
            const pp_mapping *q = &p.mappings[i];
            /* (By base name: under qemu-user, maps shows the host's path of a library.) */
            const char *base = strrchr(path, '/'), *qbase = strrchr(pp_str(&p, q->filename), '/');
            if (q->start == lo && base && qbase && strcmp(base, qbase) == 0) {
                TC_CHECK(q->limit == hi && q->offset == off, "%s: mapping %#llx-%#llx offset %#llx; maps says %s",
                         path, (unsigned long long)q->start, (unsigned long long)q->limit,
                         (unsigned long long)q->offset, line);
                found |= i == 0;
                libc |= strstr(path, "/libc.so") != NULL && pp_str(&p, q->build_id)[0];
            }
        }
    }
    fclose(maps);
    TC_CHECK(found, "the program's mapping is not /proc/self/maps' one");
    TC_CHECK(libc, "no libc mapping with its build ID");
    for (size_t i = 0; i < p.nlocations; i++) {
        const pp_location *l = &p.locations[i];
        if (!l->mapping_id)
            continue;
        TC_CHECK(l->mapping_id <= p.nmappings, "location %llu names mapping %llu", (unsigned long long)l->id,
                 (unsigned long long)l->mapping_id);
        const pp_mapping *q = &p.mappings[l->mapping_id - 1];
        TC_CHECK(q->id == l->mapping_id && l->address >= q->start && l->address < q->limit,
                 "location %#llx outside its mapping %#llx-%#llx", (unsigned long long)l->address,
                 (unsigned long long)q->start, (unsigned long long)q->limit);
    }
    pp_free(&p);
    memset(keep, 0, sizeof keep);
}

/* ---- nofp --------------------------------------------------------------------------------------- */

TC_NOINLINE static void nofp_caller(void)
{
    for (int i = 0; i < 50; i++)
        keep[i] = nofp_top(16);
}

static void t_nofp(void)
{
    gc_set_profile_rate(1);
    nofp_caller();
    tc_collect_clean();
    pp_profile p;
    load(&p, "nofp.pb.gz");
    static const char *const want[] = {"nofp_leaf", "nofp_mid", "nofp_top", "nofp_caller", "t_nofp"};
    int seen = 0;
    for (size_t i = 0; i < p.nsamples; i++) {
        const pp_sample *s = &p.samples[i];
        if (!pp_sample_has(&p, s, "nofp_leaf", PP_LEAF))
            continue;
        seen++;
        TC_CHECK(s->values[2] == 50 && s->values[3] == 50 * 32, "nofp_leaf: %lld objects, %lld bytes in use",
                 (long long)s->values[2], (long long)s->values[3]);
        for (size_t k = 0; k < 5; k++) {
            const char *n = k < s->nlocs ? pp_loc_name(&p, s->locs[k]) : NULL;
            TC_CHECK(n && strcmp(n, want[k]) == 0, "frame %zu is %s, want %s", k, n ? n : "(none)", want[k]);
        }
    }
    TC_CHECK(seen == 1, "%d samples at nofp_leaf", seen);
    pp_free(&p);
    memset(keep, 0, sizeof keep);
}

/* ---- badfd ------------------------------------------------------------------------------------- */

static void t_badfd(void)
{
    gc_set_profile_rate(1);
    keep[0] = site_small();
    gc_collect();
    errno = 0;
    TC_CHECK(gc_write_heap_profile(-1) == -1 && errno == EBADF, "fd -1: errno %d", errno);
    int ro = open("/dev/null", O_RDONLY);
    errno = 0;
    TC_CHECK(gc_write_heap_profile(ro) == -1 && errno == EBADF, "a read-only fd: errno %d", errno);
    errno = 0;
    TC_CHECK(gc_write_profile("heap", ro, 1) == -1 && errno == EBADF, "a read-only fd, text: errno %d", errno);
    close(ro);
    errno = 0;
    TC_CHECK(gc_write_heap_profile(ro) == -1 && errno == EBADF, "a closed fd: errno %d", errno);
    signal(SIGPIPE, SIG_IGN);
    int pfd[2];
    TC_CHECK(pipe(pfd) == 0, "pipe");
    close(pfd[0]);
    errno = 0;
    TC_CHECK(gc_write_heap_profile(pfd[1]) == -1 && errno == EPIPE, "a pipe nobody reads: errno %d", errno);
    errno = 0;
    TC_CHECK(gc_write_profile("heap", pfd[1], 1) == -1 && errno == EPIPE, "text to a pipe nobody reads: errno %d",
             errno);
    close(pfd[1]);
    int full = open("/dev/full", O_WRONLY);
    if (full >= 0) {
        errno = 0;
        TC_CHECK(gc_write_heap_profile(full) == -1 && errno == ENOSPC, "/dev/full: errno %d", errno);
        close(full);
    }
    /* Nothing was lost: a good write after the bad ones. */
    pp_profile p;
    load(&p, "after-bad.pb.gz");
    expect_site(&p, "site_small", 1, 1, 48);
    pp_free(&p);
    keep[0] = NULL;
}

/* ---- many_sites ----------------------------------------------------------------------------------- */

#define SITE_DEPTH 14

TC_NOINLINE static int branch(int depth, unsigned bits);

TC_NOINLINE static int go_left(int depth, unsigned bits)
{
    int r = branch(depth, bits);
    BARRIER(r);
    return r + 1;
}
TC_NOINLINE static int go_right(int depth, unsigned bits)
{
    int r = branch(depth, bits);
    BARRIER(r);
    return r + 2;
}

TC_NOINLINE static int branch(int depth, unsigned bits)
{
    if (depth == 0) {
        void *p = gc_alloc(16);
        BARRIER(p);
        return 0;
    }
    return bits & 1 ? go_left(depth - 1, bits >> 1) : go_right(depth - 1, bits >> 1);
}

static void t_many_sites(void)
{
    gc_set_profile_rate(1);
    for (unsigned b = 0; b < 1u << SITE_DEPTH; b++)
        branch(SITE_DEPTH, b);
    tc_collect_clean();
    double t0 = tc_now();
    const char *path = write_named("many.pb.gz", NULL, 0);
    double t1 = tc_now();
    pp_profile p;
    pp_read_file(&p, path);
    size_t deep = 0;
    for (size_t i = 0; i < p.nsamples; i++)
        if (pp_sample_has(&p, &p.samples[i], "branch", PP_LEAF) && p.samples[i].values[0] == 1)
            deep++;
    printf("  %zu samples, %zu locations, written in %.1f ms\n", p.nsamples, p.nlocations, (t1 - t0) * 1e3);
    TC_CHECK(deep == 1u << SITE_DEPTH, "%zu distinct stacks with one object each, want %u", deep, 1u << SITE_DEPTH);
    TC_CHECK(pp_sum(&p, "alloc_objects", "branch", PP_LEAF) == 1 << SITE_DEPTH, "objects at branch");
    gc_memstats m;
    gc_read_memstats(&m);
    TC_CHECK(m.buck_hash_sys >= (uint64_t)(1 << SITE_DEPTH) * 100, "buck_hash_sys %llu for %d buckets",
             (unsigned long long)m.buck_hash_sys, 1 << SITE_DEPTH);
    pp_free(&p);
}

/* ---- go tool pprof ---------------------------------------------------------------------------------- */

static void need_go(void)
{
    if (!tc_go_path()) {
        printf("skipped: go not found (Debian: apt-get install golang-go); go tool pprof is not tested\n");
        exit(77);
    }
}

/* Run argv with stdout to out_path (stderr to out_path.err); its exit status. */
static int run(const char *const *argv, const char *out_path, unsigned timeout_s)
{
    char err_path[600];
    snprintf(err_path, sizeof err_path, "%s.err", out_path);
    fflush(stdout);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        tc_go_child_env(tc_tmpdir); /* pprof's settings, and go's cache, stay here */
        alarm(timeout_s);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return tc_wait(pid);
}

static char *run_pprof(const char *const *args, const char *out_name)
{
    const char *argv[24];
    int n = 0;
    argv[n++] = tc_go_path();
    argv[n++] = "tool";
    argv[n++] = "pprof";
    for (; *args && n < 23; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    const char *out = tc_tmp_path(out_name);
    int st = run(argv, out, 120);
    size_t len;
    char *txt = (char *)pp_slurp(out, &len);
    txt = realloc(txt, len + 1);
    txt[len] = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char ep[600];
        snprintf(ep, sizeof ep, "%s.err", out);
        size_t el;
        char *e = (char *)pp_slurp(ep, &el);
        TC_FAIL("go tool pprof %s: %s; stderr: %.*s", args[0], tc_status_str(st), (int)el, e);
    }
    return txt;
}

/* The flat value pprof's -top prints for fn, as an integer (-unit=B for
 * bytes); -1 if fn is not listed. */
static long long top_flat(const char *top, const char *fn)
{
    for (const char *l = top; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        long long v;
        char name[256];
        const char *eol = strchr(l, '\n');
        char line[512];
        size_t n = eol ? (size_t)(eol - l) : strlen(l);
        if (n >= sizeof line)
            continue;
        memcpy(line, l, n);
        line[n] = 0;
        /*      flat  flat%   sum%        cum   cum%  name */
        if (sscanf(line, " %lld%*[B] %*s %*s %*s %*s %255s", &v, name) == 2 ||
            sscanf(line, " %lld %*s %*s %*s %*s %255s", &v, name) == 2)
            if (strcmp(name, fn) == 0)
                return v;
    }
    return -1;
}

static char exe_path[4096];

static const char *self_exe(void)
{
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    TC_CHECK(n > 0, "readlink");
    exe_path[n] = 0;
    return exe_path;
}

static void t_pprof_top(void)
{
    need_go();
    gc_set_profile_rate(1);
    exact_allocate();
    tc_collect_clean();
    const char *prof = write_named("top.pb.gz", NULL, 0);
    static const struct {
        const char *index, *unit;
        long long small, large, garbage;
    } views[] = {
        {"inuse_space", "-unit=B", 3000 * 48, 20 * 13 * 8192, -2},
        {"alloc_space", "-unit=B", 3000 * 48, 20 * 13 * 8192, 5000 * 112},
        {"inuse_objects", NULL, 3000, 20, -2},
        {"alloc_objects", NULL, 3000, 20, 5000},
    };
    for (size_t i = 0; i < TC_NTESTS(views); i++) {
        char si[64];
        snprintf(si, sizeof si, "-sample_index=%s", views[i].index);
        const char *args[] = {"-top", "-nodefraction=0", "-nodecount=1000", si, views[i].unit ? views[i].unit : "-unit=minimum",
                              self_exe(), prof, NULL};
        char *top = run_pprof(args, "top.txt");
        long long s = top_flat(top, "site_small"), l = top_flat(top, "site_large"), g = top_flat(top, "site_garbage");
        TC_CHECK(s == views[i].small && l == views[i].large, "%s: site_small %lld (want %lld), site_large %lld (want %lld)\n%s",
                 views[i].index, s, views[i].small, l, views[i].large, top);
        if (views[i].garbage >= 0)
            TC_CHECK(g == views[i].garbage, "%s: site_garbage %lld, want %lld\n%s", views[i].index, g, views[i].garbage, top);
        else
            TC_CHECK(g <= 4 * 112, "%s: site_garbage in use: %lld\n%s", views[i].index, g, top);
        TC_CHECK(strstr(top, "exact_allocate") && strstr(top, "main"), "callers are named:\n%s", top);
        free(top);
    }
    memset(keep, 0, sizeof keep);
}

static void t_pprof_sampled(void)
{
    need_go();
    gc_set_profile_rate(512 * 1024);
    sampling_allocate();
    tc_collect_clean();
    const char *prof = write_named("sampled.pb.gz", NULL, 0);
    pp_profile p;
    pp_read_file(&p, prof);
    check_sampled(&p, 0);
    const char *args[] = {"-top", "-nodefraction=0", "-sample_index=alloc_space", "-unit=B", self_exe(), prof, NULL};
    char *top = run_pprof(args, "sampled.txt");
    /* pprof shows the same estimates as the file holds: Go's scaling, applied once. */
    for (size_t i = 0; i < TC_NTESTS(sampled_sites); i++) {
        long long v = top_flat(top, sampled_sites[i].fn);
        long long want = (long long)counts_of(&p, sampled_sites[i].fn).alloc_space;
        TC_CHECK(v == want, "%s: pprof says %lld, the profile %lld\n%s", sampled_sites[i].fn, v, want, top);
    }
    free(top);
    pp_free(&p);
}

static void t_pprof_text(void)
{
    need_go();
    gc_set_profile_rate(1);
    exact_allocate();
    tc_collect_clean();
    const char *prof = write_named("legacy.txt", "heap", 1);
    const char *args[] = {"-top", "-nodefraction=0", "-sample_index=inuse_space", "-unit=B", prof, NULL};
    char *top = run_pprof(args, "legacy-top.txt");
    TC_CHECK(top_flat(top, "site_small") == 3000 * 48 && top_flat(top, "site_noscan") == 200 * 4096,
             "pprof reads the legacy text form:\n%s", top);
    free(top);
    memset(keep, 0, sizeof keep);
}

static void t_pprof_lines(void)
{
    need_go();
    gc_set_profile_rate(1);
    exact_allocate();
    tc_collect_clean();
    const char *prof = write_named("lines.pb.gz", NULL, 0);
    /* With the binary (built with -g): pprof adds file:line. */
    const char *args[] = {"-top", "-lines", "-nodefraction=0", "-sample_index=alloc_space", self_exe(), prof, NULL};
    char *top = run_pprof(args, "lines.txt");
    TC_CHECK(strstr(top, "site_small ") && strstr(top, "test_profile.c:"), "no file:line from the binary:\n%s", top);
    free(top);
    /* Without it: the names the profile carries. */
    const char *args2[] = {"-top", "-symbolize=none", "-nodefraction=0", "-sample_index=alloc_space", "-unit=B", prof, NULL};
    top = run_pprof(args2, "nosym.txt");
    TC_CHECK(top_flat(top, "site_garbage") > 0 && strstr(top, "exact_allocate"), "names without the binary:\n%s", top);
    free(top);
    memset(keep, 0, sizeof keep);
}

static void t_pprof_svg(void)
{
    need_go();
    if (system("command -v dot >/dev/null 2>&1") != 0) {
        printf("skipped: graphviz's dot not found (Debian: apt-get install graphviz); pprof -svg is not tested\n");
        exit(77);
    }
    gc_set_profile_rate(1);
    exact_allocate();
    tc_collect_clean();
    const char *prof = write_named("svg.pb.gz", NULL, 0);
    const char *args[] = {"-svg", self_exe(), prof, NULL};
    char *svg = run_pprof(args, "graph.svg");
    TC_CHECK(strstr(svg, "<svg") && strstr(svg, "</svg>") && strstr(svg, "site_small") && strstr(svg, "exact_allocate"),
             "the call graph (%zu bytes): %.200s", strlen(svg), svg);
    free(svg);
    memset(keep, 0, sizeof keep);
}

/* GET path from 127.0.0.1:port; the body (malloc'd), or NULL if nobody answers. */
static char *http_get(int port, const char *path)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return NULL;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    (void)!write(s, req, (size_t)n);
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(s, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(s);
    buf[len] = 0;
    return buf;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    TC_CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &al) == 0, "bind");
    int port = ntohs(a.sin_port);
    close(s);
    return port;
}

static void t_pprof_http(void)
{
    need_go();
    gc_set_profile_rate(1);
    exact_allocate();
    tc_collect_clean();
    const char *prof = write_named("http.pb.gz", NULL, 0);
    int port = free_port();
    char addr[64];
    snprintf(addr, sizeof addr, "-http=127.0.0.1:%d", port);
    fflush(stdout);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork");
    if (pid == 0) {
        setpgid(0, 0);
        int o = open(tc_tmp_path("http.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(o, 2);
        tc_go_child_env(tc_tmpdir);
        unsetenv("DISPLAY");
        alarm(120);
        execl(tc_go_path(), "go", "tool", "pprof", "-no_browser", addr, self_exe(), prof, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    char *page = NULL;
    for (int i = 0; i < 600 && !page; i++) {
        page = http_get(port, "/ui/top");
        if (!page || !strstr(page, "200 OK")) {
            free(page);
            page = NULL;
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid)
                TC_FAIL("go tool pprof -http exited: %s", tc_status_str(st));
            tc_sleep_ms(100);
        }
    }
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    tc_wait(pid);
    TC_CHECK(page, "go tool pprof -http did not answer on port %d within 60 s", port);
    TC_CHECK(strstr(page, "site_small") && strstr(page, "exact_allocate"), "the top page: %.300s", page);
    free(page);
    memset(keep, 0, sizeof keep);
}

/* ---- main ----------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "child-rate") == 0)
        child_rate();
    if (argc == 2 && strcmp(argv[1], "child-exit") == 0)
        child_exit();
    if (argc == 4 && strcmp(argv[1], "child-seed") == 0)
        child_seed(argv[2], argv[3]);
    /* The same samples every run: the backend's GODEBUG, and the seed. */
    if (!getenv("TRICOLOR_TEST_CHILD")) {
        const char *b = getenv("TRICOLOR_TEST_GODEBUG");
        char godebug[256];
        snprintf(godebug, sizeof godebug, "%s%s" SEED, b && *b ? b : "", b && *b ? "," : "");
        setenv("TRICOLOR_TEST_GODEBUG", godebug, 1);
    }
    static const tc_subtest tests[] = {
        {"before_gc", t_before_gc},   {"rate", t_rate},
        {"exact", t_exact},           {"as_of_gc", t_as_of_gc},
        {"free", t_free},             {"sampling", t_sampling},
        {"seed", t_seed},
        {"threads", t_threads},       {"fork", t_fork},
        {"fork_writers", t_fork_writers},
        {"text", t_text},             {"exit", t_exit},
        {"mappings", t_mappings},     {"nofp", t_nofp},
        {"badfd", t_badfd},           {"many_sites", t_many_sites},
        {"pprof_top", t_pprof_top},   {"pprof_sampled", t_pprof_sampled},
        {"pprof_text", t_pprof_text}, {"pprof_lines", t_pprof_lines},
        {"pprof_svg", t_pprof_svg},   {"pprof_http", t_pprof_http},
    };
    /* Each subtest counts what its own process allocated: with no names,
     * run each in a process of its own, as ctest does. */
    if (argc < 2) {
        int failed = 0;
        for (size_t i = 0; i < TC_NTESTS(tests); i++) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                execl("/proc/self/exe", argv[0], tests[i].name, (char *)NULL);
                _exit(127);
            }
            int st = tc_wait(pid);
            if (!(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 77)))
                failed++;
        }
        return failed ? 1 : 0;
    }
    atexit(tc_rm_tmpdir);
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
