/*
 * dashboard.c - watch the collector at work in libtricolor-debug's live dashboard.
 *
 * It serves the debug endpoint (gc_debug_serve), prints the dashboard's address, then runs a
 * workload whose heap keeps changing, so that every chart on the page has something to show:
 *
 *   - a live set, a linked list of collected nodes each holding a pointer-free buffer (and every
 *     32nd a larger scanned one), that grows from 8 to 64 MiB and shrinks back in 10-second
 *     waves: the heap, live heap and goal charts follow it, and when it shrinks the scavenger
 *     returns the freed pages to the OS;
 *   - churn, short-lived small objects and strings (gc_alloc, gc_alloc_noscan) dropped at once,
 *     about 40 MiB a second: the allocation rate, and collections (with their pauses and CPU
 *     share) several times a second, fewer when the live set is big, as GOGC paces them.
 *
 *     ./build/examples/dashboard                    serve on 127.0.0.1:6060, run until killed
 *     ./build/examples/dashboard 127.0.0.1:0 --seconds 30    any free port, stop after 30 s
 *
 * then open the printed address in a browser.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tricolor.h>

#define MIB (1024.0 * 1024.0)
#define PERIOD 10.0    /* seconds per wave of the live set */
#define LIVE_MIN 8.0   /* MiB */
#define LIVE_MAX 64.0  /* MiB */
#define TICK_MS 20     /* the workload's step */
#define CHURN_PER_TICK (800 * 1024) /* bytes of garbage per step: 40 MiB/s */

/* One element of the live set.  The list is reachable from `live`, a global, so it survives
 * every collection until it is unlinked. */
struct node {
    struct node *next;
    char *data;        /* pointer-free payload: gc_alloc_noscan, never scanned */
    struct node **big; /* every 32nd node: a larger scanned buffer (it points back at the node) */
    size_t bytes;      /* what this node holds, for the live-set accounting */
};

static struct node *live;
static size_t live_bytes, live_nodes;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void push_node(void)
{
    struct node *n = gc_new(struct node);
    size_t len = 1024 + (size_t)rand() % (31 * 1024); /* 1 to 32 KiB */
    n->data = gc_alloc_noscan(len);
    memset(n->data, 'x', len);
    n->bytes = sizeof *n + len;
    if (++live_nodes % 32 == 0) {
        size_t big = 256 * 1024;
        n->big = gc_alloc(big);
        n->big[0] = n;
        n->bytes += big;
    }
    n->next = live;
    live = n;
    live_bytes += n->bytes;
}

/* Unlinking is all it takes: the next collection finds the node and its buffers unreachable. */
static void pop_node(void)
{
    struct node *n = live;
    live = n->next;
    live_bytes -= n->bytes;
    live_nodes--;
}

/* Garbage: small objects linked together and strings, all dropped when this returns. */
static void churn(size_t bytes)
{
    struct node *chain = NULL;
    char line[64];
    for (size_t done = 0; done < bytes;) {
        if (rand() % 2) {
            struct node *n = gc_new(struct node);
            n->next = chain;
            chain = n;
            done += sizeof *n;
        } else {
            int len = snprintf(line, sizeof line, "request %d from %d", rand(), rand());
            char *s = gc_alloc_noscan((size_t)len + 1 + (size_t)rand() % 512);
            memcpy(s, line, (size_t)len + 1);
            done += gc_size(s);
        }
    }
    gc_keep_alive(chain);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:6060";
    double seconds = 0; /* 0: run until killed */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (argv[i][0] != '-')
            addr = argv[i];
        else {
            fprintf(stderr, "usage: %s [host:port] [--seconds N]\n", argv[0]);
            return 2;
        }
    }

    int port = gc_debug_serve(addr);
    if (port < 0) {
        perror(addr);
        return 1;
    }
    /* The host to print: the one given, unless none or all interfaces. */
    char host[256] = "127.0.0.1";
    const char *colon = strrchr(addr, ':');
    size_t hlen = colon ? (size_t)(colon - addr) : 0;
    if (hlen > 0 && hlen < sizeof host && strncmp(addr, "0.0.0.0", hlen) != 0)
        snprintf(host, sizeof host, "%.*s", (int)hlen, addr);
    printf("dashboard: http://%s:%d/debug/dashboard\n", host, port);
    fflush(stdout);

    double start = now();
    for (;;) {
        double t = now() - start;
        if (seconds > 0 && t >= seconds)
            break;

        /* The live set's target: a cosine wave from LIVE_MIN to LIVE_MAX and back. */
        double target = LIVE_MIN + (LIVE_MAX - LIVE_MIN) * (1 - cos(2 * M_PI * t / PERIOD)) / 2;
        while (live_bytes < target * MIB)
            push_node();
        while (live_bytes > target * MIB && live)
            pop_node();

        churn(CHURN_PER_TICK);

        struct timespec tick = {0, TICK_MS * 1000000L};
        nanosleep(&tick, NULL);
    }

    gc_debug_stop();
    return 0;
}
