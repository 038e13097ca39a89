/*
 * mgc.c - the collection cycle.
 *
 * tricolor's collector is a non-moving, conservative, tri-color mark-and-sweep
 * collector after Go's (src/runtime/mgc.go).  In this version marking runs with
 * the world stopped; the mark queue (mark.c) and the sweeper (sweep.c) are
 * already shaped for marking beside the program.
 *
 * The cycle, as numbered phases:
 *
 *  1. Trigger.  An allocating thread that takes a fresh span (or a large
 *     object) checks heap_live against the goal the pacer set (pacer.c).  If it
 *     is reached, the thread leaves its allocator section and calls gc_run.
 *     gc_collect() runs a cycle unconditionally.  One cycle runs at a time
 *     (gc_lock).
 *
 *  2. Sweep termination.  The previous cycle's sweeping is finished: a span
 *     must be swept before its mark bits can be reused.
 *
 *  3. Stop the world (threads.c), from inside dl_iterate_phdr so that the list
 *     of loaded objects cannot change and the loader's lock is already ours.
 *     Every thread cache is flushed to central: from here every allocated
 *     object is visible in its span's bits.
 *
 *  4. Mark.  Roots are scanned conservatively: the data and bss of every
 *     loaded object, registered regions, and for every registered thread its
 *     stack (from the stack pointer saved when it stopped), its saved
 *     registers and its TLS blocks.  The gray queue is drained until empty.
 *
 *  5. Mark termination.  sweepgen += 2 makes every span unswept at once;
 *     heap_live becomes the marked bytes and the pacer sets the next goal.
 *     Statistics are recorded and the world restarts.
 *
 *  6. Sweep, concurrently: allocating threads sweep the spans they need, the
 *     background sweeper the rest.  gc_collect() sweeps everything before it
 *     returns.
 *
 * Invariants: while the world is stopped no thread is inside an allocator
 * section, so every span is on a central list (never half-updated in a cache);
 * between cycles, every span on a list is swept or unswept as its list says.
 */
#include "internal.h"

#include <link.h>
#include <stdio.h>
#include <unistd.h>

pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int nprocs = 1;

static void init(void)
{
    env_parse();
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    nprocs = n > 0 ? (int)n : 1;
    gstats.start_ns = nanotime();
    gstats.start_cpu_ns = process_cputime();
    arena_init();
    heap_init();
    central_init();
    mark_init();
    pacer_init();
    threads_init();
    roots_init();
}

void gc_init_once(void) { pthread_once(&init_once, init); }

struct cycle {
    bool forced, done;
    uint64_t t0, t1, t2, t3;       /* start, world stopped, mark done, world restarted */
    uint64_t heap0, marked, goal;  /* heap_live at start, marked bytes, next goal */
    uint64_t stack_bytes;
};

/* Scan the collector's own stack and registers. */
static NOINLINE void mark_self(gc_thread_t *self)
{
    __builtin_unwind_init();
    mark_range(current_sp(), self->stack_hi);
}

static void mark_threads(struct cycle *c)
{
    gc_thread_t *self = tls_thread;
    for (gc_thread_t *t = thread_list; t; t = t->next) {
        /* The library's own threads (the sweeper) hold no program pointers,
         * only stale internal values that could retain dead objects. */
        if (t->dead || t->internal)
            continue;
        if (t == self) {
            mark_self(t);
        } else {
            uintptr_t lo = t->stop_sp;
            if (lo < t->stack_lo || lo > t->stack_hi)
                lo = t->stack_lo;
            c->stack_bytes += t->stack_hi - lo;
            mark_range(lo, t->stack_hi);
            mark_range((uintptr_t)t->regs, (uintptr_t)(t->regs + 64));
        }
        roots_mark_tls(t->tp);
    }
}

/* Phases 3-5, run inside dl_iterate_phdr's lock. */
static int cycle_stw(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info;
    (void)size;
    struct cycle *c = data;
    if (c->done)
        return 1;
    c->done = true;
    pthread_mutex_lock(&threads_lock);
    stop_the_world();
    c->t1 = nanotime();
    for (gc_thread_t *t = thread_list; t; t = t->next)
        cache_flush(&t->cache);
    c->heap0 = (uint64_t)atomic_load(&heap_live);

    roots_mark_globals();
    roots_mark_registered();
    mark_threads(c);
    mark_drain();
    c->t2 = nanotime();

    c->marked = mark_take_marked_bytes();
    atomic_store(&spans_unswept, (int64_t)atomic_load(&nspans_inuse));
    atomic_fetch_add(&heap_sweepgen, 2);
    atomic_store(&heap_live, (int64_t)c->marked);
    pacer_end_cycle(c->marked);
    c->goal = atomic_load(&heap_goal);
    start_the_world();
    c->t3 = nanotime();
    pthread_mutex_unlock(&threads_lock);
    return 1;
}

static void record_cycle(struct cycle *c, uint64_t cpu)
{
    struct gc_stats *g = &gstats;
    uint64_t pause = c->t3 - c->t0;
    uint32_t i = g->num_gc % 256;
    g->pause_ns[i] = pause;
    g->pause_end[i] = walltime();
    g->pause_total_ns += pause;
    g->last_gc = g->pause_end[i];
    g->gc_cpu_ns += cpu;
    g->num_gc++;
    if (c->forced)
        g->num_forced_gc++;
    if (!env.gctrace)
        return;
    /* Go's line: gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu,
     * #->#-># MB, # MB goal, # MB stacks, # MB globals, # P */
    /* The mark phase's CPU is the cycle's CPU (all workers) less the two
     * short phases, which one thread runs. */
    uint64_t stw_ends = (c->t1 - c->t0) + (c->t3 - c->t2);
    char a[16], b[16], d[16], f[16];
    fmt_ms(a, sizeof a, c->t1 - c->t0);
    fmt_ms(b, sizeof b, c->t2 - c->t1);
    fmt_ms(d, sizeof d, c->t3 - c->t2);
    fmt_ms(f, sizeof f, cpu > stw_ends ? cpu - stw_ends : 0);
    uint64_t elapsed = nanotime() - g->start_ns;
    unsigned pct = elapsed ? (unsigned)(g->gc_cpu_ns * 100 / (elapsed * (uint64_t)nprocs)) : 0;
    const uint64_t MB = 1 << 20;
    tc_trace("gc %u @%.3fs %u%%: %s+%s+%s ms clock, %s+0/%s/0+%s ms cpu, %llu->%llu->%llu MB, %llu MB goal, "
             "%llu MB stacks, %llu MB globals, %d P%s",
             g->num_gc, (double)elapsed / 1e9, pct, a, b, d, a, f, d, (unsigned long long)(c->heap0 / MB),
             (unsigned long long)(c->heap0 / MB), (unsigned long long)(c->marked / MB),
             (unsigned long long)(c->goal / MB), (unsigned long long)(c->stack_bytes / MB),
             (unsigned long long)(roots_globals_bytes() / MB), nprocs, c->forced ? " (forced)" : "");
}

void gc_run(bool forced)
{
    current_thread();
    pthread_mutex_lock(&gc_lock);
    if (!forced && !pacer_should_trigger()) {
        pthread_mutex_unlock(&gc_lock);
        return;
    }
    mark_start_helpers();
    struct cycle c = {.forced = forced};
    sweep_finish();
    uint64_t cpu0 = thread_cputime();
    c.t0 = nanotime();
    dl_iterate_phdr(cycle_stw, &c);
    uint64_t cpu = thread_cputime() - cpu0 + mark_take_helper_cpu();
    record_cycle(&c, cpu);
    pthread_mutex_unlock(&gc_lock);
    sweep_start_background();
}

void gc_maybe_collect(void)
{
    if (pacer_should_trigger())
        gc_run(false);
}

void gc_collect(void)
{
    gc_run(true);
    sweep_finish();
}

void gc_keep_alive(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }
