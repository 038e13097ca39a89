/*
 * writetrack.c - which heap pages the program wrote: the kernel as write barrier.
 *
 * C has no compiler-inserted write barrier, so concurrent marking learns from
 * the kernel which pages were written while it marked, and rescans them
 * (Boehm, Demers and Shenker's "mostly parallel" collection).
 *
 * Owns the tracking backend, chosen once by writetrack_init:
 *   uffd      userfaultfd asynchronous write-protect (UFFD_FEATURE_WP_ASYNC,
 *             Linux 6.7+): the kernel resolves a write to a protected page
 *             itself and records it; PAGEMAP_SCAN on /proc/self/pagemap reads
 *             the written pages back and re-protects them in one call.  Writes
 *             by system calls (read(2) into the heap) are tracked the same way.
 *             Granularity: the OS page.
 *   mprotect  the fallback, any Linux: protect makes memory PROT_READ, and the
 *             first write to a protected unit (64 KiB) raises SIGSEGV; our
 *             handler sets the unit's bit in a dirty bitmap and makes the unit
 *             writable, and the write is retried.  scan takes the bits and
 *             re-protects what it reports.  Granularity: the unit.
 *   none      no tracking: marking keeps the world stopped.
 * GODEBUG=gcwritetrack=uffd|mprotect|none forces one (gcstoptheworld=1 means
 * none); by default uffd, else none (mprotect only on request: see its
 * limitation below), and writetrack_reason() says why.
 * Also owns the registry of registered arenas (both backends: uffd needs it
 * to register again in a fork child, where the kernel drops registration).
 *
 * Invariants (both backends):
 *   - only registered ranges are protected or scanned;
 *   - a page that is not protected reads as written: never protected, or
 *     unprotected, it is reported by the next scan (which protects it).  So a
 *     caller protects a range before the first scan that must mean anything;
 *   - no write is missed: each is either reported by a later scan, or lands
 *     before that scan's re-protect of its page, and fn, which runs after the
 *     re-protect, reads it;
 *   - protect, unprotect and scan of overlapping ranges are serialised by the
 *     caller; the program's writes (and their faults) race with all of them.
 *
 * How it meets the rest: mgc.c calls writetrack_init after env_parse (env.c
 * holds the GODEBUG choice) and writetrack_fork_child in a fork child; arena.c
 * registers each 64 MiB arena as it maps it; barrier.c protects the pages
 * worth tracking when marking starts, scans them while and after it marks
 * (fn queues the marked objects on each reported run for a rescan), and
 * unprotects when marking is over.
 *
 * The mprotect backend in detail.
 *   Registry: a two-level table keyed by addr >> ARENA_SHIFT (the top level
 *   static, leaves and per-arena records from mmap, never malloc), published
 *   with release stores, so that the SIGSEGV handler reads it without locks
 *   while other threads register arenas; it never fills.  Per arena, a bit per
 *   unit in each of three bitmaps: registered; dirty ("may have been written
 *   since last protected", hence set for every unit not protected: a clear bit
 *   means PROT_READ, but for the instant between scan's clear and its
 *   re-protect); faulted (a hole the handler opened, see below).
 *   Unit: WT_UNIT, 64 KiB of address space, aligned, never smaller than the
 *   OS page (writetrack_init checks; some aarch64 kernels use 64 KiB pages).
 *   Measured (Linux 6.18, x86-64 VM; 256 MiB populated, registered, protected):
 *                                     4 KiB   16 KiB   64 KiB   256 KiB   uffd
 *     memset 64 MiB protected (ms)     57      29       11       5.4      26
 *     first write, isolated (us)        7.1     7.0      9.0     11.0      0.8
 *     1000 random 8-byte writes:
 *       bytes to rescan (MiB)           3.9    15.1     54.8    158        3.9
 *       scan 256 MiB (ms)               3.2     3.2      3.8      3.6      0.15
 *       VMAs before the scan           1974    1833     1402      524      28
 *     protect 256 MiB: 5 ms for all; a scan that finds nothing: 1-4 us (the
 *     bitmap), uffd 66 us.  (A plain memset of 64 MiB: 2.5 ms.)
 *   Each fault costs a signal and an mprotect whatever the unit, so the unit
 *   sets how many faults a stretch of writes takes (16 per MiB rather than
 *   256: a sequential write runs 5 times faster than with 4 KiB units) and
 *   how many VMAs the holes cost (each writable unit amid protected ones is a
 *   VMA and a split, against vm.max_map_count, 65530 for the whole process),
 *   against the bytes a scattered write makes the collector rescan.  64 KiB
 *   takes most of the first gains; 256 KiB triples the rescanning again.
 *   Holes: the handler counts the holes it opens (wt_holes, via the faulted
 *   bits; scan, protect and unprotect close them).  Past vm.max_map_count / 8
 *   holes a fault opens its whole 2 MiB block instead, so the process keeps
 *   most of its VMAs.  (A hole first written while split off gets an anon_vma
 *   of its own and never merges back; heap memory is written before it is
 *   tracked, so its pieces share one anon_vma and merge when re-protected.)
 *   Ranges: protect rounds inward to whole units (a partial unit at either end
 *   is left as it is: if dirty it will be reported, which is safe); unprotect
 *   and scan round outward, and scan reports whole units, so a reported run
 *   may extend past [base, base+len) to unit boundaries.
 *   The handler (SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART, installed
 *   once; async-signal-safe: atomics, mprotect, write, abort): a write
 *   (SEGV_ACCERR, and the machine context says write where it can) to a
 *   registered unit sets its dirty bit, makes the unit PROT_READ|PROT_WRITE,
 *   sets the bit again and returns, and the instruction retries.  The second
 *   set closes a race with scan: had a scan cleared the bit and re-protected
 *   between our first set and our mprotect, the unit would be writable with a
 *   clear bit.  Two threads faulting on one unit both do the same: harmless.
 *   If mprotect fails with ENOMEM, the VMA limit is reached and no split is
 *   possible: the handler opens the whole clean run around the unit (up to the
 *   dirty units or the ends of registered memory on either side), which
 *   splits nothing; if that fails too it names the address on stderr and
 *   aborts.  Any other fault goes to the handler installed before ours
 *   (SA_SIGINFO or plain, with its mask); if that was SIG_DFL or SIG_IGN, the
 *   default action is restored and the fault comes back as the instruction
 *   retries, so the process dies of SIGSEGV as it would have.
 *   Self-test: before it is chosen, the backend zeroes memory with memset
 *   across protected pages and checks every byte (mp_selftest).  qemu-user
 *   7.2 on aarch64 fails it (a faulting DC ZVA restarts from the wrong place
 *   and the rest of the memset is lost); the default then falls back to none,
 *   and a forced gcwritetrack=mprotect is kept with a warning in the reason.
 *   Scan: per bitmap word, an atomic fetch-and takes the bits in range; the
 *   dirty runs (consecutive units coalesced) are re-protected first, then fn
 *   is called for each: a write after the re-protect faults and shows at the
 *   next scan, a write before it is read by fn.  Returns OS pages (units
 *   times WT_UNIT / page size).
 *   Limitations:
 *     - system calls that write into a protected page (read(2), recv(2),
 *       stat(2) into a heap buffer...) do not fault in user space: they fail
 *       with EFAULT.  Workaround for a program: write one byte to each page of
 *       the buffer first (which takes the fault and unprotects it), then make
 *       the call, and retry on EFAULT.  The uffd backend has no such problem.
 *     - a thread that writes to a protected unit must not block SIGSEGV (the
 *       kernel would kill the process instead of calling the handler):
 *       today mark.c's helpers and sweep.c's sweeper block it, so they must
 *       not write to tracked heap memory.
 *     - the program must not replace our SIGSEGV handler after
 *       writetrack_init (one installed before is chained to).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
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
static char reason_buf[256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---- uffd ---------------------------------------------------------------- */

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

static bool uffd_register(uintptr_t base, size_t len)
{
    struct uffdio_register reg = {.range = {.start = base, .len = len}, .mode = UFFDIO_REGISTER_MODE_WP};
    return ioctl(uffd, UFFDIO_REGISTER, &reg) == 0;
}

static bool uffd_protect(uintptr_t base, size_t len, bool on)
{
    struct uffdio_writeprotect wp = {.range = {.start = base, .len = len},
                                     .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
    return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

static long uffd_scan(uintptr_t base, size_t len, void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
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

/* ---- mprotect: the registry ---------------------------------------------- */

#ifndef WT_UNIT_SHIFT
#define WT_UNIT_SHIFT 16 /* 64 KiB: see the top of the file */
#endif
#define WT_UNIT ((uintptr_t)1 << WT_UNIT_SHIFT)
#define WT_BLOCK ((uintptr_t)2 << 20) /* what a fault opens when holes are many */
#define UNITS_PER_ARENA (ARENA_SIZE >> WT_UNIT_SHIFT)
#define WORDS_PER_ARENA (UNITS_PER_ARENA / 64)
#define LEAF_BITS 11
#define LEAF_ENTRIES ((uintptr_t)1 << LEAF_BITS)
#define TOP_ENTRIES ((uintptr_t)1 << (ADDR_BITS - ARENA_SHIFT - LEAF_BITS))

_Static_assert(UNITS_PER_ARENA % 64 == 0, "a unit bitmap is whole words");
_Static_assert(WT_BLOCK % WT_UNIT == 0 && ARENA_SIZE % WT_BLOCK == 0, "blocks hold whole units");

/* Per arena, one bit per unit in each map:
 *   registered  the unit is ours (set once, never cleared);
 *   dirty       may have been written since it was last protected (so also
 *               every unit not protected);
 *   faulted     the handler opened a hole here, not yet closed by scan,
 *               protect or unprotect: counted in wt_holes. */
struct wt_arena {
    _Atomic uint64_t registered[WORDS_PER_ARENA];
    _Atomic uint64_t dirty[WORDS_PER_ARENA];
    _Atomic uint64_t faulted[WORDS_PER_ARENA];
};

typedef _Atomic(struct wt_arena *) wt_slot;
static _Atomic(wt_slot *) wt_top[TOP_ENTRIES];
static pthread_mutex_t wt_lock = PTHREAD_MUTEX_INITIALIZER; /* serialises registration */
static size_t os_page;
/* Holes (writable units amid protected ones) the handler opened and nothing
 * closed yet: each costs up to two VMAs.  Past the budget, a fault opens its
 * whole 2 MiB block instead of the unit. */
static _Atomic long wt_holes;
static long wt_hole_budget = 65530 / 8;

/* The record for the arena holding a, or NULL.  Lock-free: the SIGSEGV handler calls it. */
static inline struct wt_arena *wt_lookup(uintptr_t a)
{
    if (a >> ADDR_BITS)
        return NULL;
    wt_slot *leaf = atomic_load_explicit(&wt_top[a >> (ARENA_SHIFT + LEAF_BITS)], memory_order_acquire);
    if (!leaf)
        return NULL;
    return atomic_load_explicit(&leaf[(a >> ARENA_SHIFT) & (LEAF_ENTRIES - 1)], memory_order_acquire);
}

static inline size_t unit_of(uintptr_t a) { return (size_t)((a & (ARENA_SIZE - 1)) >> WT_UNIT_SHIFT); }

static inline bool bit_of(_Atomic uint64_t *bm, size_t u)
{
    return (atomic_load_explicit(&bm[u / 64], memory_order_acquire) >> (u % 64)) & 1;
}

/* The bits of bitmap word w that stand for units [first, end) of an arena. */
static inline uint64_t word_mask(size_t w, size_t first, size_t end)
{
    size_t lo = w * 64 < first ? first - w * 64 : 0;
    size_t hi = (w + 1) * 64 > end ? end - w * 64 : 64;
    uint64_t m = hi == 64 ? ~0ull : ((1ull << hi) - 1);
    return m & ~((1ull << lo) - 1);
}

static bool bits_all(_Atomic uint64_t *bm, size_t first, size_t end)
{
    for (size_t w = first / 64; w * 64 < end; w++) {
        uint64_t m = word_mask(w, first, end);
        if ((atomic_load_explicit(&bm[w], memory_order_acquire) & m) != m)
            return false;
    }
    return true;
}

static void op_dirty_set(struct wt_arena *ar, size_t first, size_t end)
{
    for (size_t w = first / 64; w * 64 < end; w++)
        atomic_fetch_or_explicit(&ar->dirty[w], word_mask(w, first, end), memory_order_acq_rel);
}

static void op_dirty_clear(struct wt_arena *ar, size_t first, size_t end)
{
    for (size_t w = first / 64; w * 64 < end; w++)
        atomic_fetch_and_explicit(&ar->dirty[w], ~word_mask(w, first, end), memory_order_acq_rel);
}

/* The holes in [first, end) are closed (protected again, or merged into one
 * writable range). */
static void op_holes_closed(struct wt_arena *ar, size_t first, size_t end)
{
    long n = 0;
    for (size_t w = first / 64; w * 64 < end; w++) {
        uint64_t m = word_mask(w, first, end);
        if (atomic_load_explicit(&ar->faulted[w], memory_order_relaxed) & m)
            n += __builtin_popcountll(atomic_fetch_and_explicit(&ar->faulted[w], ~m, memory_order_acq_rel) & m);
    }
    if (n)
        atomic_fetch_sub_explicit(&wt_holes, n, memory_order_relaxed);
}

/* Apply op to the units of [lo, hi) (unit-aligned), arena by arena.  With
 * op == NULL only check that every unit is registered.  Async-signal-safe. */
static bool units_apply(uintptr_t lo, uintptr_t hi, void (*op)(struct wt_arena *ar, size_t first, size_t end))
{
    for (uintptr_t a = lo; a < hi;) {
        uintptr_t next = (a | (ARENA_SIZE - 1)) + 1, e = next < hi ? next : hi;
        struct wt_arena *ar = wt_lookup(a);
        size_t first = unit_of(a), end = first + (size_t)((e - a) >> WT_UNIT_SHIFT);
        if (!ar || !bits_all(ar->registered, first, end))
            return false;
        if (op)
            op(ar, first, end);
        a = e;
    }
    return true;
}

static void *meta_map(size_t bytes)
{
    return sys_map(bytes, SYS_GC); /* counted against the memory limit like all metadata */
}

/* Record [base, base+len) (unit-aligned) as registered, each unit dirty.
 * The uffd backend keeps the record too, to register again in a fork child. */
static bool registry_add(uintptr_t base, size_t len)
{
    if ((base | len) & (WT_UNIT - 1) || len == 0 || base + len < base || ((base + len - 1) >> ADDR_BITS)) {
        errno = EINVAL;
        return false;
    }
    pthread_mutex_lock(&wt_lock);
    for (uintptr_t a = base, hi = base + len; a < hi;) {
        uintptr_t next = (a | (ARENA_SIZE - 1)) + 1, e = next < hi ? next : hi;
        wt_slot *leaf = atomic_load_explicit(&wt_top[a >> (ARENA_SHIFT + LEAF_BITS)], memory_order_acquire);
        if (!leaf) {
            leaf = meta_map(LEAF_ENTRIES * sizeof(wt_slot));
            if (!leaf)
                goto fail;
            atomic_store_explicit(&wt_top[a >> (ARENA_SHIFT + LEAF_BITS)], leaf, memory_order_release);
        }
        wt_slot *slot = &leaf[(a >> ARENA_SHIFT) & (LEAF_ENTRIES - 1)];
        struct wt_arena *ar = atomic_load_explicit(slot, memory_order_acquire);
        if (!ar) {
            ar = meta_map(sizeof *ar); /* zero: nothing registered, nothing dirty */
            if (!ar)
                goto fail;
            atomic_store_explicit(slot, ar, memory_order_release);
        }
        size_t first = unit_of(a), end = first + (size_t)((e - a) >> WT_UNIT_SHIFT);
        /* Never protected reads as written; dirty before registered, so that
         * no one sees a registered unit without its bit. */
        op_dirty_set(ar, first, end);
        for (size_t w = first / 64; w * 64 < end; w++)
            atomic_fetch_or_explicit(&ar->registered[w], word_mask(w, first, end), memory_order_release);
        a = e;
    }
    pthread_mutex_unlock(&wt_lock);
    return true;
fail:
    pthread_mutex_unlock(&wt_lock);
    errno = ENOMEM;
    return false;
}

/* ---- mprotect: the SIGSEGV handler --------------------------------------- */

static struct sigaction wt_prev;   /* the handler before ours */
static _Atomic bool wt_prev_reset; /* wt_prev had SA_RESETHAND and has run once */

/* Was the fault a write?  1 yes, 0 no (a read or an instruction fetch), -1
 * the machine context does not say. */
static int fault_is_write(const siginfo_t *si, void *ctx)
{
    const ucontext_t *uc = ctx;
    (void)si;
    (void)uc;
#if defined(__x86_64__)
    long err = (long)uc->uc_mcontext.gregs[REG_ERR];
    return (err & 2) != 0; /* bit 1: write; bit 4: instruction fetch */
#elif defined(__aarch64__)
    if ((uintptr_t)si->si_addr == (uintptr_t)uc->uc_mcontext.pc)
        return 0;
    /* The kernel appends an esr_context record (magic "ESR\1") to the frame. */
    const unsigned char *p = uc->uc_mcontext.__reserved;
    size_t off = 0, total = sizeof uc->uc_mcontext.__reserved;
    while (off + 16 <= total) {
        uint32_t magic, size;
        memcpy(&magic, p + off, 4);
        memcpy(&size, p + off + 4, 4);
        if (magic == 0 || size < 8 || size > total - off)
            break;
        if (magic == 0x45535201 && size >= 16) {
            uint64_t esr;
            memcpy(&esr, p + off + 8, 8);
            unsigned ec = (unsigned)(esr >> 26) & 0x3f;
            if (ec == 0x24 || ec == 0x25) /* data abort: WnR is bit 6 */
                return (int)((esr >> 6) & 1);
            if (ec == 0x20 || ec == 0x21) /* instruction abort */
                return 0;
            return -1;
        }
        off += size;
    }
    return -1;
#else
    return -1;
#endif
}

static void fatal_unprotect(uintptr_t a, int err)
{
    char msg[200] = "tricolor: writetrack: cannot make heap address 0x";
    size_t n = strlen(msg);
    char hex[16];
    int k = 0;
    do {
        hex[k++] = "0123456789abcdef"[a & 15];
        a >>= 4;
    } while (a && k < 16);
    while (k > 0)
        msg[n++] = hex[--k];
    const char *tail = err == ENOMEM ? " writable after a write fault: mprotect: ENOMEM (vm.max_map_count reached?)\n"
                                     : " writable after a write fault: mprotect failed\n";
    size_t tl = strlen(tail);
    if (n + tl > sizeof msg)
        tl = sizeof msg - n;
    memcpy(msg + n, tail, tl);
    n += tl;
    (void)!write(2, msg, n);
    abort();
}

/* 0 if unit-aligned u is registered and clean, else 1. */
static int unit_busy(uintptr_t u)
{
    struct wt_arena *ar = wt_lookup(u);
    return !ar || !bit_of(ar->registered, unit_of(u)) || bit_of(ar->dirty, unit_of(u));
}

/* Make [lo, hi) writable, dirty before and after (a scan may clear the bits
 * between our first set and the mprotect: the unit would then be writable
 * with a clear bit).  Returns 0 or errno. */
static int open_range(uintptr_t lo, uintptr_t hi)
{
    units_apply(lo, hi, op_dirty_set);
    if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0)
        return errno;
    units_apply(lo, hi, op_dirty_set);
    return 0;
}

/* Make the unit holding a writable (its 2 MiB block when holes are many).
 * Async-signal-safe.  When mprotect fails with ENOMEM the process has as many
 * VMAs as vm.max_map_count allows, and a split is impossible: open instead
 * the whole clean (protected) run around the unit, up to the dirty
 * (writable) units or the ends of registered memory on either side, which
 * splits nothing and merges three VMAs into one. */
static void unprotect_for_write(struct wt_arena *ar, uintptr_t a)
{
    size_t u = unit_of(a);
    uint64_t bit = 1ull << (u % 64);
    bool crowded = atomic_load_explicit(&wt_holes, memory_order_relaxed) >= wt_hole_budget;
    if (!(atomic_fetch_or_explicit(&ar->faulted[u / 64], bit, memory_order_acq_rel) & bit))
        atomic_fetch_add_explicit(&wt_holes, 1, memory_order_relaxed);
    uintptr_t lo = a & ~(WT_UNIT - 1), hi = lo + WT_UNIT;
    if (crowded) {
        uintptr_t blo = a & ~(WT_BLOCK - 1);
        if (bits_all(ar->registered, unit_of(blo), unit_of(blo) + (size_t)(WT_BLOCK >> WT_UNIT_SHIFT))) {
            lo = blo;
            hi = blo + WT_BLOCK;
        }
    }
    int err = open_range(lo, hi);
    if (err == ENOMEM) {
        /* [lo, hi) counts as clean: a failed mprotect may have changed part of it. */
        while (lo >= WT_UNIT && !unit_busy(lo - WT_UNIT))
            lo -= WT_UNIT;
        while (!unit_busy(hi))
            hi += WT_UNIT;
        err = open_range(lo, hi);
    }
    if (err)
        fatal_unprotect(a, err);
}

/* Hand a fault that is not ours to the handler that was there before. */
static void chain(int sig, siginfo_t *si, void *ctx)
{
    struct sigaction *p = &wt_prev;
    bool reset = atomic_load_explicit(&wt_prev_reset, memory_order_relaxed);
    if (reset || (!(p->sa_flags & SA_SIGINFO) && (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN))) {
        if (si->si_code <= 0 && !reset && p->sa_handler == SIG_IGN)
            return; /* sent by kill(2) or raise(3), and ignored before we came */
        struct sigaction d;
        memset(&d, 0, sizeof d);
        d.sa_handler = SIG_DFL;
        sigemptyset(&d.sa_mask);
        sigaction(sig, &d, NULL);
        if (si->si_code <= 0)
            raise(sig); /* a sent signal does not come back by itself */
        return;         /* a fault comes back as the instruction retries, now fatal */
    }
    if (p->sa_flags & SA_RESETHAND)
        atomic_store_explicit(&wt_prev_reset, true, memory_order_relaxed);
    /* Block what the kernel would have blocked while it ran. */
    sigset_t mask = p->sa_mask, old;
    if (!(p->sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if (p->sa_flags & SA_SIGINFO)
        p->sa_sigaction(sig, si, ctx);
    else
        p->sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The self-test's pages (see mp_selftest), while it runs. */
static _Atomic uintptr_t probe_lo, probe_hi;
static _Atomic long probe_tid;
static sigjmp_buf probe_jmp;

static void segv_handler(int sig, siginfo_t *si, void *ctx)
{
    int saved_errno = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    struct wt_arena *ar;
    uintptr_t plo = atomic_load_explicit(&probe_lo, memory_order_acquire);
    if (unlikely(plo)) {
        if (a >= plo && a < atomic_load_explicit(&probe_hi, memory_order_relaxed)) {
            mprotect((void *)(a & ~(uintptr_t)(os_page - 1)), os_page, PROT_READ | PROT_WRITE);
            errno = saved_errno;
            return;
        }
        if (syscall(SYS_gettid) == atomic_load_explicit(&probe_tid, memory_order_relaxed))
            siglongjmp(probe_jmp, 1); /* a wild fault: the self-test failed */
    }
    if (si->si_code == SEGV_ACCERR && (ar = wt_lookup(a)) != NULL && bit_of(ar->registered, unit_of(a)) &&
        fault_is_write(si, ctx) != 0) {
        unprotect_for_write(ar, a);
        errno = saved_errno;
        return;
    }
    errno = saved_errno;
    chain(sig, si, ctx);
}

/* Does a write that faults inside memset resume correctly after our handler?
 * qemu-user 7.2 (Debian 12's) restarts a faulting DC ZVA (glibc's memset of
 * zero, 256 bytes and more, on aarch64) from the start of its translated
 * block, which can be memset's entry, with registers already advanced: the
 * rest of the memset is lost.  The heap zeroes memory with memset, so such a
 * machine must not track by mprotect.  The test zeroes page-sized chunks 64
 * bytes apart across 14 protected pages: every byte of a chunk must be zero
 * and every other byte untouched.  Our handler is installed; its probe path
 * opens the test's pages, and a fault elsewhere on this thread jumps back. */
static bool mp_selftest(void)
{
    static unsigned char *volatile p;
    static volatile size_t n, chunk;
    n = 16 * os_page;
    chunk = os_page;
    void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return true; /* cannot tell */
    p = m;
    memset(p, 0xa5, n);
    if (mprotect(p, 14 * os_page, PROT_READ) != 0) {
        munmap(m, n);
        return true;
    }
    bool ok = true;
    atomic_store_explicit(&probe_tid, (long)syscall(SYS_gettid), memory_order_relaxed);
    atomic_store_explicit(&probe_hi, (uintptr_t)p + n, memory_order_relaxed);
    atomic_store_explicit(&probe_lo, (uintptr_t)p, memory_order_release);
    if (sigsetjmp(probe_jmp, 1) == 0) {
        size_t first = os_page / 2, step = chunk + 64, end = 13 * os_page;
        for (size_t off = first; off + chunk <= end; off += step)
            memset(p + off, 0, chunk);
        for (size_t i = 0; i < n && ok; i++) {
            bool in = i >= first && i < end && (i - first) % step < chunk && i - (i - first) % step + chunk <= end;
            ok = p[i] == (in ? 0 : 0xa5);
        }
    } else {
        ok = false;
    }
    atomic_store_explicit(&probe_lo, 0, memory_order_release);
    atomic_store_explicit(&probe_tid, 0, memory_order_relaxed);
    munmap(m, n);
    return ok;
}

/* Install the handler (once) and test it.  A failed self-test refuses the
 * backend unless forced (GODEBUG), where the reason carries the warning. */
static bool mp_open(bool forced)
{
    static bool installed; /* twice would make our own handler the one to chain to */
    static int selftest = -1;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || (uintptr_t)pg > WT_UNIT) {
        reason = "mprotect: the OS page is larger than the tracking unit";
        return false;
    }
    os_page = (size_t)pg;
    if (!installed) {
        int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            char buf[32];
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            long v = 0;
            for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
                v = v * 10 + (buf[i] - '0');
            if (v > 0 && v < (1l << 40))
                wt_hole_budget = v / 8 > 64 ? v / 8 : 64;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = segv_handler;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &wt_prev) != 0) {
            reason = "mprotect: cannot install the SIGSEGV handler";
            return false;
        }
        installed = true;
    }
    if (selftest < 0)
        selftest = mp_selftest();
    if (!selftest) {
        reason = forced ? "mprotect and a SIGSEGV handler (64 KiB units); WARNING: a write faulting inside memset "
                          "was lost in the self-test (qemu-user 7?): heap memory may be corrupted"
                        : "mprotect: a write faulting inside memset was lost in the self-test (qemu-user 7?)";
        return forced;
    }
    reason = "mprotect and a SIGSEGV handler (64 KiB units)";
    return true;
}

/* ---- mprotect: protect, unprotect, scan ---------------------------------- */

static bool page_aligned(uintptr_t base, size_t len)
{
    if (((base | len) & (os_page - 1)) || len == 0 || base + len < base) {
        errno = EINVAL;
        return false;
    }
    return true;
}

static bool mp_protect(uintptr_t base, size_t len)
{
    if (!page_aligned(base, len))
        return false;
    if (!units_apply(base & ~(WT_UNIT - 1), round_up(base + len, WT_UNIT), NULL)) {
        errno = EINVAL;
        return false;
    }
    uintptr_t lo = round_up(base, WT_UNIT), hi = (base + len) & ~(WT_UNIT - 1);
    if (lo >= hi)
        return true; /* no whole unit: nothing armed, what is dirty stays dirty */
    /* Forget old writes first: a write after the mprotect faults and sets the
     * bit again; one before it came before protect. */
    units_apply(lo, hi, op_dirty_clear);
    units_apply(lo, hi, op_holes_closed);
    if (mprotect((void *)lo, hi - lo, PROT_READ) != 0) {
        int e = errno;
        units_apply(lo, hi, op_dirty_set); /* part may still be writable: reads as written */
        errno = e;
        return false;
    }
    return true;
}

static bool mp_unprotect(uintptr_t base, size_t len)
{
    if (!page_aligned(base, len))
        return false;
    uintptr_t lo = base & ~(WT_UNIT - 1), hi = round_up(base + len, WT_UNIT);
    if (!units_apply(lo, hi, NULL)) {
        errno = EINVAL;
        return false;
    }
    units_apply(lo, hi, op_dirty_set); /* untracked reads as written */
    bool ok = mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) == 0;
    if (ok)
        units_apply(lo, hi, op_holes_closed);
    return ok;
}

#define SCAN_BATCH 64

struct scan_state {
    uintptr_t run_lo, run_hi; /* the run being built (empty: run_lo == run_hi) */
    int n;
    uintptr_t lo[SCAN_BATCH], hi[SCAN_BATCH]; /* re-protected, fn not called yet */
    long units;
    void (*fn)(uintptr_t start, uintptr_t end, void *arg);
    void *arg;
};

static void scan_flush_batch(struct scan_state *st)
{
    for (int i = 0; i < st->n; i++)
        st->fn(st->lo[i], st->hi[i], st->arg);
    st->n = 0;
}

/* Re-protect the run being built and queue it for fn. */
static void scan_end_run(struct scan_state *st)
{
    uintptr_t lo = st->run_lo, hi = st->run_hi;
    if (lo == hi)
        return;
    st->run_lo = st->run_hi = 0;
    if (mprotect((void *)lo, hi - lo, PROT_READ) == 0)
        units_apply(lo, hi, op_holes_closed);
    else
        units_apply(lo, hi, op_dirty_set); /* still writable (in part): report it again next time */
    st->units += (long)((hi - lo) >> WT_UNIT_SHIFT);
    if (st->n == SCAN_BATCH)
        scan_flush_batch(st);
    st->lo[st->n] = lo;
    st->hi[st->n] = hi;
    st->n++;
}

static long mp_scan(uintptr_t base, size_t len, void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
    if (!page_aligned(base, len))
        return -1;
    uintptr_t lo = base & ~(WT_UNIT - 1), hi = round_up(base + len, WT_UNIT);
    if (!units_apply(lo, hi, NULL)) {
        errno = EINVAL;
        return -1;
    }
    struct scan_state st = {.fn = fn, .arg = arg};
    for (uintptr_t a = lo; a < hi;) {
        uintptr_t next = (a | (ARENA_SIZE - 1)) + 1, e = next < hi ? next : hi;
        uintptr_t arena = a & ~(ARENA_SIZE - 1);
        struct wt_arena *ar = wt_lookup(a);
        size_t first = unit_of(a), end = first + (size_t)((e - a) >> WT_UNIT_SHIFT);
        for (size_t w = first / 64; w * 64 < end; w++) {
            uint64_t m = word_mask(w, first, end);
            if (!(atomic_load_explicit(&ar->dirty[w], memory_order_relaxed) & m))
                continue;
            uint64_t bits = atomic_fetch_and_explicit(&ar->dirty[w], ~m, memory_order_acq_rel) & m;
            while (bits) {
                unsigned b = (unsigned)__builtin_ctzll(bits);
                bits &= bits - 1;
                uintptr_t u = arena + ((uintptr_t)(w * 64 + b) << WT_UNIT_SHIFT);
                if (st.run_hi != u)
                    scan_end_run(&st);
                if (st.run_lo == st.run_hi)
                    st.run_lo = u;
                st.run_hi = u + WT_UNIT;
            }
        }
        a = e;
    }
    scan_end_run(&st);
    scan_flush_batch(&st);
    return st.units * (long)(WT_UNIT / os_page);
}

/* ---- the interface ------------------------------------------------------- */

static void choose(void)
{
    const char *want = env.gcwritetrack;
    if (env.gcstoptheworld || (want && strcmp(want, "none") == 0)) {
        backend = WT_NONE;
        reason = env.gcstoptheworld ? "GODEBUG=gcstoptheworld=1" : "GODEBUG=gcwritetrack=none";
        return;
    }
    if (want && strcmp(want, "uffd") == 0) {
        backend = uffd_open() ? WT_UFFD : WT_NONE;
        snprintf(reason_buf, sizeof reason_buf, "GODEBUG=gcwritetrack=uffd: %s", reason);
        reason = reason_buf;
        return;
    }
    if (want && strcmp(want, "mprotect") == 0) {
        backend = mp_open(true) ? WT_MPROTECT : WT_NONE;
        snprintf(reason_buf, sizeof reason_buf, "GODEBUG=gcwritetrack=mprotect: %s", reason);
        reason = reason_buf;
        return;
    }
    const char *note = want ? " (unknown GODEBUG gcwritetrack value ignored)" : "";
    /* mprotect is not chosen by default: under it, a system call writing into
     * a protected heap page (read(2) into a gc_alloc'd buffer) fails with
     * EFAULT while marking runs, which a correct program does not expect. */
    if (uffd_open()) {
        backend = WT_UFFD;
        snprintf(reason_buf, sizeof reason_buf, "%s%s", reason, note);
    } else {
        backend = WT_NONE;
        snprintf(reason_buf, sizeof reason_buf,
                 "none: marking with the world stopped (%s; the mprotect backend is used only when "
                 "GODEBUG=gcwritetrack=mprotect asks for it, since system calls writing into the heap "
                 "would fail with EFAULT under it)%s",
                 reason, note);
    }
    reason = reason_buf;
}

/* Choose the backend, once (later calls return the first choice).  Call after
 * env_parse. */
enum writetrack_backend writetrack_init(void)
{
    pthread_once(&init_once, choose);
    return backend;
}

enum writetrack_backend writetrack_backend(void) { return backend; }

const char *writetrack_name(void)
{
    switch (backend) {
    case WT_UFFD:
        return "uffd";
    case WT_MPROTECT:
        return "mprotect";
    default:
        return "none";
    }
}

const char *writetrack_reason(void) { return reason; }

/* Register every recorded unit with a fresh userfaultfd; false if one fails. */
static bool uffd_register_all(void)
{
    for (uintptr_t t = 0; t < TOP_ENTRIES; t++) {
        wt_slot *leaf = atomic_load_explicit(&wt_top[t], memory_order_acquire);
        for (uintptr_t i = 0; leaf && i < LEAF_ENTRIES; i++) {
            struct wt_arena *ar = atomic_load_explicit(&leaf[i], memory_order_acquire);
            if (!ar)
                continue;
            uintptr_t arena = ((t << LEAF_BITS) | i) << ARENA_SHIFT;
            for (size_t u = 0; u < UNITS_PER_ARENA;) {
                if (!bit_of(ar->registered, u)) {
                    u++;
                    continue;
                }
                size_t v = u + 1;
                while (v < UNITS_PER_ARENA && bit_of(ar->registered, v))
                    v++;
                if (!uffd_register(arena + ((uintptr_t)u << WT_UNIT_SHIFT), (size_t)(v - u) << WT_UNIT_SHIFT))
                    return false;
                u = v;
            }
        }
    }
    return true;
}

/* In a fork child.  The kernel does not carry userfaultfd registration into a
 * child (nor the write-protect bits: everything reads as written), and the
 * inherited descriptors speak for the parent.  Open a new userfaultfd and
 * register the recorded arenas again; failing that, mark with the world
 * stopped.  Never mprotect: a program that chose (or got) userfaultfd may
 * read(2) into the heap, which would fail with EFAULT under mprotect.  The
 * mprotect backend is inherited whole: the handler, the protections, the
 * bitmaps. */
enum writetrack_backend writetrack_fork_child(void)
{
    pthread_mutex_init(&wt_lock, NULL);
    if (backend != WT_UFFD)
        return backend;
    close(uffd);
    close(pagemap_fd);
    uffd = pagemap_fd = -1;
    if (uffd_open() && uffd_register_all())
        return backend;
    const char *why = reason;
    if (uffd >= 0) {
        why = "userfaultfd: cannot register the heap again in a fork child";
        close(uffd);
        close(pagemap_fd);
        uffd = pagemap_fd = -1;
    }
    backend = WT_NONE;
    char was[160];
    snprintf(was, sizeof was, "%s", why); /* (why may be reason_buf) */
    snprintf(reason_buf, sizeof reason_buf, "marking with the world stopped in this fork child (%s)", was);
    reason = reason_buf;
    return backend;
}

bool writetrack_register(uintptr_t base, size_t len)
{
    switch (backend) {
    case WT_UFFD: {
        if (!uffd_register(base, len))
            return false;
        /* Only whole units are remembered for a fork child (arenas are whole). */
        uintptr_t lo = round_up(base, WT_UNIT), hi = (base + len) & ~(WT_UNIT - 1);
        if (lo < hi)
            registry_add(lo, hi - lo);
        return true;
    }
    case WT_MPROTECT:
        return registry_add(base, len);
    default:
        return false;
    }
}

bool writetrack_protect(uintptr_t base, size_t len)
{
    switch (backend) {
    case WT_UFFD:
        return uffd_protect(base, len, true);
    case WT_MPROTECT:
        return mp_protect(base, len);
    default:
        return false;
    }
}

bool writetrack_unprotect(uintptr_t base, size_t len)
{
    switch (backend) {
    case WT_UFFD:
        return uffd_protect(base, len, false);
    case WT_MPROTECT:
        return mp_unprotect(base, len);
    default:
        return false;
    }
}

const char *writetrack_page_state(uintptr_t p)
{
    struct wt_arena *ar;
    if (backend != WT_MPROTECT || !(ar = wt_lookup(p)) || !bit_of(ar->registered, unit_of(p)))
        return "";
    size_t u = unit_of(p);
    static const char *states[] = {"its unit clean (protected)", "its unit dirty",
                                   "its unit clean (protected), a hole was opened there",
                                   "its unit dirty, a hole was opened there"};
    return states[(int)bit_of(ar->dirty, u) | (int)bit_of(ar->faulted, u) << 1];
}

/* Report every written run of pages in [base, base+len) to fn and protect
 * them again.  Returns the number of written OS pages, or -1 on error. */
long writetrack_scan(uintptr_t base, size_t len, void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
    switch (backend) {
    case WT_UFFD:
        return uffd_scan(base, len, fn, arg);
    case WT_MPROTECT:
        return mp_scan(base, len, fn, arg);
    default:
        return -1;
    }
}
