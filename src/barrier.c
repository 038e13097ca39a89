/*
 * barrier.c - the write barrier: the heap's side of write tracking.
 *
 * C has no compiler-inserted write barrier.  While marking runs, the kernel
 * records which heap pages the program writes (writetrack.c, the backends),
 * and this file turns that into Go's barrier guarantee: an object marked
 * black and then written is scanned again before marking ends.  It owns
 * which pages are armed (write-tracked in this mark phase) and which are
 * fresh (taken while marking, counted as written), arming them, reading the
 * written ones back and queueing their marked objects for a rescan
 * (mark_push_rescan, mark.c), and track_lock.
 *
 * How it meets the rest: mgc.c calls barrier_start after the first pause,
 * before any object is scanned; barrier_rescan in every pre-cleaning round
 * and in the final pause; barrier_stop when marking is over, and
 * barrier_fork_child in a fork child.  A thread cache that takes a span
 * while marking calls barrier_fresh_span (cache.c, central.c); the scavenger
 * calls barrier_rearm_released after it returns pages (scavenge.c).
 *
 * Invariants: a page is armed at most once per mark phase (re-arming a page
 * whose writes are unread would forget them); a page that is neither armed
 * nor fresh holds no pointer written since the first pause that matters (a
 * free page, or a noscan span's); between cycles nothing is armed or fresh.
 */
#include "internal.h"

#include <string.h>

/*
 * Which pages are armed is kept per arena (armed[]), under track_lock.  A
 * page is armed at most once per mark phase: re-arming a page whose writes
 * are still unread would forget them.  The collector arms the pages of the
 * in-use spans that hold pointers after the first pause, before it scans any
 * object; a span a thread cache takes while marking runs is fresh instead
 * (barrier_fresh_span, below).  Whoever holds track_lock does so inside an
 * allocator section: no stop lands while it is held.  The scavenger may
 * wait for it, so it is held for a bounded piece of work at a time: arming
 * proceeds in pieces of ARM_PIECE pages, and reading the written pages needs
 * it only under the mprotect backend (whose scans round out to 64 KiB units
 * and so may touch pages being armed next door); under uffd a scan covers only
 * pages armed already, whose bits never clear while marking runs.  Every
 * protect, scan and unprotect also covers at most ARM_PIECE pages: each holds
 * the kernel's mmap lock for reading throughout, and a thread waiting to map
 * memory (or fault a page in behind such a waiter) would wait as long.
 */
#define ARM_PIECE 2048 /* 16 MiB: about 0.25 ms of the kernel's time to protect */
static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;

static inline bool page_armed(const heap_arena_t *a, size_t i)
{
    return __atomic_load_n(&a->armed[i / 64], __ATOMIC_RELAXED) >> (i % 64) & 1;
}

/* Arm the pages [first, last) of a not armed yet.  track_lock held. */
static void arm_pages(heap_arena_t *a, size_t first, size_t last)
{
    for (size_t i = first; i < last;) {
        if (page_armed(a, i)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < last && j < i + ARM_PIECE && !page_armed(a, j))
            j++;
        if (!writetrack_protect(a->base + i * PAGE_SIZE, (j - i) * PAGE_SIZE))
            tc_fatal("write tracking: cannot protect %p-%p", (void *)(a->base + i * PAGE_SIZE),
                     (void *)(a->base + j * PAGE_SIZE));
        for (size_t k = i; k < j; k++)
            __atomic_fetch_or(&a->armed[k / 64], (uint64_t)1 << (k % 64), __ATOMIC_RELAXED);
        i = j;
    }
}

static inline bool page_fresh(const heap_arena_t *a, size_t i)
{
    return __atomic_load_n(&a->fresh[i / 64], __ATOMIC_RELAXED) >> (i % 64) & 1;
}

static inline uint64_t tracked_word(const heap_arena_t *a, size_t w, bool fresh)
{
    uint64_t m = __atomic_load_n(&a->armed[w], __ATOMIC_RELAXED);
    return fresh ? m | __atomic_load_n(&a->fresh[w], __ATOMIC_RELAXED) : m;
}

/* Call fn on each run of armed pages of a (and fresh ones, if asked), in
 * pieces of at most `piece`. */
static void tracked_runs(heap_arena_t *a, size_t piece, bool fresh,
                         void (*fn)(heap_arena_t *a, size_t first, size_t last, void *arg), void *arg)
{
    for (size_t i = 0; i < PAGES_PER_ARENA;) {
        uint64_t word = tracked_word(a, i / 64, fresh) >> (i % 64);
        if (!word) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (size_t)__builtin_ctzll(word);
        size_t j = i + 1;
        while (j < PAGES_PER_ARENA && j < i + piece && (tracked_word(a, j / 64, fresh) >> (j % 64) & 1))
            j++;
        fn(a, i, j, arg);
        i = j;
    }
}

static void armed_runs(heap_arena_t *a, size_t piece, void (*fn)(heap_arena_t *a, size_t first, size_t last, void *arg),
                       void *arg)
{
    tracked_runs(a, piece, false, fn, arg);
}

/*
 * A span taken while marking is written at once, all of it: arming it ahead
 * would cost a write fault per page.  Instead its pages count as written
 * (fresh[]): each round rescans the marked objects on them, and once the
 * span has left its cache the round arms them, runs of them in one call,
 * before it queues that last rescan; from then on their writes fault as any
 * armed page's.  The final pause rescans those left.  A span whose pages are
 * all armed (in use at the first pause) needs nothing.
 */
void barrier_fresh_span(span_t *s)
{
    if (span_noscan(s))
        return; /* its writes hold no pointers */
    for (uintptr_t p = s->base, end = s->base + s->npages * PAGE_SIZE; p < end; p += PAGE_SIZE) {
        heap_arena_t *a = arena_of(p);
        size_t i = (p >> PAGE_SHIFT) % PAGES_PER_ARENA;
        if (!page_armed(a, i))
            __atomic_fetch_or(&a->fresh[i / 64], (uint64_t)1 << (i % 64), __ATOMIC_RELAXED);
    }
}

/*
 * The scavenger released [base, base + len) (free pages, in no span).  Under
 * uffd, MADV_DONTNEED drops the pages' write protection with the pages: a
 * page armed in this mark phase would then take writes unseen until the next
 * scan reports it (a page with no entry reads as written) - and on
 * transparent huge pages, kernels have misreported exactly that.  So the
 * armed ones are protected again, under track_lock: a page armed after the
 * release needs nothing (protection installs markers on empty entries).
 * Under mprotect the protection is the mapping's and survives.
 */
void barrier_rearm_released(uintptr_t base, size_t len)
{
    if (!gc_marking() || writetrack_backend() != WT_UFFD)
        return;
    gc_thread_t *t = current_thread();
    enter_alloc(t);
    pthread_mutex_lock(&track_lock);
    for (uintptr_t p = base, end = base + len; p < end;) {
        heap_arena_t *a = arena_of(p);
        size_t i = (p - a->base) / PAGE_SIZE;
        if (!page_armed(a, i)) {
            p += PAGE_SIZE;
            continue;
        }
        uintptr_t q = p + PAGE_SIZE;
        while (q < end && arena_of(q) == a && page_armed(a, (q - a->base) / PAGE_SIZE))
            q += PAGE_SIZE;
        if (!writetrack_protect(p, q - p))
            tc_fatal("write tracking: cannot protect released pages %p-%p", (void *)p, (void *)q);
        p = q;
    }
    pthread_mutex_unlock(&track_lock);
    leave_alloc(t);
}

/* Whether page i of a is worth arming at the start: a page of an in-use
 * span that holds pointers.  Free pages are not: a span made of them while
 * marking runs is fresh (barrier_fresh_span), and a noscan span's writes would
 * only cost faults. */
static bool page_armable(heap_arena_t *a, size_t i)
{
    span_t *s = a->spans[i];
    uintptr_t p = a->base + i * PAGE_SIZE;
    return s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SPAN_INUSE && !span_noscan(s) && p >= s->base &&
           p < s->base + s->npages * PAGE_SIZE;
}

#define ARM_GAP 16 /* pages between two runs that are armed with them rather than split */

static void arm_run(heap_arena_t *a, size_t first, size_t last)
{
    gc_thread_t *t = current_thread();
    for (size_t i = first; i < last; i += ARM_PIECE) {
        enter_alloc(t);
        pthread_mutex_lock(&track_lock);
        arm_pages(a, i, i + ARM_PIECE < last ? i + ARM_PIECE : last);
        pthread_mutex_unlock(&track_lock);
        leave_alloc(t);
    }
}

/* Arm the pages of the spans in use that hold pointers, after the first
 * pause and before any object is scanned.  Spans in use at the first pause
 * stay in use until the sweep, so reading the span map beside the program is
 * safe; a span made while this runs is fresh, and arming it too costs only
 * its faults. */
void barrier_start(void)
{
    for (heap_arena_t *a = arena_first(); a; a = a->next) {
        size_t used = __atomic_load_n(&a->zeroed_base, __ATOMIC_ACQUIRE) / PAGE_SIZE;
        size_t first = 0, last = 0; /* the run being gathered; empty when equal */
        for (size_t i = 0; i < used; i++) {
            if (!page_armable(a, i))
                continue;
            if (last > first && i - last > ARM_GAP) {
                arm_run(a, first, last);
                first = last = i;
            }
            if (last == first)
                first = i;
            last = i + 1;
        }
        if (last > first)
            arm_run(a, first, last);
    }
}

static void disarm_run(heap_arena_t *a, size_t first, size_t last, void *arg)
{
    (void)arg;
    writetrack_unprotect(a->base + first * PAGE_SIZE, (last - first) * PAGE_SIZE);
}

/* After mark termination: nothing is armed between cycles. */
void barrier_stop(void)
{
    gc_thread_t *t = current_thread();
    enter_alloc(t);
    pthread_mutex_lock(&track_lock);
    for (heap_arena_t *a = arena_first(); a; a = a->next) {
        armed_runs(a, ARM_PIECE, disarm_run, NULL);
        memset(a->armed, 0, sizeof a->armed);
        memset(a->fresh, 0, sizeof a->fresh);
    }
    pthread_mutex_unlock(&track_lock);
    leave_alloc(t);
}

/* A run of written pages: queue each span's part of it for a rescan of the
 * marked objects there (mark.c), only the written part of each object. */
static void rescan_written(uintptr_t start, uintptr_t end, void *arg)
{
    struct rescan *r = arg;
    for (uintptr_t p = start; p < end;) {
        uintptr_t next = (p & ~(PAGE_SIZE - 1)) + PAGE_SIZE;
        heap_arena_t *a = arena_of(p);
        span_t *s = a ? a->spans[(p >> PAGE_SHIFT) % PAGES_PER_ARENA] : NULL;
        if (s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SPAN_INUSE && p >= s->base &&
            p < s->base + s->npages * PAGE_SIZE) {
            next = s->base + s->npages * PAGE_SIZE;
            uintptr_t hi = next < end ? next : end;
            if (!span_noscan(s) && p < s->limit) {
                mark_push_rescan(p, hi < s->limit ? hi : s->limit);
                r->bytes += hi - p;
            }
        }
        p = next < end ? next : end;
    }
}

/* The written pages the scan reports, but the fresh ones: fresh_armed
 * queues those whole. */
static void rescan_written_stale(uintptr_t start, uintptr_t end, void *arg)
{
    while (start < end) {
        heap_arena_t *a = arena_of(start);
        uintptr_t p = start;
        while (p < end && !page_fresh(a, (p >> PAGE_SHIFT) % PAGES_PER_ARENA))
            p = (p & ~(PAGE_SIZE - 1)) + PAGE_SIZE;
        if (p > end)
            p = end;
        if (p > start)
            rescan_written(start, p, arg);
        while (p < end && page_fresh(a, (p >> PAGE_SHIFT) % PAGES_PER_ARENA))
            p = (p & ~(PAGE_SIZE - 1)) + PAGE_SIZE;
        start = p;
    }
}

/* Under uffd, a page never protected reads as written and the scan protects
 * what it reports, so one scan over a run of armed and fresh pages arms the
 * fresh ones too.  But a fresh page may have been protected before (by
 * barrier_start, which can meet a span made while it runs) and not written
 * since: so after the scan, with protection in place, each is queued whole,
 * then counted as armed. */
static void fresh_armed(heap_arena_t *a, size_t first, size_t last, struct rescan *r)
{
    for (size_t i = first; i < last;) {
        size_t w = i / 64, hi = (w + 1) * 64 < last ? (w + 1) * 64 : last;
        uint64_t range = (hi - i == 64 ? ~(uint64_t)0 : (((uint64_t)1 << (hi - i)) - 1)) << (i % 64);
        uint64_t m = __atomic_load_n(&a->fresh[w], __ATOMIC_RELAXED) & range;
        for (uint64_t b = m; b; b &= b - 1) {
            uintptr_t p = a->base + (w * 64 + (size_t)__builtin_ctzll(b)) * PAGE_SIZE;
            rescan_written(p, p + PAGE_SIZE, r);
        }
        if (m) {
            __atomic_fetch_or(&a->armed[w], m, __ATOMIC_RELAXED);
            __atomic_fetch_and(&a->fresh[w], ~m, __ATOMIC_RELAXED);
        }
        i = hi;
    }
}

static void scan_run(heap_arena_t *a, size_t first, size_t last, void *arg)
{
    struct rescan *r = arg;
    bool lock = writetrack_backend() == WT_MPROTECT;
    gc_thread_t *t = current_thread();
    if (lock) {
        enter_alloc(t);
        pthread_mutex_lock(&track_lock);
    }
    long n = writetrack_scan(a->base + first * PAGE_SIZE, (last - first) * PAGE_SIZE,
                             lock ? rescan_written : rescan_written_stale, r);
    if (lock) {
        pthread_mutex_unlock(&track_lock);
        leave_alloc(t);
    }
    if (n < 0)
        tc_fatal("write tracking: cannot read the written pages of %p-%p", (void *)(a->base + first * PAGE_SIZE),
                 (void *)(a->base + last * PAGE_SIZE));
    r->pages += n;
    if (!lock)
        fresh_armed(a, first, last, r);
}

/* Whether fresh page i of a may be armed now: its span has left the cache
 * that took it (or it is in no span).  A cache may take the span again
 * right after: arming first and queueing the rescan after is right either
 * way. */
static bool fresh_settled(const heap_arena_t *a, size_t i)
{
    span_t *s = a->spans[i];
    return !s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SPAN_INUSE ||
           !__atomic_load_n(&s->incache, __ATOMIC_RELAXED);
}

/* Arm the settled pages of the fresh run [first, last), then queue the
 * marked objects of the whole run for a rescan, then forget the armed ones:
 * a write before the arming is in the rescan, one after it faults. */
static void fresh_run(heap_arena_t *a, size_t first, size_t last, struct rescan *r, bool stopped)
{
    if (!stopped) {
        gc_thread_t *t = current_thread();
        enter_alloc(t);
        pthread_mutex_lock(&track_lock);
        for (size_t i = first; i < last;) {
            if (!fresh_settled(a, i)) {
                i++;
                continue;
            }
            size_t j = i + 1;
            while (j < last && fresh_settled(a, j))
                j++;
            arm_pages(a, i, j);
            i = j;
        }
        pthread_mutex_unlock(&track_lock);
        leave_alloc(t);
    }
    rescan_written(a->base + first * PAGE_SIZE, a->base + last * PAGE_SIZE, r);
    r->pages += (long)(last - first);
    if (stopped)
        return;
    for (size_t i = first; i < last; i++)
        if (page_armed(a, i))
            __atomic_fetch_and(&a->fresh[i / 64], ~((uint64_t)1 << (i % 64)), __ATOMIC_RELAXED);
}

static void fresh_runs(heap_arena_t *a, struct rescan *r, bool stopped)
{
    for (size_t i = 0; i < PAGES_PER_ARENA;) {
        uint64_t word = __atomic_load_n(&a->fresh[i / 64], __ATOMIC_RELAXED) >> (i % 64);
        if (!word) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (size_t)__builtin_ctzll(word);
        size_t j = i + 1;
        while (j < PAGES_PER_ARENA && j < i + ARM_PIECE && page_fresh(a, j))
            j++;
        fresh_run(a, i, j, r, stopped);
        i = j;
    }
}

/* Read back (and re-arm) every written armed page, and take the fresh ones;
 * queue their marked objects.  With the world stopped, nobody waits for the
 * mmap lock: whole runs. */
void barrier_rescan(struct rescan *r, bool stopped)
{
    if (unlikely(env.gctestlosewrites))
        return; /* the fault gccheckmark's test injects */
    bool uffd = writetrack_backend() == WT_UFFD;
    for (heap_arena_t *a = arena_first(); a; a = a->next) {
        tracked_runs(a, stopped ? PAGES_PER_ARENA : ARM_PIECE, uffd, scan_run, r);
        if (!uffd)
            fresh_runs(a, r, stopped);
    }
}

void barrier_fork_child(void) { pthread_mutex_init(&track_lock, NULL); }

int barrier_page_state(uintptr_t p)
{
    heap_arena_t *a = arena_of(p);
    if (!a)
        return 0;
    size_t i = (p >> PAGE_SHIFT) % PAGES_PER_ARENA;
    return (int)page_armed(a, i) | (int)page_fresh(a, i) << 1;
}
