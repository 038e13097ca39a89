/*
 * limiter.c - the GC CPU limiter (Go's mgclimit.go).
 *
 * A memory limit set below what the program keeps live would have the
 * collector run back to back and the program wait on it forever: a death
 * spiral.  The limiter caps the collector near half the CPU instead, and
 * lets the heap exceed the limit (which is soft) rather than stop the
 * program.
 *
 * A leaky bucket of nanoseconds, Go's: collector time fills it, the program's
 * CPU time drains it; its capacity is one CPU-second per CPU.  While it is
 * full and the memory limit sets the heap goal (limit_binding), the limiter
 * is on, and then:
 *   - allocating threads neither assist nor wait for the collector (mgc.c);
 *   - with marking done with the world stopped, no new collection starts
 *     (the world would be stopped most of the time otherwise);
 *   - the heap's growth does not scavenge synchronously (scavenge.c).
 * Collector time: the CPU of the library's collector threads (read from
 * their CPU clocks at each update, so a long mark phase counts as it goes),
 * the collection work done on the program's own threads (gc_collect, or
 * marking with the world stopped), the time allocating threads spent
 * assisting (not waiting: that is no CPU, and on a busy machine it would
 * count other processes' time against the collector), and the time the
 * program's threads were stopped.
 * Program time: process CPU time less the collector's CPU.
 * Idle CPUs count as neither, as in Go.
 *
 * Only under a binding limit, unlike Go's (always armed): GOGC's goal alone
 * cannot spiral, since each cycle lets the heap grow by the live heap, and
 * tricolor's background marker takes a whole CPU of two while it runs (Go's
 * takes a quarter of GOMAXPROCS), so long mark phases fill the bucket
 * without any spiral.  Turning the limiter on then stopped assists and
 * delayed stop-the-world triggers, and the heap ran to 2-4x its goal
 * (binary-trees, the pause benchmark: bench/RESULTS.md, issue 12).
 * The bucket is updated at the end of each collection and, at most once a
 * millisecond, when an allocating thread is about to assist or start a
 * collection.  Its state shows in gc_memstats (gc_limiter_enabled,
 * gc_limiter_last_enabled) and in gctrace (" (limited)").
 */
#include "internal.h"

#include <time.h>

#define UPDATE_EVERY_NS (1000 * 1000)

static pthread_mutex_t lim_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t bucket, capacity; /* under lim_lock */
static uint64_t last_cpu;        /* process CPU time at the last update */
static _Atomic uint64_t gc_time, gc_cpu; /* accumulated since the last update */
static _Atomic uint64_t last_update;
static _Atomic bool limiting, limited_this_cycle;
static _Atomic uint32_t last_enabled;

#define MAX_WATCHED 16
static struct {
    clockid_t clock;
    uint64_t last;         /* under lim_lock once ready */
    _Atomic bool ready;
} watched[MAX_WATCHED]; /* the collector's own threads */
static _Atomic int nwatched;

static uint64_t clock_read(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Lock-free: a mark helper calls this as it starts, and a helper must never
 * wait for a lock a stopped thread might hold (the collector would wait for
 * the helper with the world stopped). */
void limiter_watch_self(void)
{
    clockid_t c;
    if (pthread_getcpuclockid(pthread_self(), &c) != 0)
        return;
    int i = atomic_fetch_add(&nwatched, 1);
    if (i >= MAX_WATCHED)
        return; /* more helpers than that: their CPU goes uncounted */
    watched[i].clock = c;
    watched[i].last = clock_read(c);
    atomic_store_explicit(&watched[i].ready, true, memory_order_release);
}

void limiter_fork_child(void)
{
    pthread_mutex_init(&lim_lock, NULL);
    atomic_store(&nwatched, 0);
    for (int i = 0; i < MAX_WATCHED; i++)
        atomic_store(&watched[i].ready, false);
}

void limiter_init(int nprocs)
{
    capacity = (int64_t)nprocs * 1000000000;
    last_cpu = process_cputime();
    atomic_store(&last_update, nanotime());
}

void limiter_add(uint64_t gc_ns, uint64_t gc_cpu_ns)
{
    atomic_fetch_add_explicit(&gc_time, gc_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&gc_cpu, gc_cpu_ns, memory_order_relaxed);
}

void limiter_update(bool now)
{
    uint64_t t = nanotime();
    if (!now && t - atomic_load_explicit(&last_update, memory_order_relaxed) < UPDATE_EVERY_NS)
        return;
    /* Inside an allocator section: a thread stopped holding lim_lock would
     * keep every other update out until the world restarts. */
    gc_thread_t *self = tls_thread;
    if (self)
        enter_alloc(self);
    if (pthread_mutex_trylock(&lim_lock) != 0) {
        if (self)
            leave_alloc(self);
        return; /* someone else is updating */
    }
    atomic_store(&last_update, t);
    uint64_t cpu = process_cputime();
    uint64_t g = atomic_exchange(&gc_time, 0), gcpu = atomic_exchange(&gc_cpu, 0);
    int nw = atomic_load(&nwatched);
    for (int i = 0; i < nw && i < MAX_WATCHED; i++) {
        if (!atomic_load_explicit(&watched[i].ready, memory_order_acquire))
            continue;
        uint64_t c = clock_read(watched[i].clock);
        if (c > watched[i].last) {
            g += c - watched[i].last;
            gcpu += c - watched[i].last;
        }
        watched[i].last = c;
    }
    uint64_t dcpu = cpu > last_cpu ? cpu - last_cpu : 0;
    last_cpu = cpu;
    int64_t mutator = dcpu > gcpu ? (int64_t)(dcpu - gcpu) : 0;
    bucket += (int64_t)g - mutator;
    if (bucket < 0)
        bucket = 0;
    /* Unlike Go's, the bucket keeps what spills over its capacity (up to
     * once more): a collection with the world stopped is one long burst,
     * and the program must then run as long as it did before the next. */
    if (bucket > 2 * capacity)
        bucket = 2 * capacity;
    bool on = bucket >= capacity && atomic_load_explicit(&limit_binding, memory_order_relaxed);
    if (on) {
        atomic_store(&last_enabled, gstats.num_gc + 1);
        atomic_store(&limited_this_cycle, true);
    }
    atomic_store(&limiting, on);
    pthread_mutex_unlock(&lim_lock);
    if (self)
        leave_alloc(self);
}

bool limiter_on(void) { return atomic_load_explicit(&limiting, memory_order_relaxed); }

uint32_t limiter_last_enabled(void) { return atomic_load(&last_enabled); }

bool limiter_take_cycle_flag(void) { return atomic_exchange(&limited_this_cycle, limiter_on()); }
