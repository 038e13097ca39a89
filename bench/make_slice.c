/*
 * make_slice.c - append throughput of tricolor's slices (GC_SLICE,
 * gc_append), against Go's append: go/make_slice.go is the same program in Go.
 * tricolor only (bdwgc, malloc and mimalloc have no slices).
 *
 *   make_slice [n [rounds]]        (defaults 1000000 20)
 *
 * Each measurement appends n elements one at a time, `rounds` times over (a
 * new slice each round; the old one becomes garbage):
 *   i64_nil         int64s onto a nil slice (grows by Go's growslice rule)
 *   i64_presized    int64s onto make([]int64, 0, n) (the make is timed too)
 *   s16_nil         16-byte structs {pointer, int64} onto a nil slice
 *   s16_presized    the same onto make([]T, 0, n)
 * The struct holds a pointer so that both systems scan its array (Go's
 * compiler would make an array of two int64s noscan, tricolor's typed macros
 * a scanned one); the int64 arrays are noscan in both.
 *
 * Output: "make_slice: ..." (parameters and a checksum, the same on every
 * system), one line per measurement for run.sh,
 *   OP name=<measurement> ns=<ns per append> ops=<appends>
 * then the BENCH line.
 */
#include "shim.h"

#if !defined(SYS_TRICOLOR)
#error "make_slice is a tricolor benchmark (-DSYS_TRICOLOR)"
#endif

typedef struct s16 {
    void *p;
    int64_t v;
} s16;

typedef GC_SLICE(int64_t) i64s;
typedef GC_SLICE(s16) s16s;

static int64_t marker;
static volatile uint64_t sink;

#define NOINLINE __attribute__((noinline))

static NOINLINE uint64_t i64_round(long n, int presized)
{
    i64s s = {0};
    if (presized) s = gc_make_slice(i64s, 0, (size_t)n);
    for (long i = 0; i < n; i++) gc_append(s, (int64_t)i);
    return (uint64_t)s.len + (uint64_t)s.ptr[s.len - 1];
}

static NOINLINE uint64_t s16_round(long n, int presized)
{
    s16s s = {0};
    if (presized) s = gc_make_slice(s16s, 0, (size_t)n);
    for (long i = 0; i < n; i++) gc_append(s, ((s16){&marker, (int64_t)i}));
    return (uint64_t)s.len + (uint64_t)s.ptr[s.len - 1].v + (s.ptr[0].p == &marker);
}

static uint64_t checksum;

static void measure(const char *name, long n, long rounds, int s16kind, int presized)
{
    /* One untimed round first: the heap grows to its working size. */
    sink = s16kind ? s16_round(n, presized) : i64_round(n, presized);
    uint64_t t0 = mono_ns(), sum = 0;
    for (long r = 0; r < rounds; r++) sum += s16kind ? s16_round(n, presized) : i64_round(n, presized);
    uint64_t t = mono_ns() - t0;
    checksum += sum;
    double ops = (double)n * (double)rounds;
    printf("OP name=%s ns=%.3f ops=%.0f\n", name, (double)t / ops, ops);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bench_init();
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long rounds = argc > 2 ? atol(argv[2]) : 20;
    if (n < 1) n = 1;
    if (rounds < 1) rounds = 1;

    measure("i64_nil", n, rounds, 0, 0);
    measure("i64_presized", n, rounds, 0, 1);
    measure("s16_nil", n, rounds, 1, 0);
    measure("s16_presized", n, rounds, 1, 1);

    printf("make_slice: n=%ld rounds=%ld checksum=%llu\n", n, rounds, (unsigned long long)checksum);
    bench_report();
    return 0;
}
