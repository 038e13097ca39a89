/*
 * test_concurrent.c - no reachable object is ever freed while the program
 * mutates the heap beside concurrent marking (mgc.c, writetrack.c).
 *
 * Every subtest keeps a live heap of some tens of MB of pointer-rich objects
 * (a random graph, the "ballast", plus the scenario's own structures), so that
 * marking takes tens of milliseconds, and repeats its scenario over many
 * collections.  A collector thread runs gc_collect() on request; the mutator
 * waits until the hidden gc_phase says marking runs, mutates while it lasts,
 * and when the cycle is over allocates garbage of the same sizes (filled with
 * 0xEE: a wrongly freed object is likely reused and overwritten), then walks
 * every structure: each object must be a live heap object (gc_base, gc_size)
 * with its magic, its id's checksum and its leaf intact, and the count and id
 * sum of the objects must be unchanged.
 *
 * Order of marking: the roots are one global struct; the collector scans the
 * globals in address order onto a LIFO queue, so what `roots.early` points to
 * is marked first, then the ballast, and what `roots.late` points to last.
 * A scenario puts its destination structures early and its sources late, so
 * that most mutations during marking store into already-scanned (black)
 * objects a pointer erased from a not-yet-scanned one: the race the write
 * tracking must catch.
 *
 * Subtests (each prints a summary line, and FAILs if no mutation ever landed
 * while marking ran, unless there is no concurrent marking in this run:
 * GODEBUG=gcstoptheworld=1 or no write-tracking backend):
 *
 *   move_then_erase  arrays A (late) and B (early) of 256 Ki slots share 192 Ki
 *                    objects; during marking, random moves A[i] -> B[j] and
 *                    B[j] -> A[i], each erasing its source.
 *   registers_only   8 objects (interior pointers in some rounds) are loaded
 *                    by asm from a late heap array into r8-r15 (x9-x12,
 *                    x19-x22 on aarch64), the array is zeroed, and the thread
 *                    spins in asm until marking ends: at mark termination the
 *                    objects are referenced from registers only.
 *   read_syscall     pointers travel from S (late) to R (early), and back,
 *                    through a pipe: write(2) from the source slot, read(2)
 *                    into the destination slot, then the source is erased: the
 *                    only copy left is the one the kernel wrote.  (With the
 *                    mprotect backend read(2) into a protected page fails with
 *                    EFAULT, a documented limitation: the test then touches
 *                    the page and retries, and counts it.)
 *   memcpy_realloc   2048 pointer vectors (16 to 8192 slots, small and large):
 *                    runs of pointers memcpy'd from one vector to another and
 *                    memmove'd to close the gap, the tail memset to zero;
 *                    vectors grown and shrunk with gc_realloc, or copied into
 *                    a fresh object with memcpy and the old one cleared.
 *   store_into_new   objects moved from O (late) into holders allocated during
 *                    marking (stored in H, early), holders wrapped into new
 *                    holders, 64 KiB "bulk" holders (large objects) allocated
 *                    during marking and filled with 2048 objects; unwrapping
 *                    moves them back into O.
 *   thread_start     during marking, threads are created and handed the only
 *                    reference to an object taken out of O (late): a third
 *                    store it into R (early) and exit, a third keep it on their
 *                    stack, a third in a __thread variable, until the cycle is
 *                    over.
 *   thread_exit      6 threads, started before the cycle, each take 48 objects
 *                    out of a late array during marking (then only on their
 *                    stacks), publish every other one - the object itself, or
 *                    wrapped in a holder allocated then - into a global array
 *                    or a heap array (early), and exit while marking runs,
 *                    staggered over the mark phase; the published ones must
 *                    survive (the others may die: counted, not required).
 *   large_objects    an 8 MiB pointer array L (early, scanned in 128 KiB
 *                    chunks) gets pointers written at random pages, moved from
 *                    elsewhere in L, from S (late) and from four 2 MiB arrays
 *                    E (late), each erased at its source; the E arrays are
 *                    moved during marking by gc_realloc or by memcpy into a
 *                    fresh large object.
 *   checkmark        GODEBUG=gccheckmark=1, which every subtest here runs with,
 *                    stops a child that loses every write (gctestlosewrites=1)
 *                    with a message naming the first missed object and its span
 *   many_threads     6 threads mutate a shared graph under a mutex (move
 *                    payload pointers between nodes, replace nodes by fresh
 *                    copies, swap nodes) while collections run back to back;
 *                    main verifies every 300 ms and at the end (80
 *                    collections, or 2/3 of the time budget).
 *
 * Knobs: TRICOLOR_CONCURRENT_ROUNDS (collections per subtest, default 40),
 * TRICOLOR_CONCURRENT_SECONDS (time budget per subtest, default 12; at least
 * 8 rounds run).  Another backend, e.g.:
 *   TRICOLOR_TEST_CHILD=1 GODEBUG=gcwritetrack=mprotect ./test_concurrent move_then_erase
 * (TRICOLOR_TEST_CHILD=1 keeps tc_main from dropping GODEBUG).
 */
#include "common.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

/* The library's hidden internals (a static link resolves them). */
extern _Atomic int gc_phase; /* 0: off, 1: marking */
const char *writetrack_name(void);

/* ------------------------------------------------------------------------ */
/* Objects                                                                   */
/* ------------------------------------------------------------------------ */

#define OBJ_MAGIC 0x6f626a656374a55aull
#define LEAF_MAGIC 0x6c656166a55a6c66ull
#define HOLD_MAGIC 0x686f6c64a55a6864ull
#define BULK_MAGIC 0x62756c6ba55a626bull
#define BN_MAGIC 0x62616c6ca55a626eull
#define GN_MAGIC 0x676e6f6465a55a67ull

struct leaf {
    uint64_t magic, id, check, pad;
}; /* 32 bytes */

struct obj {
    uint64_t magic, id, check;
    struct leaf *kid; /* reachable only from here */
    uint64_t pad[2];
}; /* 48 bytes */

/* A holder allocated during marking: depth 1 holds obj, depth d > 1 holds a
 * holder of depth d - 1. */
struct hold {
    uint64_t magic, depth, check;
    struct obj *obj;
    struct hold *inner;
    uint64_t pad[3];
}; /* 64 bytes */

#define BULK_N 8192
struct bulk {
    uint64_t magic, n, check, pad;
    struct obj *p[BULK_N];
}; /* 64 KiB + 32: a large object */

static uint64_t obj_chk(uint64_t id) { return tc_mix(id ^ 0x0b1ec7ull); }
static uint64_t leaf_chk(uint64_t id) { return tc_mix(~id); }
static uint64_t hold_chk(uint64_t depth) { return tc_mix(depth ^ 0x401dull); }
static uint64_t bulk_chk(uint64_t n) { return tc_mix(n ^ 0xb01cull); }

static _Atomic uint64_t next_id = 1;

static TC_NOINLINE struct obj *obj_new(void)
{
    uint64_t id = atomic_fetch_add(&next_id, 1);
    struct leaf *k = gc_new(struct leaf);
    struct obj *o = gc_new(struct obj);
    if (!k || !o)
        TC_FAIL("gc_alloc returned NULL");
    k->magic = LEAF_MAGIC;
    k->id = id;
    k->check = leaf_chk(id);
    k->pad = tc_mix(id + 1);
    o->magic = OBJ_MAGIC;
    o->id = id;
    o->check = obj_chk(id);
    o->kid = k;
    o->pad[0] = tc_mix(id + 2);
    o->pad[1] = tc_mix(id + 3);
    return o;
}

static TC_NOINLINE struct hold *hold_new(struct obj *o, struct hold *inner)
{
    struct hold *h = gc_new(struct hold);
    if (!h)
        TC_FAIL("gc_alloc returned NULL");
    h->depth = inner ? inner->depth + 1 : 1;
    h->check = hold_chk(h->depth);
    h->obj = o;
    h->inner = inner;
    h->magic = HOLD_MAGIC;
    return h;
}

/* ------------------------------------------------------------------------ */
/* Configuration and the run's state                                         */
/* ------------------------------------------------------------------------ */

static struct {
    const char *backend; /* uffd, mprotect, none */
    bool stw;            /* no concurrent marking in this run */
    int rounds;
    double seconds;
    double t0;
    long round; /* the current round, for messages */
} cfg;

static inline bool marking(void) { return atomic_load_explicit(&gc_phase, memory_order_acquire) == 1; }

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __asm__ volatile("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

static inline size_t rnd(uint64_t *s, size_t n) { return (size_t)(tc_rand(s) % n); }

/* Where messages say which cycle and backend. */
#define CTX "round %ld (%s): "
#define CTXA cfg.round, cfg.backend

/* ------------------------------------------------------------------------ */
/* Roots: one struct, so that their order of marking is known                */
/* ------------------------------------------------------------------------ */

struct bnode {
    uint64_t magic, id, check;
    struct bnode *e[5];
}; /* 64 bytes */

static struct {
    void *volatile late[6]; /* pushed first: marked last */
    struct bnode **ballast;
    void *volatile early[6]; /* pushed last: marked first */
} roots;

#define BALLAST_NODES (512 * 1024) /* 32 MiB of nodes with 5 random edges each, + a 4 MiB index */

static TC_NOINLINE void ballast_build(void)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    struct bnode **v = gc_calloc(BALLAST_NODES, sizeof *v);
    TC_CHECK(v != NULL, "gc_calloc of the ballast index");
    for (size_t i = 0; i < BALLAST_NODES; i++) {
        struct bnode *b = gc_new(struct bnode);
        TC_CHECK(b != NULL, "gc_new(struct bnode)");
        b->magic = BN_MAGIC;
        b->id = i;
        b->check = tc_mix(i ^ 0xba11a57ull);
        v[i] = b;
    }
    for (size_t i = 0; i < BALLAST_NODES; i++)
        for (int k = 0; k < 5; k++)
            v[i]->e[k] = v[rnd(&rng, BALLAST_NODES)];
    roots.ballast = v;
}

static TC_NOINLINE void ballast_verify(void)
{
    struct bnode **v = roots.ballast;
    TC_CHECK(gc_base(v) == v, CTX "the ballast index %p was freed", CTXA, (void *)v);
    for (size_t i = 0; i < BALLAST_NODES; i++) {
        struct bnode *b = v[i];
        if (gc_base(b) != b || b->magic != BN_MAGIC || b->id != i || b->check != tc_mix(i ^ 0xba11a57ull))
            TC_FAIL(CTX "ballast node %zu at %p: gc_base %p, magic %#llx id %llu: freed or corrupt", CTXA, i,
                    (void *)b, gc_base(b), (unsigned long long)b->magic, (unsigned long long)b->id);
        for (int k = 0; k < 5; k++)
            if (b->e[k]->magic != BN_MAGIC)
                TC_FAIL(CTX "ballast node %zu: edge %d to %p: freed or corrupt", CTXA, i, k, (void *)b->e[k]);
    }
}

/* ------------------------------------------------------------------------ */
/* Verification                                                              */
/* ------------------------------------------------------------------------ */

struct tally {
    uint64_t n, sum;
};

/* o is a live object with its leaf, both intact; count it. */
static void obj_check(struct tally *t, const struct obj *o, const char *what, size_t idx)
{
    void *b = gc_base(o);
    if (b != (void *)o)
        TC_FAIL(CTX "%s[%zu] = %p: gc_base = %p, gc_size = %zu: freed while reachable (its bytes: magic %#llx, "
                    "id %llu)",
                CTXA, what, idx, (const void *)o, b, gc_size(o), (unsigned long long)o->magic,
                (unsigned long long)o->id);
    if (o->magic != OBJ_MAGIC || o->check != obj_chk(o->id))
        TC_FAIL(CTX "%s[%zu] = %p (gc_size %zu) corrupt: magic %#llx, id %#llx, check %#llx: freed and reused?",
                CTXA, what, idx, (const void *)o, gc_size(o), (unsigned long long)o->magic,
                (unsigned long long)o->id, (unsigned long long)o->check);
    const struct leaf *k = o->kid;
    if (gc_base(k) != (const void *)k || gc_size(k) != sizeof(struct leaf))
        TC_FAIL(CTX "%s[%zu] = %p (id %llu): its leaf %p: gc_base = %p, gc_size = %zu: freed while reachable",
                CTXA, what, idx, (const void *)o, (unsigned long long)o->id, (const void *)k, gc_base(k),
                gc_size(k));
    if (k->magic != LEAF_MAGIC || k->id != o->id || k->check != leaf_chk(o->id))
        TC_FAIL(CTX "%s[%zu] = %p (id %llu): its leaf %p corrupt: magic %#llx id %llu: freed and reused?", CTXA,
                what, idx, (const void *)o, (unsigned long long)o->id, (const void *)k,
                (unsigned long long)k->magic, (unsigned long long)k->id);
    t->n++;
    t->sum += tc_mix(o->id);
}

static void slots_check(struct tally *t, struct obj *const *a, size_t n, const char *what)
{
    if (gc_base(a) != (const void *)a || gc_size(a) < n * sizeof(void *))
        TC_FAIL(CTX "the array %s %p of %zu slots: gc_base %p, gc_size %zu", CTXA, what, (const void *)a, n,
                gc_base(a), gc_size(a));
    for (size_t i = 0; i < n; i++)
        if (a[i])
            obj_check(t, a[i], what, i);
}

static void hold_check(struct tally *t, const struct hold *h, const char *what, size_t idx)
{
    uint64_t want = h->depth;
    if (want < 1 || want > 8)
        want = 8;
    for (;;) {
        if (gc_base(h) != (const void *)h)
            TC_FAIL(CTX "%s[%zu]: holder %p: gc_base = %p: freed while reachable (magic %#llx)", CTXA, what, idx,
                    (const void *)h, gc_base(h), (unsigned long long)h->magic);
        if (h->magic != HOLD_MAGIC || h->depth != want || h->check != hold_chk(want))
            TC_FAIL(CTX "%s[%zu]: holder %p corrupt: magic %#llx depth %llu (want %llu): freed and reused?", CTXA,
                    what, idx, (const void *)h, (unsigned long long)h->magic, (unsigned long long)h->depth,
                    (unsigned long long)want);
        if (want == 1) {
            TC_CHECK(h->obj != NULL && h->inner == NULL, CTX "%s[%zu]: holder %p of depth 1 holds %p, %p", CTXA,
                     what, idx, (const void *)h, (void *)h->obj, (void *)h->inner);
            obj_check(t, h->obj, what, idx);
            return;
        }
        TC_CHECK(h->obj == NULL && h->inner != NULL, CTX "%s[%zu]: holder %p of depth %llu holds %p, %p", CTXA,
                 what, idx, (const void *)h, (unsigned long long)want, (void *)h->obj, (void *)h->inner);
        h = h->inner;
        want--;
    }
}

static void bulk_check(struct tally *t, const struct bulk *b, const char *what, size_t idx)
{
    if (gc_base(b) != (const void *)b || gc_size(b) < sizeof *b)
        TC_FAIL(CTX "%s[%zu]: bulk holder %p: gc_base = %p, gc_size %zu: freed while reachable", CTXA, what, idx,
                (const void *)b, gc_base(b), gc_size(b));
    if (b->magic != BULK_MAGIC || b->n > BULK_N || b->check != bulk_chk(b->n))
        TC_FAIL(CTX "%s[%zu]: bulk holder %p corrupt: magic %#llx n %llu", CTXA, what, idx, (const void *)b,
                (unsigned long long)b->magic, (unsigned long long)b->n);
    for (size_t i = 0; i < b->n; i++)
        obj_check(t, b->p[i], "bulk", i);
    for (size_t i = b->n; i < BULK_N; i++)
        TC_CHECK(b->p[i] == NULL, CTX "%s[%zu]: bulk holder %p: slot %zu past its count holds %p", CTXA, what, idx,
                 (const void *)b, i, (void *)b->p[i]);
}

static void tally_expect(const struct tally *got, const struct tally *want, const char *what)
{
    if (got->n != want->n || got->sum != want->sum)
        TC_FAIL(CTX "%s: %llu objects (id sum %#llx), want %llu (%#llx): objects lost or duplicated", CTXA, what,
                (unsigned long long)got->n, (unsigned long long)got->sum, (unsigned long long)want->n,
                (unsigned long long)want->sum);
}

/* Garbage of the sizes the scenarios use, filled with 0xEE: freed objects of
 * those sizes are reused and overwritten. */
static TC_NOINLINE void churn(size_t n)
{
    tc_churn(sizeof(struct obj), n);
    tc_churn(sizeof(struct leaf), n);
    tc_churn(sizeof(struct hold), n / 4);
}

/* ------------------------------------------------------------------------ */
/* The collector thread                                                      */
/* ------------------------------------------------------------------------ */

static _Atomic long col_req, col_done;
static _Atomic int col_busy; /* 1 from a request until its collection is over */
static atomic_bool col_stop;
static bool col_continuous;
static tc_event col_ev;
static pthread_t col_th;
static uint64_t frees0;

static void *collector_main(void *arg)
{
    (void)arg;
    if (gc_register_thread() != 0)
        TC_FAIL("gc_register_thread failed in the collector thread");
    for (;;) {
        if (!col_continuous)
            tc_event_wait(&col_ev);
        if (atomic_load(&col_stop))
            break;
        gc_collect();
        atomic_store(&col_busy, 0);
        atomic_fetch_add(&col_done, 1);
        if (col_continuous && cfg.stw)
            tc_sleep_ms(10); /* the world is stopped for each whole collection: let the program run */
    }
    return NULL;
}

static long cycle_start(void)
{
    atomic_store(&col_busy, 1);
    long t = atomic_fetch_add(&col_req, 1) + 1;
    tc_event_post(&col_ev);
    return t;
}

static inline bool cycle_over(long t) { return atomic_load(&col_done) >= t; }

static void cycle_wait(long t)
{
    while (!cycle_over(t)) {
        struct timespec ts = {0, 100 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Wait for cycle t to mark: true when marking runs, false when the cycle ended
 * first or marking runs with the world stopped. */
static bool wait_marking(long t)
{
    if (cfg.stw)
        return false;
    while (!marking()) {
        if (cycle_over(t))
            return false;
        cpu_relax();
    }
    return true;
}

/* The mutation window of cycle t: while marking runs; with the world stopped
 * for marking, while the collection is in flight. */
static inline bool window(long t) { return cfg.stw ? !cycle_over(t) : marking(); }

/* Marking stops the world here: asked for, or no write-tracking backend. */
static bool marking_stops_world(void)
{
    const char *gd = getenv("GODEBUG");
    return (gd && strstr(gd, "gcstoptheworld=1")) || strcmp(writetrack_name(), "none") == 0;
}

static void setup(bool continuous)
{
    gc_collect(); /* initialise */
    cfg.backend = writetrack_name();
    cfg.stw = marking_stops_world();
    const char *e = getenv("TRICOLOR_CONCURRENT_ROUNDS");
    cfg.rounds = e && atoi(e) > 0 ? atoi(e) : 40;
    e = getenv("TRICOLOR_CONCURRENT_SECONDS");
    cfg.seconds = e && atof(e) > 0 ? atof(e) : 12;
    cfg.t0 = tc_now();
    cfg.round = -1;
    static gc_memstats m;
    gc_read_memstats(&m);
    frees0 = m.frees;
    ballast_build();
    tc_event_init(&col_ev);
    col_continuous = continuous;
    col_th = tc_thread(collector_main, NULL);
}

static void teardown(void)
{
    atomic_store(&col_stop, true);
    tc_event_post(&col_ev);
    tc_join(col_th);
    tc_event_destroy(&col_ev);
    ballast_verify();
    static gc_memstats m;
    gc_read_memstats(&m);
    TC_CHECK(m.frees > frees0, "the collector freed nothing in the whole subtest: the checks prove nothing");
}

/* One more round? */
static bool more_rounds(int r) { return r < cfg.rounds && (r < 8 || tc_now() - cfg.t0 < cfg.seconds); }

struct stats {
    long rounds, rounds_hit; /* rounds, and rounds with a mutation landed while marking */
    long ops, landed;        /* mutations, and those entirely while marking ran */
    double mark_s;           /* marking time seen by the mutator */
    long marks_seen;
};

/* The summary line, and the requirement that the scenario raced the marker. */
static void summary(const struct stats *s, const char *what, const char *extra)
{
    char hit[64] = "", ms[64] = "";
    if (s->rounds_hit >= 0)
        snprintf(hit, sizeof hit, ", in %ld of the cycles", s->rounds_hit);
    if (s->marks_seen)
        snprintf(ms, sizeof ms, "; marking seen %.1f ms on average", s->mark_s * 1e3 / (double)s->marks_seen);
    printf("     %s: %ld cycles (%s): %ld %s, %ld while marking ran%s%s%s%s\n", tc_current, s->rounds, cfg.backend,
           s->ops, what, s->landed, hit, ms, extra ? "; " : "", extra ? extra : "");
    if (cfg.stw) {
        printf("     %s: no concurrent marking in this run (GODEBUG=gcstoptheworld=1 or no write-tracking "
               "backend): mutations ran between collections; \"landed while marking\" not required\n",
               tc_current);
        return;
    }
    TC_CHECK(s->landed > 0, "no %s landed while marking ran in %ld cycles: the scenario never raced the collector",
             what, s->rounds);
}

/* Random empty (or full) slot in a, within `tries` probes; n slots. */
static inline long find_slot(struct obj **a, size_t n, bool full, uint64_t *rng, int tries)
{
    for (int k = 0; k < tries; k++) {
        size_t i = rnd(rng, n);
        if ((a[i] != NULL) == full)
            return (long)i;
    }
    return -1;
}

/* Put count new objects into random empty slots of a. */
static TC_NOINLINE void scatter(struct obj **a, size_t n, size_t count, uint64_t *rng, struct tally *t)
{
    for (size_t k = 0; k < count; k++) {
        long i = find_slot(a, n, false, rng, 1 << 20);
        TC_CHECK(i >= 0, "no empty slot");
        struct obj *o = obj_new();
        t->n++;
        t->sum += tc_mix(o->id);
        a[i] = o;
    }
}

/* ------------------------------------------------------------------------ */
/* 1. move_then_erase                                                        */
/* ------------------------------------------------------------------------ */

#define MV_SLOTS (256 * 1024)
#define MV_OBJS (192 * 1024)

static TC_NOINLINE void mv_mutate(struct obj **A, struct obj **B, long t, uint64_t *rng, struct stats *s,
                                  long *round_landed)
{
    while (window(t)) {
        bool before = marking();
        long moves = 0;
        for (int k = 0; k < 64; k++) {
            size_t i = rnd(rng, MV_SLOTS), j = rnd(rng, MV_SLOTS);
            if (A[i] && !B[j]) {
                B[j] = A[i];
                A[i] = NULL;
                moves++;
            } else if (B[j] && !A[i]) {
                A[i] = B[j];
                B[j] = NULL;
                moves++;
            }
        }
        s->ops += moves;
        if (before && marking())
            *round_landed += moves;
    }
}

static void test_move_then_erase(void)
{
    setup(false);
    uint64_t rng = 1;
    struct obj **A = gc_calloc(MV_SLOTS, sizeof *A), **B = gc_calloc(MV_SLOTS, sizeof *B);
    TC_CHECK(A && B, "gc_calloc");
    roots.late[0] = A;
    roots.early[0] = B;
    struct tally want = {0, 0};
    scatter(A, MV_SLOTS, MV_OBJS / 2, &rng, &want);
    scatter(B, MV_SLOTS, MV_OBJS / 2, &rng, &want);
    A = B = NULL;
    struct stats s = {0};
    for (int r = 0; more_rounds(r); r++) {
        cfg.round = r;
        tc_clear_stack();
        long t = cycle_start();
        long landed = 0;
        if (wait_marking(t) || cfg.stw) {
            double m0 = tc_now();
            mv_mutate(roots.late[0], roots.early[0], t, &rng, &s, &landed);
            if (!cfg.stw) {
                s.mark_s += tc_now() - m0;
                s.marks_seen++;
            }
        }
        cycle_wait(t);
        s.rounds++;
        s.landed += landed;
        s.rounds_hit += landed > 0;
        churn(MV_OBJS / 4);
        struct tally got = {0, 0};
        slots_check(&got, roots.late[0], MV_SLOTS, "A");
        slots_check(&got, roots.early[0], MV_SLOTS, "B");
        tally_expect(&got, &want, "A and B");
    }
    teardown();
    summary(&s, "moves", NULL);
}

/* ------------------------------------------------------------------------ */
/* 2. registers_only                                                         */
/* ------------------------------------------------------------------------ */

#define NREG 8

/*
 * Load slots[0..7] into eight registers, zero the slots, and spin while
 * marking runs; then store the registers back.  While it spins the pointers
 * exist in registers only.  Returns 1 when marking still ran after the slots
 * were zeroed (the registers were the only copies at mark termination).
 */
static TC_NOINLINE int hold_in_registers(void **slots, _Atomic int *phase)
{
    int landed = 0;
#if defined(__x86_64__)
    __asm__ volatile("movq 0(%[s]), %%r8\n\t"
                     "movq 8(%[s]), %%r9\n\t"
                     "movq 16(%[s]), %%r10\n\t"
                     "movq 24(%[s]), %%r11\n\t"
                     "movq 32(%[s]), %%r12\n\t"
                     "movq 40(%[s]), %%r13\n\t"
                     "movq 48(%[s]), %%r14\n\t"
                     "movq 56(%[s]), %%r15\n\t"
                     "movq $0, 0(%[s])\n\t"
                     "movq $0, 8(%[s])\n\t"
                     "movq $0, 16(%[s])\n\t"
                     "movq $0, 24(%[s])\n\t"
                     "movq $0, 32(%[s])\n\t"
                     "movq $0, 40(%[s])\n\t"
                     "movq $0, 48(%[s])\n\t"
                     "movq $0, 56(%[s])\n\t"
                     "cmpl $1, (%[p])\n\t"
                     "jne 2f\n\t"
                     "movl $1, %[l]\n\t"
                     "1:\n\t"
                     "pause\n\t"
                     "cmpl $1, (%[p])\n\t"
                     "je 1b\n\t"
                     "2:\n\t"
                     "movq %%r8, 0(%[s])\n\t"
                     "movq %%r9, 8(%[s])\n\t"
                     "movq %%r10, 16(%[s])\n\t"
                     "movq %%r11, 24(%[s])\n\t"
                     "movq %%r12, 32(%[s])\n\t"
                     "movq %%r13, 40(%[s])\n\t"
                     "movq %%r14, 48(%[s])\n\t"
                     "movq %%r15, 56(%[s])\n\t"
                     : [l] "+&r"(landed)
                     : [s] "r"(slots), [p] "r"(phase)
                     : "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory", "cc");
#elif defined(__aarch64__)
    __asm__ volatile("ldr x9, [%[s], #0]\n\t"
                     "ldr x10, [%[s], #8]\n\t"
                     "ldr x11, [%[s], #16]\n\t"
                     "ldr x12, [%[s], #24]\n\t"
                     "ldr x19, [%[s], #32]\n\t"
                     "ldr x20, [%[s], #40]\n\t"
                     "ldr x21, [%[s], #48]\n\t"
                     "ldr x22, [%[s], #56]\n\t"
                     "str xzr, [%[s], #0]\n\t"
                     "str xzr, [%[s], #8]\n\t"
                     "str xzr, [%[s], #16]\n\t"
                     "str xzr, [%[s], #24]\n\t"
                     "str xzr, [%[s], #32]\n\t"
                     "str xzr, [%[s], #40]\n\t"
                     "str xzr, [%[s], #48]\n\t"
                     "str xzr, [%[s], #56]\n\t"
                     "ldr w16, [%[p]]\n\t"
                     "cmp w16, #1\n\t"
                     "b.ne 2f\n\t"
                     "mov %w[l], #1\n\t"
                     "1:\n\t"
                     "yield\n\t"
                     "ldr w16, [%[p]]\n\t"
                     "cmp w16, #1\n\t"
                     "b.eq 1b\n\t"
                     "2:\n\t"
                     "str x9, [%[s], #0]\n\t"
                     "str x10, [%[s], #8]\n\t"
                     "str x11, [%[s], #16]\n\t"
                     "str x12, [%[s], #24]\n\t"
                     "str x19, [%[s], #32]\n\t"
                     "str x20, [%[s], #40]\n\t"
                     "str x21, [%[s], #48]\n\t"
                     "str x22, [%[s], #56]\n\t"
                     : [l] "+&r"(landed)
                     : [s] "r"(slots), [p] "r"(phase)
                     : "x9", "x10", "x11", "x12", "x16", "x19", "x20", "x21", "x22", "memory", "cc");
#else
    (void)slots;
    (void)phase;
#endif
    return landed;
}

#define REG_KEEP 4096 /* objects kept after their round, re-verified every round */

/* Fill slots[0..7] with new objects, as interior pointers at offset off. */
static TC_NOINLINE void reg_fill(void **slots, size_t off, struct tally *t)
{
    for (int i = 0; i < NREG; i++) {
        struct obj *o = obj_new();
        t->n++;
        t->sum += tc_mix(o->id);
        slots[i] = (char *)o + off;
    }
}

static void test_registers_only(void)
{
#if !defined(__x86_64__) && !defined(__aarch64__)
    printf("     registers_only: no register code for this architecture\n");
    exit(77);
#endif
    setup(false);
    void **C = gc_calloc(64, sizeof(void *));        /* the slots: marked last */
    struct obj **K = gc_calloc(REG_KEEP, sizeof *K); /* kept after their round: marked first */
    TC_CHECK(C && K, "gc_calloc");
    roots.late[0] = C;
    roots.early[0] = K;
    C = NULL;
    K = NULL;
    struct tally want = {0, 0};
    struct stats s = {0};
    size_t nkept = 0;
    for (int r = 0; more_rounds(r); r++) {
        cfg.round = r;
        size_t off = (size_t)(r % 3) * 8; /* 0: the object's start; 8, 16: interior pointers */
        struct tally fresh = {0, 0};
        reg_fill(roots.late[0], off, &fresh);
        tc_clear_stack();
        long t = cycle_start();
        int landed = 0;
        if (wait_marking(t)) {
            double m0 = tc_now();
            landed = hold_in_registers(roots.late[0], &gc_phase);
            s.mark_s += tc_now() - m0;
            s.marks_seen++;
        } else if (cfg.stw) {
            /* No concurrent marking: hold the pointers in registers only
             * across the whole stop-the-world collection instead. */
            hold_in_registers(roots.late[0], &col_busy);
        }
        cycle_wait(t);
        s.rounds++;
        s.ops += NREG;
        if (landed) {
            s.landed += NREG;
            s.rounds_hit++;
        }
        churn(20000);
        void **Cs = roots.late[0];
        struct obj **Ks = roots.early[0];
        struct tally got = {0, 0};
        for (int i = 0; i < NREG; i++) {
            TC_CHECK(Cs[i] != NULL, CTX "slot %d came back empty", CTXA, i);
            obj_check(&got, (struct obj *)((char *)Cs[i] - off), "registers", (size_t)i);
        }
        tally_expect(&got, &fresh, "objects held in registers");
        for (int i = 0; i < NREG && nkept < REG_KEEP; i++)
            Ks[nkept++] = (struct obj *)((char *)Cs[i] - off);
        memset(Cs, 0, NREG * sizeof(void *));
        want.n += fresh.n;
        want.sum += fresh.sum;
        struct tally all = {0, 0};
        slots_check(&all, Ks, REG_KEEP, "kept");
        tally_expect(&all, &want, "objects held in registers in earlier rounds");
    }
    teardown();
    summary(&s, "objects held only in registers", NULL);
}

/* ------------------------------------------------------------------------ */
/* 3. read_syscall                                                           */
/* ------------------------------------------------------------------------ */

#define RD_SLOTS (64 * 1024)
#define RD_OBJS (48 * 1024)

static int rd_fd[2];
static long rd_efault;

/* Move the pointer in *from to *to through the pipe, then erase *from.  The
 * program never loads the pointer: write(2) reads it from the heap, read(2)
 * writes it into the heap. */
static TC_NOINLINE void rd_move(struct obj **from, struct obj **to)
{
    for (;;) {
        ssize_t n = write(rd_fd[1], from, sizeof *from);
        if (n == (ssize_t)sizeof *from)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        TC_FAIL(CTX "write(2) of a pointer to the pipe: %zd, %s", CTXA, n, strerror(errno));
    }
    for (;;) {
        ssize_t n = read(rd_fd[0], to, sizeof *to);
        if (n == (ssize_t)sizeof *to)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EFAULT && strcmp(cfg.backend, "mprotect") == 0) {
            /* writetrack.c's documented limitation and workaround: a system
             * call cannot write a page protected by mprotect; write to it
             * first (the fault unprotects it and records it), then retry. */
            rd_efault++;
            *(volatile uintptr_t *)to = 0;
            continue;
        }
        TC_FAIL(CTX "read(2) of a pointer from the pipe into the heap at %p: %zd, %s (backend %s)", CTXA,
                (void *)to, n, n < 0 ? strerror(errno) : "short", cfg.backend);
    }
    *from = NULL;
}

static TC_NOINLINE void rd_mutate(struct obj **S, struct obj **R, long t, uint64_t *rng, struct stats *s,
                                  long *round_landed)
{
    while (window(t)) {
        bool before = marking();
        long moves = 0;
        for (int k = 0; k < 8; k++) {
            size_t i = rnd(rng, RD_SLOTS), j = rnd(rng, RD_SLOTS);
            if (S[i] && !R[j]) {
                rd_move(&S[i], &R[j]);
                moves++;
            } else if (R[j] && !S[i]) {
                rd_move(&R[j], &S[i]);
                moves++;
            }
        }
        s->ops += moves;
        if (before && marking())
            *round_landed += moves;
    }
}

static void test_read_syscall(void)
{
    setup(false);
    TC_CHECK(pipe2(rd_fd, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    uint64_t rng = 3;
    struct obj **S = gc_calloc(RD_SLOTS, sizeof *S), **R = gc_calloc(RD_SLOTS, sizeof *R);
    TC_CHECK(S && R, "gc_calloc");
    roots.late[0] = S;
    roots.early[0] = R;
    struct tally want = {0, 0};
    scatter(S, RD_SLOTS, RD_OBJS / 2, &rng, &want);
    scatter(R, RD_SLOTS, RD_OBJS / 2, &rng, &want);
    S = R = NULL;
    struct stats s = {0};
    for (int r = 0; more_rounds(r); r++) {
        cfg.round = r;
        tc_clear_stack();
        long t = cycle_start();
        long landed = 0;
        if (wait_marking(t) || cfg.stw) {
            double m0 = tc_now();
            rd_mutate(roots.late[0], roots.early[0], t, &rng, &s, &landed);
            if (!cfg.stw) {
                s.mark_s += tc_now() - m0;
                s.marks_seen++;
            }
        }
        cycle_wait(t);
        s.rounds++;
        s.landed += landed;
        s.rounds_hit += landed > 0;
        churn(RD_OBJS);
        struct tally got = {0, 0};
        slots_check(&got, roots.late[0], RD_SLOTS, "S");
        slots_check(&got, roots.early[0], RD_SLOTS, "R");
        tally_expect(&got, &want, "S and R");
    }
    teardown();
    close(rd_fd[0]);
    close(rd_fd[1]);
    char extra[96];
    snprintf(extra, sizeof extra, "%ld read(2) calls failed with EFAULT and were retried after a touch", rd_efault);
    summary(&s, "pointers moved by read(2)", extra);
}

/* ------------------------------------------------------------------------ */
/* 4. memcpy_realloc                                                         */
/* ------------------------------------------------------------------------ */

#define VEC_N 2048
#define VEC_OBJS (120 * 1024)
#define VEC_MIN 16
#define VEC_MAX 8192 /* 64 KiB: a large object */

static size_t vec_len[VEC_N], vec_cap[VEC_N];
static long vec_reallocs, vec_copies, vec_xfers;

static TC_NOINLINE void vec_op(struct obj ***T, uint64_t *rng)
{
    size_t v = rnd(rng, VEC_N);
    unsigned r = (unsigned)rnd(rng, 100);
    if (r < 70) {
        /* A run of v's pointers is memcpy'd to w's end, v's gap closed with
         * memmove and its old tail cleared. */
        size_t w = rnd(rng, VEC_N);
        if (w == v || vec_len[v] == 0)
            return;
        size_t c = 1 + rnd(rng, 64);
        if (c > vec_len[v])
            c = vec_len[v];
        if (c > vec_cap[w] - vec_len[w])
            c = vec_cap[w] - vec_len[w];
        if (c == 0)
            return;
        size_t a = rnd(rng, vec_len[v] - c + 1);
        struct obj **V = T[v], **W = T[w];
        memcpy(W + vec_len[w], V + a, c * sizeof *V);
        memmove(V + a, V + a + c, (vec_len[v] - a - c) * sizeof *V);
        memset(V + vec_len[v] - c, 0, c * sizeof *V);
        vec_len[v] -= c;
        vec_len[w] += c;
        vec_xfers++;
    } else {
        size_t cap = vec_cap[v], ncap;
        if (vec_len[v] > cap / 2 || cap <= VEC_MIN)
            ncap = cap < VEC_MAX ? cap * 2 : cap / 2;
        else
            ncap = cap / 2;
        if (ncap < vec_len[v] || ncap < VEC_MIN)
            return;
        struct obj **N;
        if (r < 90) {
            N = gc_realloc(T[v], ncap * sizeof *N);
            TC_CHECK(N != NULL, "gc_realloc to %zu slots", ncap);
            vec_reallocs++;
        } else {
            /* By hand: memcpy into a fresh object, clear the old one. */
            N = gc_alloc(ncap * sizeof *N);
            TC_CHECK(N != NULL, "gc_alloc of %zu slots", ncap);
            memcpy(N, T[v], vec_len[v] * sizeof *N);
            memset(T[v], 0, vec_cap[v] * sizeof *N);
            vec_copies++;
        }
        T[v] = N;
        vec_cap[v] = ncap;
    }
}

static TC_NOINLINE void vec_mutate(struct obj ***T, long t, uint64_t *rng, struct stats *s, long *round_landed)
{
    while (window(t)) {
        bool before = marking();
        for (int k = 0; k < 16; k++)
            vec_op(T, rng);
        s->ops += 16;
        if (before && marking())
            *round_landed += 16;
    }
}

static TC_NOINLINE void vec_build(uint64_t *rng, struct tally *want)
{
    struct obj ***T = gc_calloc(VEC_N, sizeof *T);
    TC_CHECK(T != NULL, "gc_calloc");
    roots.late[0] = T;
    for (size_t v = 0; v < VEC_N; v++) {
        vec_cap[v] = 128;
        T[v] = gc_calloc(vec_cap[v], sizeof(struct obj *));
        TC_CHECK(T[v] != NULL, "gc_calloc");
    }
    for (size_t k = 0; k < VEC_OBJS; k++) {
        size_t v = rnd(rng, VEC_N);
        while (vec_len[v] == vec_cap[v])
            v = (v + 1) % VEC_N;
        struct obj *o = obj_new();
        want->n++;
        want->sum += tc_mix(o->id);
        T[v][vec_len[v]++] = o;
    }
}

static void vec_verify(const struct tally *want)
{
    struct obj ***T = roots.late[0];
    struct tally got = {0, 0};
    for (size_t v = 0; v < VEC_N; v++) {
        struct obj **V = T[v];
        if (gc_base(V) != V || gc_size(V) < vec_cap[v] * sizeof *V)
            TC_FAIL(CTX "vector %zu (%zu of %zu slots) at %p: gc_base %p, gc_size %zu: freed while reachable", CTXA,
                    v, vec_len[v], vec_cap[v], (void *)V, gc_base(V), gc_size(V));
        for (size_t i = 0; i < vec_len[v]; i++) {
            TC_CHECK(V[i] != NULL, CTX "vector %zu: slot %zu of %zu is empty", CTXA, v, i, vec_len[v]);
            obj_check(&got, V[i], "vector", v * 100000 + i);
        }
        for (size_t i = vec_len[v]; i < vec_cap[v]; i++)
            TC_CHECK(V[i] == NULL, CTX "vector %zu: slot %zu past its length %zu holds %p", CTXA, v, i, vec_len[v],
                     (void *)V[i]);
    }
    tally_expect(&got, want, "vectors");
}

static void test_memcpy_realloc(void)
{
    setup(false);
    uint64_t rng = 4;
    struct tally want = {0, 0};
    vec_build(&rng, &want);
    struct stats s = {0};
    for (int r = 0; more_rounds(r); r++) {
        cfg.round = r;
        tc_clear_stack();
        long t = cycle_start();
        long landed = 0;
        if (wait_marking(t) || cfg.stw) {
            double m0 = tc_now();
            vec_mutate(roots.late[0], t, &rng, &s, &landed);
            if (!cfg.stw) {
                s.mark_s += tc_now() - m0;
                s.marks_seen++;
            }
        }
        cycle_wait(t);
        s.rounds++;
        s.landed += landed;
        s.rounds_hit += landed > 0;
        churn(VEC_OBJS / 2);
        vec_verify(&want);
    }
    teardown();
    char extra[160];
    snprintf(extra, sizeof extra, "%ld memcpy+memmove transfers, %ld gc_realloc, %ld memcpy into a fresh vector",
             vec_xfers, vec_reallocs, vec_copies);
    summary(&s, "operations", extra);
}

/* ------------------------------------------------------------------------ */
/* 5. store_into_new                                                         */
/* ------------------------------------------------------------------------ */

#define SN_OSLOTS (256 * 1024)
#define SN_HSLOTS (64 * 1024)
#define SN_OBJS (100 * 1024)
#define SN_BULK_TAKE 2048

static long sn_wraps, sn_rewraps, sn_unwraps, sn_bulks;

static TC_NOINLINE void sn_op(struct obj **O, void **H, uint64_t *rng)
{
    unsigned r = (unsigned)rnd(rng, 1000);
    if (r < 400) {
        /* A new holder gets the only reference of an old object. */
        long i = find_slot(O, SN_OSLOTS, true, rng, 16);
        long j = find_slot((struct obj **)H, SN_HSLOTS, false, rng, 16);
        if (i < 0 || j < 0)
            return;
        struct hold *h = hold_new(NULL, NULL);
        h->obj = O[i];
        O[i] = NULL;
        H[j] = h;
        sn_wraps++;
    } else if (r < 550) {
        /* A new holder gets the only reference of a holder. */
        long j = find_slot((struct obj **)H, SN_HSLOTS, true, rng, 16);
        if (j < 0 || ((struct hold *)H[j])->magic != HOLD_MAGIC || ((struct hold *)H[j])->depth >= 6)
            return;
        struct hold *h = hold_new(NULL, NULL);
        h->inner = H[j];
        h->depth = h->inner->depth + 1;
        h->check = hold_chk(h->depth);
        H[j] = h;
        sn_rewraps++;
    } else if (r < 998) {
        /* Back into O; the holders become garbage. */
        long j = find_slot((struct obj **)H, SN_HSLOTS, true, rng, 16);
        if (j < 0)
            return;
        struct hold *h = H[j];
        if (h->magic == HOLD_MAGIC) {
            long i = find_slot(O, SN_OSLOTS, false, rng, 64);
            if (i < 0)
                return;
            while (h->depth > 1)
                h = h->inner;
            O[i] = h->obj;
        } else {
            struct bulk *b = H[j];
            for (size_t k = 0; k < b->n; k++) {
                long i = find_slot(O, SN_OSLOTS, false, rng, 1 << 20);
                TC_CHECK(i >= 0, "no empty slot in O");
                O[i] = b->p[k];
            }
        }
        H[j] = NULL;
        sn_unwraps++;
    } else {
        /* A large holder allocated while marking gets 2048 objects. */
        long j = find_slot((struct obj **)H, SN_HSLOTS, false, rng, 16);
        if (j < 0)
            return;
        struct bulk *b = gc_new(struct bulk);
        TC_CHECK(b != NULL, "gc_new(struct bulk)");
        size_t n = 0;
        for (int k = 0; k < 8 * SN_BULK_TAKE && n < SN_BULK_TAKE; k++) {
            size_t i = rnd(rng, SN_OSLOTS);
            if (O[i]) {
                b->p[n++] = O[i];
                O[i] = NULL;
            }
        }
        b->n = n;
        b->check = bulk_chk(n);
        b->magic = BULK_MAGIC;
        H[j] = b;
        sn_bulks++;
    }
}

static TC_NOINLINE void sn_mutate(struct obj **O, void **H, long t, uint64_t *rng, struct stats *s,
                                  long *round_landed)
{
    while (window(t)) {
        bool before = marking();
        for (int k = 0; k < 16; k++)
            sn_op(O, H, rng);
        s->ops += 16;
        if (before && marking())
            *round_landed += 16;
    }
}

static void sn_verify(const struct tally *want)
{
    struct tally got = {0, 0};
    slots_check(&got, roots.late[0], SN_OSLOTS, "O");
    void **H = roots.early[0];
    TC_CHECK(gc_base(H) == H, CTX "H was freed", CTXA);
    for (size_t j = 0; j < SN_HSLOTS; j++) {
        if (!H[j])
            continue;
        const struct hold *h = H[j];
        if (gc_base(h) != h)
            TC_FAIL(CTX "H[%zu] = %p: gc_base = %p: a holder freed while reachable (magic %#llx)", CTXA, j,
                    (const void *)h, gc_base(h), (unsigned long long)h->magic);
        if (h->magic == BULK_MAGIC)
            bulk_check(&got, H[j], "H", j);
        else
            hold_check(&got, h, "H", j);
    }
    tally_expect(&got, want, "O and the holders in H");
}

static void test_store_into_new(void)
{
    setup(false);
    uint64_t rng = 5;
    struct obj **O = gc_calloc(SN_OSLOTS, sizeof *O);
    void **H = gc_calloc(SN_HSLOTS, sizeof *H);
    TC_CHECK(O && H, "gc_calloc");
    roots.late[0] = O;
    roots.early[0] = H;
    struct tally want = {0, 0};
    scatter(O, SN_OSLOTS, SN_OBJS, &rng, &want);
    O = NULL;
    H = NULL;
    struct stats s = {0};
    for (int r = 0; more_rounds(r); r++) {
        cfg.round = r;
        tc_clear_stack();
        long t = cycle_start();
        long landed = 0;
        if (wait_marking(t) || cfg.stw) {
            double m0 = tc_now();
            sn_mutate(roots.late[0], roots.early[0], t, &rng, &s, &landed);
            if (!cfg.stw) {
                s.mark_s += tc_now() - m0;
                s.marks_seen++;
            }
        }
        cycle_wait(t);
        s.rounds++;
        s.landed += landed;
        s.rounds_hit += landed > 0;
        churn(SN_OBJS / 2);
        sn_verify(&want);
    }
    teardown();
    char extra[160];
    snprintf(extra, sizeof extra, "%ld wraps into new holders, %ld into new outer holders, %ld new bulk holders, %ld "
             "unwraps", sn_wraps, sn_rewraps, sn_bulks, sn_unwraps);
    summary(&s, "operations", extra);
}

/* ------------------------------------------------------------------------ */
/* 6. thread_start                                                           */
/* ------------------------------------------------------------------------ */

#define TS_SLOTS (64 * 1024)
#define TS_OBJS (24 * 1024)
#define TS_MAX 30 /* threads per round */

enum { TS_HEAP, TS_STACK, TS_TLS };

struct handoff {
    struct obj *volatile ptr; /* the parent's copy, until taken */
    atomic_int taken;
    atomic_int *release;
    int mode;
    bool created_marking, taken_marking;
};

static __thread struct obj *volatile ts_tls;

/* Store o into a random empty slot of R (other threads do the same). */
static void ts_publish(struct obj **R, struct obj *o, uint64_t *rng)
{
    for (;;) {
        size_t j = rnd(rng, TS_SLOTS);
        struct obj *expect = NULL;
        if (__atomic_compare_exchange_n(&R[j], &expect, o, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return;
    }
}

static TC_NOINLINE void ts_wait_release(atomic_int *release)
{
    while (!atomic_load(release))
        tc_sleep_ms(1);
}

static void *ts_child(void *arg)
{
    struct handoff *h = arg;
    if (gc_register_thread() != 0)
        TC_FAIL("gc_register_thread failed in a thread started during marking");
    struct obj *volatile mine = h->ptr; /* now on this thread's stack */
    h->taken_marking = marking();
    int mode = h->mode;
    atomic_int *release = h->release;
    atomic_store(&h->taken, 1); /* from here, the parent's copy is erased */
    uint64_t rng = (uint64_t)(uintptr_t)&mine | 1;
    struct obj **R = roots.early[0];
    switch (mode) {
    case TS_HEAP:
        tc_churn(sizeof(struct obj), 64); /* a cache of its own, allocated black */
        ts_publish(R, mine, &rng);
        mine = NULL;
        break;
    case TS_STACK:
        ts_wait_release(release);
        ts_publish(R, mine, &rng);
        mine = NULL;
        break;
    case TS_TLS:
        ts_tls = mine;
        mine = NULL;
        ts_wait_release(release);
        ts_publish(R, ts_tls, &rng);
        ts_tls = NULL;
        break;
    }
    return NULL;
}

static TC_NOINLINE void ts_round(long t, uint64_t *rng, struct stats *s, long *round_landed, long *by_mode)
{
    struct handoff hs[TS_MAX];
    pthread_t th[TS_MAX];
    atomic_int release = 0;
    int n = 0;
    struct obj **O = roots.late[0];
    if (wait_marking(t) || cfg.stw) {
        double m0 = tc_now();
        while (n < TS_MAX && window(t)) {
            long i = find_slot(O, TS_SLOTS, true, rng, 1 << 20);
            TC_CHECK(i >= 0, "O is empty");
            struct handoff *h = &hs[n];
            h->ptr = O[i];
            O[i] = NULL;
            atomic_store(&h->taken, 0);
            h->release = &release;
            h->mode = n % 3;
            h->created_marking = marking();
            h->taken_marking = false;
            th[n] = tc_thread(ts_child, h);
            while (!atomic_load(&h->taken))
                cpu_relax();
            h->ptr = NULL;
            n++;
        }
        if (!cfg.stw) {
            while (marking())
                cpu_relax();
            s->mark_s += tc_now() - m0;
            s->marks_seen++;
        }
    }
    cycle_wait(t);
    atomic_store(&release, 1);
    for (int k = 0; k < n; k++) {
        tc_join(th[k]);
        s->ops++;
        if (hs[k].created_marking && hs[k].taken_marking) {
            ++*round_landed;
            by_mode[hs[k].mode]++;
        }
    }
}

static void test_thread_start(void)
{
    setup(false);
    uint64_t rng = 6;
    struct obj **O = gc_calloc(TS_SLOTS, sizeof *O), **R = gc_calloc(TS_SLOTS, sizeof *R);
    TC_CHECK(O && R, "gc_calloc");
    roots.late[0] = O;
    roots.early[0] = R;
    struct tally want = {0, 0};
    scatter(O, TS_SLOTS, TS_OBJS, &rng, &want);
    O = R = NULL;
    struct stats s = {0};
    long by_mode[3] = {0, 0, 0};
    for (int r = 0; more_rounds(r); r++) {
        cfg.round = r;
        tc_clear_stack();
        long t = cycle_start();
        long landed = 0;
        ts_round(t, &rng, &s, &landed, by_mode);
        s.rounds++;
        s.landed += landed;
        s.rounds_hit += landed > 0;
        churn(TS_OBJS);
        struct tally got = {0, 0};
        slots_check(&got, roots.late[0], TS_SLOTS, "O");
        slots_check(&got, roots.early[0], TS_SLOTS, "R");
        tally_expect(&got, &want, "O and R");
        /* Put everything back into O for the next round. */
        struct obj **Os = roots.late[0], **Rs = roots.early[0];
        for (size_t j = 0; j < TS_SLOTS; j++)
            if (Rs[j]) {
                long i = find_slot(Os, TS_SLOTS, false, &rng, 1 << 20);
                Os[i] = Rs[j];
                Rs[j] = NULL;
            }
    }
    teardown();
    char extra[160];
    snprintf(extra, sizeof extra, "while marking: %ld stored it into the heap, %ld kept it on the stack, %ld in TLS",
             by_mode[TS_HEAP], by_mode[TS_STACK], by_mode[TS_TLS]);
    summary(&s, "threads started and handed the only reference", extra);
}

/* ------------------------------------------------------------------------ */
/* 7. thread_exit                                                            */
/* ------------------------------------------------------------------------ */

#define TE_THREADS 6
#define TE_EACH 48
#define TE_PUB_MAX (1 << 14)

static void *volatile te_global[TE_PUB_MAX]; /* published, global half: objects and holders */
static atomic_long te_nglobal, te_nheap;

struct exiter {
    int idx;
    long t;
    atomic_int ready;
    bool began_marking, ended_marking;
};

static TC_NOINLINE void te_work(struct exiter *e)
{
    struct obj **F = roots.late[0];
    void **P = roots.early[0];
    struct obj *volatile mine[TE_EACH]; /* the only references, once taken */
    size_t base = (size_t)e->idx * TE_EACH;
    e->began_marking = marking();
    for (int k = 0; k < TE_EACH; k++) {
        mine[k] = F[base + (size_t)k];
        F[base + (size_t)k] = NULL;
    }
    /* Publish the even ones: the old object itself, or a holder allocated
     * now (black), into a global or into the heap array. */
    for (int k = 0; k < TE_EACH; k += 2) {
        void *x = mine[k];
        if (k % 4 == 2)
            x = hold_new(mine[k], NULL);
        mine[k] = NULL;
        if (k % 8 < 4)
            te_global[atomic_fetch_add(&te_nglobal, 1)] = x;
        else
            P[atomic_fetch_add(&te_nheap, 1)] = x;
    }
    /* The odd ones stay on this stack only, and die with the thread. */
    e->ended_marking = marking();
}

static void *te_thread(void *arg)
{
    struct exiter *e = arg;
    if (gc_register_thread() != 0)
        TC_FAIL("gc_register_thread failed");
    tc_churn(sizeof(struct hold), 16);
    atomic_store(&e->ready, 1);
    /* Wait for marking (with the world stopped for marking: for the
     * request), then stagger: thread i starts 3i ms into marking. */
    while (!cycle_over(e->t) && !(cfg.stw ? atomic_load(&col_req) >= e->t : marking())) {
        struct timespec ts = {0, 100 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!cfg.stw && marking()) {
        tc_sleep_ns((long)e->idx * 3000000L);
    }
    te_work(e);
    return NULL;
}

static TC_NOINLINE void te_fill(uint64_t *hidden_odd, size_t *nhidden)
{
    struct obj **F = roots.late[0];
    for (size_t k = 0; k < TE_THREADS * TE_EACH; k++) {
        F[k] = obj_new();
        if (k % 2 && *nhidden < TE_PUB_MAX)
            hidden_odd[(*nhidden)++] = tc_hide(F[k]);
    }
}

/* A published object or holder. */
static void te_check(struct tally *t, const void *p, const char *what, size_t idx)
{
    TC_CHECK(p != NULL, CTX "%s[%zu] is empty", CTXA, what, idx);
    if (((const struct hold *)p)->magic == HOLD_MAGIC)
        hold_check(t, p, what, idx);
    else
        obj_check(t, p, what, idx);
}

static void te_verify(struct tally *want)
{
    struct tally got = {0, 0};
    long ng = atomic_load(&te_nglobal), nh = atomic_load(&te_nheap);
    for (long i = 0; i < ng; i++)
        te_check(&got, te_global[i], "published in a global", (size_t)i);
    void **P = roots.early[0];
    TC_CHECK(gc_base(P) == P, CTX "the heap array of published objects was freed", CTXA);
    for (long i = 0; i < nh; i++)
        te_check(&got, P[i], "published in the heap", (size_t)i);
    tally_expect(&got, want, "objects published by exited threads");
}

static void test_thread_exit(void)
{
    setup(false);
    struct obj **F = gc_calloc(TE_THREADS * TE_EACH, sizeof *F);
    void **P = gc_calloc(TE_PUB_MAX, sizeof *P);
    TC_CHECK(F && P, "gc_calloc");
    roots.late[0] = F;
    roots.early[0] = P;
    F = NULL;
    P = NULL;
    static uint64_t hidden_odd[TE_PUB_MAX];
    size_t nhidden = 0;
    struct tally want = {0, 0};
    struct stats s = {0};
    int max_rounds = TE_PUB_MAX / (TE_THREADS * TE_EACH / 4);
    for (int r = 0; more_rounds(r) && r < max_rounds; r++) {
        cfg.round = r;
        te_fill(hidden_odd, &nhidden);
        struct obj **Fs = roots.late[0];
        for (size_t k = 0; k < TE_THREADS * TE_EACH; k += 2) {
            want.n++;
            want.sum += tc_mix(Fs[k]->id);
        }
        Fs = NULL;
        tc_clear_stack();
        static struct exiter ex[TE_THREADS];
        pthread_t th[TE_THREADS];
        long t = atomic_load(&col_req) + 1;
        for (int i = 0; i < TE_THREADS; i++) {
            ex[i].idx = i;
            ex[i].t = t;
            atomic_store(&ex[i].ready, 0);
            ex[i].began_marking = ex[i].ended_marking = false;
            th[i] = tc_thread(te_thread, &ex[i]);
        }
        for (int i = 0; i < TE_THREADS; i++)
            while (!atomic_load(&ex[i].ready))
                tc_sleep_ms(0);
        TC_CHECK(cycle_start() == t, "unexpected collection request");
        double m0 = tc_now();
        bool seen = wait_marking(t);
        for (int i = 0; i < TE_THREADS; i++)
            tc_join(th[i]);
        long landed = 0;
        for (int i = 0; i < TE_THREADS; i++) {
            s.ops++;
            if (ex[i].began_marking && ex[i].ended_marking)
                landed++;
        }
        if (seen) {
            while (marking())
                cpu_relax();
            s.mark_s += tc_now() - m0;
            s.marks_seen++;
        }
        cycle_wait(t);
        s.rounds++;
        s.landed += landed;
        s.rounds_hit += landed > 0;
        Fs = roots.late[0];
        for (size_t k = 0; k < TE_THREADS * TE_EACH; k++)
            TC_CHECK(Fs[k] == NULL, CTX "F[%zu] was not taken", CTXA, k);
        churn(20000);
        te_verify(&want);
    }
    teardown();
    /* The unpublished half may die: count (a dead object's slot may have been
     * reused by an object of the same size). */
    for (int k = 0; k < 3; k++)
        tc_collect_churn(sizeof(struct obj), 20000, 1);
    size_t dead = 0;
    for (size_t i = 0; i < nhidden; i++) {
        struct obj *o = tc_unhide(hidden_odd[i]);
        if (gc_base(o) != o || o->magic != OBJ_MAGIC)
            dead++;
    }
    char extra[160];
    snprintf(extra, sizeof extra, "%zu of %zu objects only exited threads referenced were reclaimed (not required)",
             dead, nhidden);
    summary(&s, "threads exited after publishing", extra);
}

/* ------------------------------------------------------------------------ */
/* 8. large_objects                                                          */
/* ------------------------------------------------------------------------ */

#define LG_L (1024 * 1024) /* 8 MiB */
#define LG_LOBJS (160 * 1024)
#define LG_S (128 * 1024)
#define LG_SOBJS (32 * 1024)
#define LG_E 4
#define LG_ES (256 * 1024) /* 2 MiB */
#define LG_EOBJS (8 * 1024)

static long lg_reallocs, lg_copies;

/* Move E[k] to a new large object: by gc_realloc (to a size that alternates)
 * or by memcpy into a fresh object and clearing the old. */
static TC_NOINLINE void lg_move_e(void *volatile *E, int k, bool by_realloc)
{
    struct obj **old = E[k];
    size_t sz = gc_size(old);
    size_t nsz = sz > LG_ES * sizeof(void *) ? LG_ES * sizeof(void *) : LG_ES * sizeof(void *) + 64 * 1024;
    struct obj **n;
    if (by_realloc) {
        n = gc_realloc(old, nsz);
        TC_CHECK(n != NULL, "gc_realloc of a large array");
        lg_reallocs++;
    } else {
        n = gc_alloc(nsz);
        TC_CHECK(n != NULL, "gc_alloc of a large array");
        memcpy(n, old, LG_ES * sizeof *n);
        memset(old, 0, LG_ES * sizeof *n);
        lg_copies++;
    }
    E[k] = n;
}

static TC_NOINLINE void lg_mutate(struct obj **L, struct obj **S, void *volatile *E, long t, uint64_t *rng,
                                  struct stats *st, long *round_landed, int round)
{
    long ops = 0;
    lg_move_e(E, round % LG_E, round % 2 == 0);
    while (window(t)) {
        bool before = marking();
        long moves = 0;
        for (int k = 0; k < 32; k++) {
            unsigned r = (unsigned)rnd(rng, 10);
            size_t j = rnd(rng, LG_L);
            struct obj **src, **dst;
            if (r < 6) { /* within L */
                src = &L[rnd(rng, LG_L)];
                dst = &L[j];
            } else if (r < 8) { /* S and L */
                src = &S[rnd(rng, LG_S)];
                dst = &L[j];
            } else { /* an E array and L */
                src = &((struct obj **)E[rnd(rng, LG_E)])[rnd(rng, LG_ES)];
                dst = &L[j];
            }
            if (rnd(rng, 2)) {
                struct obj **x = src;
                src = dst;
                dst = x;
            }
            if (*src && !*dst) {
                *dst = *src;
                *src = NULL;
                moves++;
            }
        }
        st->ops += moves;
        if (before && marking())
            *round_landed += moves;
        if ((ops += 32) % (64 * 1024) == 0)
            lg_move_e(E, (int)rnd(rng, LG_E), rnd(rng, 2));
    }
}

static void test_large_objects(void)
{
    setup(false);
    uint64_t rng = 8;
    struct obj **L = gc_calloc(LG_L, sizeof *L), **S = gc_calloc(LG_S, sizeof *S);
    TC_CHECK(L && S, "gc_calloc");
    roots.early[0] = L;
    roots.late[0] = S;
    struct tally want = {0, 0};
    scatter(L, LG_L, LG_LOBJS, &rng, &want);
    scatter(S, LG_S, LG_SOBJS, &rng, &want);
    for (int k = 0; k < LG_E; k++) {
        struct obj **e = gc_calloc(LG_ES, sizeof *e);
        TC_CHECK(e != NULL, "gc_calloc");
        roots.late[1 + k] = e;
        scatter(e, LG_ES, LG_EOBJS, &rng, &want);
    }
    L = S = NULL;
    struct stats s = {0};
    for (int r = 0; more_rounds(r); r++) {
        cfg.round = r;
        tc_clear_stack();
        long t = cycle_start();
        long landed = 0;
        if (wait_marking(t) || cfg.stw) {
            double m0 = tc_now();
            lg_mutate(roots.early[0], roots.late[0], &roots.late[1], t, &rng, &s, &landed, r);
            if (!cfg.stw) {
                s.mark_s += tc_now() - m0;
                s.marks_seen++;
            }
        }
        cycle_wait(t);
        s.rounds++;
        s.landed += landed;
        s.rounds_hit += landed > 0;
        churn(LG_LOBJS / 2);
        struct tally got = {0, 0};
        slots_check(&got, roots.early[0], LG_L, "L");
        slots_check(&got, roots.late[0], LG_S, "S");
        for (int k = 0; k < LG_E; k++)
            slots_check(&got, roots.late[1 + k], LG_ES, "E");
        tally_expect(&got, &want, "L, S and E");
    }
    teardown();
    char extra[128];
    snprintf(extra, sizeof extra, "%ld large arrays moved by gc_realloc, %ld by memcpy", lg_reallocs, lg_copies);
    summary(&s, "moves", extra);
}

/* ------------------------------------------------------------------------ */
/* 9. many_threads                                                           */
/* ------------------------------------------------------------------------ */

#define MT_THREADS 6
#define MT_NODES (32 * 1024)
#define MT_EDGES 6
#define MT_OBJS (96 * 1024)

struct gnode {
    uint64_t magic, id, check;
    struct obj *e[MT_EDGES];
    uint64_t pad;
}; /* 80 bytes */

static pthread_mutex_t mt_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool mt_stop, mt_pause; /* mt_pause: main wants the lock (the mutex is not fair) */
static atomic_long mt_ops, mt_landed, mt_replaced;
static struct tally mt_want;

static uint64_t gn_chk(uint64_t id) { return tc_mix(id ^ 0x6e0deull); }

static TC_NOINLINE struct gnode *gnode_new(uint64_t id)
{
    struct gnode *g = gc_new(struct gnode);
    TC_CHECK(g != NULL, "gc_new(struct gnode)");
    g->id = id;
    g->check = gn_chk(id);
    g->magic = GN_MAGIC;
    return g;
}

static TC_NOINLINE void mt_op(struct gnode **G, uint64_t *rng)
{
    unsigned r = (unsigned)rnd(rng, 100);
    if (r < 80) {
        /* Move a payload from one node to another, erasing it at its source. */
        struct gnode *u = G[rnd(rng, MT_NODES)], *v = G[rnd(rng, MT_NODES)];
        int a = (int)rnd(rng, MT_EDGES), b = (int)rnd(rng, MT_EDGES);
        if (u->e[a] && !v->e[b]) {
            v->e[b] = u->e[a];
            u->e[a] = NULL;
        } else if (v->e[b] && !u->e[a]) {
            u->e[a] = v->e[b];
            v->e[b] = NULL;
        }
    } else if (r < 95) {
        /* Replace a node by a fresh copy (allocated black while marking); the
         * old one is cleared and dropped. */
        size_t i = rnd(rng, MT_NODES);
        struct gnode *o = G[i], *n = gnode_new(o->id);
        memcpy(n->e, o->e, sizeof n->e);
        memset(o->e, 0, sizeof o->e);
        G[i] = n;
        atomic_fetch_add_explicit(&mt_replaced, 1, memory_order_relaxed);
    } else {
        size_t i = rnd(rng, MT_NODES), j = rnd(rng, MT_NODES);
        struct gnode *x = G[i];
        G[i] = G[j];
        G[j] = x;
    }
}

static void *mt_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull | 1;
    while (!atomic_load(&mt_stop)) {
        long landed = 0;
        while (atomic_load(&mt_pause))
            tc_sleep_ms(1);
        pthread_mutex_lock(&mt_lock);
        bool before = marking();
        for (int k = 0; k < 8; k++)
            mt_op(roots.early[0], &rng);
        if (before && marking())
            landed = 8;
        pthread_mutex_unlock(&mt_lock);
        atomic_fetch_add_explicit(&mt_ops, 8, memory_order_relaxed);
        atomic_fetch_add_explicit(&mt_landed, landed, memory_order_relaxed);
        if (rnd(&rng, 64) == 0)
            tc_churn(sizeof(struct obj), 256); /* garbage: freed memory gets reused */
    }
    return NULL;
}

/* Called with mt_lock held (or the workers stopped). */
static void mt_verify(void)
{
    struct gnode **G = roots.early[0];
    TC_CHECK(gc_base(G) == G, CTX "the node table was freed", CTXA);
    struct tally got = {0, 0};
    uint64_t idsum = 0;
    for (size_t i = 0; i < MT_NODES; i++) {
        struct gnode *g = G[i];
        if (gc_base(g) != g || g->magic != GN_MAGIC || g->check != gn_chk(g->id))
            TC_FAIL(CTX "node G[%zu] = %p: gc_base %p, magic %#llx id %llu: freed while reachable, or corrupt", CTXA,
                    i, (void *)g, gc_base(g), (unsigned long long)g->magic, (unsigned long long)g->id);
        idsum += g->id;
        for (int k = 0; k < MT_EDGES; k++)
            if (g->e[k])
                obj_check(&got, g->e[k], "node edge", i * MT_EDGES + (size_t)k);
    }
    TC_CHECK(idsum == (uint64_t)MT_NODES * (MT_NODES - 1) / 2, CTX "node ids sum to %llu", CTXA,
             (unsigned long long)idsum);
    tally_expect(&got, &mt_want, "payloads in the graph");
}

static void test_many_threads(void)
{
    setup(true); /* collections back to back */
    uint64_t rng = 9;
    struct gnode **G = gc_calloc(MT_NODES, sizeof *G);
    TC_CHECK(G != NULL, "gc_calloc");
    for (size_t i = 0; i < MT_NODES; i++)
        G[i] = gnode_new(i);
    for (size_t k = 0; k < MT_OBJS; k++) {
        for (;;) {
            struct gnode *g = G[rnd(&rng, MT_NODES)];
            int e = (int)rnd(&rng, MT_EDGES);
            if (g->e[e])
                continue;
            g->e[e] = obj_new();
            mt_want.n++;
            mt_want.sum += tc_mix(g->e[e]->id);
            break;
        }
    }
    roots.early[0] = G;
    G = NULL;
    tc_clear_stack();
    pthread_t th[MT_THREADS];
    for (int i = 0; i < MT_THREADS; i++)
        th[i] = tc_thread(mt_worker, (void *)(uintptr_t)(i + 1));
    long c0 = atomic_load(&col_done);
    int verifies = 0;
    double t0 = tc_now();
    long target = cfg.rounds * 2;
    double seconds = cfg.seconds * 2 / 3;
    while (atomic_load(&col_done) - c0 < target && (tc_now() - t0 < seconds || verifies < 3)) {
        tc_sleep_ms(300);
        cfg.round = atomic_load(&col_done) - c0;
        atomic_store(&mt_pause, true);
        pthread_mutex_lock(&mt_lock);
        atomic_store(&mt_pause, false);
        mt_verify();
        pthread_mutex_unlock(&mt_lock);
        verifies++;
    }
    atomic_store(&mt_stop, true);
    for (int i = 0; i < MT_THREADS; i++)
        tc_join(th[i]);
    long cycles = atomic_load(&col_done) - c0;
    teardown();
    cfg.round = cycles;
    tc_collect_churn(sizeof(struct obj), MT_OBJS, 2);
    mt_verify();
    struct stats s = {0};
    s.rounds = cycles;
    s.ops = atomic_load(&mt_ops);
    s.landed = atomic_load(&mt_landed);
    s.rounds_hit = -1;
    char extra[128];
    snprintf(extra, sizeof extra, "%d verifications, %ld nodes replaced by fresh copies", verifies + 1,
             atomic_load(&mt_replaced));
    summary(&s, "operations", extra);
}

/* ------------------------------------------------------------------------ */
/* checkmark                                                                 */
/* ------------------------------------------------------------------------ */

/* GODEBUG=gccheckmark=1 (which every subtest here runs with) must catch a
 * lost write: a child runs move_then_erase with gctestlosewrites=1, so the
 * collector ignores what write tracking reports, and must stop with the
 * checker's message naming the first missed object, before any missed
 * object is freed and found damaged. */
static void test_checkmark(void)
{
    gc_collect();
    bool stw = marking_stops_world();
    const char *gd = getenv("GODEBUG");
    char godebug[256];
    snprintf(godebug, sizeof godebug, "GODEBUG=%s%sgctestlosewrites=1", gd ? gd : "", gd && *gd ? "," : "");
    const char *env[] = {godebug, "TRICOLOR_CONCURRENT_SECONDS=4", "TRICOLOR_CONCURRENT_ROUNDS=20", NULL};
    const char *args[] = {"move_then_erase", NULL};
    tc_child c;
    tc_run_self(&c, args, env, 100);
    if (stw) {
        /* Marking with the world stopped reads no write tracking: nothing to lose. */
        TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
                 "with the world stopped, gctestlosewrites has nothing to lose, but the child: %s\n%s",
                 tc_status_str(c.status), c.err);
        printf("     world stopped: the child passed, as it must (no write tracking to lose)\n");
    } else {
        const char *m = strstr(c.err, "gccheckmark: ");
        TC_CHECK(!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0, "the child, losing every write, passed:\n%s",
                 c.out);
        TC_CHECK(m && strstr(m, "reachable object") && strstr(m, "left unmarked by the concurrent mark") &&
                     strstr(m, "); 0x") && strstr(m, "span 0x"),
                 "the child lost writes but did not stop with gccheckmark's message: %s\nstderr: %.600s",
                 tc_status_str(c.status), c.err);
        /* Pointers move from heap array to heap array here: the edge lost is
         * from an object the mark did mark, and the message names it. */
        TC_CHECK(strstr(m, "reachable and marked by this mark, holds it at 0x") && strstr(m, "a write there went unseen"),
                 "the message does not name the lost write: %.600s", m);
        TC_CHECK(!strstr(c.err, "FAIL "), "a missed object was freed and seen damaged before the check stopped it: "
                 "%.600s", c.err);
        char line[240];
        snprintf(line, sizeof line, "%s", m);
        line[strcspn(line, "\n")] = 0;
        printf("     %s\n", line);
    }
    tc_child_free(&c);
}

int main(int argc, char **argv)
{
    /* Every subtest checks each concurrent mark (the children of checkmark
     * too): what write tracking loses stops the test there, naming it. */
    if (!getenv("TRICOLOR_TEST_CHILD")) {
        const char *b = getenv("TRICOLOR_TEST_GODEBUG");
        char godebug[256];
        snprintf(godebug, sizeof godebug, "%s%sgccheckmark=1", b && *b ? b : "", b && *b ? "," : "");
        setenv("TRICOLOR_TEST_GODEBUG", godebug, 1);
    }
    static const tc_subtest tests[] = {
        {"move_then_erase", test_move_then_erase},
        {"registers_only", test_registers_only},
        {"read_syscall", test_read_syscall},
        {"memcpy_realloc", test_memcpy_realloc},
        {"store_into_new", test_store_into_new},
        {"thread_start", test_thread_start},
        {"thread_exit", test_thread_exit},
        {"large_objects", test_large_objects},
        {"many_threads", test_many_threads},
        {"checkmark", test_checkmark},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
