/*
 * pacer.c - when to collect: Go's heap goal.
 *
 * Owns heap_live (bytes the pacer counts as allocated: the marked bytes of the
 * last cycle plus every span slot and large object handed out since), the
 * goal, GOGC and the memory limit.
 *
 *   goal = marked * (1 + GOGC/100), at least 4 MiB;
 *   except that objects allocated while marking ran (black, whether they
 *   are live or not: "floating garbage") are added once, not multiplied:
 *   GOGC is a ratio to the data live after a collection, and when marking
 *   runs beside a fast-allocating program, up to half of what a cycle marks
 *   was merely allocated during it;
 *   with a memory limit, goal = min(goal, the limit's goal), so the heap
 *   stays under the limit even with GOGC=off.  The limit's goal is Go's
 *   (mgcpacer.go, memoryLimitHeapGoal): the limit less the memory that is
 *   not heap objects (metadata, and the free slots of spans in use: sys_
 *   retained() - free backed pages - heap_alloc_bytes), less what the process
 *   is over the limit already, less headroom (3%, at least 1 MiB); never
 *   below the marked heap.  It moves as memory is mapped and released, so
 *   the heap's page allocator calls pacer_update() as the heap grows.
 *
 * The trigger: a cycle starts when heap_live reaches it.  Marking runs beside
 * the program, which allocates meanwhile, so the trigger sits below the goal
 * by a runway: what the program allocated during the last mark phase, with
 * a margin, kept between 5% and 40% of the distance from the marked heap to
 * the goal (Go 1.19's trigger bounds are 60% and 95% of it).  Assists
 * (mgc.c) hold the heap to the goal when the runway proves short.  With the
 * world stopped for the whole mark (no write tracking) the trigger is the
 * goal itself.
 *
 * The mode of the next cycle.  A concurrent cycle has fixed costs (arming
 * and reading write tracking, pre-cleaning rounds, a background thread's
 * wake-ups, allocate-black) that a small heap does not repay: marking 2 MB
 * with the world stopped takes about 1 ms on 2 CPUs, a concurrent cycle 4 ms
 * of CPU.  So when the next mark is predicted to take less than
 * GODEBUG=gcstwbudget (1 ms by default), the next cycle stops the world
 * for the whole mark, and its trigger is the goal.  The prediction: the
 * bytes the last cycle scanned (its marked bytes less allocate-black's),
 * times the heap's growth over the last cycle (at most the 2x that GOGC=100
 * allows), at the mark rate measured in world-stopped cycles, plus the
 * fixed part (stopping, roots, restarting) that every cycle's first pause
 * measures: the best of the last four of each.  A heap that grows past the
 * budget goes concurrent from the next cycle on.  Before anything was
 * marked, the first cycle's heap is predicted at the minimum goal (4 MB): it
 * holds whatever the program allocated to reach it, all of it possibly
 * live, and marking it with the world stopped took 2.8-13 ms in
 * binary-trees (a cold heap: mark bits and work buffers touched first).
 *
 * A concurrent cycle can also fail outright: when the program rewrites its
 * heap faster than the pre-cleaning rounds read it back, the rounds rescan
 * more than the heap holds (a 2 MB heap of records replaced at random,
 * bench/small_heap.c: 20-30 MB rescanned a cycle, a write fault per page per
 * round, allocating threads throttled), and the cycle costs several times a
 * world-stopped mark, for final pauses no shorter.  After such a cycle the
 * budget is GCSTW_FAILED_FACTOR times larger, until a cycle predicted past
 * that marks concurrently and pre-cleans within the heap's size again.
 */
#include "internal.h"

#include <stdint.h>

#define HEAP_MINIMUM ((uint64_t)4 << 20)
#define LIMIT_HEADROOM_MIN ((uint64_t)1 << 20)
#define LIMIT_HEADROOM_PERCENT 3

_Atomic int64_t heap_live;
_Atomic int64_t heap_alloc_bytes;
_Atomic bool limit_binding;
_Atomic uint64_t heap_cap = UINT64_MAX;
_Atomic uint64_t heap_goal;
_Atomic uint64_t heap_trigger;
static _Atomic uint64_t runway_bytes; /* allocated during the last mark phase */
static bool concurrent;
static _Atomic bool next_stw;          /* the next cycle marks with the world stopped */
static _Atomic uint64_t next_predicted; /* its predicted pause, ns */
/* World-stopped marking, measured (under gc_lock): the drain's cost per
 * marked byte and the rest of the pause.  Until measured, 2 GB/s and 0.1 ms. */
/* The last SAMPLES measurements of the world-stopped mark rate and of the
 * fixed part of a pause; predictions take the smallest of each.  A machine's
 * noise only ever makes a sample slower (a stopped thread waiting for a CPU,
 * another process's cache misses), and one slow sample averaged in could
 * push every prediction past the budget, after which no world-stopped cycle
 * would ever correct it. */
#define SAMPLES 4
static double rate_samples[SAMPLES] = {0.5, 0.5, 0.5, 0.5}; /* ns per byte marked */
static double fixed_samples[SAMPLES] = {100e3, 100e3, 100e3, 100e3}; /* stopping, roots, restarting */
static unsigned rate_next, fixed_next;

static double samples_min(const double *v)
{
    double m = v[0];
    for (int i = 1; i < SAMPLES; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}
static uint64_t last_scanned; /* what the last cycle scanned */
#define GCSTW_FAILED_FACTOR 4
static bool preclean_failed;  /* the last concurrent cycle rescanned more than it marked */
static _Atomic uint64_t next_budget; /* the budget the next cycle's prediction was held to, ns */
static void choose_mode(uint64_t marked, uint64_t black);
_Atomic int gc_percent;
_Atomic int64_t memory_limit;
static _Atomic uint64_t heap_marked;
static _Atomic uint64_t heap_black; /* of heap_marked: allocated during the mark phase */

/* The heap goal the memory limit allows (UINT64_MAX: no limit). */
static _Atomic uint64_t limit_room; /* limit_goal's goal without the overage term */

static uint64_t limit_goal(uint64_t marked)
{
    int64_t lim = atomic_load(&memory_limit);
    if (lim == INT64_MAX)
        return UINT64_MAX;
    uint64_t limit = (uint64_t)lim;
    uint64_t retained = sys_retained();
    uint64_t heap_sys = atomic_load(&sys_bytes[SYS_HEAP]);
    uint64_t released = atomic_load(&heap_released_bytes);
    uint64_t inuse = atomic_load(&heap_inuse_pages) * PAGE_SIZE;
    uint64_t free_backed = heap_sys > released + inuse ? heap_sys - released - inuse : 0;
    int64_t objects = atomic_load(&heap_alloc_bytes);
    uint64_t used = free_backed + (objects > 0 ? (uint64_t)objects : 0);
    uint64_t nonheap = retained > used ? retained - used : 0;
    uint64_t overage = retained > limit ? retained - limit : 0;
    /* The heap the limit holds, overage aside: whether the live heap fits. */
    uint64_t room = nonheap < limit ? limit - nonheap : 0;
    atomic_store_explicit(&limit_room, room - room / 100 * LIMIT_HEADROOM_PERCENT, memory_order_relaxed);
    if (nonheap + overage >= limit)
        return marked;
    uint64_t goal = limit - nonheap - overage;
    uint64_t headroom = goal / 100 * LIMIT_HEADROOM_PERCENT;
    if (headroom < LIMIT_HEADROOM_MIN)
        headroom = LIMIT_HEADROOM_MIN;
    goal = goal > 2 * headroom ? goal - headroom : headroom;
    return goal < marked ? marked : goal;
}

static uint64_t compute_goal(void)
{
    int pct = atomic_load(&gc_percent);
    uint64_t marked = atomic_load(&heap_marked);
    uint64_t black = atomic_load(&heap_black);
    uint64_t scanned = marked > black ? marked - black : 0;
    uint64_t goal = UINT64_MAX;
    if (pct >= 0) {
        goal = marked + scanned / 100 * (uint64_t)pct + scanned % 100 * (uint64_t)pct / 100;
        if (goal < HEAP_MINIMUM)
            goal = HEAP_MINIMUM;
    }
    uint64_t lgoal = limit_goal(marked);
    atomic_store_explicit(&limit_binding, lgoal < goal, memory_order_relaxed);
    return lgoal < goal ? lgoal : goal;
}

/* Set the goal and the trigger below it. */
static void set_goal(void)
{
    uint64_t goal = compute_goal();
    uint64_t trigger = goal;
    if (concurrent && !atomic_load(&next_stw) && goal != UINT64_MAX) {
        uint64_t marked = atomic_load(&heap_marked);
        uint64_t dist = goal > marked ? goal - marked : goal / 2;
        uint64_t runway = atomic_load(&runway_bytes);
        runway += runway / 4;
        if (runway < dist / 20)
            runway = dist / 20;
        if (runway > dist * 2 / 5)
            runway = dist * 2 / 5;
        trigger = goal - runway;
    }
    atomic_store(&heap_goal, goal);
    atomic_store(&heap_trigger, trigger);
    /* How far the GC CPU limiter may let the heap go.  When the memory limit
     * sets the goal and the live heap fits under it, 5% past the goal (3%
     * headroom below the limit already): the limit stays a bound, soft by a
     * few percent, and the program still gets the CPU when collections
     * cannot keep up.  When the live heap alone does
     * not fit - the death spiral the limiter is for - no bound. */
    uint64_t marked = atomic_load(&heap_marked);
    bool fits = atomic_load(&limit_binding) && marked < atomic_load(&limit_room) && goal < UINT64_MAX / 2;
    atomic_store(&heap_cap, fits ? goal + goal / 20 : UINT64_MAX);
}

void pacer_init(void)
{
    atomic_store(&gc_percent, env.gogc);
    atomic_store(&memory_limit, env.memlimit);
    set_goal();
}

/* The limit's goal moves with the memory mapped and released: called as the
 * heap grows, and after memory is returned. */
void pacer_update(void)
{
    if (atomic_load_explicit(&memory_limit, memory_order_relaxed) != INT64_MAX)
        set_goal();
}

void pacer_set_concurrent(bool on)
{
    concurrent = on;
    choose_mode(atomic_load(&heap_marked), atomic_load(&heap_black));
    set_goal();
}

uint64_t pacer_heap_marked(void)
{
    uint64_t m = atomic_load(&heap_marked);
    return m < HEAP_MINIMUM ? HEAP_MINIMUM : m;
}

/* Choose the next cycle's mode (see the top). */
static void choose_mode(uint64_t marked, uint64_t black)
{
    uint64_t scanned = marked > black ? marked - black : 0;
    if (marked == 0)
        scanned = HEAP_MINIMUM; /* nothing marked yet, or nothing survived: at most the first goal */
    double growth = last_scanned ? (double)scanned / (double)last_scanned : 1;
    growth = growth < 1 ? 1 : (growth > 2 ? 2 : growth);
    last_scanned = scanned;
    double predicted = samples_min(fixed_samples) + (double)scanned * growth * samples_min(rate_samples);
    uint64_t budget = (uint64_t)env.gcstwbudget_us * 1000 * (preclean_failed ? GCSTW_FAILED_FACTOR : 1);
    bool stw = concurrent && budget > 0 && predicted <= (double)budget;
    atomic_store(&next_predicted, (uint64_t)predicted);
    atomic_store(&next_budget, budget);
    atomic_store(&next_stw, stw);
}

bool pacer_next_stw(uint64_t *predicted_ns, uint64_t *budget_ns)
{
    if (predicted_ns)
        *predicted_ns = atomic_load(&next_predicted);
    if (budget_ns)
        *budget_ns = atomic_load(&next_budget);
    return atomic_load(&next_stw);
}

/* A world-stopped cycle marked `marked` bytes in drain_ns, and spent rest_ns
 * on the rest of its pause.  Small marks say little about the rate. */
void pacer_stw_measured(uint64_t marked, uint64_t drain_ns, uint64_t rest_ns)
{
    fixed_samples[fixed_next++ % SAMPLES] = (double)rest_ns;
    if (marked >= (256 << 10))
        rate_samples[rate_next++ % SAMPLES] = (double)drain_ns / (double)marked;
}

/* A concurrent cycle marked `marked` bytes and rescanned `rescanned` in its
 * pre-cleaning rounds and final pause; its first pause (stopping, the
 * stacks, restarting) took first_ns, a world-stopped mark's fixed part. */
void pacer_concurrent_measured(uint64_t marked, uint64_t rescanned, uint64_t first_ns)
{
    preclean_failed = rescanned > marked;
    fixed_samples[fixed_next++ % SAMPLES] = (double)first_ns;
}

void pacer_end_cycle(uint64_t marked, uint64_t black, uint64_t allocated_during_mark)
{
    choose_mode(marked, black);
    atomic_store(&heap_black, black < marked ? black : marked);
    atomic_store(&heap_marked, marked);
    atomic_store(&runway_bytes, allocated_during_mark);
    set_goal();
}

int gc_set_percent(int percent)
{
    gc_init_once();
    if (percent < 0)
        percent = -1;
    int old = atomic_exchange(&gc_percent, percent);
    set_goal();
    scavenge_wake();
    return old;
}

int64_t gc_set_memory_limit(int64_t bytes)
{
    gc_init_once();
    if (bytes < 0)
        return atomic_load(&memory_limit);
    int64_t old = atomic_exchange(&memory_limit, bytes);
    set_goal();
    scavenge_wake();
    /* Go's SetMemoryLimit takes effect at once: a heap over the new goal
     * starts a collection now rather than at the next span. */
    if (pacer_should_trigger())
        gc_maybe_collect();
    return old;
}
