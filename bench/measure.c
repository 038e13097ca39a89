/*
 * measure.c - run one program and report what it cost.
 *
 *   measure [-o result_file] [-t timeout_seconds] -- program [args...]
 *
 * Forks, execs the program (stdin/stdout/stderr inherited), waits for it with
 * wait4() and writes one line to result_file (default: stderr):
 *
 *   MEASURE status=<exit code | sig:N | timeout> wall_ns=<n> user_us=<n> sys_us=<n> maxrss_kb=<n>
 *
 * wall time is CLOCK_MONOTONIC from just before fork() to wait4()'s return;
 * user/sys CPU time and maxrss (peak resident set, KiB) are the child's
 * rusage from wait4().  With -t the child is killed (SIGKILL) after that many
 * seconds and status is "timeout".  measure exits 0 if the child exited 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
    fprintf(stderr, "usage: measure [-o result_file] [-t timeout_seconds] -- program [args...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out_path = NULL;
    unsigned timeout = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out_path = argv[++i];
        } else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        } else {
            usage();
        }
    }
    if (i >= argc) usage();
    char **child_argv = &argv[i];

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);

    uint64_t t0 = mono_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(child_argv[0], child_argv);
        fprintf(stderr, "measure: cannot run %s: %s\n", child_argv[0], strerror(errno));
        _exit(127);
    }
    if (timeout) alarm(timeout);

    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        pid_t r = wait4(pid, &status, 0, &ru);
        if (r == pid) break;
        if (r < 0 && errno == EINTR) {
            if (timed_out) kill(pid, SIGKILL);
            continue;
        }
        perror("measure: wait4");
        return 2;
    }
    uint64_t wall = mono_ns() - t0;
    alarm(0);

    char st[32];
    if (timed_out && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        snprintf(st, sizeof st, "timeout");
    else if (WIFEXITED(status))
        snprintf(st, sizeof st, "%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(st, sizeof st, "sig:%d", WTERMSIG(status));
    else
        snprintf(st, sizeof st, "unknown");

    FILE *out = stderr;
    if (out_path) {
        out = fopen(out_path, "w");
        if (!out) {
            perror("measure: result file");
            return 2;
        }
    }
    fprintf(out, "MEASURE status=%s wall_ns=%llu user_us=%llu sys_us=%llu maxrss_kb=%ld\n", st,
            (unsigned long long)wall,
            (unsigned long long)ru.ru_utime.tv_sec * 1000000ull + (unsigned long long)ru.ru_utime.tv_usec,
            (unsigned long long)ru.ru_stime.tv_sec * 1000000ull + (unsigned long long)ru.ru_stime.tv_usec,
            ru.ru_maxrss);
    if (out_path) fclose(out);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
