/*
 * mgc.c - the collection cycle.
 *
 * tricolor's collector is a non-moving, conservative, tri-color mark-and-sweep
 * collector after Go's (src/runtime/mgc.go).  Marking runs beside the program.
 * C has no compiler-inserted write barrier, so the kernel plays its part: it
 * records which heap pages the program writes while marking runs
 * (writetrack.c, barrier.c), and the collector rescans the marked objects on them: the
 * "mostly parallel" collection of Boehm, Demers and Shenker, with pre-cleaning.
 *
 * The cycle, as numbered phases:
 *
 *  1. Trigger.  An allocating thread that takes a fresh span (or a large
 *     object) checks heap_live against the trigger the pacer set (pacer.c),
 *     a little below the goal so that marking finishes near it.  The thread
 *     wakes the background collector thread and goes on.  gc_collect() runs a
 *     cycle itself and waits for it.  One cycle runs at a time (gc_lock).
 *
 *  2. Sweep termination: the previous cycle's sweeping is finished, since a
 *     span must be swept before its mark bits can be reused.
 *
 *  3. The first stop-the-world (short).  Every thread cache is flushed to
 *     central, the phase becomes GC_MARK (allocate-black on, see below), and
 *     every thread's stack, registers and TLS blocks are scanned: what they
 *     point to is shaded gray, nothing is drained.  The world restarts.
 *
 *  4. Concurrent mark.  Write tracking is armed on every used heap page
 *     before any object is scanned, so a write into an object after its scan
 *     is always recorded.  The globals and registered roots are scanned, then
 *     the gray set is drained by 25% of the CPUs (Go's rule, at least one:
 *     the collector thread and helpers).  Allocating threads assist: each
 *     byte allocated while marking owes scan work in proportion to what is
 *     left to scan over the heap left before the goal; past the hard goal
 *     (10% over) they wait for the cycle.
 *
 *  5. Pre-cleaning rounds, still concurrent: read the written pages back,
 *     re-arming them in the same step, rescan the marked objects on them
 *     (only the written pages of a large object) and drain.  Repeat while the
 *     rescanned bytes are many and shrinking, at most PRECLEAN_MAX_ROUNDS.
 *
 *  6. Mark termination, the second stop-the-world: flush the caches, rescan
 *     every root (stacks, registers, TLS, globals, registered regions) and
 *     the pages written since the last round; drain with every CPU.  With
 *     GODEBUG=gccheckmark=1, mark once more from every root, whole, and stop
 *     if that finds an object this mark missed (checkmark.c).
 *     sweepgen += 2 makes every span unswept at once; heap_live becomes the
 *     marked bytes and the pacer sets the next goal.  The world restarts and
 *     write tracking is disarmed.
 *
 *  7. Sweep, concurrently: allocating threads sweep the spans they need, the
 *     background sweeper the rest.  gc_collect() sweeps everything first.
 *
 * Allocate-black: a span a thread cache takes while marking is flagged
 * black, and its cache marks each window of free slots as it loads it, so an
 * object allocated while marking is never white and never needs scanning:
 * what the program stores into it is caught by write tracking like any other
 * store.  For that, the pages of every span in use that holds pointers are
 * armed at the start.  A span made while marking runs (or a large object)
 * is fresh instead: its pages count as written, every round rescans them,
 * and a round arms them once its cache has let go of them (barrier_fresh_span, barrier.c).
 *
 * Pacing the program: allocating threads assist in proportion to what they
 * allocate, after claiming the scan work the background workers did (Go's
 * background credit); past 1.1x the goal they help or wait a little, at
 * most 0.3 ms a time; past 1.25x they wait for the cycle.
 *
 * With no write-tracking backend (GODEBUG=gcstoptheworld=1, or a kernel and
 * platform with neither userfaultfd nor mprotect), phases 3-6 run as one
 * stop-the-world: the core's collector.  So does a cycle whose mark the
 * pacer predicts to be short (a small heap: pacer.c, GODEBUG=gcstwbudget);
 * the thread that reaches the trigger then runs it.
 *
 * Invariants: the phase changes only with the world stopped, so a thread in
 * an allocator section sees one phase throughout; while the world is stopped
 * no thread is inside an allocator section, so every span is on a central
 * list; between cycles, every span on a list is swept or unswept as its list
 * says, no span is black, and no page is armed.
 */
#include "internal.h"

#include <link.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int nprocs = 1;
static bool concurrent;          /* a write-tracking backend works */
static _Atomic bool assists_on;  /* tracking armed: assists may scan */

#define PRECLEAN_MAX_ROUNDS 24
#define PRECLEAN_SMALL (256 << 10) /* written bytes that may as well wait for the final pause */
#define THROTTLE_MAX_US 400
#define SHADOW_MIN ((uint64_t)64 << 20) /* shadows of big pointer arrays: at least this much, or a quarter of the heap */
static _Atomic int throttle_us; /* pre-cleaning is not converging: allocating threads wait this long */

static void short_sleep(void)
{
    struct timespec ts = {0, 50 * 1000};
    nanosleep(&ts, NULL);
}

static void init(void)
{
    env_parse();
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    nprocs = n > 0 ? (int)n : 1;
    gstats.start_ns = nanotime();
    gstats.start_cpu_ns = process_cputime();
    concurrent = writetrack_init() != WT_NONE;
    if (env.gctrace)
        tc_trace("tricolor: write tracking %s: %s", writetrack_name(), writetrack_reason());
    arena_init();
    heap_init();
    central_init();
    mark_init();
    special_init();
    finalize_init();
    limiter_init(nprocs);
    scavenge_init();
    pacer_init();
    pacer_set_concurrent(concurrent);
    profile_init();
    threads_init();
    roots_init();
    pprof_init();
}

void gc_init_once(void) { pthread_once(&init_once, init); }

int gc_nprocs(void) { return nprocs; }

struct cycle {
    bool forced, done;
    uint64_t t0, t1, t2, t3;      /* start, world restarted, mark done (world stopped), world restarted */
    uint64_t heap0, heap1, marked, goal; /* heap_live at start and at mark end, marked bytes, next goal */
    uint64_t trigger;                    /* the trigger this cycle started at */
    uint64_t stack_bytes;
    unsigned nprog; /* the program's threads stopped in the pauses */
    uint64_t rounds, round_bytes, final_bytes; /* pre-cleaning rounds; bytes rescanned in them / in the final pause */
    uint64_t final_pages;
    uint64_t stop_ns, roots_ns, rescan_ns, drain_ns; /* the final pause, phase by phase */
    uint64_t throttle_us; /* the wait allocating threads were given at the end */
    bool limited;         /* the GC CPU limiter was on during the cycle */
    bool stw;             /* marked with the world stopped */
    uint64_t predicted_ns; /* the pacer's prediction of that pause */
    uint64_t budget_ns;    /* and the budget it was held to */
};

/* ---- the phases ----------------------------------------------------------- */

/*
 * The stack of the program thread running the collection (gc_collect, say):
 * only the frames above gc_run, whose entry spilled the caller's registers
 * into its frame.  The collector's own frames below hold stale copies of the
 * addresses it handled - objects it found unreachable among them (the walk
 * over finalizers computes their addresses) - and scanning them would keep
 * those alive.
 */
static uintptr_t run_sp; /* gc_run's stack pointer, under gc_lock */
uintptr_t gc_run_sp(void) { return run_sp; }
struct ext_hooks ext_hooks;

/* bdwgc's collection events (GC_set_on_collection_event), for the layer. */
enum { EV_START, EV_MARK_START, EV_MARK_END, EV_RECLAIM_START, EV_RECLAIM_END, EV_END, EV_PRE_STOP_WORLD,
       EV_POST_STOP_WORLD, EV_PRE_START_WORLD, EV_POST_START_WORLD };
static inline void gc_event(int e)
{
    if (ext_hooks.event)
        ext_hooks.event(e);
}

static void post_start_event(void) { gc_event(EV_POST_START_WORLD); }

/* start_the_world with the events around it; "started" is reported when
 * the world may run, before the wake-up (which may let a woken thread take
 * this CPU first), where the pause ends in gctrace too. */
static uint64_t start_world_events(void)
{
    gc_event(EV_PRE_START_WORLD);
    threads_restart_hook = ext_hooks.event ? post_start_event : NULL;
    uint64_t t = start_the_world();
    threads_restart_hook = NULL;
    return t;
}
_Atomic uint64_t last_marked_bytes;
_Atomic bool gc_disabled;


static void mark_threads(struct cycle *c)
{
    gc_thread_t *self = tls_thread;
    c->stack_bytes = 0;
    c->nprog = 0;
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        /* The library's own threads (the sweeper, the collector) hold no
         * program pointers, only stale internal values that could retain
         * dead objects. */
        if (t->dead || t->internal)
            continue;
        if (t != self)
            c->nprog++;
        if (t == self) {
            threads_mark_stack(t, run_sp);
        } else if (atomic_load(&t->bstate) == T_HELD) {
            /* In gc_do_blocking (its registers in the frame at block_sp) or
             * parked by thread_suspend (its registers saved). */
            c->stack_bytes += threads_mark_stack(t, t->block_sp);
            if (atomic_load(&t->suspend_req)) {
                mark_range((uintptr_t)t->regs, (uintptr_t)(t->regs + 64));
                mark_range(t->sig_lo, t->sig_hi);
            }
        } else {
            c->stack_bytes += threads_mark_stack(t, t->stop_sp);
            mark_range((uintptr_t)t->regs, (uintptr_t)(t->regs + 64));
            mark_range(t->sig_lo, t->sig_hi); /* the signal frame, if the stop ran on a signal stack */
        }
        roots_mark_tls(t->tp);
    }
    threads_mark_pending();
    threads_mark_coroutines();
    if (ext_hooks.extra_roots)
        ext_hooks.extra_roots();
}

static void flush_caches(void)
{
    for (gc_thread_t *t = thread_list; t; t = t->next)
        cache_flush(&t->cache);
}

/* Mark termination's bookkeeping, world stopped. */
static void finish_mark(struct cycle *c)
{
    uint64_t black;
    if (ext_hooks.mark_done)
        ext_hooks.mark_done();
    special_mark_done();
    profile_next_cycle();
    c->marked = mark_take_marked_bytes(&black);
    atomic_store(&spans_unswept, (int64_t)atomic_load(&nspans_inuse));
    atomic_fetch_add(&heap_sweepgen, 2);
    uint64_t live = (uint64_t)atomic_load(&heap_live);
    c->heap1 = live;
    atomic_store(&heap_live, (int64_t)c->marked);
    atomic_store(&last_marked_bytes, c->marked);
    if (c->stw)
        pacer_stw_measured(c->marked, c->drain_ns, c->t1 - c->t0);
    else
        pacer_concurrent_measured(c->marked, c->round_bytes + c->final_bytes, c->t1 - c->t0);
    /* The runway the next trigger leaves: what the heap grew by from this
     * cycle's trigger (or its start, if earlier) to the end of its mark.
     * From the start only, a cycle that began late (the collector thread
     * waiting for a CPU, the sweep finishing) would measure a short mark
     * and set the next trigger later still. */
    uint64_t from = c->trigger < c->heap0 ? c->trigger : c->heap0;
    pacer_end_cycle(c->marked, black, live > from ? live - from : 0);
    c->goal = atomic_load(&heap_goal);
}

/* The whole cycle with the world stopped, inside dl_iterate_phdr's lock. */
static int cycle_stw(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info;
    (void)size;
    struct cycle *c = data;
    if (c->done)
        return 1;
    c->done = true;
    pthread_mutex_lock(&threads_lock);
    gc_event(EV_PRE_STOP_WORLD);
    stop_the_world();
    gc_event(EV_POST_STOP_WORLD);
    flush_caches();
    pool_cleanup();
    c->heap0 = (uint64_t)atomic_load(&heap_live);
    roots_mark_globals();
    roots_mark_registered();
    mark_threads(c);
    special_mark_roots();
    finq_mark();
    c->t1 = c->t2 = nanotime();
    mark_drain(mark_max_workers());
    if (ext_hooks.marked_reachable)
        ext_hooks.marked_reachable();
    if (special_mark_unordered())
        mark_drain(mark_max_workers());
    c->drain_ns = nanotime() - c->t2;
    finish_mark(c);
    c->t3 = start_world_events();
    pthread_mutex_unlock(&threads_lock);
    return 1;
}

/* Phase 6, mark termination, inside dl_iterate_phdr's lock (the globals). */
static int cycle_terminate(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info;
    (void)size;
    struct cycle *c = data;
    if (c->done)
        return 1;
    c->done = true;
    pthread_mutex_lock(&threads_lock);
    c->t2 = nanotime();
    gc_event(EV_PRE_STOP_WORLD);
    stop_the_world();
    gc_event(EV_POST_STOP_WORLD);
    uint64_t t = nanotime();
    c->stop_ns = t - c->t2;
    atomic_store(&assists_on, false);
    flush_caches();
    roots_mark_globals();
    roots_mark_registered();
    mark_threads(c);
    uint64_t t_roots = nanotime();
    c->roots_ns = t_roots - t;
    struct rescan r = {0};
    barrier_rescan(&r, true);
    if (ext_hooks.kind_roots)
        ext_hooks.kind_roots(true);
    c->final_pages = (uint64_t)r.pages;
    c->final_bytes = r.bytes;
    uint64_t t_rescan = nanotime();
    c->rescan_ns = t_rescan - t_roots;
    mark_drain(mark_max_workers());
    if (ext_hooks.marked_reachable)
        ext_hooks.marked_reachable();
    if (special_mark_unordered())
        mark_drain(mark_max_workers());
    c->drain_ns = nanotime() - t_rescan;
    if (env.gccheckmark && checkmark_begin()) {
        /* The roots of a stop-the-world cycle, whole. */
        struct cycle scratch = {0};
        roots_mark_globals_all();
        roots_mark_registered();
        mark_threads(&scratch);
        special_mark_roots();
        finq_mark();
        mark_drain(mark_max_workers());
        checkmark_end();
    }
    finish_mark(c);
    atomic_store(&gc_phase, GC_OFF);
    c->t3 = start_world_events();
    pthread_mutex_unlock(&threads_lock);
    return 1;
}

static int background_workers(void)
{
    int n = (nprocs + 2) / 4; /* Go: 25% of the CPUs, rounded */
    return n < 1 ? 1 : n;
}

/* Drain until no gray work is left anywhere: an assist may hold a buffer
 * (a large object's remaining chunks, say) when the drain runs dry, and the
 * final pause should not inherit it. */
static void drain_quiet(int nw)
{
    for (int i = 0; i < 10000; i++) {
        mark_drain(nw);
        if (mark_quiet())
            return;
        if (!mark_has_work())
            short_sleep();
    }
}

static void cycle_concurrent(struct cycle *c)
{
    uint64_t live = (uint64_t)atomic_load(&heap_live);
    uint64_t cap = live / 4 > SHADOW_MIN ? live / 4 : SHADOW_MIN;
    /* Shadows are memory too: under a memory limit, at most half the room
     * left below it, or 3% of the limit when the heap presses on it (the
     * limit's goal keeps that much headroom). */
    int64_t limit = atomic_load(&memory_limit);
    if (limit != INT64_MAX) {
        uint64_t retained = sys_retained();
        uint64_t room = (uint64_t)limit > retained ? ((uint64_t)limit - retained) / 2 : 0;
        if (room < (uint64_t)limit / 100 * 3)
            room = (uint64_t)limit / 100 * 3;
        if (cap > room)
            cap = room;
    }
    mark_shadows_start(cap);

    /* Phase 3: the first, short stop. */
    pthread_mutex_lock(&threads_lock);
    gc_event(EV_PRE_STOP_WORLD);
    stop_the_world();
    gc_event(EV_POST_STOP_WORLD);
    flush_caches();
    pool_cleanup();
    c->heap0 = (uint64_t)atomic_load(&heap_live);
    atomic_store(&gc_phase, GC_MARK);
    mark_threads(c);
    if (ext_hooks.kind_roots)
        ext_hooks.kind_roots(false);
    c->t1 = start_world_events();
    pthread_mutex_unlock(&threads_lock);

    /* Phase 4: arm tracking before any object is scanned. */
    barrier_start();
    mark_reset_credit();
    atomic_store(&assists_on, true);
    roots_track_globals();
    roots_mark_registered();
    special_mark_roots();
    finq_mark();
    int nw = background_workers();
    drain_quiet(nw);

    /* Phase 5: pre-cleaning, until what a round finds written is small.  A
     * program writing faster than the rounds rescan never gets there: then
     * allocating threads are slowed, by short waits (each well under a
     * millisecond, so the program never sees a long gap) that grow while the
     * rounds fail to halve what they find. */
    uint64_t prev = UINT64_MAX;
    for (int round = 0; round < PRECLEAN_MAX_ROUNDS; round++) {
        struct rescan r = {0};
        barrier_rescan(&r, false);
        roots_rescan_globals();
        c->rounds++;
        c->round_bytes += r.bytes;
        drain_quiet(nw);
        if (r.bytes <= PRECLEAN_SMALL)
            break;
        if (r.bytes > prev / 2) {
            int t = atomic_load(&throttle_us);
            atomic_store(&throttle_us, t ? (t * 2 < THROTTLE_MAX_US ? t * 2 : THROTTLE_MAX_US) : 50);
        }
        prev = r.bytes;
    }
    c->throttle_us = (uint64_t)atomic_exchange(&throttle_us, 0);

    /* Phase 6. */
    c->done = false;
    dl_iterate_phdr(cycle_terminate, c);
    barrier_stop();
    roots_untrack_globals();
    mark_shadows_end();
}

static void record_cycle(struct cycle *c, uint64_t cpu)
{
    struct gc_stats *g = &gstats;
    uint64_t stw1 = c->t1 - c->t0, stw2 = c->t3 - c->t2;
    uint64_t pause = stw1 + stw2;
    uint32_t i = g->num_gc % 256;
    pthread_mutex_lock(&stats_lock);
    g->pause_ns[i] = pause;
    g->pause_end[i] = walltime();
    g->pause_total_ns += pause;
    if (stw1 > g->max_pause_phase_ns)
        g->max_pause_phase_ns = stw1;
    if (stw2 > g->max_pause_phase_ns)
        g->max_pause_phase_ns = stw2;
    g->last_gc = g->pause_end[i];
    g->gc_cpu_ns += cpu;
    g->num_gc++;
    if (c->forced)
        g->num_forced_gc++;
    pthread_mutex_unlock(&stats_lock);
    if (!env.gctrace)
        return;
    /* Go's line: gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu,
     * #->#-># MB, # MB goal, # MB stacks, # MB globals, # P
     * The clock figures are the first pause, the concurrent mark and the
     * final pause.  The mark phase's CPU is the cycle's CPU (all workers and
     * assists are not told apart) less the two pauses. */
    uint64_t stw = stw1 + stw2;
    char a[16], b[16], d[16], f[16];
    fmt_ms(a, sizeof a, stw1);
    fmt_ms(b, sizeof b, c->t2 - c->t1);
    fmt_ms(d, sizeof d, stw2);
    fmt_ms(f, sizeof f, cpu > stw ? cpu - stw : 0);
    uint64_t elapsed = nanotime() - g->start_ns;
    unsigned pct = elapsed ? (unsigned)(g->gc_cpu_ns * 100 / (elapsed * (uint64_t)nprocs)) : 0;
    const uint64_t MB = 1 << 20;
    tc_trace("gc %u @%.3fs %u%%: %s+%s+%s ms clock, %s+0/%s/0+%s ms cpu, %llu->%llu->%llu MB, %llu MB goal, "
             "%llu MB stacks, %llu MB globals, %d P%s%s",
             g->num_gc, (double)elapsed / 1e9, pct, a, b, d, a, f, d, (unsigned long long)(c->heap0 / MB),
             (unsigned long long)(c->heap1 / MB), (unsigned long long)(c->marked / MB),
             (unsigned long long)(c->goal / MB), (unsigned long long)(c->stack_bytes / MB),
             (unsigned long long)(roots_globals_bytes() / MB), nprocs, c->forced ? " (forced)" : "",
             c->limited ? " (limited)" : "");
    if (c->stw && env.gctrace > 1)
        tc_trace("gc %u marked with the world stopped: predicted %llu us, budget %llu us, pause %llu us, drain %llu us "
                 "for %llu KB",
                 g->num_gc, (unsigned long long)(c->predicted_ns / 1000), (unsigned long long)(c->budget_ns / 1000),
                 (unsigned long long)(pause / 1000),
                 (unsigned long long)(c->drain_ns / 1000), (unsigned long long)(c->marked >> 10));
    else if (concurrent && env.gctrace > 1)
        tc_trace("gc %u pre-cleaning (%s): %llu rounds rescanned %llu KB; final pause rescanned %llu written pages, "
                 "%llu KB; final pause %llu us: stop %llu, roots %llu, rescan %llu, drain %llu; throttle %llu us; "
                 "a world-stopped mark predicted %llu us, budget %llu us",
                 g->num_gc, writetrack_name(), (unsigned long long)c->rounds,
                 (unsigned long long)(c->round_bytes >> 10), (unsigned long long)c->final_pages,
                 (unsigned long long)(c->final_bytes >> 10), (unsigned long long)(stw2 / 1000),
                 (unsigned long long)(c->stop_ns / 1000), (unsigned long long)(c->roots_ns / 1000),
                 (unsigned long long)(c->rescan_ns / 1000), (unsigned long long)(c->drain_ns / 1000),
                 (unsigned long long)c->throttle_us, (unsigned long long)(c->predicted_ns / 1000),
                 (unsigned long long)(c->budget_ns / 1000));
}

static NOINLINE void run(bool forced);

/* A collection in the calling thread.  That thread's stack is scanned from
 * inside run()'s frame (run_sp), so a slot of that frame that run() has
 * not written yet would be read with whatever a dead frame of the program
 * left there (a deep recursion's pointer, say: it kept a whole dropped tree
 * alive).  Wipe the dead stack that run()'s frame will occupy first. */
NOINLINE void gc_run(bool forced)
{
    stack_wipe();
    run(forced);
}

static NOINLINE void run(bool forced)
{
    __builtin_unwind_init(); /* the caller's registers, into this frame: see run_sp */
    current_thread();
    pthread_mutex_lock(&gc_lock);
    run_sp = current_sp();
    if ((!forced && !pacer_should_trigger()) || atomic_load(&gc_disabled)) {
        pthread_mutex_unlock(&gc_lock);
        return;
    }
    if (ext_hooks.cycle_start)
        ext_hooks.cycle_start();
    gc_event(EV_START);
    mark_start_helpers();
    struct cycle c = {.forced = forced, .trigger = atomic_load(&heap_trigger)};
    sweep_finish();
    uint64_t cpu0 = thread_cputime();
    c.t0 = nanotime();
    c.stw = !concurrent || pacer_next_stw(&c.predicted_ns, &c.budget_ns);
    if (c.stw)
        dl_iterate_phdr(cycle_stw, &c);
    else
        cycle_concurrent(&c);
    uint64_t cpu = thread_cputime() - cpu0 + mark_take_helper_cpu();
    /* The limiter's view: the collector's CPU, and the program's threads
     * stopped for the pauses. */
    uint64_t own = tls_thread && tls_thread->internal ? 0 : thread_cputime() - cpu0; /* (watched threads count themselves) */
    limiter_add(own + ((c.t1 - c.t0) + (c.t3 - c.t2)) * c.nprog, own);
    limiter_update(true);
    c.limited = limiter_take_cycle_flag();
    record_cycle(&c, cpu);
    scavenge_trace(false);
    profile_flush();
    gc_event(EV_END);
    pthread_mutex_unlock(&gc_lock);
    sweep_start_background();
    scavenge_wake();
    finalize_after_gc();
}

/* ---- assists ---------------------------------------------------------------- */

/*
 * An allocating thread pays for what it allocated while marking with scan
 * work: debt * (scan work left) / (heap left before the goal), Go's assist
 * ratio, with the work left estimated from the last cycle's marked bytes.
 * The work is done in bounded chunks, each inside an allocator section so
 * that mark termination never stops a thread holding mark queue state.
 */
#define ASSIST_CHUNK (16 << 10) /* scan work per allocator section: bounds a stop's latency */
#define ASSIST_MAX (512 << 10)  /* scan work per call: a bound on the gap it makes */
#define WAIT_MAX_NS (300 * 1000) /* the longest wait per call */

static uint64_t hard_goal(uint64_t goal)
{
    if (atomic_load_explicit(&limit_binding, memory_order_relaxed))
        return goal; /* the memory limit's goal: no overshoot (Go's rule) */
    return goal > UINT64_MAX / 2 ? UINT64_MAX : goal + goal / 10;
}

/* Past this the program waits, however long, for the cycle: memory before
 * latency, or a memory limit would not hold while marking falls behind. */
static uint64_t block_goal(uint64_t goal)
{
    if (atomic_load_explicit(&limit_binding, memory_order_relaxed))
        return goal;
    return goal > UINT64_MAX / 2 ? UINT64_MAX : goal + goal / 4;
}

/* Until assists begin nothing makes an allocating thread pay for what it
 * allocates: not before the cycle starts, and not while its first pause and
 * the arming of write tracking run (no object may be scanned before its page
 * is armed).  Arming a 50 MB heap took 9-27 ms with four threads allocating
 * beside it (bench/mt_alloc.c), and they grew the heap by up to 50 MB
 * meanwhile.  So past the hard goal the thread waits a little, and past
 * block_goal until assists begin or the cycle is over, as it would in an
 * assist. */
static void wait_for_assists(void)
{
    uint64_t t0 = nanotime();
    for (;;) {
        uint64_t live = (uint64_t)atomic_load(&heap_live), goal = atomic_load(&heap_goal);
        if (atomic_load_explicit(&assists_on, memory_order_relaxed) || live <= hard_goal(goal) ||
            (!gc_marking() && !pacer_should_trigger()) || limiter_yields() ||
            (live <= block_goal(goal) && nanotime() - t0 >= WAIT_MAX_NS))
            break;
        short_sleep();
        limiter_update(false);
    }
}

/* One bounded piece of assist work; 0 when there was none. */
static uint64_t assist_chunk(gc_thread_t *t, uint64_t budget)
{
    enter_alloc(t);
    uint64_t done = 0;
    if (atomic_load_explicit(&assists_on, memory_order_relaxed))
        done = mark_assist(t->gcw, budget < ASSIST_CHUNK ? budget : ASSIST_CHUNK);
    leave_alloc(t);
    return done;
}

void gc_assist(gc_thread_t *t)
{
    int64_t debt = t->assist_debt;
    t->assist_debt = 0;
    if (debt <= 0 || t->internal)
        return;
    if (!atomic_load_explicit(&assists_on, memory_order_relaxed)) {
        if (gc_marking())
            wait_for_assists(); /* tracking is being armed */
        if (!atomic_load_explicit(&assists_on, memory_order_relaxed))
            return;
    }
    limiter_update(false);
    if (limiter_yields())
        return; /* the collector has had half the CPU for a while: the program goes first */
    uint64_t a0 = nanotime(), slept = 0;
    if (!t->gcw && !(t->gcw = mark_new_gcwork()))
        return;
    uint64_t live = (uint64_t)atomic_load(&heap_live), goal = atomic_load(&heap_goal);
    uint64_t expect = pacer_heap_marked(), scanned = atomic_load(&mark_scanned);
    uint64_t left = expect > scanned ? expect - scanned : expect / 8;
    uint64_t runway = goal > live ? goal - live : 0;
    if (runway < goal / 32)
        runway = goal / 32;
    if (runway == 0)
        runway = 1;
    double ratio = (double)left / (double)runway;
    if (ratio > 64)
        ratio = 64;
    uint64_t budget = (uint64_t)((double)debt * ratio);
    budget -= mark_take_credit(budget);
    if (budget > ASSIST_MAX)
        budget = ASSIST_MAX;
    while (budget > 0 && mark_has_work()) {
        uint64_t done = assist_chunk(t, budget);
        if (done == 0)
            break;
        budget = done >= budget ? 0 : budget - done;
    }
    /* Past the hard goal (Go's: 10% over the goal), or while pre-cleaning
     * cannot keep up with the program's writes, the thread helps or waits a
     * little: slowed, never stopped for long.  Go parks an assist with no
     * credit until the cycle ends; that would be a long gap here, so only
     * past block_goal does the thread wait for the cycle to end. */
    uint64_t t0 = nanotime(), wait = (uint64_t)atomic_load(&throttle_us) * 1000;
    for (;;) {
        uint64_t live_now = (uint64_t)atomic_load(&heap_live);
        bool over = live_now > hard_goal(goal), blocked = live_now > block_goal(goal);
        uint64_t waited = nanotime() - t0;
        if (!atomic_load_explicit(&assists_on, memory_order_relaxed) ||
            (!blocked && (waited >= WAIT_MAX_NS || (!over && waited >= wait))))
            break;
        if (!(mark_has_work() && assist_chunk(t, ASSIST_CHUNK))) {
            uint64_t s0 = nanotime();
            mark_want_work(true);
            short_sleep();
            mark_want_work(false);
            slept += nanotime() - s0;
        }
        /* Tell the limiter as the time is spent: it may turn on meanwhile.
         * Work only, as in Go: waiting is no CPU, and on a busy machine it
         * would count the other processes' time against the collector. */
        uint64_t now = nanotime();
        limiter_add(now - a0 - slept, now - a0 - slept);
        a0 = now;
        slept = 0;
        limiter_update(false);
        if (limiter_yields())
            break;
    }
    uint64_t now = nanotime();
    limiter_add(now - a0 - slept, now - a0 - slept);
}

/* ---- the background collector thread ---------------------------------------- */

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static bool bg_started, bg_request;

static void *bg_collector(void *arg)
{
    (void)arg;
    gc_thread_t *t = thread_register_self(true);
    (void)t;
    limiter_watch_self();
    for (;;) {
        pthread_mutex_lock(&bg_lock);
        while (!bg_request)
            pthread_cond_wait(&bg_cond, &bg_lock);
        bg_request = false;
        pthread_mutex_unlock(&bg_lock);
        gc_run(false);
    }
    return NULL;
}

void gc_maybe_collect(void)
{
    if (!pacer_should_trigger())
        return;
    limiter_update(false);
    if (!concurrent || pacer_next_stw(NULL, NULL)) {
        /* Marking stops the world, and this thread runs it: while the
         * limiter is on, the program runs and the heap grows past the goal
         * instead. */
        if (!limiter_yields())
            gc_run(false);
        return;
    }
    pthread_mutex_lock(&bg_lock);
    if (!bg_started) {
        bg_started = thread_start_internal(bg_collector, true);
        if (!bg_started) {
            pthread_mutex_unlock(&bg_lock);
            gc_run(false); /* no thread: collect here */
            return;
        }
    }
    bg_request = true;
    pthread_cond_signal(&bg_cond);
    pthread_mutex_unlock(&bg_lock);
    wait_for_assists();
}

void gc_fork_child(void)
{
    pthread_mutex_init(&bg_lock, NULL);
    pthread_cond_init(&bg_cond, NULL);
    barrier_fork_child();
    bg_started = false;
    bg_request = false;
    bool was = concurrent;
    concurrent = writetrack_fork_child() != WT_NONE;
    if (was && !concurrent && env.gctrace)
        tc_trace("tricolor: write tracking %s: %s", writetrack_name(), writetrack_reason());
    pacer_set_concurrent(concurrent);
    scavenge_fork_child();
    limiter_fork_child();
}

void gc_collect(void)
{
    gc_run(true);
    sweep_finish();
}

void gc_keep_alive(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }
