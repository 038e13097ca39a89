/*
 * test_gctrace.c - GODEBUG=gctrace=1 prints one line per collection on stderr,
 * in Go's format:
 *
 *   gc 12 @0.064s 3%: 0.031+0.70+0.051 ms clock, 0.062+0.041/0.23/0.24+0.10 ms cpu,
 *   42->43->21 MB, 44 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
 *
 * (one line).  The child re-executes this program with the variable set,
 * allocates 100 MiB of garbage (automatic collections) and calls gc_collect
 * twice; it prints num_gc and num_forced_gc on stdout.
 *
 *   format    every stderr line matches the format; lines are numbered 1, 2, 3..
 *             with non-decreasing times; as many lines as collections; exactly the
 *             gc_collect ones (the last two) end in " (forced)"; goal >= 4 MB
 *   keys      GODEBUG=madvdontneed=1,gctrace=1 (several keys) traces too
 *   quiet     without GODEBUG, and with GODEBUG=gctrace=0, stderr stays empty
 */
#include "common.h"

#include <regex.h>

#define NUM "[0-9]+\\.?[0-9]*"
static const char *trace_re = "^gc ([0-9]+) @([0-9]+\\.[0-9]{3})s ([0-9]+)%: " NUM "\\+" NUM "\\+" NUM
                              " ms clock, " NUM "\\+" NUM "/" NUM "/" NUM "\\+" NUM " ms cpu, "
                              "([0-9]+)->([0-9]+)->([0-9]+) MB, ([0-9]+) MB goal, 0 MB stacks, [0-9]+ MB globals, "
                              "([0-9]+) P( \\(forced\\))?$";

static int child_main(void)
{
    uint64_t rng = 1;
    for (size_t done = 0; done < 100 * TC_MiB;) {
        size_t len = 64 + tc_rand(&rng) % 8192;
        char *p = gc_alloc(len);
        p[0] = 1;
        done += len;
    }
    gc_collect();
    gc_collect();
    static gc_memstats ms;
    gc_read_memstats(&ms);
    printf("%u %u\n", ms.num_gc, ms.num_forced_gc);
    return 0;
}

static long num(const char *line, const regmatch_t *m)
{
    return strtol(line + m->rm_so, NULL, 10);
}

static void check_trace(const char *godebug)
{
    tc_child c;
    const char *args[] = {"--child", NULL};
    char envbuf[128];
    snprintf(envbuf, sizeof envbuf, "GODEBUG=%s", godebug);
    const char *env[] = {envbuf, "GOGC", "GOMEMLIMIT", NULL};
    tc_run_self(&c, args, env, 60);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child with %s %s:\n%s", envbuf,
             tc_status_str(c.status), c.err);
    unsigned num_gc = 0, num_forced = 0;
    TC_CHECK(sscanf(c.out, "%u %u", &num_gc, &num_forced) == 2, "child's stdout: %s", c.out);

    regex_t re;
    int e = regcomp(&re, trace_re, REG_EXTENDED);
    TC_CHECK(e == 0, "regcomp failed: %d", e);
    regmatch_t m[10];
    unsigned lines = 0, forced_lines = 0, automatic = 0;
    double last_t = 0;
    char *save = NULL;
    int last_forced[2] = {0, 0};
    unsigned notes = 0;
    for (char *line = strtok_r(c.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* The one-time note on the write-tracking backend comes first. */
        if (lines == 0 && notes == 0 && strncmp(line, "tricolor: write tracking ", 25) == 0) {
            notes++;
            continue;
        }
        if (regexec(&re, line, 10, m, 0) != 0)
            TC_FAIL("%s: stderr line %u is not a gctrace line:\n  \"%s\"\n  want: %s", envbuf, lines + 1, line,
                    trace_re);
        lines++;
        long n = num(line, &m[1]);
        TC_CHECK(n == (long)lines, "%s: line %u is numbered gc %ld: \"%s\"", envbuf, lines, n, line);
        double t = strtod(line + m[2].rm_so, NULL);
        TC_CHECK(t >= last_t, "%s: time went back from %.3f to %.3f: \"%s\"", envbuf, last_t, t, line);
        TC_CHECK(t < 60, "%s: @%.3fs: not seconds since start-up? \"%s\"", envbuf, t, line);
        last_t = t;
        long pct = num(line, &m[3]);
        TC_CHECK(pct >= 0 && pct <= 100, "%s: %ld%%: \"%s\"", envbuf, pct, line);
        long goal = num(line, &m[7]);
        TC_CHECK(goal >= 4, "%s: goal %ld MB is below the 4 MiB minimum: \"%s\"", envbuf, goal, line);
        long live = num(line, &m[6]);
        TC_CHECK(live <= num(line, &m[5]) + 1, "%s: live heap larger than the heap at mark end: \"%s\"", envbuf,
                 line);
        TC_CHECK(num(line, &m[8]) >= 1, "%s: %ld P: \"%s\"", envbuf, num(line, &m[8]), line);
        int forced = m[9].rm_so >= 0;
        forced_lines += forced;
        automatic += !forced;
        last_forced[0] = last_forced[1];
        last_forced[1] = forced;
    }
    regfree(&re);
    printf("     %s: %u lines, %u forced\n", envbuf, lines, forced_lines);
    TC_CHECK(lines == num_gc, "%s: %u gctrace lines for num_gc = %u", envbuf, lines, num_gc);
    TC_CHECK(forced_lines == num_forced && num_forced == 2, "%s: %u lines end in (forced), num_forced_gc = %u, want 2",
             envbuf, forced_lines, num_forced);
    TC_CHECK(last_forced[0] && last_forced[1], "%s: the gc_collect lines (the last two) are not marked (forced)",
             envbuf);
    TC_CHECK(automatic >= 1, "%s: 100 MiB of garbage ran no automatic collection", envbuf);
    tc_child_free(&c);
}

static void test_format(void) { check_trace("gctrace=1"); }
static void test_keys(void) { check_trace("madvdontneed=1,gctrace=1"); }

static void test_quiet(void)
{
    const char *cases[][4] = {
        {"GODEBUG", "GOGC", "GOMEMLIMIT", NULL},
        {"GODEBUG=gctrace=0", "GOGC", "GOMEMLIMIT", NULL},
    };
    for (int i = 0; i < 2; i++) {
        tc_child c;
        const char *args[] = {"--child", NULL};
        tc_run_self(&c, args, cases[i], 60);
        TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "child %s", tc_status_str(c.status));
        TC_CHECK(c.err[0] == 0, "with %s the child wrote to stderr:\n%s", i ? "GODEBUG=gctrace=0" : "no GODEBUG",
                 c.err);
        tc_child_free(&c);
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--child") == 0)
        return child_main();
    static const tc_subtest tests[] = {
        {"format", test_format},
        {"keys", test_keys},
        {"quiet", test_quiet},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
