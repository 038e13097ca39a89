/*
 * make_chan.c - tricolor's channels (GC_CHAN, gc_make_chan, gc_send, gc_recv,
 * gc_recv_ok, gc_close) between threads, against Go's channels between
 * goroutines (go/make_chan.go, the same program in Go, default GOMAXPROCS).
 * tricolor only (bdwgc, malloc and mimalloc have no channels).
 *
 *   make_chan [roundtrips [elements [mpmc_elements]]]   (defaults 100000 10000000 4000000)
 *
 * Measurements (int64 values, pointer-free channels):
 *   pingpong_unbuffered  two threads (Go: two goroutines) and two unbuffered
 *                        channels: the main thread sends i on one, the other
 *                        receives it and sends i+1 back on the other:
 *                        ns per round trip, over `roundtrips` (after 1000
 *                        untimed ones)
 *   buffered_1p1c        one producer thread sends 0 .. elements-1 on a channel
 *                        of capacity 128 and closes it; the main thread receives
 *                        until it is closed: ns per element, from before the
 *                        producer starts until the last value is received
 *   buffered_4p4c        4 producers send mpmc_elements/4 values each on a
 *                        capacity-128 channel, 4 consumers receive until it is
 *                        closed (by the main thread, once the producers are
 *                        done): ns per element, from before the first thread
 *                        starts until the last consumer is done
 *
 * Output: "make_chan: ..." (parameters and sums, the same on every system),
 * one "OP name=<measurement> ns=<ns> ops=<count>" line per measurement for
 * run.sh, then the BENCH line.
 */
#include "shim.h"

#if !defined(SYS_TRICOLOR)
#error "make_chan is a tricolor benchmark (-DSYS_TRICOLOR)"
#endif

#include <pthread.h>

typedef GC_CHAN(int64_t) ichan;

#define CAP 128
#define WARM 1000
#define NPROD 4
#define NCONS 4

static void op_line(const char *name, uint64_t t, long ops)
{
    printf("OP name=%s ns=%.3f ops=%ld\n", name, (double)t / (double)ops, ops);
    fflush(stdout);
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    if (pthread_create(t, NULL, fn, arg) != 0) {
        fprintf(stderr, "make_chan: pthread_create failed\n");
        exit(1);
    }
}

/* ---- ping-pong ---------------------------------------------------------- */
static ichan ping, pong;
static long pp_n;

static void *ponger(void *arg)
{
    (void)arg;
    for (long i = 0; i < pp_n + WARM; i++) {
        int64_t v = gc_recv(ping);
        gc_send(pong, v + 1);
    }
    return NULL;
}

static void pingpong(long n)
{
    ping = gc_make_chan(ichan, 0);
    pong = gc_make_chan(ichan, 0);
    pp_n = n;
    pthread_t t;
    start(&t, ponger, NULL);
    int64_t sum = 0;
    for (long i = 0; i < WARM; i++) {
        gc_send(ping, (int64_t)i);
        sum += gc_recv(pong);
    }
    sum = 0;
    uint64_t t0 = mono_ns();
    for (long i = 0; i < n; i++) {
        gc_send(ping, (int64_t)i);
        sum += gc_recv(pong);
    }
    uint64_t t1 = mono_ns() - t0;
    pthread_join(t, NULL);
    op_line("pingpong_unbuffered", t1, n);
    printf("make_chan: pingpong n=%ld sum=%lld\n", n, (long long)sum);
}

/* ---- buffered ----------------------------------------------------------- */
typedef struct prod {
    ichan c;
    int64_t first, n;
} prod;

static void *producer(void *arg)
{
    prod *p = arg;
    for (int64_t i = 0; i < p->n; i++) gc_send(p->c, p->first + i);
    return NULL;
}

static void *producer_close(void *arg)
{
    producer(arg);
    gc_close(((prod *)arg)->c);
    return NULL;
}

typedef struct cons {
    ichan c;
    int64_t sum, count;
} cons;

static void *consumer(void *arg)
{
    cons *k = arg;
    int64_t v, sum = 0, count = 0;
    while (gc_recv_ok(k->c, &v)) {
        sum += v;
        count++;
    }
    k->sum = sum;
    k->count = count;
    return NULL;
}

static void buffered_1p1c(long n)
{
    prod p = {gc_make_chan(ichan, CAP), 0, n};
    cons k = {p.c, 0, 0};
    uint64_t t0 = mono_ns();
    pthread_t t;
    start(&t, producer_close, &p);
    consumer(&k);
    uint64_t t1 = mono_ns() - t0;
    pthread_join(t, NULL);
    op_line("buffered_1p1c", t1, n);
    printf("make_chan: 1p1c n=%ld sum=%lld count=%lld\n", n, (long long)k.sum, (long long)k.count);
}

static void buffered_mpmc(long n)
{
    ichan c = gc_make_chan(ichan, CAP);
    prod p[NPROD];
    cons k[NCONS];
    pthread_t tp[NPROD], tc[NCONS];
    long each = n / NPROD;
    uint64_t t0 = mono_ns();
    for (int i = 0; i < NCONS; i++) {
        k[i] = (cons){c, 0, 0};
        start(&tc[i], consumer, &k[i]);
    }
    for (int i = 0; i < NPROD; i++) {
        p[i] = (prod){c, (int64_t)i * each, each};
        start(&tp[i], producer, &p[i]);
    }
    for (int i = 0; i < NPROD; i++) pthread_join(tp[i], NULL);
    gc_close(c);
    int64_t sum = 0, count = 0;
    for (int i = 0; i < NCONS; i++) {
        pthread_join(tc[i], NULL);
        sum += k[i].sum;
        count += k[i].count;
    }
    uint64_t t1 = mono_ns() - t0;
    op_line("buffered_4p4c", t1, each * NPROD);
    printf("make_chan: 4p4c n=%ld sum=%lld count=%lld\n", each * NPROD, (long long)sum, (long long)count);
}

int main(int argc, char **argv)
{
    bench_init();
    long rt = argc > 1 ? atol(argv[1]) : 100000;
    long n = argc > 2 ? atol(argv[2]) : 10000000;
    long mpmc = argc > 3 ? atol(argv[3]) : 4000000;
    if (rt < 1) rt = 1;
    if (n < 1) n = 1;
    if (mpmc < NPROD) mpmc = NPROD;

    pingpong(rt);
    buffered_1p1c(n);
    buffered_mpmc(mpmc);
    bench_report();
    return 0;
}
