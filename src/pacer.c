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
    if (concurrent && goal != UINT64_MAX) {
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
    set_goal();
}

uint64_t pacer_heap_marked(void)
{
    uint64_t m = atomic_load(&heap_marked);
    return m < HEAP_MINIMUM ? HEAP_MINIMUM : m;
}

void pacer_end_cycle(uint64_t marked, uint64_t black, uint64_t allocated_during_mark)
{
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
