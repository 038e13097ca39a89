/*
 * writetrack.c - which heap pages the program wrote: the kernel as write barrier.
 *
 * C has no compiler-inserted write barrier, so concurrent marking (the next
 * step of the collector; not wired in yet) learns from the kernel which pages
 * were written while it marked, and rescans them (Boehm, Demers and Shenker's
 * "mostly parallel" collection).
 *
 * Owns the tracking backend, chosen once:
 *   uffd  userfaultfd asynchronous write-protect (UFFD_FEATURE_WP_ASYNC, Linux
 *         6.7+): the kernel resolves a write to a protected page itself and
 *         records it; PAGEMAP_SCAN on /proc/self/pagemap reads the written
 *         pages back and re-protects them in one call.  Writes by system calls
 *         (read(2) into the heap) are tracked the same way.
 *   none  no tracking: marking keeps the world stopped.
 * GODEBUG=gcwritetrack=uffd|none forces one (gcstoptheworld=1 means none).
 *
 * Invariants: only ranges registered with writetrack_register are ever
 * protected or scanned; a page never protected reads as written (so a caller
 * protects a range before the first scan that must mean anything).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Debian 12's headers predate these (kernel.md). */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define TC_UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#define TC_UFFD_FEATURE_WP_ASYNC (1ull << 15)

struct tc_page_region {
    uint64_t start, end, categories;
};

struct tc_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define TC_PAGEMAP_SCAN _IOWR('f', 16, struct tc_pm_scan_arg)
#define TC_PM_SCAN_WP_MATCHING 1ull
#define TC_PM_SCAN_CHECK_WPASYNC 2ull
#define TC_PAGE_IS_WRITTEN (1ull << 1)

static enum writetrack_backend backend = WT_NONE;
static const char *reason = "not initialised";
static int uffd = -1, pagemap_fd = -1;

static bool uffd_open(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        reason = errno == ENOSYS ? "userfaultfd: not in this kernel" : "userfaultfd: refused";
        return false;
    }
    struct uffdio_api api = {.api = UFFD_API,
                             .features = TC_UFFD_FEATURE_WP_ASYNC | TC_UFFD_FEATURE_WP_UNPOPULATED};
    if (ioctl(fd, UFFDIO_API, &api) < 0 ||
        (api.features & (TC_UFFD_FEATURE_WP_ASYNC | TC_UFFD_FEATURE_WP_UNPOPULATED)) !=
            (TC_UFFD_FEATURE_WP_ASYNC | TC_UFFD_FEATURE_WP_UNPOPULATED)) {
        close(fd);
        reason = "userfaultfd: no asynchronous write-protect (Linux 6.7+)";
        return false;
    }
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0) {
        close(fd);
        reason = "cannot open /proc/self/pagemap";
        return false;
    }
    /* PAGEMAP_SCAN must exist: an empty scan answers 0, an old kernel ENOTTY. */
    struct tc_pm_scan_arg arg = {.size = sizeof arg, .start = 0, .end = 0};
    if (ioctl(pm, TC_PAGEMAP_SCAN, &arg) < 0 && errno != EINVAL) {
        close(pm);
        close(fd);
        reason = "no PAGEMAP_SCAN (Linux 6.7+)";
        return false;
    }
    uffd = fd;
    pagemap_fd = pm;
    reason = "userfaultfd asynchronous write-protect with PAGEMAP_SCAN";
    return true;
}

enum writetrack_backend writetrack_init(void)
{
    const char *want = env.gcwritetrack;
    if (env.gcstoptheworld || (want && strcmp(want, "none") == 0)) {
        backend = WT_NONE;
        reason = env.gcstoptheworld ? "GODEBUG=gcstoptheworld=1" : "GODEBUG=gcwritetrack=none";
        return backend;
    }
    backend = uffd_open() ? WT_UFFD : WT_NONE;
    return backend;
}

const char *writetrack_reason(void) { return reason; }

bool writetrack_register(uintptr_t base, size_t len)
{
    if (backend != WT_UFFD)
        return false;
    struct uffdio_register reg = {.range = {.start = base, .len = len}, .mode = UFFDIO_REGISTER_MODE_WP};
    return ioctl(uffd, UFFDIO_REGISTER, &reg) == 0;
}

bool writetrack_protect(uintptr_t base, size_t len)
{
    if (backend != WT_UFFD)
        return false;
    struct uffdio_writeprotect wp = {.range = {.start = base, .len = len}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

/* Report every written run of pages in [base, base+len) to fn and protect
 * them again.  Returns the number of written pages, or -1 on error. */
long writetrack_scan(uintptr_t base, size_t len, void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
    if (backend != WT_UFFD)
        return -1;
    struct tc_page_region vec[64];
    long pages = 0;
    uintptr_t start = base, end = base + len;
    while (start < end) {
        struct tc_pm_scan_arg a = {
            .size = sizeof a,
            .flags = TC_PM_SCAN_WP_MATCHING | TC_PM_SCAN_CHECK_WPASYNC,
            .start = start,
            .end = end,
            .vec = (uint64_t)(uintptr_t)vec,
            .vec_len = sizeof vec / sizeof vec[0],
            .category_mask = TC_PAGE_IS_WRITTEN,
            .return_mask = TC_PAGE_IS_WRITTEN,
        };
        long n = ioctl(pagemap_fd, TC_PAGEMAP_SCAN, &a);
        if (n < 0)
            return -1;
        for (long i = 0; i < n; i++) {
            pages += (long)((vec[i].end - vec[i].start) / (uint64_t)getpagesize());
            fn(vec[i].start, vec[i].end, arg);
        }
        if (a.walk_end <= start)
            break;
        start = a.walk_end;
    }
    return pages;
}
