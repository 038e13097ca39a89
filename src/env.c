/*
 * env.c - the environment, read once at start-up with Go's syntax and meaning.
 *
 *   GOGC        an integer percent, or "off" (default 100)
 *   GOMEMLIMIT  bytes with an optional B, KiB, MiB, GiB or TiB suffix, or "off"
 *               (default: no limit).  Malformed values stop the program, as in
 *               Go ("malformed GOMEMLIMIT").
 *   GODEBUG     comma-separated key=value pairs; known keys:
 *                 gctrace=1          print one line per collection (stats.c's format)
 *                 gcstoptheworld=1   mark with the world stopped (no write tracking)
 *                 gcstwbudget=N      with write tracking, a cycle whose mark is predicted
 *                                    to take under N microseconds (a small live heap)
 *                                    marks with the world stopped (default 1000; 0: every
 *                                    cycle marks concurrently; 4N after a concurrent cycle
 *                                    that pre-cleaned more than it marked; pacer.c)
 *                 gccheckmark=1      after each concurrent mark, mark again with the world
 *                                    stopped and stop on an object it missed (checkmark.c)
 *                 gctestlosewrites=1 for tests of gccheckmark only: the collector ignores
 *                                    what write tracking reports, as if writes were lost
 *                 gcwritetrack=X     force a write-tracking backend: uffd, mprotect or none
 *                 scavtrace=1        a line per collection on memory returned to the OS
 *                 madvdontneed=0     return memory with MADV_FREE (default 1: MADV_DONTNEED)
 *                 gcthp=1|0          MADV_HUGEPAGE or MADV_NOHUGEPAGE on heap arenas
 *                 memprofilerate=N   runtime.MemProfileRate at start-up (0 off, 1 every object)
 *                 memprofileseed=N   the heap profiler's random seed (tests: the same samples
 *                                    every run); 0 or unset: from the clock
 *               Unknown keys are ignored, as Go does.
 *   TRICOLOR_HEAPPROFILE  a path: a heap profile is written there at exit (pprof.c);
 *               "%p" in it becomes the process id
 *
 * Runs before anything else is initialised: no allocation, no locks.
 */
#include "internal.h"

#include <stdlib.h>

struct gc_env env = {.gctrace = 0, .gogc = 100, .memlimit = INT64_MAX, .madvdontneed = 1, .gcthp = -1,
                     .memprofilerate = -1, .gcstwbudget_us = 1000};

static bool parse_int(const char *s, int64_t *out)
{
    if (!*s)
        return false;
    int64_t v = 0;
    bool neg = *s == '-';
    if (neg || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
            return false;
    }
    *out = neg ? -v : v;
    return true;
}

/* Go's parseByteCount: digits, then B, KiB, MiB, GiB or TiB (or nothing). */
static bool parse_bytes(const char *s, int64_t *out)
{
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}};
    size_t len = strlen(s);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t sl = strlen(units[i].suffix);
        if (len > sl && strcmp(s + len - sl, units[i].suffix) == 0) {
            char digits[32];
            if (len - sl >= sizeof digits)
                return false;
            memcpy(digits, s, len - sl);
            digits[len - sl] = 0;
            int64_t v;
            if (!parse_int(digits, &v) || v < 0 || v > (INT64_MAX >> units[i].shift))
                return false;
            *out = v << units[i].shift;
            return true;
        }
    }
    return parse_int(s, out) && *out >= 0;
}

void env_parse(void)
{
    const char *s = getenv("GOGC");
    if (s && *s) {
        int64_t v;
        if (strcmp(s, "off") == 0)
            env.gogc = -1;
        else if (parse_int(s, &v))
            env.gogc = v < 0 ? -1 : (v > INT32_MAX ? INT32_MAX : (int)v);
    }
    s = getenv("GOMEMLIMIT");
    if (s && *s && strcmp(s, "off") != 0) {
        int64_t v;
        if (!parse_bytes(s, &v))
            tc_fatal("malformed GOMEMLIMIT: %s", s);
        env.memlimit = v;
    }
    s = secure_getenv("TRICOLOR_HEAPPROFILE"); /* a path to write: not for set-user-ID programs */
    env.heapprofile = s && *s ? s : NULL;
    s = getenv("GODEBUG");
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', n);
        if (eq) {
            static char wt[16];
            char key[32], val[24];
            size_t kn = (size_t)(eq - s), vn = n - kn - 1;
            if (kn < sizeof key && vn < sizeof val) {
                memcpy(key, s, kn);
                key[kn] = 0;
                memcpy(val, eq + 1, vn);
                val[vn] = 0;
                int64_t v;
                if (strcmp(key, "gctrace") == 0 && parse_int(val, &v))
                    env.gctrace = (int)v;
                else if (strcmp(key, "gcstoptheworld") == 0 && parse_int(val, &v))
                    env.gcstoptheworld = v != 0;
                else if (strcmp(key, "gcstwbudget") == 0 && parse_int(val, &v) && v >= 0)
                    env.gcstwbudget_us = v;
                else if (strcmp(key, "gccheckmark") == 0 && parse_int(val, &v))
                    env.gccheckmark = v != 0;
                else if (strcmp(key, "gctestlosewrites") == 0 && parse_int(val, &v))
                    env.gctestlosewrites = v != 0;
                else if (strcmp(key, "scavtrace") == 0 && parse_int(val, &v))
                    env.scavtrace = (int)v;
                else if (strcmp(key, "madvdontneed") == 0 && parse_int(val, &v))
                    env.madvdontneed = v != 0;
                else if (strcmp(key, "gcthp") == 0 && parse_int(val, &v))
                    env.gcthp = v != 0;
                else if (strcmp(key, "memprofilerate") == 0 && parse_int(val, &v) && v >= 0)
                    env.memprofilerate = v;
                else if (strcmp(key, "memprofileseed") == 0 && parse_int(val, &v))
                    env.memprofileseed = (uint64_t)v;
                else if (strcmp(key, "gcwritetrack") == 0 && vn < sizeof wt) {
                    memcpy(wt, val, vn + 1);
                    env.gcwritetrack = wt;
                }
            }
        }
        s = end ? end + 1 : NULL;
    }
}
