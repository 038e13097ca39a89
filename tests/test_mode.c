/*
 * test_mode.c - the pacer's choice of mode, cycle by cycle (pacer.c): a cycle
 * whose mark is predicted to take under GODEBUG=gcstwbudget (1 ms by default)
 * marks with the world stopped, any other concurrently.
 *
 * A child re-executes this program and runs phases, each a live list of a
 * given size (64-byte nodes, each with its index and a checksum) and a
 * given amount of garbage allocated beside it (random sizes, some holding
 * pointers into the list, filled with 0xEE).  At the end of every phase the
 * list is checked whole.  The child prints "phase <i> <first gc> <last gc>"
 * per phase on stdout; with GODEBUG=gctrace=2 it prints, per cycle, either
 * "gc <n> marked with the world stopped: predicted <us> us, ..." or
 * "gc <n> pre-cleaning ...; a world-stopped mark predicted <us> us".
 *
 * In every subtest each cycle must follow the rule: stopped the world if and
 * only if its prediction was within the budget.  What the predictions are
 * depends on the machine and its load (a loaded machine stretches every
 * pause: its threads wait for a CPU), so beyond the rule only what load
 * cannot change is asserted.  The first five cycles of a phase are its
 * transition and are not judged: a heap growing from 256 KiB (4x, then 2x a
 * cycle: 1, 4, 8, 16, 31 MiB), under the budget that a failed pre-cleaning in
 * the small phase made 4x (4 ms), may stop the world through its fourth cycle
 * on a fast CPU (16 MiB marked in 2.8 ms), and its fifth is predicted at only
 * 1.4x the budget.  From the sixth (61 MiB) the prediction is 2.5x it.
 *
 *   small    256 KiB live: the rule holds, the first cycle (nothing
 *            marked yet: predicted at the 4 MiB first goal, 2 ms at the
 *            initial rate) marks concurrently
 *   large    48 MiB live: every judged cycle marks concurrently (about 20 ms
 *            of marking on 2 CPUs, 20 times the budget)
 *   budget0  256 KiB live with GODEBUG=gcstwbudget=0: no cycle stops the world
 *   mixed    256 KiB, 48 MiB, 256 KiB, 48 MiB, 256 KiB, with gccheckmark=1:
 *            the list survives every change of mode, the rule holds, and
 *            the large phases mark concurrently
 *
 * Without concurrent marking (the @stw variant, or no write-tracking backend:
 * the child's first trace line says which), every cycle must stop the world.
 */
#include "common.h"

#include <stdbool.h>

typedef struct node {
    struct node *next;
    uint64_t index, check;
    uint64_t pad[5];
} node;

#define CHECK_OF(i) ((i) * 0x9E3779B97F4A7C15ULL ^ 0x5bd1e995)

static node *head;
static size_t count;

static void resize(size_t want)
{
    while (count < want) {
        node *n = gc_alloc(sizeof *n);
        n->index = count;
        n->check = CHECK_OF(count);
        n->next = head;
        head = n;
        count++;
    }
    while (count > want) {
        head = head->next;
        count--;
    }
}

static void verify(int phase)
{
    size_t i = count;
    for (node *n = head; n; n = n->next) {
        i--;
        if (n->index != i || n->check != CHECK_OF(i)) {
            printf("phase %d: node %p has index %llu check %llx, want %zu\n", phase, (void *)n,
                   (unsigned long long)n->index, (unsigned long long)n->check, i);
            exit(3);
        }
    }
    if (i != 0) {
        printf("phase %d: the list ends %zu nodes early\n", phase, i);
        exit(3);
    }
}

static unsigned num_gc(void)
{
    static gc_memstats ms;
    gc_read_memstats(&ms);
    return ms.num_gc;
}

/* argv: a list of "<live KiB>:<garbage MiB>" phases. */
static int child_main(int argc, char **argv)
{
    uint64_t rng = 7;
    for (int p = 0; p < argc; p++) {
        unsigned long live_kib = 0, garbage_mib = 0;
        if (sscanf(argv[p], "%lu:%lu", &live_kib, &garbage_mib) != 2)
            return 2;
        unsigned first = num_gc() + 1;
        resize(live_kib * 1024 / sizeof(node));
        for (size_t done = 0; done < garbage_mib * TC_MiB;) {
            size_t len = 16 + tc_rand(&rng) % 496;
            void **g = gc_alloc(len);
            memset(g, 0xEE, len);
            g[0] = head; /* garbage pointing into the list */
            done += len;
        }
        verify(p);
        printf("phase %d %u %u\n", p, first, num_gc());
    }
    return 0;
}

enum { MODE_NONE, MODE_STW, MODE_CONC };

typedef struct run {
    tc_child c;
    bool concurrent; /* the child has a write-tracking backend */
    unsigned ngc;
    unsigned char *mode; /* [gc number] */
    unsigned *predicted; /* [gc number]: us */
    unsigned *budget;    /* [gc number]: the budget it was held to, us */
    unsigned phases[8][2];
    int nphases;
} run;

/* GODEBUG for the child: the variant's backend (less its gcstwbudget=0,
 * which the other tests use to mark every cycle concurrently), then extra. */
static void run_child(run *r, const char *extra, const char *const *phases)
{
    char godebug[256] = "GODEBUG=";
    const char *v = getenv("TRICOLOR_TEST_GODEBUG");
    if (v && *v) {
        char copy[200];
        snprintf(copy, sizeof copy, "%s", v);
        char *save = NULL;
        for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
            if (strncmp(k, "gcstwbudget=", 12) == 0)
                continue;
            strcat(godebug, k);
            strcat(godebug, ",");
        }
    }
    strcat(godebug, "gctrace=2");
    if (*extra) {
        strcat(godebug, ",");
        strcat(godebug, extra);
    }
    const char *args[16] = {"--child"};
    int n = 1;
    for (; phases[n - 1] && n < 15; n++)
        args[n] = phases[n - 1];
    args[n] = NULL;
    const char *env[] = {godebug, "GOGC", "GOMEMLIMIT", NULL};
    memset(r, 0, sizeof *r);
    tc_run_self(&r->c, args, env, 100);
    TC_CHECK(WIFEXITED(r->c.status) && WEXITSTATUS(r->c.status) == 0, "child with %s %s:\nstdout:\n%s\nstderr:\n%.2000s",
             godebug, tc_status_str(r->c.status), r->c.out, r->c.err);
    TC_CHECK(strncmp(r->c.err, "tricolor: write tracking ", 25) == 0, "the child's first trace line: %.200s", r->c.err);
    r->concurrent = strncmp(r->c.err + 25, "none", 4) != 0;
    r->mode = calloc(1 << 16, 1);
    r->predicted = calloc(1 << 16, sizeof *r->predicted);
    r->budget = calloc(1 << 16, sizeof *r->budget);
    for (char *line = strchr(r->c.err, '\n'); line; line = strchr(line, '\n')) {
        line++;
        unsigned gc, us;
        int used = 0;
        if (sscanf(line, "gc %u %n", &gc, &used) != 1 || used == 0 || gc >= (1 << 16))
            continue;
        if (strncmp(line + used, "marked with the world stopped:", 30) == 0)
            r->mode[gc] = MODE_STW;
        else if (strncmp(line + used, "pre-cleaning (", 14) == 0)
            r->mode[gc] = MODE_CONC;
        else
            continue;
        const char *pr = strstr(line, "predicted ");
        const char *eol = strchr(line, '\n');
        unsigned budget;
        TC_CHECK(pr && (!eol || pr < eol) && sscanf(pr, "predicted %u us, budget %u us", &us, &budget) == 2,
                 "a gctrace=2 line without the prediction and the budget: %.300s", line);
        r->predicted[gc] = us;
        r->budget[gc] = budget;
        if (gc > r->ngc)
            r->ngc = gc;
    }
    const char *o = r->c.out;
    int p;
    unsigned a, b;
    while (r->nphases < 8 && sscanf(o, "phase %d %u %u\n", &p, &a, &b) == 3) {
        r->phases[r->nphases][0] = a;
        r->phases[r->nphases][1] = b;
        r->nphases++;
        o = strchr(o, '\n') + 1;
    }
    TC_CHECK(r->nphases == n - 1, "the child reported %d phases of %d:\n%s", r->nphases, n - 1, r->c.out);
    for (unsigned gc = 1; gc <= r->ngc; gc++)
        TC_CHECK(r->mode[gc] != MODE_NONE, "gc %u printed neither mode's line:\n%.4000s", gc, r->c.err);
}

/* Every cycle stopped the world if and only if its prediction was within
 * the budget it printed (the trace rounds down to microseconds).  That
 * budget is GODEBUG's, or 4 times it right after a concurrent cycle whose
 * pre-cleaning rescanned more than it marked (pacer.c), and stays 4 times
 * it through world-stopped cycles: so never on the first cycle, nor after
 * a world-stopped cycle held to GODEBUG's. */
static void expect_rule(const run *r, unsigned budget_us, const char *what)
{
    if (!r->concurrent)
        return; /* expect_phase: all of them */
    for (unsigned gc = 1; gc <= r->ngc; gc++) {
        unsigned b = r->budget[gc];
        TC_CHECK(b == budget_us || b == 4 * budget_us, "%s: gc %u held to a budget of %u us, GODEBUG's being %u us",
                 what, gc, b, budget_us);
        if (b != budget_us)
            TC_CHECK(gc > 1 && (r->mode[gc - 1] == MODE_CONC || r->budget[gc - 1] == b),
                     "%s: gc %u held to %u us after gc %u, world-stopped under %u us", what, gc, b, gc - 1,
                     gc > 1 ? r->budget[gc - 1] : 0);
        if (r->mode[gc] == MODE_STW)
            TC_CHECK(b > 0 && r->predicted[gc] <= b,
                     "%s: gc %u stopped the world with a prediction of %u us, over the budget of %u us", what, gc,
                     r->predicted[gc], b);
        else
            TC_CHECK(b == 0 || r->predicted[gc] >= b,
                     "%s: gc %u marked concurrently with a prediction of %u us, within the budget of %u us", what,
                     gc, r->predicted[gc], b);
    }
}

/* Phase i's cycles past its first five: how many, and of which mode. */
static void count_phase(const run *r, int i, unsigned *total, unsigned *stw)
{
    *total = *stw = 0;
    for (unsigned gc = r->phases[i][0] + 5; gc <= r->phases[i][1] && gc <= r->ngc; gc++) {
        (*total)++;
        *stw += r->mode[gc] == MODE_STW;
    }
}

/* want: MODE_CONC (every judged cycle concurrent) or MODE_NONE (only the
 * rule); without concurrent marking, every cycle stopped the world. */
static void expect_phase(const run *r, int i, int want, const char *what)
{
    unsigned total, stw;
    count_phase(r, i, &total, &stw);
    printf("     %s: phase %d (gc %u-%u): %u judged cycles, %u with the world stopped\n", what, i, r->phases[i][0],
           r->phases[i][1], total, stw);
    /* A small phase may run only a few cycles: a conservative word that still
     * holds part of the large phase's list keeps its goal high.  Only the
     * rule is asserted of it, for every cycle (expect_rule). */
    TC_CHECK(want != MODE_CONC || total >= 3, "%s: phase %d ran only %u cycles past its first five", what, i, total);
    if (!r->concurrent)
        TC_CHECK(stw == total, "%s: no concurrent marking, yet %u of %u cycles marked concurrently", what,
                 total - stw, total);
    else if (want == MODE_CONC)
        TC_CHECK(stw == 0, "%s: %u of %u cycles of phase %d stopped the world:\n%.4000s", what, stw, total, i,
                 r->c.err);
}

static void run_free(run *r)
{
    free(r->mode);
    free(r->predicted);
    free(r->budget);
    tc_child_free(&r->c);
}

static void test_small(void)
{
    run r;
    const char *phases[] = {"256:120", NULL};
    run_child(&r, "", phases);
    expect_rule(&r, 1000, "small");
    expect_phase(&r, 0, MODE_NONE, "small");
    if (r.concurrent)
        TC_CHECK(r.mode[1] == MODE_CONC, "small: the first cycle, predicted at the 4 MiB first goal, stopped the world");
    else
        TC_CHECK(r.mode[1] == MODE_STW, "small: no concurrent marking, yet the first cycle marked concurrently");
    run_free(&r);
}

static void test_large(void)
{
    run r;
    const char *phases[] = {"49152:400", NULL};
    run_child(&r, "", phases);
    expect_rule(&r, 1000, "large");
    expect_phase(&r, 0, MODE_CONC, "large");
    run_free(&r);
}

static void test_budget0(void)
{
    run r;
    const char *phases[] = {"256:120", NULL};
    run_child(&r, "gcstwbudget=0", phases);
    expect_rule(&r, 0, "budget0");
    expect_phase(&r, 0, MODE_CONC, "budget0");
    run_free(&r);
}

static void test_mixed(void)
{
    run r;
    const char *phases[] = {"256:80", "49152:400", "256:200", "49152:400", "256:200", NULL};
    run_child(&r, "gccheckmark=1", phases);
    expect_rule(&r, 1000, "mixed");
    for (int i = 0; i < 5; i++)
        expect_phase(&r, i, i % 2 ? MODE_CONC : MODE_NONE, "mixed");
    run_free(&r);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--child") == 0)
        return child_main(argc - 2, argv + 2);
    static const tc_subtest tests[] = {
        {"small", test_small},
        {"large", test_large},
        {"budget0", test_budget0},
        {"mixed", test_mixed},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
