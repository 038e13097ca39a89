/*
 * profile.c - heap profiling: which call stacks allocated the heap, and how
 * much of it is still in use (Go's mprof.go and the sampling in malloc.go).
 *
 * Owns the sampling rate (gc_set_profile_rate, runtime.MemProfileRate), each
 * thread's distance to its next sample, the buckets (one per call stack and
 * object size, never freed, as in Go) and their counts.  pprof.c writes what
 * profile_records returns.
 *
 * Sampling.  Sample points form a Poisson process over allocated bytes: each
 * thread draws exponentially distributed gaps with mean `rate` and counts its
 * allocations' sizes (their size classes') down in sample_left, in the
 * allocation fast path; the allocation that crosses zero is sampled.  So an
 * object of s bytes is sampled with probability 1 - e^(-s/rate), which is how
 * pprof.c scales the counts back up.  Rate 1 samples every allocation; rate 0
 * sets every thread's distance to "never".  sample_left is only written
 * inside allocator sections, so gc_set_profile_rate resets every thread's
 * distance with the world stopped.
 *
 * A sampled allocation (profile_alloc, after the allocator section, where it
 * may walk the stack and take locks) records its stack with glibc's
 * backtrace: it unwinds by the DWARF tables, so code built without frame
 * pointers gets whole stacks (bench/RESULTS.md has the walks measured).  The
 * frames of the library itself are cut off at the public entry's return
 * address.  The object gets a SPECIAL_PROFILE record naming its bucket
 * (special.c): the sweeper reports its death (profile_free), and so do
 * gc_free and gc_realloc.
 *
 * Cycles, as Go's: mallocs come in real time, frees only when a later sweep
 * finds the object dead, so counting both as they come would skew toward
 * mallocs.  Counts go to one of three future cycles, and a cycle is published
 * into `active` only once everything in it is known:
 *   - mallocs and explicit frees go to cycle C+2 (C: mark terminations so far);
 *   - frees found by sweeping go to cycle C+1;
 *   - mark termination makes C+1 the current cycle (profile_next_cycle, world
 *     stopped); right after it, cycle C is flushed into active (profile_flush):
 *     the allocations before the previous mark termination, less the frees its
 *     sweep found;
 *   - once the sweep is over, C+1 is flushed too (profile_records does it, after
 *     finishing the sweep): the profile is then as of the last mark
 *     termination, with none of the garbage that cycle found.
 * Each index receives adds in one cycle only and is flushed in another, so a
 * flush (an atomic exchange per counter) loses nothing.  As in Go, when no
 * collection has published anything yet, a writer takes every cycle.
 *
 * Locks: the bucket lock (lookups and inserts) and the active lock (flushes
 * and copies) are taken outside allocator sections, and are never waited for
 * inside one or with the world stopped; the counts in future[] are atomics
 * added inside sections.  Order: gc_lock, then the active lock, then the
 * bucket lock, then any allocator lock (the bucket memory is metadata).
 */
#include "internal.h"

#include <errno.h>
#include <execinfo.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define DEFAULT_RATE (512 * 1024)
#define SKIP_MAX 16 /* frames of the library's own a walk may start with */
#define NEVER INT64_MAX

_Atomic int64_t profile_rate = DEFAULT_RATE;
static _Atomic uint32_t prof_cycle; /* mark terminations so far */
static pthread_mutex_t bucket_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static bucket_t **buckhash; /* heads, under bucket_lock */
static size_t buckhash_size, nbuckets;
static bucket_t *_Atomic all_buckets;
static uint64_t prof_seed;
/* Threads are seeded in the order they register, the library's own apart
 * from the program's: the collector's threads start when it first needs
 * them, racing with the program's, and must not shift the program's seeds
 * (GODEBUG=memprofileseed promises the same samples every run). */
static _Atomic uint64_t seed_counter[2]; /* [0] the program's threads, [1] the library's */

/* ---- sampling ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The bytes to the next sample: exponential with mean rate. */
static int64_t next_gap(gc_thread_t *t, int64_t rate)
{
    if (rate <= 0)
        return NEVER;
    if (rate == 1)
        return 0;
    double u = (double)((splitmix(&t->prof_rng) >> 11) + 1) * 0x1p-53; /* (0, 1] */
    double gap = -log(u) * (double)rate;
    return gap < 0x1p62 ? (int64_t)gap : NEVER;
}

static void seed_thread(gc_thread_t *t, bool library)
{
    uint64_t n = atomic_fetch_add(&seed_counter[library], 1);
    uint64_t s = prof_seed + n * 0x632be59bd9b4e019ull + (library ? 0x8f1bbcdcca62c1d6ull : 0);
    t->prof_rng = splitmix(&s);
}

void profile_init(void)
{
    if (env.memprofilerate >= 0)
        atomic_store(&profile_rate, env.memprofilerate);
    prof_seed = env.memprofileseed ? env.memprofileseed : nanotime() ^ (uint64_t)walltime();
    /* glibc's first backtrace loads libgcc_s (dlopen, malloc): here, at
     * start-up, rather than in whichever thread samples first. */
    void *pc[2];
    backtrace(pc, 2);
}

void profile_thread_init(gc_thread_t *t, bool library)
{
    seed_thread(t, library);
    t->sample_left = next_gap(t, atomic_load(&profile_rate));
}

int64_t gc_set_profile_rate(int64_t bytes)
{
    gc_init_once();
    if (bytes < 0)
        return atomic_load(&profile_rate);
    if (!current_thread())
        return atomic_exchange(&profile_rate, bytes);
    /* Every thread's distance, drawn anew for the new rate: with the world
     * stopped, since each thread writes its own inside allocator sections. */
    pthread_mutex_lock(&gc_lock);
    pthread_mutex_lock(&threads_lock);
    stop_the_world();
    int64_t old = atomic_exchange(&profile_rate, bytes);
    for (gc_thread_t *t = thread_list; t; t = t->next)
        t->sample_left = next_gap(t, bytes);
    start_the_world();
    pthread_mutex_unlock(&threads_lock);
    pthread_mutex_unlock(&gc_lock);
    return old;
}

/* ---- buckets ----------------------------------------------------------------- */

static uint64_t stack_hash(const uintptr_t *stk, unsigned n, size_t size)
{
    uint64_t h = size * 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < n; i++) {
        h ^= stk[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h ? h : 1;
}

/* Double the heads when the chains average more than one bucket. */
static void buckhash_grow(void)
{
    size_t size = buckhash_size ? buckhash_size * 2 : 1024;
    bucket_t **heads = sys_map(size * sizeof *heads, SYS_PROF);
    if (!heads)
        return; /* longer chains, nothing worse */
    for (bucket_t *b = atomic_load_explicit(&all_buckets, memory_order_relaxed); b;
         b = atomic_load_explicit(&b->allnext, memory_order_relaxed)) {
        size_t i = b->hash & (size - 1);
        b->hnext = heads[i];
        heads[i] = b;
    }
    if (buckhash)
        sys_unmap(buckhash, buckhash_size * sizeof *buckhash, SYS_PROF);
    buckhash = heads;
    buckhash_size = size;
}

/* The bucket of (stk, size), made if new; NULL when out of memory.  Outside
 * allocator sections. */
static bucket_t *bucket_get(gc_thread_t *t, const uintptr_t *stk, unsigned n, size_t size)
{
    uint64_t h = stack_hash(stk, n, size);
    pthread_mutex_lock(&bucket_lock);
    if (nbuckets >= buckhash_size)
        buckhash_grow();
    bucket_t *b = NULL;
    if (buckhash) {
        for (b = buckhash[h & (buckhash_size - 1)]; b; b = b->hnext)
            if (b->hash == h && b->size == size && b->nstk == n && memcmp(b->stk, stk, n * sizeof *stk) == 0)
                break;
        if (!b) {
            /* Metadata: the persistent allocator's lock is taken inside a section. */
            enter_alloc(t);
            b = persistent_alloc(sizeof *b + n * sizeof *stk, SYS_PROF);
            leave_alloc(t);
            if (b) {
                b->hash = h;
                b->size = size;
                b->nstk = n;
                memcpy(b->stk, stk, n * sizeof *stk);
                size_t i = h & (buckhash_size - 1);
                b->hnext = buckhash[i];
                buckhash[i] = b;
                atomic_store_explicit(&b->allnext, atomic_load_explicit(&all_buckets, memory_order_relaxed),
                                      memory_order_relaxed);
                atomic_store_explicit(&all_buckets, b, memory_order_release);
                nbuckets++;
            }
        }
    }
    pthread_mutex_unlock(&bucket_lock);
    return b;
}

static void count(prof_counts_t *c, uint64_t bytes, bool alloc)
{
    if (alloc) {
        atomic_fetch_add_explicit(&c->allocs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->alloc_bytes, bytes, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&c->frees, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->free_bytes, bytes, memory_order_relaxed);
    }
}

/* ---- events -------------------------------------------------------------------- */

/*
 * The allocation of p crossed the thread's sample point.  ra is the return
 * address of the public entry the program called: the walk's frames before it
 * are the library's.  p is held here (this frame is scanned), and its span
 * was swept when the allocation took it.
 */
NOINLINE void profile_alloc(gc_thread_t *t, void *p, uintptr_t ra)
{
    int64_t rate = atomic_load(&profile_rate);
    enter_alloc(t);
    t->sample_left = next_gap(t, rate);
    leave_alloc(t);
    if (!p || rate <= 0)
        return;
    void *raw[PROF_MAX_STACK + SKIP_MAX];
    int n = backtrace(raw, PROF_MAX_STACK + SKIP_MAX);
    const uintptr_t *stk = &ra; /* if the walk lost its way: the caller at least */
    unsigned nstk = 1;
    for (int i = 0; i < n && i < SKIP_MAX; i++)
        if ((uintptr_t)raw[i] == ra) {
            stk = (const uintptr_t *)&raw[i];
            nstk = (unsigned)(n - i);
            break;
        }
    if (nstk > PROF_MAX_STACK)
        nstk = PROF_MAX_STACK;
    span_t *s0 = span_of((uintptr_t)p);
    if (!s0)
        return;
    size_t size = s0->elemsize;
    bucket_t *b = bucket_get(t, stk, nstk, size);
    special_t *sp = b ? special_new() : NULL;
    if (!sp)
        return; /* out of memory: this sample is not taken */
    enter_alloc(t);
    unsigned idx;
    span_t *s = object_at(t, (uintptr_t)p, &idx);
    if (s) {
        gc_thread_t *lt = special_lock_take(s->base);
        sp->idx = idx;
        sp->kind = SPECIAL_PROFILE;
        sp->bucket = b;
        special_insert(s, sp);
        /* Counted under the lock: fork takes it, so a child never has the
         * record without the count. */
        count(&b->future[(atomic_load(&prof_cycle) + 2) % 3], size, true);
        special_lock_give(s->base, lt);
        sp = NULL;
    }
    leave_alloc(t);
    if (sp)
        special_free(sp);
}

/* A sampled object died: found by a sweep (swept) or freed by the program. */
void profile_free(bucket_t *b, size_t size, bool swept)
{
    count(&b->future[(atomic_load(&prof_cycle) + (swept ? 1 : 2)) % 3], size, false);
}

/* The cycle count wraps at a multiple of 3, so that the three indices keep
 * their order (the world is stopped: one writer). */
#define CYCLE_WRAP (3u << 30)

void profile_next_cycle(void)
{
    atomic_store(&prof_cycle, (atomic_load(&prof_cycle) + 1) % CYCLE_WRAP);
}

/* Add cycle index i's counts into the published ones.  active_lock held. */
static void flush_index(unsigned i)
{
    for (bucket_t *b = atomic_load_explicit(&all_buckets, memory_order_acquire); b;
         b = atomic_load_explicit(&b->allnext, memory_order_relaxed)) {
        prof_counts_t *c = &b->future[i];
        b->active.allocs += atomic_exchange_explicit(&c->allocs, 0, memory_order_relaxed);
        b->active.frees += atomic_exchange_explicit(&c->frees, 0, memory_order_relaxed);
        b->active.alloc_bytes += atomic_exchange_explicit(&c->alloc_bytes, 0, memory_order_relaxed);
        b->active.free_bytes += atomic_exchange_explicit(&c->free_bytes, 0, memory_order_relaxed);
    }
}

void profile_flush(void)
{
    if (!atomic_load_explicit(&all_buckets, memory_order_relaxed))
        return;
    pthread_mutex_lock(&active_lock);
    flush_index(atomic_load(&prof_cycle) % 3);
    pthread_mutex_unlock(&active_lock);
}

bool profile_records(prof_record_t **out, size_t *np, bool all)
{
    *out = NULL;
    *np = 0;
    gc_init_once();
    /* No cycle may start meanwhile, and the last one's sweep must be over:
     * then everything it found is counted.  (At exit a collection may hold
     * gc_lock for good: then without.) */
    bool locked = all ? pthread_mutex_trylock(&gc_lock) == 0 : pthread_mutex_lock(&gc_lock) == 0;
    if (locked)
        sweep_finish();
    pthread_mutex_lock(&active_lock);
    uint32_t cycle = atomic_load(&prof_cycle);
    flush_index(cycle % 3);
    flush_index((cycle + 1) % 3);
    if (all)
        flush_index((cycle + 2) % 3);
    if (locked)
        pthread_mutex_unlock(&gc_lock);
    size_t n = 0;
    bool published = false;
    for (bucket_t *b = atomic_load(&all_buckets); b; b = atomic_load_explicit(&b->allnext, memory_order_relaxed)) {
        n++;
        published |= b->active.allocs != 0 || b->active.frees != 0;
    }
    if (!published && !all) /* no collection has published yet: Go shows everything */
        flush_index((cycle + 2) % 3);
    prof_record_t *r = n ? malloc(n * sizeof *r) : NULL;
    size_t k = 0;
    if (r)
        for (bucket_t *b = atomic_load(&all_buckets); b && k < n;
             b = atomic_load_explicit(&b->allnext, memory_order_relaxed)) {
            if (!b->active.allocs && !b->active.frees)
                continue;
            r[k++] = (prof_record_t){b, b->active.allocs, b->active.frees, b->active.alloc_bytes, b->active.free_bytes};
        }
    pthread_mutex_unlock(&active_lock);
    if (n && !r) {
        errno = ENOMEM;
        return false;
    }
    *out = r;
    *np = k;
    return true;
}

uint64_t profile_sys_bytes(void) { return atomic_load(&sys_bytes[SYS_PROF]); }

/* ---- fork ------------------------------------------------------------------------ */

void profile_lock_all(void)
{
    pthread_mutex_lock(&active_lock);
    pthread_mutex_lock(&bucket_lock);
    symtab_lock();
}

void profile_unlock_all(void)
{
    symtab_unlock();
    pthread_mutex_unlock(&bucket_lock);
    pthread_mutex_unlock(&active_lock);
}

/* The child samples apart from its parent: a fresh random state. */
void profile_fork_child(void)
{
    gc_thread_t *t = tls_thread;
    if (t) {
        t->prof_rng ^= (uint64_t)getpid() * 0xd6e8feb86659fd93ull;
        t->sample_left = next_gap(t, atomic_load(&profile_rate));
    }
}
