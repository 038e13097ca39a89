/*
 * profile.c - what the heap profiler costs (tricolor only; bench/go/profile.go
 * is Go's side of the write).
 *
 *   profile [sites_log2 [writes]]     default 14 (16,384 sites) and 11 writes
 *
 * 1. Stack walks, the choice issue 11 asks to make by measurement: a
 *    frame-pointer walk, glibc's backtrace (the unwind tables, what tricolor
 *    uses) and libunwind's unw_backtrace (where libunwind-dev is installed:
 *    -DHAVE_LIBUNWIND), each from the bottom of a recursion of depth 8 and 32,
 *    through functions built with and without frame pointers.  Prints the time
 *    per walk and the frames each found: a walk that finds fewer than the
 *    others lost its way.
 * 2. A sampled allocation's cost: 64-byte allocations at rate 1 against rate 0.
 * 3. Writing a profile of 2^sites_log2 sampled sites (distinct stacks, one
 *    object each, at rate 1): the median of `writes` writes to /dev/null, and
 *    the gzipped size; the text form once.
 *
 * Output: a line per measurement, then
 *   PROFILE walk_<method>_<fp|nofp>_<depth>_ns=... frames_...=... sample_ns=... write_ns=... sites=... bytes=...
 * and the BENCH line.
 */
#include "shim.h"

#ifndef SYS_TRICOLOR
#error "the profile benchmark is tricolor's"
#endif

#include <execinfo.h>
#include <stdarg.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef HAVE_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif

#define BARRIER(x) __asm__ volatile("" : : "r"(x) : "memory")

/* ---- 1. stack walks --------------------------------------------------------------- */

enum { M_FP, M_BACKTRACE, M_LIBUNWIND, NMETHODS };
static const char *const method_name[NMETHODS] = {"fp", "backtrace", "libunwind"};
static int method;
static void *frames[256];

/* Follow the frame-pointer chain: x86-64's rbp and aarch64's x29 both point
 * at a {previous frame pointer, return address} pair. */
__attribute__((noinline)) static int walk_fp(void **out, int max)
{
    uintptr_t *fp = __builtin_frame_address(0);
    int n = 0;
    while (fp && n < max) {
        uintptr_t ret = fp[1];
        if (!ret)
            break;
        out[n++] = (void *)ret;
        uintptr_t *next = (uintptr_t *)fp[0];
        if (next <= fp || (uintptr_t)next - (uintptr_t)fp > (1u << 20))
            break;
        fp = next;
    }
    return n;
}

__attribute__((noinline)) static int walk(void)
{
    switch (method) {
    case M_FP:
        return walk_fp(frames, 256);
    case M_BACKTRACE:
        return backtrace(frames, 256);
#ifdef HAVE_LIBUNWIND
    case M_LIBUNWIND:
        return unw_backtrace(frames, 256);
#endif
    }
    return 0;
}

__attribute__((noinline, optimize("no-omit-frame-pointer"))) static int rec_fp(int d)
{
    if (d == 0)
        return walk();
    int r = rec_fp(d - 1);
    BARRIER(r);
    return r;
}

__attribute__((noinline, optimize("omit-frame-pointer"))) static int rec_nofp(int d)
{
    if (d == 0)
        return walk();
    int r = rec_nofp(d - 1);
    BARRIER(r);
    return r;
}

static char summary[4096];
static size_t summary_len;

static void add_field(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_field(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    summary_len += (size_t)vsnprintf(summary + summary_len, sizeof summary - summary_len, fmt, ap);
    va_end(ap);
}

static void measure_walks(void)
{
    static const int depths[] = {8, 32};
    for (int m = 0; m < NMETHODS; m++) {
#ifndef HAVE_LIBUNWIND
        if (m == M_LIBUNWIND)
            continue;
#endif
        method = m;
        for (int v = 0; v < 2; v++)
            for (int di = 0; di < 2; di++) {
                int d = depths[di], n = 0;
                int (*rec)(int) = v ? rec_nofp : rec_fp;
                for (int i = 0; i < 1000; i++) /* warm up: libgcc's caches, libunwind's */
                    n = rec(d);
                int iters = 200000;
                uint64_t t0 = mono_ns();
                for (int i = 0; i < iters; i++)
                    n = rec(d);
                double ns = (double)(mono_ns() - t0) / iters;
                printf("walk %-9s %-4s depth %2d: %3d frames, %7.1f ns per walk\n", method_name[m], v ? "nofp" : "fp",
                       d, n, ns);
                add_field(" walk_%s_%s_%d_ns=%.1f frames_%s_%s_%d=%d", method_name[m], v ? "nofp" : "fp", d, ns,
                          method_name[m], v ? "nofp" : "fp", d, n);
            }
    }
}

/* ---- 2. a sampled allocation ------------------------------------------------------ */

__attribute__((noinline)) static void alloc_at_depth(int d, int n)
{
    if (d > 0) {
        alloc_at_depth(d - 1, n);
        BARRIER(d);
        return;
    }
    for (int i = 0; i < n; i++)
        BARRIER(gc_alloc(64));
}

static double alloc_ns(int64_t rate, int n)
{
    gc_set_profile_rate(rate);
    gc_collect();
    uint64_t t0 = mono_ns();
    alloc_at_depth(8, n);
    double ns = (double)(mono_ns() - t0) / n;
    gc_set_profile_rate(0);
    return ns;
}

/* ---- 3. writing a profile ------------------------------------------------------------ */

__attribute__((noinline)) static int branch(int depth, unsigned bits);
__attribute__((noinline)) static int go_left(int depth, unsigned bits)
{
    int r = branch(depth, bits);
    BARRIER(r);
    return r + 1;
}
__attribute__((noinline)) static int go_right(int depth, unsigned bits)
{
    int r = branch(depth, bits);
    BARRIER(r);
    return r + 2;
}

static void **site_objects;

__attribute__((noinline)) static int branch(int depth, unsigned bits)
{
    static unsigned next;
    if (depth == 0) {
        site_objects[next++] = gc_alloc(48);
        return 0;
    }
    return bits & 1 ? go_left(depth - 1, bits >> 1) : go_right(depth - 1, bits >> 1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int log2 = argc > 1 ? atoi(argv[1]) : 14;
    int writes = argc > 2 ? atoi(argv[2]) : 11;
    if (log2 < 1 || log2 > 20 || writes < 1 || writes > 1000) {
        fprintf(stderr, "usage: profile [sites_log2 (1-20) [writes]]\n");
        return 2;
    }
    bench_init();
    measure_walks();

    int n = 2000000;
    double off = alloc_ns(0, n), on = alloc_ns(1, n / 4);
    printf("64-byte allocation 8 frames down: %.1f ns at rate 0, %.1f ns at rate 1 (every one sampled): "
           "%.0f ns per sample\n", off, on, on - off);
    add_field(" alloc_ns=%.1f alloc_sampled_ns=%.1f sample_ns=%.1f", off, on, on - off);

    /* Every object sampled, each from its own stack. */
    unsigned sites = 1u << log2;
    site_objects = malloc(sites * sizeof *site_objects);
    gc_add_roots(site_objects, sites * sizeof *site_objects);
    gc_set_profile_rate(1);
    for (unsigned b = 0; b < sites; b++)
        branch(log2, b);
    gc_set_profile_rate(0);
    gc_collect();
    int null = open("/dev/null", O_WRONLY);
    uint64_t *t = malloc((size_t)writes * sizeof *t);
    for (int i = 0; i < writes; i++) {
        uint64_t t0 = mono_ns();
        if (gc_write_heap_profile(null) != 0) {
            perror("gc_write_heap_profile");
            return 1;
        }
        t[i] = mono_ns() - t0;
    }
    qsort(t, (size_t)writes, sizeof *t, cmp_u64);
    char path[] = "/tmp/tricolor-profile-bench.XXXXXX";
    int fd = mkstemp(path);
    gc_write_heap_profile(fd);
    off_t bytes = lseek(fd, 0, SEEK_END);
    close(fd);
    uint64_t t0 = mono_ns();
    gc_write_profile("heap", null, 1);
    uint64_t text_ns = mono_ns() - t0;
    fd = open(path, O_WRONLY | O_TRUNC);
    gc_write_profile("heap", fd, 1);
    off_t text_bytes = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    gc_memstats ms;
    gc_read_memstats(&ms);
    printf("profile of %u sites: written in %.2f ms (median of %d; fastest %.2f, slowest %.2f), %lld bytes gzipped; "
           "text form %.2f ms, %lld bytes; buckets %.1f MiB\n",
           sites, t[writes / 2] / 1e6, writes, t[0] / 1e6, t[writes - 1] / 1e6, (long long)bytes, text_ns / 1e6,
           (long long)text_bytes, ms.buck_hash_sys / 1048576.0);
    add_field(" write_ns=%llu write_min_ns=%llu sites=%u bytes=%lld text_ns=%llu text_bytes=%lld buckhash=%llu",
              (unsigned long long)t[writes / 2], (unsigned long long)t[0], sites, (long long)bytes,
              (unsigned long long)text_ns, (long long)text_bytes, (unsigned long long)ms.buck_hash_sys);
    printf("PROFILE%s\n", summary);
    bench_report();
    return 0;
}
