/*
 * debug.c - libtricolor-debug: net/http/pprof, expvar and a live dashboard
 * over HTTP (libmicrohttpd).
 *
 * Owns the server: one thread (serve_loop) that accepts connections, checks
 * each one's request line, and runs a libmicrohttpd daemon (epoll, no thread
 * of its own) over the rest, so a slow client costs a socket, not a thread;
 * the samples the dashboard plots; the pages and scripts it serves, compiled
 * in (.incbin of src/debug/, so the page works with no internet and no files).
 *
 * Invariants:
 *   - Only figures are served: MemStats, profiles (stacks and the map of
 *     loaded objects) and the command line.  Nothing reads heap objects.
 *   - The library uses tricolor's public API only, resolved at run time, so
 *     the same library serves a program linked with libtricolor and a bdwgc
 *     program on tricolor's libgc.so.1; it allocates with malloc, never from
 *     the collected heap.
 *   - Samples are taken when a page asks, at most one per SAMPLE_MIN_MS
 *     whoever asks, with gc_read_metrics (no stop of the world).  The ring
 *     keeps the last SAMPLES of them and the pauses they saw, so a page that
 *     opens later gets the history.
 *   - state_lock guards `srv` and the sample ring; the server's thread holds
 *     it only while building a response, gc_debug_stop while stopping.  The
 *     pending connections (pend[]) are the server thread's alone.
 *
 * How it meets the rest: the core library knows nothing of it.
 * TRICOLOR_DEBUG_ADDR starts it from a constructor.
 */
#define _GNU_SOURCE
#include <tricolor.h>

#include <microhttpd.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 64
#define MAX_REQUEST_BYTES (32 * 1024) /* a connection's memory: request line, headers, buffers */
#define IDLE_TIMEOUT_S 30
#define SAMPLES 3600      /* an hour at the page's default of one a second */
#define PAUSES 4096       /* pauses kept for the dashboard */
#define SAMPLE_MIN_MS 100 /* however many pages ask */

/* ---- the assets, compiled in ---------------------------------------------- */

/* sym .. sym_end: the bytes of TC_DEBUG_ASSETS/file, and a NUL after them. */
#define ASSET(sym, file)                                                                                   \
    __asm__(".pushsection .rodata\n.balign 16\n" #sym ":\n.incbin \"" TC_DEBUG_ASSETS "/" file "\"\n" #sym \
            "_end:\n.byte 0\n.popsection\n");                                                              \
    extern const char sym[] __attribute__((visibility("hidden"))), sym##_end[] __attribute__((visibility("hidden")))

ASSET(asset_html, "dashboard.html");
ASSET(asset_js, "dashboard.js");
ASSET(asset_uplot_js, "uplot/uPlot.iife.min.js");
ASSET(asset_uplot_css, "uplot/uPlot.min.css");
ASSET(asset_uplot_license, "uplot/LICENSE");

static const struct asset {
    const char *path, *type, *start, *end;
} assets[] = {
    {"/debug/dashboard", "text/html; charset=utf-8", asset_html, asset_html_end},
    {"/debug/dashboard/dashboard.js", "text/javascript; charset=utf-8", asset_js, asset_js_end},
    {"/debug/dashboard/uPlot.iife.min.js", "text/javascript; charset=utf-8", asset_uplot_js, asset_uplot_js_end},
    {"/debug/dashboard/uPlot.min.css", "text/css; charset=utf-8", asset_uplot_css, asset_uplot_css_end},
    {"/debug/dashboard/uPlot.LICENSE", "text/plain; charset=utf-8", asset_uplot_license, asset_uplot_license_end},
};

/* ---- a growing text buffer (malloc) ----------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    bool failed; /* out of memory: the response becomes a 500 */
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->failed || b->len + more < b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n + 1);
    if (b->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void bputs(struct buf *b, const char *s) { bprintf(b, "%s", s); }

/* A JSON string. */
static void bjson_str(struct buf *b, const char *s, size_t n)
{
    bputs(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            bprintf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            bprintf(b, "\\u%04x", c);
        else
            bprintf(b, "%c", c);
    }
    bputs(b, "\"");
}

/* A double as JSON has it (no NaN or infinities). */
static void bjson_double(struct buf *b, double x)
{
    if (x != x || x > 1e300 || x < -1e300)
        x = 0;
    bprintf(b, "%.17g", x);
}

/* ---- the server's state ----------------------------------------------------- */

struct sample {
    uint64_t seq, t_ms; /* t: Unix time */
    uint64_t heap_alloc, heap_inuse, heap_live, next_gc, rss, total_alloc, mallocs, heap_objects;
    uint64_t heap_released, scavenged, gc_cpu_ns, cpu_ns, uptime_ns;
    int64_t memory_limit;
    uint32_t num_gc;
};

struct pause {
    uint32_t gc; /* the collection's number, from 1 */
    uint64_t end_ms, ns;
};

static struct server {
    struct MHD_Daemon *daemon;
    int listen_fd, port;
    struct sample *samples; /* ring of SAMPLES */
    uint64_t nsamples;      /* taken ever; the last has seq nsamples */
    struct pause *pauses;   /* ring of PAUSES */
    uint64_t npauses;
    uint32_t seen_gc;       /* the last collection whose pause is in the ring */
    uint64_t lost_pauses;   /* more than 256 collections between two samples */
    uint64_t last_mono_ms;
    gc_metrics m;           /* the last sample's metrics, for the size classes */
} srv = {.listen_fd = -1};
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rss_bytes(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char b[128];
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0)
        return 0;
    b[n] = 0;
    unsigned long long size, resident;
    if (sscanf(b, "%llu %llu", &size, &resident) != 2)
        return 0;
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A new sample, unless the last is younger than SAMPLE_MIN_MS.  state_lock held. */
static void take_sample(void)
{
    uint64_t now = clock_ms(CLOCK_MONOTONIC);
    if (srv.nsamples && now - srv.last_mono_ms < SAMPLE_MIN_MS)
        return;
    srv.last_mono_ms = now;
    gc_metrics *m = &srv.m;
    gc_read_metrics(m);
    const gc_memstats *ms = &m->memstats;
    struct sample *s = &srv.samples[srv.nsamples % SAMPLES];
    *s = (struct sample){
        .seq = srv.nsamples + 1,
        .t_ms = clock_ms(CLOCK_REALTIME),
        .heap_alloc = ms->heap_alloc,
        .heap_inuse = ms->heap_inuse,
        .heap_live = m->heap_live,
        .next_gc = ms->next_gc,
        .rss = rss_bytes(),
        .total_alloc = ms->total_alloc,
        .mallocs = ms->mallocs,
        .heap_objects = ms->heap_objects,
        .heap_released = ms->heap_released,
        .scavenged = m->scavenged_bytes,
        .gc_cpu_ns = m->gc_cpu_ns,
        .cpu_ns = m->cpu_ns,
        .uptime_ns = m->uptime_ns,
        .memory_limit = ms->memory_limit,
        .num_gc = ms->num_gc,
    };
    srv.nsamples++;
    /* The pauses since the last sample, oldest first, from memstats' ring of 256
     * (the first sample takes what the ring holds; the ones before are history,
     * not losses). */
    uint32_t from = srv.seen_gc + 1;
    if (ms->num_gc >= 256 && from < ms->num_gc - 255) {
        if (srv.nsamples > 1)
            srv.lost_pauses += ms->num_gc - 255 - from;
        from = ms->num_gc - 255;
    }
    for (uint32_t g = from; g <= ms->num_gc; g++) {
        uint32_t i = (g + 255) % 256;
        srv.pauses[srv.npauses % PAUSES] = (struct pause){g, ms->pause_end[i] / 1000000, ms->pause_ns[i]};
        srv.npauses++;
    }
    srv.seen_gc = ms->num_gc;
}

/* ---- responses ------------------------------------------------------------------- */

static enum MHD_Result respond_bytes(struct MHD_Connection *c, unsigned status, const char *type, const void *p,
                                     size_t n, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)p, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return respond_bytes(c, status, "text/plain; charset=utf-8", text, strlen(text), MHD_RESPMEM_PERSISTENT);
}

/* Hand b's bytes to the response (which frees them), or answer 500. */
static enum MHD_Result respond_buf(struct MHD_Connection *c, const char *type, struct buf *b)
{
    if (b->failed || !b->p) {
        free(b->p);
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return respond_bytes(c, MHD_HTTP_OK, type, b->p, b->len, MHD_RESPMEM_MUST_FREE);
}

static const char *query(struct MHD_Connection *c, const char *key)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* strconv.Atoi, errors as 0, as net/http/pprof reads its parameters. */
static long query_int(struct MHD_Connection *c, const char *key)
{
    const char *v = query(c, key);
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    return *end || errno ? 0 : x;
}

static size_t read_cmdline(char *b, size_t cap)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t n = 0;
    for (ssize_t r; n < cap && (r = read(fd, b + n, cap - n)) > 0;)
        n += (size_t)r;
    close(fd);
    while (n && b[n - 1] == 0) /* Go joins os.Args with NULs, with none at the end */
        n--;
    return n;
}

/* ---- /debug/pprof/ ----------------------------------------------------------------- */

static const struct profile {
    const char *name, *what;
} profiles[] = {
    {"allocs", "every sampled allocation since the program started, live or not (alloc_space)"},
    {"cmdline", "the program's command line"},
    {"heap", "the sampled objects that the last collection found live (inuse_space); ?gc=1 collects first"},
};

/* The heap profile's records (one per stack and size), as Go's index counts
 * them: the lines of the text form that open a record ("N: B [N: B] @ ...").
 * -1 if it cannot be written. */
static long profile_records(void)
{
    int fd = memfd_create("tricolor-profile", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    long n = -1;
    FILE *f = gc_write_profile("heap", fd, 1) == 0 ? fdopen(fd, "r") : NULL;
    if (f) {
        rewind(f);
        char line[512];
        bool first = true;
        n = 0;
        while (fgets(line, sizeof line, f)) {
            size_t len = strlen(line);
            bool whole = len && line[len - 1] == '\n';
            unsigned long long a, b2, c2, d2;
            if (first && sscanf(line, "%llu: %llu [%llu: %llu] @", &a, &b2, &c2, &d2) == 4 &&
                strncmp(line, "heap profile:", 13))
                n++;
            else if (!strncmp(line, "# runtime.MemStats", 18))
                break;
            first = whole; /* a long frame line continues: not a line start */
        }
        fclose(f);
    } else {
        close(fd);
    }
    return n;
}

static enum MHD_Result serve_index(struct MHD_Connection *c)
{
    struct buf b = {0};
    bputs(&b, "<!DOCTYPE html>\n<html>\n<head>\n<title>/debug/pprof/</title>\n"
              "<style>body{font-family:sans-serif} td{padding:0 1em 0 0}</style>\n</head>\n<body>\n"
              "/debug/pprof/\n<p>Set debug=1 as a query parameter to read a profile as text.</p>\n"
              "Types of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n");
    long records = profile_records();
    for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++) {
        const char *n = profiles[i].name;
        if (!strcmp(n, "cmdline"))
            bprintf(&b, "<tr><td></td><td><a href=\"cmdline\">cmdline</a></td></tr>\n");
        else
            bprintf(&b, "<tr><td>%ld</td><td><a href=\"%s?debug=1\">%s</a></td></tr>\n", records, n, n);
    }
    bputs(&b, "</table>\n<a href=\"/debug/dashboard\">dashboard</a> &middot; <a href=\"/debug/vars\">vars</a>"
              " &middot; <a href=\"/debug/memstats\">memstats</a>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n");
    for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++)
        bprintf(&b, "<li><div class=profile-name>%s: </div> %s</li>\n", profiles[i].name, profiles[i].what);
    bputs(&b, "</ul>\n</p>\n</body>\n</html>\n");
    return respond_buf(c, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_profile(struct MHD_Connection *c, const char *name)
{
    if (!strcmp(name, "cmdline")) {
        static char cmd[64 * 1024];
        size_t n = read_cmdline(cmd, sizeof cmd);
        return respond_bytes(c, MHD_HTTP_OK, "text/plain; charset=utf-8", cmd, n, MHD_RESPMEM_MUST_COPY);
    }
    if (strcmp(name, "heap") && strcmp(name, "allocs"))
        return respond_text(c, MHD_HTTP_NOT_FOUND, "Unknown profile\n");
    if (query_int(c, "seconds") > 0) /* Go's delta profiles: say so, rather than send the whole one */
        return respond_text(c, MHD_HTTP_BAD_REQUEST,
                            "delta profiles (seconds=N) are not served here: fetch the profile twice and "
                            "compare with go tool pprof -diff_base\n");
    long debug = query_int(c, "debug");
    if (!strcmp(name, "heap") && query_int(c, "gc") > 0)
        gc_collect();
    int fd = memfd_create("tricolor-profile", MFD_CLOEXEC);
    if (fd < 0 || gc_write_profile(name, fd, debug > 0 ? 1 : 0) != 0) {
        if (fd >= 0)
            close(fd);
        char msg[128];
        snprintf(msg, sizeof msg, "Could not write the profile: %s\n", strerror(errno));
        return respond_bytes(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", msg, strlen(msg),
                             MHD_RESPMEM_MUST_COPY);
    }
    off_t size = lseek(fd, 0, SEEK_CUR);
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64((uint64_t)size, fd, 0);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    if (debug > 0) {
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    } else {
        char disp[64];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
        MHD_add_response_header(r, "Content-Type", "application/octet-stream");
        MHD_add_response_header(r, "Content-Disposition", disp);
    }
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- /debug/vars and /debug/memstats --------------------------------------------------- */

static void bjson_cmdline(struct buf *b)
{
    static char cmd[64 * 1024];
    size_t n = read_cmdline(cmd, sizeof cmd);
    bputs(b, "[");
    for (size_t i = 0, start = 0; n && i <= n; i++)
        if (i == n || cmd[i] == 0) {
            bputs(b, start ? ", " : "");
            bjson_str(b, cmd + start, i - start);
            start = i + 1;
        }
    bputs(b, "]");
}

static void bjson_u64s(struct buf *b, const uint64_t *v, size_t n)
{
    bputs(b, "[");
    for (size_t i = 0; i < n; i++)
        bprintf(b, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
    bputs(b, "]");
}

/* expvar: {"cmdline": [...], "memstats": {runtime.MemStats}}, Go's names and order. */
static enum MHD_Result serve_vars(struct MHD_Connection *c)
{
    static gc_memstats ms; /* state_lock held: one at a time */
    gc_read_memstats(&ms);
    struct buf b = {0};
    bputs(&b, "{\n\"cmdline\": ");
    bjson_cmdline(&b);
    bputs(&b, ",\n\"memstats\": {");
    const struct {
        const char *name;
        uint64_t v;
    } f1[] = {
        {"Alloc", ms.alloc},
        {"TotalAlloc", ms.total_alloc},
        {"Sys", ms.sys},
        {"Lookups", 0},
        {"Mallocs", ms.mallocs},
        {"Frees", ms.frees},
        {"HeapAlloc", ms.heap_alloc},
        {"HeapSys", ms.heap_sys},
        {"HeapIdle", ms.heap_idle},
        {"HeapInuse", ms.heap_inuse},
        {"HeapReleased", ms.heap_released},
        {"HeapObjects", ms.heap_objects},
        {"StackInuse", 0}, /* no goroutine stacks: C's are the program's */
        {"StackSys", 0},
        {"MSpanInuse", ms.mspan_inuse},
        {"MSpanSys", ms.mspan_sys},
        {"MCacheInuse", ms.mcache_inuse},
        {"MCacheSys", ms.mcache_sys},
        {"BuckHashSys", ms.buck_hash_sys},
        {"GCSys", ms.gc_sys},
        {"OtherSys", ms.other_sys},
        {"NextGC", ms.next_gc},
        {"LastGC", ms.last_gc},
        {"PauseTotalNs", ms.pause_total_ns},
    };
    for (size_t i = 0; i < sizeof f1 / sizeof *f1; i++)
        bprintf(&b, "%s\"%s\":%llu", i ? "," : "", f1[i].name, (unsigned long long)f1[i].v);
    bputs(&b, ",\"PauseNs\":");
    bjson_u64s(&b, ms.pause_ns, 256);
    bputs(&b, ",\"PauseEnd\":");
    bjson_u64s(&b, ms.pause_end, 256);
    bprintf(&b, ",\"NumGC\":%u,\"NumForcedGC\":%u,\"GCCPUFraction\":", ms.num_gc, ms.num_forced_gc);
    bjson_double(&b, ms.gc_cpu_fraction);
    bputs(&b, ",\"EnableGC\":true,\"DebugGC\":false,\"BySize\":[");
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        bprintf(&b, "%s{\"Size\":%u,\"Mallocs\":%llu,\"Frees\":%llu}", i ? "," : "", ms.by_size[i].size,
                (unsigned long long)ms.by_size[i].mallocs, (unsigned long long)ms.by_size[i].frees);
    bputs(&b, "]}\n}\n");
    return respond_buf(c, "application/json; charset=utf-8", &b);
}

/* Every gc_memstats field under its C name, gc_metrics' extras, and the recent pauses. */
static enum MHD_Result serve_memstats(struct MHD_Connection *c)
{
    static gc_memstats ms;
    static gc_metrics m;
    gc_read_memstats(&ms);
    gc_read_metrics(&m);
    struct buf b = {0};
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"alloc", ms.alloc},
        {"total_alloc", ms.total_alloc},
        {"sys", ms.sys},
        {"mallocs", ms.mallocs},
        {"frees", ms.frees},
        {"heap_alloc", ms.heap_alloc},
        {"heap_sys", ms.heap_sys},
        {"heap_idle", ms.heap_idle},
        {"heap_inuse", ms.heap_inuse},
        {"heap_released", ms.heap_released},
        {"heap_objects", ms.heap_objects},
        {"mspan_inuse", ms.mspan_inuse},
        {"mspan_sys", ms.mspan_sys},
        {"mcache_inuse", ms.mcache_inuse},
        {"mcache_sys", ms.mcache_sys},
        {"gc_sys", ms.gc_sys},
        {"other_sys", ms.other_sys},
        {"buck_hash_sys", ms.buck_hash_sys},
        {"next_gc", ms.next_gc},
        {"last_gc", ms.last_gc},
        {"pause_total_ns", ms.pause_total_ns},
        {"num_gc", ms.num_gc},
        {"num_forced_gc", ms.num_forced_gc},
        {"enable_gc", (uint64_t)ms.enable_gc},
        {"gc_limiter_enabled", ms.gc_limiter_enabled},
        {"gc_limiter_last_enabled", ms.gc_limiter_last_enabled},
        {"heap_live", m.heap_live},
        {"gc_cpu_ns", m.gc_cpu_ns},
        {"cpu_ns", m.cpu_ns},
        {"uptime_ns", m.uptime_ns},
        {"scavenged_bytes", m.scavenged_bytes},
        {"ncpu", m.ncpu},
    };
    bputs(&b, "{\n");
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        bprintf(&b, "\"%s\": %llu,\n", f[i].name, (unsigned long long)f[i].v);
    bprintf(&b, "\"memory_limit\": %lld,\n\"gogc\": %d,\n\"gc_cpu_fraction\": ", (long long)ms.memory_limit, m.gogc);
    bjson_double(&b, ms.gc_cpu_fraction);
    bputs(&b, ",\n\"pause_ns\": ");
    bjson_u64s(&b, ms.pause_ns, 256);
    bputs(&b, ",\n\"pause_end\": ");
    bjson_u64s(&b, ms.pause_end, 256);
    bputs(&b, ",\n\"by_size\": [");
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        bprintf(&b, "%s{\"size\": %u, \"mallocs\": %llu, \"frees\": %llu}", i ? ",\n  " : "\n  ",
                ms.by_size[i].size, (unsigned long long)ms.by_size[i].mallocs,
                (unsigned long long)ms.by_size[i].frees);
    bputs(&b, "],\n\"recent_pauses\": [");
    uint32_t n = ms.num_gc < 256 ? ms.num_gc : 256;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t gc = ms.num_gc - k, i = (gc + 255) % 256;
        bprintf(&b, "%s{\"gc\": %u, \"pause_ns\": %llu, \"end\": %llu}", k ? ",\n  " : "\n  ", gc,
                (unsigned long long)ms.pause_ns[i], (unsigned long long)ms.pause_end[i]);
    }
    bputs(&b, "]\n}\n");
    return respond_buf(c, "application/json; charset=utf-8", &b);
}

/* ---- /debug/dashboard/samples ---------------------------------------------------------- */

/* {"seq": last, "samples": [[field values]...] after ?since=, "pauses": [[gc, end ms, ns]...]
 * after ?since_gc=, "classes": the live objects per size class now}. */
static enum MHD_Result serve_samples(struct MHD_Connection *c)
{
    take_sample();
    long since = query_int(c, "since"), since_gc = query_int(c, "since_gc");
    uint64_t first = srv.nsamples > SAMPLES ? srv.nsamples - SAMPLES + 1 : 1;
    if (since > 0 && (uint64_t)since + 1 > first)
        first = (uint64_t)since + 1;
    struct buf b = {0};
    bprintf(&b,
            "{\"seq\":%llu,\"ncpu\":%u,\"lost_pauses\":%llu,\n\"fields\":[\"t\",\"heap_alloc\",\"heap_inuse\","
            "\"heap_live\",\"next_gc\",\"memory_limit\",\"rss\",\"total_alloc\",\"mallocs\",\"heap_objects\","
            "\"heap_released\",\"scavenged\",\"gc_cpu_ns\",\"cpu_ns\",\"uptime_ns\",\"num_gc\"],\n\"samples\":[",
            (unsigned long long)srv.nsamples, srv.m.ncpu, (unsigned long long)srv.lost_pauses);
    for (uint64_t q = first; q <= srv.nsamples; q++) {
        const struct sample *s = &srv.samples[(q - 1) % SAMPLES];
        bprintf(&b, "%s[%llu,%llu,%llu,%llu,%llu,%lld,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%u]",
                q == first ? "\n" : ",\n", (unsigned long long)s->t_ms, (unsigned long long)s->heap_alloc,
                (unsigned long long)s->heap_inuse, (unsigned long long)s->heap_live, (unsigned long long)s->next_gc,
                s->memory_limit == INT64_MAX ? -1LL : (long long)s->memory_limit, (unsigned long long)s->rss,
                (unsigned long long)s->total_alloc, (unsigned long long)s->mallocs,
                (unsigned long long)s->heap_objects, (unsigned long long)s->heap_released,
                (unsigned long long)s->scavenged, (unsigned long long)s->gc_cpu_ns, (unsigned long long)s->cpu_ns,
                (unsigned long long)s->uptime_ns, s->num_gc);
    }
    bputs(&b, "],\n\"pauses\":[");
    uint64_t pfirst = srv.npauses > PAUSES ? srv.npauses - PAUSES : 0;
    bool any = false;
    for (uint64_t q = pfirst; q < srv.npauses; q++) {
        const struct pause *p = &srv.pauses[q % PAUSES];
        if (since_gc > 0 && p->gc <= (uint64_t)since_gc)
            continue;
        bprintf(&b, "%s[%u,%llu,%llu]", any ? "," : "", p->gc, (unsigned long long)p->end_ms,
                (unsigned long long)p->ns);
        any = true;
    }
    /* Live objects per size class; objects above the largest class as one more, size 0. */
    const gc_memstats *ms = &srv.m.memstats;
    uint64_t small = 0;
    bputs(&b, "],\n\"classes\":{\"size\":[");
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++)
        bprintf(&b, "%s%u", i ? "," : "", ms->by_size[i].size);
    bputs(&b, ",0],\"objects\":[");
    for (int i = 0; i < GC_NUM_SIZE_CLASSES; i++) {
        uint64_t live = ms->by_size[i].mallocs - ms->by_size[i].frees;
        small += live;
        bprintf(&b, "%s%llu", i ? "," : "", (unsigned long long)live);
    }
    bprintf(&b, ",%llu]}}\n", (unsigned long long)(ms->heap_objects > small ? ms->heap_objects - small : 0));
    return respond_buf(c, "application/json; charset=utf-8", &b);
}

/* ---- routing -------------------------------------------------------------------------- */

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Location", to);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_MOVED_PERMANENTLY, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url)
{
    static const char pprof[] = "/debug/pprof/";
    /* The absolute form ("GET http://host:port/path"), which proxies send: the path. */
    if (!strncasecmp(url, "http://", 7)) {
        const char *path = strchr(url + 7, '/');
        url = path ? path : "/";
    }
    if (!strcmp(url, "/debug/pprof"))
        return redirect(c, pprof);
    if (!strcmp(url, pprof))
        return serve_index(c);
    if (!strncmp(url, pprof, sizeof pprof - 1) && !strchr(url + sizeof pprof - 1, '/'))
        return serve_profile(c, url + sizeof pprof - 1);
    if (!strcmp(url, "/debug/vars"))
        return serve_vars(c);
    if (!strcmp(url, "/debug/memstats"))
        return serve_memstats(c);
    if (!strcmp(url, "/debug/dashboard/samples"))
        return serve_samples(c);
    if (!strcmp(url, "/debug/dashboard/"))
        return redirect(c, "/debug/dashboard");
    for (size_t i = 0; i < sizeof assets / sizeof *assets; i++)
        if (!strcmp(url, assets[i].path))
            return respond_bytes(c, MHD_HTTP_OK, assets[i].type, assets[i].start,
                                 (size_t)(assets[i].end - assets[i].start), MHD_RESPMEM_PERSISTENT);
    return respond_text(c, MHD_HTTP_NOT_FOUND, "404 page not found\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **req)
{
    (void)cls, (void)version, (void)upload;
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        /* Answered before any body is read; libmicrohttpd then closes the connection. */
        static const char msg[] = "Method Not Allowed\n";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Allow", "GET, HEAD");
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ret;
    }
    /* Answer at the second call, when the request is all in: libmicrohttpd
     * closes the connection after an answer queued at the first (it cannot
     * know what of the request is still to come), which costs keep-alive. */
    static int seen;
    if (!*req) {
        *req = &seen;
        return MHD_YES;
    }
    if (*upload_size) { /* a body with a GET: not read, dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&state_lock);
    enum MHD_Result ret = route(c, url);
    pthread_mutex_unlock(&state_lock);
    return ret;
}

/* ---- the first line, before libmicrohttpd --------------------------------------------------- */

/* libmicrohttpd closes a connection whose request line it cannot split into
 * method, target and version ("GARBAGE", binary bytes) without answering;
 * Go's server answers 400.  So the server's thread accepts connections itself
 * and reads each one's first line with MSG_PEEK, consuming nothing: a line that
 * is not "METHOD SP target SP HTTP/d.d" gets the 400 here, any other connection
 * is handed to libmicrohttpd with all its bytes unread.  SO_RCVLOWAT makes poll
 * wait for more bytes than a partial line has, instead of spinning on them. */
#define PEEK_MAX 8192 /* a longer first line is libmicrohttpd's to refuse (414) */

struct pending {
    int fd;
    uint64_t deadline_ms;
    struct sockaddr_storage sa;
    socklen_t salen;
};

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* 1: a well-formed request line; 0: malformed; -1: not all there yet. */
static int classify(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n')) /* empty lines before a request are allowed */
        i++;
    const char *nl = memchr(p + i, '\n', n - i);
    if (!nl)
        return n >= PEEK_MAX ? 1 : -1;
    size_t end = (size_t)(nl - p);
    if (end > i && p[end - 1] == '\r')
        end--;
    size_t m = i;
    while (m < end && is_tchar((unsigned char)p[m]))
        m++;
    if (m == i || m >= end || p[m] != ' ')
        return 0;
    size_t t = m + 1;
    while (t < end && (unsigned char)p[t] > ' ' && p[t] != 0x7f)
        t++;
    if (t == m + 1 || t >= end || p[t] != ' ')
        return 0;
    const char *v = p + t + 1;
    return end - (t + 1) == 8 && !memcmp(v, "HTTP/", 5) && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
           v[7] >= '0' && v[7] <= '9';
}

static void answer_400(int fd)
{
    static const char msg[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                              "Connection: close\r\nContent-Length: 16\r\n\r\n400 Bad Request\n";
    /* Read what was sent first: closing a socket with unread bytes resets it,
     * and the client could lose the answer. */
    char sink[4096];
    for (int k = 0; k < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; k++)
        ;
    ssize_t n = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    shutdown(fd, SHUT_WR);
    close(fd);
}

/* ---- the server's thread ------------------------------------------------------------------- */

static struct pending pend[MAX_CONNECTIONS];
static int npend; /* the server's thread only */
static int wake_pipe[2] = {-1, -1};
static pthread_t server_thread;

static void drop_pending(int i)
{
    pend[i] = pend[--npend];
}

static void look_at(int i)
{
    char buf[PEEK_MAX];
    ssize_t n = recv(pend[i].fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* closed, or an error */
        close(pend[i].fd);
        drop_pending(i);
        return;
    }
    int k = classify(buf, (size_t)n);
    if (k < 0) {
        int lowat = (int)n + 1;
        setsockopt(pend[i].fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
        return;
    }
    int fd = pend[i].fd;
    struct pending p = pend[i];
    drop_pending(i);
    if (k == 0) {
        answer_400(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    /* On failure (over the limit, out of memory) libmicrohttpd closes fd. */
    MHD_add_connection(srv.daemon, fd, (const struct sockaddr *)&p.sa, p.salen);
}

/* poll(2) as a blocked thread (gc_do_blocking): a server waiting for requests
 * is not stopped, nor woken, by the collections of the program it serves. */
struct poll_call {
    struct pollfd *fds;
    nfds_t n;
    int timeout, ret, err;
};

static void *poll_blocked(void *arg)
{
    struct poll_call *p = arg;
    p->ret = poll(p->fds, p->n, p->timeout);
    p->err = errno;
    return NULL;
}

static void *serve_loop(void *arg)
{
    (void)arg;
    struct MHD_Daemon *d = srv.daemon;
    const union MHD_DaemonInfo *ei = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    int epfd = ei ? ei->epoll_fd : -1;
    uint64_t accept_again_ms = 0; /* after a failed accept (out of descriptors): not before */
    for (;;) {
        struct pollfd fds[3 + MAX_CONNECTIONS];
        const union MHD_DaemonInfo *ci = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        unsigned open_now = (ci ? ci->num_connections : 0) + (unsigned)npend;
        /* Beyond the limit, connections wait in the kernel's queue. */
        fds[0] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
        bool accepting = open_now < MAX_CONNECTIONS && clock_ms(CLOCK_MONOTONIC) >= accept_again_ms;
        fds[1] = (struct pollfd){.fd = accepting ? srv.listen_fd : -1, .events = POLLIN};
        fds[2] = (struct pollfd){.fd = epfd, .events = POLLIN};
        for (int i = 0; i < npend; i++)
            fds[3 + i] = (struct pollfd){.fd = pend[i].fd, .events = POLLIN};
        int timeout = accepting || open_now >= MAX_CONNECTIONS ? 1000 : 100;
        MHD_UNSIGNED_LONG_LONG to;
        if (MHD_get_timeout(d, &to) == MHD_YES && to < (MHD_UNSIGNED_LONG_LONG)timeout)
            timeout = (int)to;
        int nf = 3 + npend;
        struct poll_call pc = {fds, (nfds_t)nf, timeout, 0, 0};
        gc_do_blocking(poll_blocked, &pc);
        if (pc.ret < 0 && pc.err != EINTR)
            break;
        if (fds[0].revents)
            break;
        uint64_t now = clock_ms(CLOCK_MONOTONIC);
        /* Pending connections, from the last (drop_pending moves the last into i). */
        for (int i = nf - 4; i >= 0; i--)
            if (fds[3 + i].revents)
                look_at(i);
            else if (now >= pend[i].deadline_ms) {
                close(pend[i].fd);
                drop_pending(i);
            }
        if (fds[1].revents & POLLIN) {
            struct pending p = {.salen = sizeof p.sa};
            p.fd = accept4(srv.listen_fd, (struct sockaddr *)&p.sa, &p.salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (p.fd >= 0) {
                p.deadline_ms = now + IDLE_TIMEOUT_S * 1000;
                pend[npend++] = p;
                look_at(npend - 1);
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                /* EMFILE, ENFILE, ENOMEM: the connection stays queued, and the
                 * socket readable; polling it at once again would spin. */
                accept_again_ms = now + 100;
            }
        }
        MHD_run(d);
    }
    return NULL;
}

/* ---- serve and stop ---------------------------------------------------------------------- */

/* Parse "host:port", "[v6]:port", ":port", "port"; no host: 127.0.0.1. */
static int parse_addr(const char *addr, char *host, size_t hostcap, char *port, size_t portcap)
{
    if (!addr || !*addr)
        addr = ":0";
    const char *colon;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return -1;
        hlen = (size_t)(close - addr - 1);
        memcpy(host, addr + 1, hlen < hostcap ? hlen : 0);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon) { /* a port alone */
            colon = addr - 1;
            hlen = 0;
        } else {
            hlen = (size_t)(colon - addr);
            if (memchr(addr, ':', hlen)) /* an IPv6 address needs its brackets */
                return -1;
            memcpy(host, addr, hlen < hostcap ? hlen : 0);
        }
    }
    if (hlen >= hostcap)
        return -1;
    host[hlen] = 0;
    if (!hlen)
        snprintf(host, hostcap, "127.0.0.1");
    const char *p = colon + 1;
    size_t plen = strlen(p);
    if (!plen || plen >= portcap || strspn(p, "0123456789") != plen || atol(p) > 65535)
        return -1;
    memcpy(port, p, plen + 1);
    return 0;
}

/* A listening socket on a, or -1 with *err set. */
static int bind_listen(const struct addrinfo *a, int *err)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
        return fd;
    *err = errno;
    close(fd);
    return -1;
}

static int listen_on(const char *addr)
{
    char host[256], port[8];
    if (parse_addr(addr, host, sizeof host, port, sizeof port) != 0) {
        errno = EINVAL;
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e) {
        errno = e == EAI_SYSTEM ? errno : e == EAI_MEMORY ? ENOMEM : EINVAL;
        return -1;
    }
    int fd = -1, err = EINVAL;
    /* IPv4 first, as Go's net.Listen does for a name ("localhost" is 127.0.0.1,
     * where a client that says 127.0.0.1 finds it), then the rest. */
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
            if ((a->ai_family == AF_INET) == (pass == 0))
                fd = bind_listen(a, &err);
    }
    freeaddrinfo(res);
    if (fd < 0)
        errno = err;
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return ntohs(((struct sockaddr_in *)&sa)->sin_port);
}

static void forget_after_fork(void)
{
    /* The child has no server thread: forget the daemon (its memory is the
     * parent's copy) and close the socket, so the port is the parent's alone. */
    if (srv.daemon) {
        close(srv.listen_fd);
        for (int i = 0; i < npend; i++)
            close(pend[i].fd);
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        free(srv.samples);
        free(srv.pauses);
    }
    npend = 0;
    wake_pipe[0] = wake_pipe[1] = -1;
    srv = (struct server){.listen_fd = -1};
    pthread_mutex_init(&state_lock, NULL);
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, forget_after_fork); }

int gc_debug_serve(const char *addr)
{
    static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&state_lock);
    if (srv.daemon) {
        pthread_mutex_unlock(&state_lock);
        errno = EBUSY;
        return -1;
    }
    int fd = listen_on(addr);
    if (fd < 0) {
        pthread_mutex_unlock(&state_lock);
        return -1;
    }
    srv.samples = calloc(SAMPLES, sizeof *srv.samples);
    srv.pauses = calloc(PAUSES, sizeof *srv.pauses);
    if (!srv.samples || !srv.pauses) {
        free(srv.samples);
        free(srv.pauses);
        srv = (struct server){.listen_fd = -1};
        close(fd);
        pthread_mutex_unlock(&state_lock);
        errno = ENOMEM;
        return -1;
    }
    srv.listen_fd = fd;
    srv.port = bound_port(fd);
    srv.daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, handle, NULL,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MAX_REQUEST_BYTES,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_END);
    int err = ENOMEM;
    if (srv.daemon && pipe2(wake_pipe, O_CLOEXEC) != 0) {
        err = errno;
        MHD_stop_daemon(srv.daemon);
        srv.daemon = NULL;
    }
    if (srv.daemon && (err = pthread_create(&server_thread, NULL, serve_loop, NULL)) != 0) {
        MHD_stop_daemon(srv.daemon);
        srv.daemon = NULL;
        close(wake_pipe[0]);
        close(wake_pipe[1]);
    }
    if (!srv.daemon) {
        close(fd);
        free(srv.samples);
        free(srv.pauses);
        srv = (struct server){.listen_fd = -1};
        pthread_mutex_unlock(&state_lock);
        errno = err;
        return -1;
    }
    int port = srv.port;
    pthread_mutex_unlock(&state_lock);
    return port;
}

void gc_debug_stop(void)
{
    pthread_mutex_lock(&state_lock);
    struct MHD_Daemon *d = srv.daemon;
    pthread_mutex_unlock(&state_lock);
    if (!d)
        return;
    /* Not under state_lock: the server's thread may be waiting for it. */
    char c = 1;
    ssize_t n = write(wake_pipe[1], &c, 1);
    (void)n;
    pthread_join(server_thread, NULL);
    MHD_stop_daemon(d);
    pthread_mutex_lock(&state_lock);
    for (int i = 0; i < npend; i++)
        close(pend[i].fd);
    npend = 0;
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    close(srv.listen_fd);
    free(srv.samples);
    free(srv.pauses);
    srv = (struct server){.listen_fd = -1};
    pthread_mutex_unlock(&state_lock);
}

/* TRICOLOR_DEBUG_ADDR: serve from start-up, with no code change. */
__attribute__((constructor)) static void autostart(void)
{
    const char *addr = getenv("TRICOLOR_DEBUG_ADDR");
    if (!addr || !*addr)
        return;
    if (!dlsym(RTLD_DEFAULT, "gc_read_metrics")) {
        /* Not a tricolor program (a shell the program started, say, which inherited
         * the variable and the preload): nothing to serve, and nothing to say,
         * unless it is a bdwgc program on bdwgc's own libgc. */
        if (dlsym(RTLD_DEFAULT, "GC_malloc"))
            fprintf(stderr, "tricolor-debug: TRICOLOR_DEBUG_ADDR=%s: this program runs on bdwgc's libgc, "
                            "not tricolor's libgc.so.1 (LD_LIBRARY_PATH=<prefix>/lib/tricolor-bdwgc); "
                            "not serving\n", addr);
        return;
    }
    if (gc_debug_serve(addr) < 0)
        fprintf(stderr, "tricolor-debug: TRICOLOR_DEBUG_ADDR=%s: cannot serve: %s\n", addr,
                errno == EINVAL ? "not an address (host:port)" : strerror(errno));
}
