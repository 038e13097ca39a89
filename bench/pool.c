/*
 * pool.c - pools and finalizers (issue 5): a pool's get + put against a
 * fresh allocation of the same size, on one thread and on several, and how
 * many finalizers a collector runs per second.  go/pool.go is the same
 * program in Go (sync.Pool, runtime.SetFinalizer).
 *
 *   pool [iterations [threads [finalizers]]]     (defaults 20000000, CPUs online, 1000000)
 *
 * 1. fresh, one thread: `iterations` times, allocate a 128-byte object (scanned
 *    kind), write its first and last words, drop it (malloc, mimalloc: free it).
 * 2. pool, one thread: `iterations` times, get an object from a pool (made by
 *    the pool's New the first time), write the same words, put it back.
 *    tricolor: gc_pool; Go: sync.Pool; bdwgc, malloc and mimalloc have none.
 * 3, 4. The same on `threads` threads at once, iterations / threads each: the
 *    time per operation is the wall time over one thread's iterations.
 * 5. finalizers: allocate `finalizers` 32-byte objects, each with a finalizer
 *    that counts (tricolor gc_set_finalizer, bdwgc GC_REGISTER_FINALIZER, Go
 *    runtime.SetFinalizer), drop them, and collect until all but 0.1% have run
 *    (60 s at most): finalizers per second from the first registration to the
 *    last call.  bdwgc runs them when asked (GC_invoke_finalizers after each
 *    collection); tricolor and Go on their finalizer thread / goroutine.
 *
 * Output: "pool: ..." (parameters, the same on every system), "pool (<system>):
 * ..." for people, and for run.sh
 *   POOL st_fresh_ns=.. st_pool_ns=.. mt_fresh_ns=.. mt_pool_ns=.. threads=..
 *        fin_per_s=.. fin_ran=.. fin_n=..
 * ("-" where the system has no pool or no finalizers), then the BENCH line.
 */
#define _GNU_SOURCE 1
#include "shim.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define OBJ 128

#if defined(SYS_TRICOLOR)
#define HAVE_POOL 1
#define HAVE_FIN 1
typedef gc_pool pool_t;
static void *pool_new_obj(void) { return gc_alloc(OBJ); }
static pool_t *pool_make(void) { return gc_pool_new(pool_new_obj); }
#define pool_get(p) gc_pool_get(p)
#define pool_put(p, x) gc_pool_put(p, x)
#elif defined(SYS_BDWGC)
#define HAVE_POOL 0
#define HAVE_FIN 1
#else
#define HAVE_POOL 0
#define HAVE_FIN 0
#endif

static long iterations = 20000000, nthreads, nfin = 1000000;
static volatile uint64_t sink;

#define NOINLINE __attribute__((noinline))

static NOINLINE uint64_t fresh_loop(long n)
{
    uint64_t s = 0;
    for (long i = 0; i < n; i++) {
        uint64_t *p = bench_alloc(OBJ);
        p[0] = (uint64_t)i;
        p[OBJ / 8 - 1] = (uint64_t)i;
        s += p[0];
        bench_free(p);
    }
    return s;
}

#if HAVE_POOL
static pool_t *pool;
static NOINLINE uint64_t pool_loop(long n)
{
    uint64_t s = 0;
    for (long i = 0; i < n; i++) {
        uint64_t *p = pool_get(pool);
        p[0] = (uint64_t)i;
        p[OBJ / 8 - 1] = (uint64_t)i;
        s += p[0];
        pool_put(pool, p);
    }
    return s;
}
#endif

struct job {
    uint64_t (*fn)(long);
    long n;
    pthread_barrier_t *start;
};

static void *thread_main(void *arg)
{
    struct job *j = arg;
    pthread_barrier_wait(j->start);
    sink += j->fn(j->n);
    return NULL;
}

/* ns per operation of fn on t threads, n operations each */
static double timed(uint64_t (*fn)(long), long n, int t)
{
    bench_collect(); /* each phase starts from a collected heap, no cycle under way */
    if (t == 1) {
        fn(n / 20); /* warm up: caches, the pool's first objects */
        uint64_t t0 = mono_ns();
        sink += fn(n);
        return (double)(mono_ns() - t0) / (double)n;
    }
    pthread_t th[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)t + 1);
    struct job j = {fn, n, &start};
    for (int i = 0; i < t; i++)
        if (pthread_create(&th[i], NULL, thread_main, &j) != 0) {
            fprintf(stderr, "pool: pthread_create failed\n");
            exit(1);
        }
    pthread_barrier_wait(&start);
    uint64_t t0 = mono_ns();
    for (int i = 0; i < t; i++)
        pthread_join(th[i], NULL);
    double ns = (double)(mono_ns() - t0) / (double)n;
    pthread_barrier_destroy(&start);
    return ns;
}

/* ---- finalizers ------------------------------------------------------------- */

#if HAVE_FIN
static atomic_long fin_ran;
static uint64_t fin_last_ns;

#if defined(SYS_TRICOLOR)
static void fin_fn(void *obj, void *arg)
{
    (void)obj, (void)arg;
    atomic_fetch_add_explicit(&fin_ran, 1, memory_order_relaxed);
}
#define set_finalizer(p) gc_set_finalizer(p, fin_fn, NULL)
#define run_finalizers() ((void)0) /* the finalizer thread runs them */
#else
static void GC_CALLBACK fin_fn(void *obj, void *arg)
{
    (void)obj, (void)arg;
    atomic_fetch_add_explicit(&fin_ran, 1, memory_order_relaxed);
}
#define set_finalizer(p) GC_REGISTER_FINALIZER(p, fin_fn, NULL, NULL, NULL)
#define run_finalizers() GC_invoke_finalizers()
#endif

static NOINLINE void fin_make(long n)
{
    for (long i = 0; i < n; i++) {
        uint64_t *p = bench_alloc(32);
        p[0] = (uint64_t)i;
        set_finalizer(p);
    }
}

static NOINLINE void clear_stack(void)
{
    char buf[64 << 10];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static double fin_rate(long n, long *ran)
{
    uint64_t t0 = mono_ns();
    fin_make(n);
    long want = n - n / 1000;
    long seen = -1;
    uint64_t last_progress = mono_ns();
    clear_stack();
    bench_collect();
    while (atomic_load(&fin_ran) < want && mono_ns() - t0 < 60000000000ull) {
        run_finalizers();
        long r = atomic_load(&fin_ran);
        if (r != seen) {
            seen = r;
            last_progress = mono_ns();
            fin_last_ns = last_progress;
        } else if (mono_ns() - last_progress > 20000000) { /* 20 ms without progress: collect again */
            clear_stack();
            bench_collect();
            last_progress = mono_ns();
        }
        sched_yield();
    }
    *ran = atomic_load(&fin_ran);
    fin_last_ns = mono_ns();
    return (double)*ran / ((double)(fin_last_ns - t0) / 1e9);
}
#endif

int main(int argc, char **argv)
{
    bench_init();
    nthreads = sysconf(_SC_NPROCESSORS_ONLN);
    if (argc > 1)
        iterations = atol(argv[1]);
    if (argc > 2)
        nthreads = atol(argv[2]);
    if (argc > 3)
        nfin = atol(argv[3]);
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > 64)
        nthreads = 64;
    printf("pool: iterations=%ld threads=%ld finalizers=%ld object=%d bytes\n", iterations, nthreads, nfin, OBJ);

    double st_fresh = timed(fresh_loop, iterations, 1);
    double mt_fresh = timed(fresh_loop, iterations / nthreads, (int)nthreads);
    char st_pool[32] = "-", mt_pool[32] = "-", fin[32] = "-", ran_s[32] = "-";
#if HAVE_POOL
    pool = pool_make();
    snprintf(st_pool, sizeof st_pool, "%.2f", timed(pool_loop, iterations, 1));
    snprintf(mt_pool, sizeof mt_pool, "%.2f", timed(pool_loop, iterations / nthreads, (int)nthreads));
#endif
#if HAVE_FIN
    long ran = 0;
    snprintf(fin, sizeof fin, "%.0f", fin_rate(nfin, &ran));
    snprintf(ran_s, sizeof ran_s, "%ld", ran);
#endif
    printf("pool (%s): fresh %.2f ns, pool %s ns on one thread; fresh %.2f ns, pool %s ns on %ld threads; "
           "%s finalizers/s (%s of %ld ran)\n",
           BENCH_SYSTEM, st_fresh, st_pool, mt_fresh, mt_pool, nthreads, fin, ran_s, nfin);
    printf("POOL st_fresh_ns=%.2f st_pool_ns=%s mt_fresh_ns=%.2f mt_pool_ns=%s threads=%ld fin_per_s=%s fin_ran=%s "
           "fin_n=%ld\n",
           st_fresh, st_pool, mt_fresh, mt_pool, nthreads, fin, ran_s, nfin);
    bench_report();
    return 0;
}
