/*
 * scavenge.c - giving free heap pages back to the OS (Go's scavenger,
 * mgcscavenge.go).
 *
 * Owns the background scavenger thread, synchronous scavenging when the heap
 * grows past the memory limit, gc_free_os_memory, and GODEBUG=scavtrace=1.
 *
 * What to keep: Go's two goals, recomputed whenever the scavenger looks.
 *   - heap pages backed by memory (in use, or free and not yet released)
 *     at most 110% of the heap goal, plus the free slots of spans in use
 *     (what the heap needs before the next collection, with a margin);
 *   - with a memory limit, everything tricolor maps and has not released
 *     (sys_retained) at most 95% of the limit.
 * The background thread releases what is over, from the top of the heap
 * down (heap.c finds the pages), in 1 MiB pieces, sleeping after each
 * for 99 times as long as the piece took: about 1% of one CPU.  It looks
 * after every collection, when the background sweep ends, when GOGC or the
 * limit change, and once a second.
 *
 * Synchronous scavenging: an allocation that makes the OS back released
 * pages again and so crosses the memory limit releases as much elsewhere
 * before it returns (scavenge_on_growth marks the debt; the allocating thread
 * pays it outside its allocator section).  While the GC CPU limiter is on,
 * only past 5% over the limit, and not at all when the live heap alone
 * exceeds the limit: then the limit is lost anyway, and the CPU is better
 * spent on the program (Go skips it whenever the limiter is on).
 *
 * Releasing: MADV_DONTNEED (the pages read as zero afterwards, and the heap
 * skips zeroing them), or MADV_FREE with GODEBUG=madvdontneed=0 (cheaper; the
 * kernel reclaims the pages only under memory pressure, so RSS stays until
 * then; the heap zeroes them on reuse).  Under write tracking, a released
 * page loses its write protection: barrier_rearm_released restores it (barrier.c).
 *
 * Invariants: one release at a time (scav_lock), so when gc_free_os_memory
 * returns no run is half-released and heap_released == heap_idle exactly;
 * a run being released is off the free lists (SPAN_SCAV, heap.c) and inside
 * a slow section, so fork() never copies one.
 */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#define BG_PIECE 128      /* pages per background release: 1 MiB */
#define SYNC_PIECE 512    /* pages per synchronous or forced release: 4 MiB */
#define SYNC_SWEEPS 4096  /* spans a synchronous scavenge may sweep to find free pages */
#define BG_SLEEP_RATIO 99 /* sleep 99x the work: 1% of a CPU */
#define BG_SLEEP_MAX_NS (100 * 1000 * 1000)
#define RETAIN_EXTRA_PERCENT 10
#define LIMIT_RETAIN_PERCENT 95

static pthread_mutex_t scav_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int advice = MADV_DONTNEED;
static _Atomic uint64_t work_bytes; /* released since the last scavtrace line */
static _Atomic uint64_t released_total; /* released ever (gc_read_metrics) */

uint64_t scavenge_released_total(void) { return atomic_load(&released_total); }

void scavenge_init(void) { atomic_store(&advice, env.madvdontneed ? MADV_DONTNEED : MADV_FREE); }

/* Release one run of at most max pages.  scav_lock held; t is the caller's
 * registered thread.  Returns the bytes released, 0 when nothing is left. */
static uint64_t release_one(gc_thread_t *t, size_t max)
{
    slow_enter(t);
    enter_alloc(t);
    span_t *r = heap_scavenge_take(max);
    leave_alloc(t);
    if (!r) {
        slow_leave(t);
        return 0;
    }
    void *base = (void *)r->base;
    size_t len = r->npages * PAGE_SIZE;
    int adv = atomic_load(&advice);
    bool ok = madvise(base, len, adv) == 0;
    if (!ok && adv == MADV_FREE && errno == EINVAL) { /* a kernel without MADV_FREE: Go falls back too */
        atomic_store(&advice, MADV_DONTNEED);
        ok = madvise(base, len, MADV_DONTNEED) == 0;
    }
    if (ok)
        barrier_rearm_released(r->base, len);
    enter_alloc(t);
    heap_scavenge_put(r, ok);
    leave_alloc(t);
    slow_leave(t);
    if (!ok)
        return 0;
    atomic_fetch_add(&work_bytes, len);
    atomic_fetch_add(&released_total, len);
    return len;
}

/* Bytes over the goals, now. */
static uint64_t excess(void)
{
    uint64_t over = 0;
    uint64_t goal = atomic_load(&heap_goal);
    if (goal != UINT64_MAX) {
        uint64_t heap_sys = atomic_load(&sys_bytes[SYS_HEAP]);
        uint64_t released = atomic_load(&heap_released_bytes);
        uint64_t retained = heap_sys > released ? heap_sys - released : 0;
        uint64_t inuse = atomic_load(&heap_inuse_pages) * PAGE_SIZE;
        int64_t objects = atomic_load(&heap_alloc_bytes);
        uint64_t slack = inuse > (uint64_t)(objects > 0 ? objects : 0) ? inuse - (uint64_t)objects : 0;
        uint64_t keep = goal + goal / 100 * RETAIN_EXTRA_PERCENT + slack;
        if (keep < goal)
            keep = UINT64_MAX;
        if (retained > keep)
            over = retained - keep;
    }
    int64_t limit = atomic_load(&memory_limit);
    if (limit != INT64_MAX) {
        uint64_t keep = (uint64_t)limit / 100 * LIMIT_RETAIN_PERCENT, retained = sys_retained();
        if (retained > keep && retained - keep > over)
            over = retained - keep;
    }
    return over;
}

/* ---- the background scavenger ---------------------------------------------- */

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond;
static bool bg_started, bg_failed;
static _Atomic bool bg_wake;

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

static void *bg_scavenger(void *arg)
{
    (void)arg;
    gc_thread_t *t = thread_register_self(true);
    if (!t)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&bg_lock);
        if (!atomic_load(&bg_wake)) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&bg_cond, &bg_lock, &ts);
        }
        atomic_store(&bg_wake, false);
        pthread_mutex_unlock(&bg_lock);
        for (;;) {
            uint64_t over = excess();
            if (over == 0)
                break;
            size_t pages = (over + PAGE_SIZE - 1) / PAGE_SIZE;
            uint64_t c0 = thread_cputime();
            pthread_mutex_lock(&scav_lock);
            uint64_t got = release_one(t, pages < BG_PIECE ? pages : BG_PIECE);
            pthread_mutex_unlock(&scav_lock);
            if (!got)
                break;
            pacer_update();
            uint64_t nap = (thread_cputime() - c0) * BG_SLEEP_RATIO;
            sleep_ns(nap < BG_SLEEP_MAX_NS ? nap : BG_SLEEP_MAX_NS);
        }
    }
    return NULL;
}

void scavenge_wake(void)
{
    if (atomic_load_explicit(&bg_wake, memory_order_relaxed))
        return;
    pthread_mutex_lock(&bg_lock);
    if (!bg_started && !bg_failed) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&bg_cond, &ca);
        pthread_condattr_destroy(&ca);
        bg_started = thread_start_internal(bg_scavenger, true);
        bg_failed = !bg_started; /* then only the synchronous paths release memory */
    }
    atomic_store(&bg_wake, true);
    if (bg_started)
        pthread_cond_signal(&bg_cond);
    pthread_mutex_unlock(&bg_lock);
}

/* ---- synchronous scavenging -------------------------------------------------- */

void scavenge_on_growth(uint64_t bytes)
{
    (void)bytes;
    pacer_update();
    int64_t limit = atomic_load_explicit(&memory_limit, memory_order_relaxed);
    if (limit == INT64_MAX)
        return;
    uint64_t retained = sys_retained();
    gc_thread_t *t = tls_thread;
    /* While the limiter is on, only past 5% over the limit (releasing pages
     * the heap takes back at once cost the program a third of its speed in
     * the memlimit benchmark); not at all when the live heap alone exceeds
     * the limit: then the limit is lost anyway, and the CPU is the program's. */
    uint64_t bound = (uint64_t)limit;
    bool give_up = false;
    if (limiter_on()) {
        give_up = atomic_load_explicit(&heap_cap, memory_order_relaxed) == UINT64_MAX;
        bound += bound / 20;
    }
    if (retained > bound && t && !give_up) {
        uint64_t need = retained - (uint64_t)limit;
        if (need > t->scav_need)
            t->scav_need = need;
        t->gc_wanted |= GC_WANT_SCAVENGE;
    } else if (retained > (uint64_t)limit / 100 * LIMIT_RETAIN_PERCENT && !atomic_load(&bg_wake)) {
        t = tls_thread;
        if (t)
            t->gc_wanted |= GC_WANT_SCAVENGE; /* wake the background scavenger, outside the section */
    }
}

void scavenge_pay(gc_thread_t *t)
{
    uint64_t need = t->scav_need;
    t->scav_need = 0;
    if (need) {
        /* Free pages first; when there are none, sweep (which frees the
         * spans of dead objects) and try again: right after a collection the
         * heap's free memory is in spans not yet swept. */
        uint64_t done = 0;
        for (int sweeps = 0; done < need && sweeps <= SYNC_SWEEPS;) {
            pthread_mutex_lock(&scav_lock);
            uint64_t got = 0;
            while (done < need) {
                size_t pages = (need - done + PAGE_SIZE - 1) / PAGE_SIZE;
                if (!(got = release_one(t, pages < SYNC_PIECE ? pages : SYNC_PIECE)))
                    break;
                done += got;
            }
            pthread_mutex_unlock(&scav_lock);
            int n = 0;
            while (done < need && n < 16 && sweep_one_section(t))
                n++;
            if (n == 0)
                break;
            sweeps += n;
        }
        pacer_update();
    }
    scavenge_wake();
}

uint64_t scavenge_all(gc_thread_t *t)
{
    uint64_t done = 0, got;
    pthread_mutex_lock(&scav_lock);
    while ((got = release_one(t, SYNC_PIECE)))
        done += got;
    pthread_mutex_unlock(&scav_lock);
    pacer_update();
    return done;
}

/* Go's line: scav <work> KiB work, <total> KiB total, <util>% util, where
 * work is what was released since the last line, total all that is
 * released now, and util the share of retained heap memory in use. */
void scavenge_trace(bool forced)
{
    if (!env.scavtrace)
        return;
    uint64_t work = atomic_exchange(&work_bytes, 0);
    uint64_t heap_sys = atomic_load(&sys_bytes[SYS_HEAP]), released = atomic_load(&heap_released_bytes);
    uint64_t retained = heap_sys > released ? heap_sys - released : 0;
    uint64_t inuse = atomic_load(&heap_inuse_pages) * PAGE_SIZE;
    tc_trace("scav %llu KiB work, %llu KiB total, %llu%% util%s", (unsigned long long)(work >> 10),
             (unsigned long long)(released >> 10), (unsigned long long)(retained ? inuse * 100 / retained : 0),
             forced ? " (forced)" : "");
}

void gc_free_os_memory(void)
{
    gc_collect();
    gc_thread_t *t = current_thread();
    if (!t)
        return;
    scavenge_all(t);
    scavenge_trace(true);
}

void scavenge_fork_child(void)
{
    pthread_mutex_init(&scav_lock, NULL);
    pthread_mutex_init(&bg_lock, NULL);
    bg_started = bg_failed = false;
    atomic_store(&bg_wake, false);
}
