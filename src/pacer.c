/*
 * pacer.c - when to collect: Go's heap goal.
 *
 * Owns heap_live (bytes the pacer counts as allocated: the marked bytes of the
 * last cycle plus every span slot and large object handed out since), the
 * goal, GOGC and the memory limit.
 *
 *   goal = marked * (1 + GOGC/100), at least 4 MiB;
 *   with a memory limit, goal = min(goal, limit - memory that is not heap
 *   objects), so the heap stays under the limit even with GOGC=off.
 *
 * With the world stopped for the whole mark, the trigger is the goal itself:
 * no runway is needed for marking beside the program.
 */
#include "internal.h"

#include <stdint.h>

#define HEAP_MINIMUM ((uint64_t)4 << 20)
#define LIMIT_HEADROOM ((uint64_t)1 << 20)

_Atomic int64_t heap_live;
_Atomic uint64_t heap_goal;
_Atomic int gc_percent;
_Atomic int64_t memory_limit;
static _Atomic uint64_t heap_marked;

static uint64_t compute_goal(void)
{
    int pct = atomic_load(&gc_percent);
    uint64_t marked = atomic_load(&heap_marked);
    uint64_t goal = UINT64_MAX;
    if (pct >= 0) {
        goal = marked + marked / 100 * (uint64_t)pct + marked % 100 * (uint64_t)pct / 100;
        if (goal < HEAP_MINIMUM)
            goal = HEAP_MINIMUM;
    }
    int64_t limit = atomic_load(&memory_limit);
    if (limit != INT64_MAX) {
        uint64_t sys = 0;
        for (int k = 0; k < SYS_NKINDS; k++)
            sys += atomic_load(&sys_bytes[k]);
        uint64_t heap_sys = atomic_load(&sys_bytes[SYS_HEAP]);
        uint64_t overhead = sys - heap_sys;
        /* Free heap pages count against the limit only while they are backed;
         * the heap objects themselves are what the goal bounds. */
        uint64_t lgoal = (uint64_t)limit > overhead + LIMIT_HEADROOM ? (uint64_t)limit - overhead - LIMIT_HEADROOM : 0;
        if (lgoal < goal)
            goal = lgoal;
    }
    return goal;
}

void pacer_init(void)
{
    atomic_store(&gc_percent, env.gogc);
    atomic_store(&memory_limit, env.memlimit);
    atomic_store(&heap_goal, compute_goal());
}

void pacer_end_cycle(uint64_t marked)
{
    atomic_store(&heap_marked, marked);
    atomic_store(&heap_goal, compute_goal());
}

int gc_set_percent(int percent)
{
    gc_init_once();
    if (percent < 0)
        percent = -1;
    int old = atomic_exchange(&gc_percent, percent);
    atomic_store(&heap_goal, compute_goal());
    return old;
}

int64_t gc_set_memory_limit(int64_t bytes)
{
    gc_init_once();
    if (bytes < 0)
        return atomic_load(&memory_limit);
    int64_t old = atomic_exchange(&memory_limit, bytes);
    atomic_store(&heap_goal, compute_goal());
    return old;
}
