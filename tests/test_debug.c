/*
 * test_debug.c - libtricolor-debug, the debug endpoint (tricolor.h, "The debug
 * endpoint"): gc_debug_serve / gc_debug_stop, what each path serves, how the
 * server treats bad requests and bad clients, TRICOLOR_DEBUG_ADDR.
 *
 * The client is a plain POSIX socket (http_exchange): it connects to
 * 127.0.0.1:port, sends raw bytes, reads the whole response until the server
 * closes it (every request says "Connection: close") and splits it into status
 * line, headers and body (de-chunked when the server chose chunked encoding).
 * JSON bodies are checked by a small parser of our own (json_parse, which also
 * extracts the values the checks read) and, where python3 is installed, by
 * python's json module too.
 *
 * Subtests:
 *   index         two requests on one connection (keep-alive) both answered; a
 *                 target in absolute form (http://host/path) served;
 *                 /debug/pprof/ (HTML, links to heap, allocs, cmdline);
 *                 /debug/pprof redirects (301) to /debug/pprof/;
 *                 /debug/pprof/cmdline: the arguments, NUL-separated
 *   heap          /debug/pprof/heap?gc=1: gzip, collects first, and `go tool pprof`
 *                 names the function that allocated 4 MiB still in use, read from
 *                 a saved copy and straight from the endpoint; ?debug=1: Go's text
 *                 form; /debug/pprof/allocs: gzip; /debug/pprof/nosuch: 404;
 *                 ?seconds=5 (a delta profile): 400; the index counts >= 1 record
 *                 (without go: the rest runs, then the subtest exits 77, skipped)
 *   vars          /debug/vars: expvar's JSON, "cmdline" and "memstats" with every
 *                 runtime.MemStats name; NumGC, NumForcedGC and HeapAlloc agree
 *                 with what the test did
 *   memstats      /debug/memstats: every gc_memstats and gc_metrics field under its
 *                 own name, and "recent_pauses" (at least the 3 collections made)
 *   dashboard     /debug/dashboard (HTML with uPlot); the scripts and stylesheets it
 *                 references under /debug/dashboard/; /debug/dashboard/samples
 *   bad_requests  405 with Allow for POST/PUT/DELETE, 404, exactly 400 for eight kinds
 *                 of malformed request, a 4xx for 40 KiB URLs or headers; HEAD has no
 *                 body; still serving
 *   concurrent    16 threads x 40 GETs beside allocation and collections: every
 *                 response 200 and complete
 *   slow_client   (a child process) a half-sent request does not hold up others;
 *                 50 clients that hang up after 10 bytes of a big response do not
 *                 kill the program with SIGPIPE, and it serves on
 *   stop_restart  ports, EBUSY, EINVAL, EADDRINUSE, stop closes everything and the
 *                 port is served again at once; the default host is 127.0.0.1,
 *                 and "localhost" is 127.0.0.1 too
 *   libgc         a bdwgc program (debug_libgc_child.c) on tricolor's libgc.so.1, with
 *                 libtricolor-debug preloaded and TRICOLOR_DEBUG_ADDR: it serves its
 *                 heap (4 MiB kept), and libtricolor.so is not loaded beside libgc.so.1
 *   env           TRICOLOR_DEBUG_ADDR starts the endpoint with no call; a bad
 *                 value (or a port in use) is reported once on stderr and the
 *                 program runs on; /bin/true with the variable and the preload
 *                 says nothing
 */
#include "common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define BARRIER(p) __asm__ volatile("" : : "r"(p) : "memory")

static int g_argc;
static char **g_argv;

/* ---- temporary files ---------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);
    if (f) {
        for (;;) {
            if (n + 4096 + 1 > cap)
                b = realloc(b, cap *= 2);
            size_t r = fread(b + n, 1, 4096, f);
            if (r == 0)
                break;
            n += r;
        }
        fclose(f);
    }
    b[n] = 0;
    if (len)
        *len = n;
    return b;
}

static void write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    TC_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        TC_CHECK(w > 0, "write %s: %s", path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

/* ---- child processes ------------------------------------------------------------------ */

/* An environment: ours, changed by env ("K=V" sets K, "K" removes it).  Built
 * before fork: the child of a threaded program should only exec. */
static char **build_env(const char *const *env)
{
    size_t nenv = 0, nextra = 0;
    while (environ[nenv])
        nenv++;
    while (env && env[nextra])
        nextra++;
    char **envp = calloc(nenv + nextra + 1, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        const char *e = environ[i];
        size_t klen = strcspn(e, "=");
        int drop = 0;
        for (size_t j = 0; j < nextra && !drop; j++) {
            size_t jlen = strcspn(env[j], "=");
            if (jlen == klen && strncmp(env[j], e, klen) == 0)
                drop = 1;
        }
        if (!drop)
            envp[k++] = (char *)e;
    }
    for (size_t j = 0; j < nextra; j++)
        if (strchr(env[j], '='))
            envp[k++] = (char *)env[j];
    envp[k] = NULL;
    return envp;
}

/* Start path argv with env changed; stdin from *stdin_w's pipe if stdin_w
 * (else /dev/null), stdout and stderr to files (or /dev/null when NULL). */
static pid_t spawn(const char *path, const char *const *argv, const char *const *env, int *stdin_w,
                   const char *out_path, const char *err_path, unsigned timeout_s)
{
    char **envp = build_env(env);
    int in[2] = {-1, -1};
    if (stdin_w)
        TC_CHECK(pipe2(in, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    int o = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int e = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    TC_CHECK(o >= 0 && e >= 0 && nul >= 0, "open: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(stdin_w ? in[0] : nul, 0);
        dup2(o, 1);
        dup2(e, 2);
        alarm(timeout_s);
        execve(path, (char *const *)argv, envp);
        _exit(127);
    }
    close(o);
    close(e);
    close(nul);
    if (stdin_w) {
        close(in[0]);
        *stdin_w = in[1];
    }
    free(envp);
    return pid;
}

/* ---- the HTTP client -------------------------------------------------------------------- */

typedef struct {
    int status;             /* 0: no status line came back */
    char *raw;              /* everything the server sent, NUL-terminated */
    size_t rawlen;
    const char *hdr;        /* the header lines (inside raw), after the status line */
    size_t hdrlen;
    char *body;             /* the body, de-chunked, NUL-terminated (malloc'd) */
    size_t bodylen;
    long long content_length; /* -1: no Content-Length */
    bool chunked;
    bool complete;          /* the body is as long as its framing says */
    int read_err;           /* errno of a failed read (ECONNRESET), or 0 */
    int send_err;           /* errno of a failed send (EPIPE, ECONNRESET), or 0 */
} http_resp;

static void http_free(http_resp *r)
{
    free(r->raw);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int tcp_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    TC_CHECK(s >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc;
    while ((rc = connect(s, (struct sockaddr *)&a, sizeof a)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

/* Send all of data; 0, or the errno that stopped it. */
static int send_all(int s, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = send(s, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EPIPE;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Wait until s is readable; false after timeout_ms (a give-up bound only). */
static bool wait_readable(int s, int timeout_ms)
{
    double end = tc_now() + timeout_ms / 1000.0;
    for (;;) {
        int left = (int)((end - tc_now()) * 1000);
        if (left < 0)
            left = 0;
        struct pollfd p = {s, POLLIN, 0};
        int r = poll(&p, 1, left);
        if (r > 0)
            return true;
        if (r == 0)
            return false;
        if (errno != EINTR)
            TC_FAIL("poll: %s", strerror(errno));
    }
}

/* Read until the server closes (60 s without a byte: give up). */
static void read_all(int s, char **out, size_t *outlen, int *err)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    *err = 0;
    for (;;) {
        if (len + 4096 + 1 > cap)
            buf = realloc(buf, cap *= 2);
        if (!wait_readable(s, 60000))
            TC_FAIL("no byte from the server for 60 s (after %zu bytes: %.200s)", len, len ? buf : "");
        ssize_t r = read(s, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *err = errno;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = 0;
    *out = buf;
    *outlen = len;
}

/* The value of header name (case-insensitive), malloc'd, or NULL. */
static char *http_header(const http_resp *r, const char *name)
{
    if (!r->hdr)
        return NULL;
    size_t nl = strlen(name);
    const char *p = r->hdr, *end = r->hdr + r->hdrlen;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            return strndup(v, (size_t)(ve - v));
        }
        p = eol + 1;
    }
    return NULL;
}

/* De-chunk src into r->body; whether the last (0) chunk came. */
static bool dechunk(const char *src, size_t n, http_resp *r)
{
    size_t pos = 0, out = 0;
    r->body = malloc(n + 1);
    for (;;) {
        const char *eol = memmem(src + pos, n - pos, "\r\n", 2);
        if (!eol)
            break;
        char *endp;
        unsigned long long sz = strtoull(src + pos, &endp, 16);
        if (endp == src + pos)
            break;
        pos = (size_t)(eol - src) + 2;
        if (sz == 0) {
            r->body[out] = 0;
            r->bodylen = out;
            return true;
        }
        if (sz > n - pos)
            break;
        memcpy(r->body + out, src + pos, sz);
        out += sz;
        pos += sz;
        if (n - pos < 2 || memcmp(src + pos, "\r\n", 2) != 0)
            break;
        pos += 2;
    }
    r->body[out] = 0;
    r->bodylen = out;
    return false;
}

static void http_parse(http_resp *r, bool head)
{
    r->status = 0;
    r->content_length = -1;
    const char *sep = memmem(r->raw, r->rawlen, "\r\n\r\n", 4);
    int st = 0;
    if (r->rawlen >= 12 && strncmp(r->raw, "HTTP/1.", 7) == 0 && sscanf(r->raw + 8, " %3d", &st) == 1)
        r->status = st;
    if (!sep) {
        r->body = strdup("");
        return;
    }
    const char *eol1 = memchr(r->raw, '\n', (size_t)(sep - r->raw) + 2);
    r->hdr = eol1 + 1;
    r->hdrlen = (size_t)(sep + 2 - r->hdr);
    const char *b = sep + 4;
    size_t blen = r->rawlen - (size_t)(b - r->raw);
    char *cl = http_header(r, "Content-Length");
    if (cl)
        r->content_length = strtoll(cl, NULL, 10);
    free(cl);
    char *te = http_header(r, "Transfer-Encoding");
    r->chunked = te && strcasestr(te, "chunked");
    free(te);
    if (head) {
        r->body = malloc(blen + 1);
        memcpy(r->body, b, blen);
        r->body[blen] = 0;
        r->bodylen = blen;
        r->complete = blen == 0;
    } else if (r->chunked) {
        r->complete = dechunk(b, blen, r);
    } else {
        r->body = malloc(blen + 1);
        memcpy(r->body, b, blen);
        r->body[blen] = 0;
        r->bodylen = blen;
        r->complete = r->content_length < 0 || (size_t)r->content_length == blen;
    }
}

/* Send req (n bytes) to 127.0.0.1:port, read the whole response.  -1 (errno)
 * when the connection is refused. */
static int http_exchange(int port, const void *req, size_t n, http_resp *r, bool head)
{
    memset(r, 0, sizeof *r);
    int s = tcp_connect(port);
    if (s < 0)
        return -1;
    r->send_err = send_all(s, req, n);
    read_all(s, &r->raw, &r->rawlen, &r->read_err);
    close(s);
    http_parse(r, head);
    return 0;
}

static int http_method(int port, const char *method, const char *path, http_resp *r)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: tricolor-test\r\n%sConnection: close\r\n\r\n",
                     method, path, port,
                     strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ? "Content-Length: 0\r\n" : "");
    return http_exchange(port, req, (size_t)n, r, strcmp(method, "HEAD") == 0);
}

/* GET path; fails the test if nobody answers. */
static void http_get(int port, const char *path, http_resp *r)
{
    TC_CHECK(http_method(port, "GET", path, r) == 0, "GET %s: connect to 127.0.0.1:%d: %s", path, port,
             strerror(errno));
}

/* GET path, expecting 200 and a complete body. */
static void get_ok(int port, const char *path, http_resp *r)
{
    http_get(port, path, r);
    TC_CHECK(r->status == 200, "GET %s: status %d, response: %.400s", path, r->status, r->raw);
    TC_CHECK(r->complete, "GET %s: incomplete body (%zu bytes, Content-Length %lld, chunked %d)", path,
             r->bodylen, r->content_length, r->chunked);
}

static void expect_content_type(const http_resp *r, const char *path, const char *want)
{
    char *ct = http_header(r, "Content-Type");
    TC_CHECK(ct && strncasecmp(ct, want, strlen(want)) == 0, "GET %s: Content-Type %s, want %s", path,
             ct ? ct : "(none)", want);
    free(ct);
}

/* A port nobody listens on now. */
static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    TC_CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &al) == 0,
             "bind: %s", strerror(errno));
    int port = ntohs(a.sin_port);
    close(s);
    return port;
}

static int serve_local(void)
{
    int port = gc_debug_serve("127.0.0.1:0");
    TC_CHECK(port > 0 && port < 65536, "gc_debug_serve(\"127.0.0.1:0\") = %d: %s", port, strerror(errno));
    return port;
}

/* ---- a small JSON parser ------------------------------------------------------------------ */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    int t;
    double num;
    bool b;
    char *s;
    size_t n;      /* elements, members */
    struct jv **v; /* their values */
    char **k;      /* members' names */
} jv;

typedef struct {
    const char *p, *start, *end;
    const char *err;
    int depth;
} jparser;

static jv *j_value(jparser *jp);

static void j_ws(jparser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static jv *j_new(int t)
{
    jv *v = calloc(1, sizeof *v);
    v->t = t;
    return v;
}

static void j_free(jv *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        j_free(v->v[i]);
        if (v->k)
            free(v->k[i]);
    }
    free(v->v);
    free(v->k);
    free(v->s);
    free(v);
}

static void *j_err(jparser *jp, const char *what)
{
    if (!jp->err)
        jp->err = what;
    return NULL;
}

static char *j_string(jparser *jp)
{
    /* at '"' */
    jp->p++;
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    for (;;) {
        if (jp->p >= jp->end) {
            free(s);
            return j_err(jp, "unterminated string");
        }
        unsigned char c = (unsigned char)*jp->p++;
        if (c == '"')
            break;
        if (c < 0x20) {
            free(s);
            return j_err(jp, "control character in a string");
        }
        if (c == '\\') {
            if (jp->p >= jp->end) {
                free(s);
                return j_err(jp, "unterminated escape");
            }
            char e = *jp->p++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u':
                for (int i = 0; i < 4; i++)
                    if (jp->p >= jp->end || !strchr("0123456789abcdefABCDEF", *jp->p++) || !jp->p[-1]) {
                        free(s);
                        return j_err(jp, "bad \\u escape");
                    }
                c = '?';
                break;
            default:
                free(s);
                return j_err(jp, "bad escape");
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = (char)c;
    }
    s[n] = 0;
    return s;
}

static jv *j_number(jparser *jp)
{
    const char *b = jp->p;
    if (jp->p < jp->end && *jp->p == '-')
        jp->p++;
    if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
        return j_err(jp, "bad number");
    if (*jp->p == '0')
        jp->p++;
    else
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
            jp->p++;
    if (jp->p < jp->end && *jp->p == '.') {
        jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
            return j_err(jp, "bad fraction");
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
            jp->p++;
    }
    if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
        jp->p++;
        if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
            jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
            return j_err(jp, "bad exponent");
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
            jp->p++;
    }
    char tmp[64];
    size_t n = (size_t)(jp->p - b);
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, b, n);
    tmp[n] = 0;
    jv *v = j_new(J_NUM);
    v->num = strtod(tmp, NULL);
    return v;
}

static bool j_lit(jparser *jp, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(jp->end - jp->p) >= n && memcmp(jp->p, lit, n) == 0) {
        jp->p += n;
        return true;
    }
    return false;
}

static jv *j_value(jparser *jp)
{
    j_ws(jp);
    if (jp->p >= jp->end)
        return j_err(jp, "unexpected end");
    if (++jp->depth > 200)
        return j_err(jp, "nested too deep");
    jv *v = NULL;
    char c = *jp->p;
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        v = j_new(obj ? J_OBJ : J_ARR);
        size_t cap = 0;
        jp->p++;
        j_ws(jp);
        if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
            jp->p++;
        } else {
            for (;;) {
                char *key = NULL;
                if (obj) {
                    j_ws(jp);
                    if (jp->p >= jp->end || *jp->p != '"') {
                        j_free(v);
                        return j_err(jp, "expected a member name");
                    }
                    key = j_string(jp);
                    if (!key) {
                        j_free(v);
                        return NULL;
                    }
                    j_ws(jp);
                    if (jp->p >= jp->end || *jp->p != ':') {
                        free(key);
                        j_free(v);
                        return j_err(jp, "expected ':'");
                    }
                    jp->p++;
                }
                jv *e = j_value(jp);
                if (!e) {
                    free(key);
                    j_free(v);
                    return NULL;
                }
                if (v->n == cap) {
                    cap = cap ? cap * 2 : 8;
                    v->v = realloc(v->v, cap * sizeof *v->v);
                    if (obj)
                        v->k = realloc(v->k, cap * sizeof *v->k);
                }
                v->v[v->n] = e;
                if (obj)
                    v->k[v->n] = key;
                v->n++;
                j_ws(jp);
                if (jp->p < jp->end && *jp->p == ',') {
                    jp->p++;
                    continue;
                }
                if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
                    jp->p++;
                    break;
                }
                j_free(v);
                return j_err(jp, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
    } else if (c == '"') {
        char *s = j_string(jp);
        if (!s)
            return NULL;
        v = j_new(J_STR);
        v->s = s;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v = j_number(jp);
    } else if (j_lit(jp, "true") || j_lit(jp, "false")) {
        v = j_new(J_BOOL);
        v->b = jp->p[-1] == 'e' && jp->p[-2] == 'u';
    } else if (j_lit(jp, "null")) {
        v = j_new(J_NULL);
    } else {
        return j_err(jp, "unexpected character");
    }
    jp->depth--;
    return v;
}

/* Parse text (n bytes): the tree, or NULL with *err and *errpos. */
static jv *json_parse(const char *text, size_t n, const char **err, size_t *errpos)
{
    jparser jp = {text, text, text + n, NULL, 0};
    jv *v = j_value(&jp);
    if (v) {
        j_ws(&jp);
        if (jp.p != jp.end) {
            j_free(v);
            v = NULL;
            jp.err = "trailing characters";
        }
    }
    if (!v) {
        *err = jp.err ? jp.err : "?";
        *errpos = (size_t)(jp.p - text);
    }
    return v;
}

static jv *j_get(const jv *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->k[i], key) == 0)
            return o->v[i];
    return NULL;
}

/* All array elements in the tree, added up. */
static size_t j_count(const jv *v)
{
    if (!v)
        return 0;
    size_t n = v->t == J_ARR ? v->n : 0;
    if (v->t == J_ARR || v->t == J_OBJ)
        for (size_t i = 0; i < v->n; i++)
            n += j_count(v->v[i]);
    return n;
}

static bool have_python(void)
{
    static int have = -1;
    if (have < 0)
        have = system("command -v python3 >/dev/null 2>&1") == 0;
    return have;
}

/* Parse a response's body as JSON, failing the test if it is not JSON (our
 * parser, and python's json module where python3 is installed). */
static jv *json_body(const http_resp *r, const char *what)
{
    const char *err = NULL;
    size_t pos = 0;
    jv *v = json_parse(r->body, r->bodylen, &err, &pos);
    if (!v) {
        size_t from = pos > 80 ? pos - 80 : 0;
        TC_FAIL("%s: not JSON: %s at byte %zu of %zu: ...%.160s", what, err, pos, r->bodylen, r->body + from);
    }
    if (have_python()) {
        const char *path = tc_tmp_path("json-check.json");
        write_file(path, r->body, r->bodylen);
        char cmd[600];
        snprintf(cmd, sizeof cmd,
                 "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '%s' > '%s.err' 2>&1", path, path);
        int st = system(cmd);
        if (st != 0) {
            char ep[600];
            snprintf(ep, sizeof ep, "%s.err", path);
            char *e = slurp(ep, NULL);
            TC_FAIL("%s: python's json module rejects the body (%zu bytes): %.600s", what, r->bodylen, e);
        }
    }
    return v;
}

static double j_num_of(const jv *o, const char *key, const char *what)
{
    jv *v = j_get(o, key);
    TC_CHECK(v, "%s has no \"%s\"", what, key);
    TC_CHECK(v->t == J_NUM, "%s: \"%s\" is not a number (type %d)", what, key, v->t);
    return v->num;
}

/* ---- allocation sites ---------------------------------------------------------------------- */

#define KEEP_OBJECTS 1024
#define KEEP_SIZE 4096
static void *kept[KEEP_OBJECTS]; /* 4 MiB, alive: bss is a root */

/* The distinctively named site of the 4 MiB in use (extern: in the symbol table). */
TC_NOINLINE void tcdebug_keeps_four_mib(void);
TC_NOINLINE void tcdebug_keeps_four_mib(void)
{
    for (int i = 0; i < KEEP_OBJECTS; i++) {
        kept[i] = gc_alloc(KEEP_SIZE);
        TC_CHECK(kept[i], "gc_alloc");
        memset(kept[i], 0x5a, 64);
    }
}

/* Garbage from another site. */
TC_NOINLINE static void make_garbage(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 1024) {
        void *p = gc_alloc(1024);
        BARRIER(p);
    }
}

/* 2^depth distinct stacks (each a path of left/right calls), one object each:
 * a big profile. */
#define BRANCH_DEPTH 10
static void *branch_kept[1 << BRANCH_DEPTH];
TC_NOINLINE void tcdebug_branch_l(int d, unsigned bits, unsigned idx);
TC_NOINLINE void tcdebug_branch_r(int d, unsigned bits, unsigned idx);
TC_NOINLINE void tcdebug_branch_l(int d, unsigned bits, unsigned idx)
{
    if (d == 0) {
        branch_kept[idx] = gc_alloc(64);
        return;
    }
    if (bits & 1)
        tcdebug_branch_r(d - 1, bits >> 1, idx);
    else
        tcdebug_branch_l(d - 1, bits >> 1, idx);
    __asm__ volatile("" ::: "memory"); /* no tail call */
}
TC_NOINLINE void tcdebug_branch_r(int d, unsigned bits, unsigned idx)
{
    if (d == 0) {
        branch_kept[idx] = gc_alloc(80);
        return;
    }
    if (bits & 1)
        tcdebug_branch_r(d - 1, bits >> 1, idx);
    else
        tcdebug_branch_l(d - 1, bits >> 1, idx);
    __asm__ volatile("" ::: "memory");
}

static void many_stacks(void)
{
    for (unsigned i = 0; i < (1u << BRANCH_DEPTH); i++)
        tcdebug_branch_l(BRANCH_DEPTH, i, i);
}

/* ---- go tool pprof ---------------------------------------------------------------------------- */

/* Run `go tool pprof args...` in a sandbox (HOME and GOCACHE in tc_tmpdir); its
 * stdout, failing the test if it fails. */
static char *run_pprof(const char *const *args, const char *out_name)
{
    const char *argv[24];
    int n = 0;
    argv[n++] = "go";
    argv[n++] = "tool";
    argv[n++] = "pprof";
    for (; *args && n < 23; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    tc_make_tmpdir();
    char home[300], gocache[300], pprofdir[320];
    snprintf(home, sizeof home, "HOME=%s", tc_tmpdir);
    snprintf(gocache, sizeof gocache, "GOCACHE=%s/gocache", tc_tmpdir);
    snprintf(pprofdir, sizeof pprofdir, "PPROF_TMPDIR=%s/pprof", tc_tmpdir);
    const char *env[] = {home, gocache, pprofdir, "DISPLAY", "BROWSER", "TRICOLOR_HEAPPROFILE", "TRICOLOR_DEBUG_ADDR", NULL};
    const char *out = tc_tmp_path(out_name);
    char *err_path = malloc(strlen(out) + 5);
    sprintf(err_path, "%s.err", out);
    pid_t pid = spawn(tc_go_path(), argv, env, NULL, out, err_path, 120);
    int st = tc_wait(pid);
    char *txt = slurp(out, NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *e = slurp(err_path, NULL);
        TC_FAIL("go tool pprof %s %s: %s; stdout: %.500s; stderr: %.1500s", args[0], args[1] ? args[1] : "",
                tc_status_str(st), txt, e);
    }
    free(err_path);
    return txt;
}

/* ---- index ------------------------------------------------------------------------------------ */

/* Whether html has an href whose value contains what. */
static bool has_href_to(const char *html, const char *what)
{
    for (const char *p = html; (p = strcasestr(p, "href=")) != NULL;) {
        p += 5;
        char q = *p;
        const char *v = p, *e;
        if (q == '"' || q == '\'') {
            v = p + 1;
            e = strchr(v, q);
        } else {
            e = v + strcspn(v, " >");
        }
        if (!e)
            break;
        char *val = strndup(v, (size_t)(e - v));
        bool yes = strstr(val, what) != NULL;
        free(val);
        if (yes)
            return true;
        p = e;
    }
    return false;
}

/* Occurrences of needle in the n bytes at hay. */
static int count_in(const char *hay, size_t n, const char *needle)
{
    int k = 0;
    size_t m = strlen(needle);
    for (const char *p = hay; (p = memmem(p, n - (size_t)(p - hay), needle, m)); p += m)
        k++;
    return k;
}

static void t_index(void)
{
    int port = serve_local();
    http_resp r;
    /* The absolute form of the target, as proxies send it. */
    static const char absolute[] = "GET http://127.0.0.1/debug/pprof/cmdline HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   "Connection: close\r\n\r\n";
    TC_CHECK(http_exchange(port, absolute, sizeof absolute - 1, &r, false) == 0, "connect: %s", strerror(errno));
    TC_CHECK(r.status == 200, "GET http://127.0.0.1/debug/pprof/cmdline: %.300s", r.raw);
    http_free(&r);
    /* Keep-alive: two requests on one connection, the second closing it, get two answers. */
    static const char two[] = "GET /debug/pprof/cmdline HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                              "GET /debug/pprof/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    TC_CHECK(http_exchange(port, two, sizeof two - 1, &r, false) == 0, "connect: %s", strerror(errno));
    TC_CHECK(count_in(r.raw, r.rawlen, "HTTP/1.1 200 OK") == 2, "two requests on one connection: %.600s", r.raw);
    http_free(&r);
    get_ok(port, "/debug/pprof/", &r);
    expect_content_type(&r, "/debug/pprof/", "text/html");
    for (const char *const *w = (const char *const[]){"heap", "allocs", "cmdline", NULL}; *w; w++)
        TC_CHECK(has_href_to(r.body, *w), "/debug/pprof/ has no link to %s:\n%.2000s", *w, r.body);
    http_free(&r);

    /* Go's mux: the directory without its slash is a redirect. */
    http_get(port, "/debug/pprof", &r);
    TC_CHECK(r.status == 301, "GET /debug/pprof: status %d, want 301: %.400s", r.status, r.raw);
    char *loc = http_header(&r, "Location");
    size_t ll = loc ? strlen(loc) : 0;
    TC_CHECK(loc && ll >= 13 && strcmp(loc + ll - 13, "/debug/pprof/") == 0 &&
                 (loc[0] == '/' || strncmp(loc, "http://127.0.0.1", 16) == 0),
             "GET /debug/pprof: Location %s, want /debug/pprof/", loc ? loc : "(none)");
    free(loc);
    http_free(&r);

    /* The command line, NUL-separated, as Go's (arguments joined by NUL). */
    get_ok(port, "/debug/pprof/cmdline", &r);
    size_t off = 0;
    for (int i = 0; i < g_argc; i++) {
        size_t al = strlen(g_argv[i]);
        TC_CHECK(off + al <= r.bodylen && memcmp(r.body + off, g_argv[i], al) == 0 &&
                     (off + al == r.bodylen || r.body[off + al] == 0),
                 "/debug/pprof/cmdline: argument %d (%s) not at byte %zu of %zu", i, g_argv[i], off, r.bodylen);
        off += al + 1;
    }
    TC_CHECK(off >= r.bodylen && off <= r.bodylen + 1, "/debug/pprof/cmdline: %zu bytes for %d arguments", r.bodylen,
             g_argc);
    http_free(&r);
    gc_debug_stop();
}

/* ---- heap --------------------------------------------------------------------------------------- */

/* Print the first line of text holding what. */
static void print_line_with(const char *text, const char *what, const char *label)
{
    const char *hit = strstr(text, what);
    if (!hit)
        return;
    const char *b = hit;
    while (b > text && b[-1] != '\n')
        b--;
    printf("%s: %.*s\n", label, (int)strcspn(b, "\n"), b);
}

static bool is_gzip(const http_resp *r) { return r->bodylen >= 2 && (unsigned char)r->body[0] == 0x1f && (unsigned char)r->body[1] == 0x8b; }

static void t_heap(void)
{
    bool no_go = false;
    gc_set_profile_rate(1);
    tcdebug_keeps_four_mib();
    make_garbage(2 * TC_MiB);
    int port = serve_local();

    gc_memstats m;
    gc_read_memstats(&m);
    uint32_t gcs = m.num_gc;
    http_resp r;
    get_ok(port, "/debug/pprof/heap?gc=1", &r);
    TC_CHECK(is_gzip(&r), "/debug/pprof/heap?gc=1: not gzip (%zu bytes: %02x %02x)", r.bodylen,
             r.bodylen > 0 ? (unsigned char)r.body[0] : 0, r.bodylen > 1 ? (unsigned char)r.body[1] : 0);
    gc_read_memstats(&m);
    TC_CHECK(m.num_gc > gcs, "?gc=1 did not collect: num_gc %u before, %u after", gcs, m.num_gc);
    const char *prof = tc_tmp_path("heap.pb.gz");
    write_file(prof, r.body, r.bodylen);
    http_free(&r);

    if (tc_go_path()) {
        const char *a1[] = {"-top", "-sample_index=inuse_space", prof, NULL};
        char *top = run_pprof(a1, "top.txt");
        TC_CHECK(strstr(top, "tcdebug_keeps_four_mib"), "pprof -top of the saved profile does not name "
                 "tcdebug_keeps_four_mib:\n%.3000s", top);
        print_line_with(top, "tcdebug_keeps_four_mib", "pprof -top (file)");
        free(top);
        /* Straight from the endpoint, served by the library's thread while go runs. */
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/debug/pprof/heap", port);
        const char *a2[] = {"-top", "-sample_index=inuse_space", url, NULL};
        top = run_pprof(a2, "top-http.txt");
        TC_CHECK(strstr(top, "tcdebug_keeps_four_mib"), "pprof -top %s does not name tcdebug_keeps_four_mib:\n%.3000s",
                 url, top);
        print_line_with(top, "tcdebug_keeps_four_mib", "pprof -top (url)");
        free(top);
    } else {
        printf("note: go not found (Debian: apt-get install golang-go): the go tool pprof checks are skipped\n");
        no_go = true;
    }

    /* Go's legacy text form. */
    get_ok(port, "/debug/pprof/heap?debug=1", &r);
    TC_CHECK(strncmp(r.body, "heap profile: ", 14) == 0, "/debug/pprof/heap?debug=1 starts with: %.200s", r.body);
    TC_CHECK(strstr(r.body, "# runtime.MemStats"), "/debug/pprof/heap?debug=1 has no \"# runtime.MemStats\"");
    TC_CHECK(strstr(r.body, "MAPPED_LIBRARIES:"), "/debug/pprof/heap?debug=1 has no \"MAPPED_LIBRARIES:\"");
    TC_CHECK(strstr(r.body, "tcdebug_keeps_four_mib"), "/debug/pprof/heap?debug=1 has no frame naming "
             "tcdebug_keeps_four_mib: %.1500s", r.body);
    http_free(&r);

    get_ok(port, "/debug/pprof/allocs", &r);
    TC_CHECK(is_gzip(&r), "/debug/pprof/allocs: not gzip (%zu bytes)", r.bodylen);
    http_free(&r);
    get_ok(port, "/debug/pprof/heap", &r);
    TC_CHECK(is_gzip(&r), "/debug/pprof/heap: not gzip (%zu bytes)", r.bodylen);
    http_free(&r);

    http_get(port, "/debug/pprof/nosuch", &r);
    TC_CHECK(r.status == 404, "GET /debug/pprof/nosuch: status %d, want 404: %.300s", r.status, r.raw);
    http_free(&r);
    /* Go's delta profile is not served: a clear 400, not the whole profile under its name. */
    http_get(port, "/debug/pprof/heap?seconds=5", &r);
    TC_CHECK(r.status == 400 && strstr(r.body, "seconds"), "GET /debug/pprof/heap?seconds=5: status %d: %.300s",
             r.status, r.raw);
    http_free(&r);
    /* The index counts the heap profile's records, as Go's does: one at least (the 4 MiB site). */
    get_ok(port, "/debug/pprof/", &r);
    long count = -1;
    for (const char *tr = strstr(r.body, "<tr><td>"); tr; tr = strstr(tr + 1, "<tr><td>")) {
        const char *end = strstr(tr, "</tr>");
        const char *link = strstr(tr, "\"heap?debug=1\"");
        if (end && link && link < end)
            count = strtol(tr + 8, NULL, 10);
    }
    TC_CHECK(count >= 1, "the index's count of heap records: %ld (%.400s)", count, r.body);
    http_free(&r);
    gc_debug_stop();
    gc_keep_alive(kept);
    if (no_go) { /* the rest passed; without its pprof half the subtest is reported skipped, not passed */
        fflush(stdout);
        _exit(77);
    }
}

/* What vars and memstats read: 4 MiB kept, three forced collections, then serving. */
static int keep_collect_serve(void)
{
    tcdebug_keeps_four_mib();
    for (int i = 0; i < 3; i++) {
        make_garbage(TC_MiB);
        gc_collect();
    }
    return serve_local();
}

/* ---- vars ---------------------------------------------------------------------------------------- */

static void t_vars(void)
{
    int port = keep_collect_serve();
    http_resp r;
    get_ok(port, "/debug/vars", &r);
    expect_content_type(&r, "/debug/vars", "application/json");
    jv *root = json_body(&r, "/debug/vars");
    TC_CHECK(root->t == J_OBJ, "/debug/vars is not an object");

    jv *cmd = j_get(root, "cmdline");
    TC_CHECK(cmd && cmd->t == J_ARR, "/debug/vars: \"cmdline\" is not an array");
    TC_CHECK(cmd->n == (size_t)g_argc, "/debug/vars: cmdline has %zu elements, the program %d arguments", cmd->n,
             g_argc);
    for (size_t i = 0; i < cmd->n; i++)
        TC_CHECK(cmd->v[i]->t == J_STR && strcmp(cmd->v[i]->s, g_argv[i]) == 0, "/debug/vars: cmdline[%zu] is %s, want %s",
                 i, cmd->v[i]->t == J_STR ? cmd->v[i]->s : "(not a string)", g_argv[i]);

    jv *ms = j_get(root, "memstats");
    TC_CHECK(ms && ms->t == J_OBJ, "/debug/vars: \"memstats\" is not an object");
    static const char *const nums[] = {"Alloc", "TotalAlloc", "Sys", "Lookups", "Mallocs", "Frees", "HeapAlloc",
                                       "HeapSys", "HeapIdle", "HeapInuse", "HeapReleased", "HeapObjects", "StackInuse",
                                       "StackSys", "MSpanInuse", "MSpanSys", "MCacheInuse", "MCacheSys", "BuckHashSys",
                                       "GCSys", "OtherSys", "NextGC", "LastGC", "PauseTotalNs", "NumGC", "NumForcedGC",
                                       "GCCPUFraction"};
    static const char *const required[] = {"Alloc", "TotalAlloc", "Sys", "Mallocs", "Frees", "HeapAlloc", "HeapSys",
                                           "HeapIdle", "HeapInuse", "HeapReleased", "HeapObjects", "NextGC", "LastGC",
                                           "PauseTotalNs", "NumGC", "NumForcedGC", "GCCPUFraction"};
    for (size_t i = 0; i < TC_NTESTS(required); i++)
        j_num_of(ms, required[i], "/debug/vars memstats");
    /* Go's other names, if present, are numbers too. */
    for (size_t i = 0; i < TC_NTESTS(nums); i++) {
        jv *v = j_get(ms, nums[i]);
        TC_CHECK(!v || v->t == J_NUM, "/debug/vars memstats: \"%s\" is not a number", nums[i]);
    }
    for (const char *const *k = (const char *const[]){"PauseNs", "PauseEnd", NULL}; *k; k++) {
        jv *a = j_get(ms, *k);
        TC_CHECK(a && a->t == J_ARR && a->n == 256, "/debug/vars memstats: \"%s\" is not an array of 256 (%s, %zu)", *k,
                 a ? (a->t == J_ARR ? "array" : "not an array") : "missing", a ? a->n : 0);
        for (size_t i = 0; i < a->n; i++)
            TC_CHECK(a->v[i]->t == J_NUM, "/debug/vars memstats: %s[%zu] is not a number", *k, i);
    }
    jv *en = j_get(ms, "EnableGC");
    TC_CHECK(en && ((en->t == J_BOOL && en->b) || (en->t == J_NUM && en->num == 1)),
             "/debug/vars memstats: \"EnableGC\" is %s, want true", en ? (en->t == J_BOOL ? "false" : "not a boolean") : "missing");
    jv *bs = j_get(ms, "BySize");
    TC_CHECK(bs && bs->t == J_ARR && bs->n > 0, "/debug/vars memstats: \"BySize\" is not a non-empty array");
    for (size_t i = 0; i < bs->n; i++) {
        jv *e = bs->v[i];
        TC_CHECK(e->t == J_OBJ, "BySize[%zu] is not an object", i);
        j_num_of(e, "Size", "/debug/vars memstats BySize[]");
        j_num_of(e, "Mallocs", "/debug/vars memstats BySize[]");
        j_num_of(e, "Frees", "/debug/vars memstats BySize[]");
    }

    double numgc = j_num_of(ms, "NumGC", "memstats"), forced = j_num_of(ms, "NumForcedGC", "memstats");
    double heap_alloc = j_num_of(ms, "HeapAlloc", "memstats");
    TC_CHECK(numgc >= 3, "/debug/vars: NumGC %.0f after 3 gc_collect() calls", numgc);
    TC_CHECK(forced >= 3, "/debug/vars: NumForcedGC %.0f after 3 gc_collect() calls", forced);
    TC_CHECK(heap_alloc >= (double)(KEEP_OBJECTS * KEEP_SIZE), "/debug/vars: HeapAlloc %.0f, but %d bytes are alive",
             heap_alloc, KEEP_OBJECTS * KEEP_SIZE);
    TC_CHECK(j_num_of(ms, "Sys", "memstats") >= j_num_of(ms, "HeapSys", "memstats") &&
                 j_num_of(ms, "HeapSys", "memstats") >= j_num_of(ms, "HeapInuse", "memstats"),
             "/debug/vars: Sys >= HeapSys >= HeapInuse does not hold");
    TC_CHECK(j_num_of(ms, "TotalAlloc", "memstats") >= heap_alloc, "/debug/vars: TotalAlloc < HeapAlloc");
    /* The latest pause: PauseNs[(NumGC+255)%256] is one of the collections'. */
    jv *pe = j_get(ms, "PauseEnd");
    double last_end = pe->v[((unsigned)numgc + 255) % 256]->num;
    TC_CHECK(last_end > 1.0e18, "/debug/vars: PauseEnd[(NumGC+255)%%256] = %.0f, not a time since the epoch", last_end);
    j_free(root);
    http_free(&r);

    /* A second read: NumGC counts a new collection. */
    gc_collect();
    get_ok(port, "/debug/vars", &r);
    root = json_body(&r, "/debug/vars (again)");
    double numgc2 = j_num_of(j_get(root, "memstats"), "NumGC", "memstats");
    TC_CHECK(numgc2 >= numgc + 1, "/debug/vars: NumGC %.0f then %.0f across a gc_collect()", numgc, numgc2);
    j_free(root);
    http_free(&r);
    gc_debug_stop();
    gc_keep_alive(kept);
}

/* ---- memstats ---------------------------------------------------------------------------------- */

static void t_memstats(void)
{
    int port = keep_collect_serve();
    http_resp r;
    get_ok(port, "/debug/memstats", &r);
    expect_content_type(&r, "/debug/memstats", "application/json");
    jv *root = json_body(&r, "/debug/memstats");
    TC_CHECK(root->t == J_OBJ, "/debug/memstats is not an object");
    static const char *const nums[] = {
        "alloc", "total_alloc", "sys", "mallocs", "frees", "heap_alloc", "heap_sys", "heap_idle", "heap_inuse",
        "heap_released", "heap_objects", "mspan_inuse", "mspan_sys", "mcache_inuse", "mcache_sys", "gc_sys",
        "other_sys", "next_gc", "last_gc", "pause_total_ns", "num_gc", "num_forced_gc", "gc_cpu_fraction",
        "memory_limit", "gc_limiter_enabled", "gc_limiter_last_enabled", "buck_hash_sys",
        /* gc_metrics' extras */
        "heap_live", "gc_cpu_ns", "cpu_ns", "uptime_ns", "scavenged_bytes", "gogc", "ncpu"};
    for (size_t i = 0; i < TC_NTESTS(nums); i++)
        j_num_of(root, nums[i], "/debug/memstats");
    jv *en = j_get(root, "enable_gc");
    TC_CHECK(en && ((en->t == J_NUM && en->num == 1) || (en->t == J_BOOL && en->b)),
             "/debug/memstats: \"enable_gc\" is %s, want 1 (or true)", en ? "not 1" : "missing");
    for (const char *const *k = (const char *const[]){"pause_ns", "pause_end", NULL}; *k; k++) {
        jv *a = j_get(root, *k);
        TC_CHECK(a && a->t == J_ARR && a->n == 256, "/debug/memstats: \"%s\" is not an array of 256 (%s, %zu)", *k,
                 a ? (a->t == J_ARR ? "array" : "not an array") : "missing", a ? a->n : 0);
        for (size_t i = 0; i < a->n; i++)
            TC_CHECK(a->v[i]->t == J_NUM, "/debug/memstats: %s[%zu] is not a number", *k, i);
    }
    jv *bs = j_get(root, "by_size");
    TC_CHECK(bs && bs->t == J_ARR && bs->n == GC_NUM_SIZE_CLASSES,
             "/debug/memstats: \"by_size\" is not an array of %d (%s, %zu)", GC_NUM_SIZE_CLASSES,
             bs ? (bs->t == J_ARR ? "array" : "not an array") : "missing", bs ? bs->n : 0);
    gc_memstats m;
    gc_read_memstats(&m);
    for (size_t i = 0; i < bs->n; i++) {
        jv *e = bs->v[i];
        TC_CHECK(e->t == J_OBJ, "by_size[%zu] is not an object", i);
        double size = j_num_of(e, "size", "/debug/memstats by_size[]");
        j_num_of(e, "mallocs", "/debug/memstats by_size[]");
        j_num_of(e, "frees", "/debug/memstats by_size[]");
        TC_CHECK(size == m.by_size[i].size, "by_size[%zu].size is %.0f, gc_read_memstats says %u", i, size,
                 m.by_size[i].size);
    }
    double num_gc = j_num_of(root, "num_gc", "/debug/memstats");
    TC_CHECK(num_gc >= 3, "/debug/memstats: num_gc %.0f after 3 gc_collect() calls", num_gc);
    TC_CHECK(j_num_of(root, "num_forced_gc", "/debug/memstats") >= 3, "/debug/memstats: num_forced_gc < 3");
    TC_CHECK(j_num_of(root, "heap_alloc", "/debug/memstats") >= (double)(KEEP_OBJECTS * KEEP_SIZE),
             "/debug/memstats: heap_alloc %.0f, but %d bytes are alive", j_num_of(root, "heap_alloc", "x"),
             KEEP_OBJECTS * KEEP_SIZE);
    TC_CHECK(j_num_of(root, "heap_live", "/debug/memstats") >= (double)(KEEP_OBJECTS * KEEP_SIZE),
             "/debug/memstats: heap_live %.0f, but %d bytes are alive (marked by the last collection)",
             j_num_of(root, "heap_live", "x"), KEEP_OBJECTS * KEEP_SIZE);
    TC_CHECK(j_num_of(root, "gogc", "/debug/memstats") == 100, "/debug/memstats: gogc %.0f, want 100 (the default)",
             j_num_of(root, "gogc", "x"));
    TC_CHECK(j_num_of(root, "ncpu", "/debug/memstats") >= 1, "/debug/memstats: ncpu < 1");
    TC_CHECK(j_num_of(root, "pause_total_ns", "/debug/memstats") > 0, "/debug/memstats: pause_total_ns is 0 after 3 collections");
    jv *rp = j_get(root, "recent_pauses");
    TC_CHECK(rp && rp->t == J_ARR, "/debug/memstats: \"recent_pauses\" is not an array");
    TC_CHECK(rp->n >= 3, "/debug/memstats: recent_pauses has %zu entries after 3 collections", rp->n);
    j_free(root);
    http_free(&r);
    gc_debug_stop();
    gc_keep_alive(kept);
}

/* ---- dashboard ----------------------------------------------------------------------------------- */

/* The values of src= and href= attributes in html (malloc'd, NULL-terminated). */
static char **attr_urls(const char *html, size_t *count)
{
    size_t n = 0, cap = 16;
    char **urls = malloc(cap * sizeof *urls);
    for (const char *p = html; *p; p++) {
        size_t al;
        if (strncasecmp(p, "src=", 4) == 0)
            al = 4;
        else if (strncasecmp(p, "href=", 5) == 0)
            al = 5;
        else
            continue;
        if (p > html && (isalnum((unsigned char)p[-1]) || p[-1] == '-' || p[-1] == '_'))
            continue; /* data-src= and the like */
        const char *v = p + al, *e;
        if (*v == '"' || *v == '\'') {
            char q = *v++;
            e = strchr(v, q);
        } else {
            e = v + strcspn(v, " >\t\r\n");
        }
        if (!e)
            break;
        if (n + 2 > cap)
            urls = realloc(urls, (cap *= 2) * sizeof *urls);
        urls[n++] = strndup(v, (size_t)(e - v));
        p = e;
    }
    urls[n] = NULL;
    *count = n;
    return urls;
}

static void t_dashboard(void)
{
    int port = serve_local();
    http_resp r;
    get_ok(port, "/debug/dashboard", &r);
    expect_content_type(&r, "/debug/dashboard", "text/html");
    TC_CHECK(strstr(r.body, "uPlot"), "/debug/dashboard does not mention uPlot:\n%.1500s", r.body);
    size_t nurls;
    char **urls = attr_urls(r.body, &nurls);
    int fetched = 0;
    for (size_t i = 0; i < nurls; i++) {
        const char *u = urls[i];
        /* No internet needed: nothing from another host. */
        TC_CHECK(strncasecmp(u, "http:", 5) != 0 && strncasecmp(u, "https:", 6) != 0 && strncmp(u, "//", 2) != 0,
                 "/debug/dashboard references %s, on another host", u);
        char path[1024];
        if (u[0] == '/')
            snprintf(path, sizeof path, "%s", u);
        else if (u[0] && u[0] != '#' && strncasecmp(u, "data:", 5) != 0 && strncasecmp(u, "javascript:", 11) != 0)
            snprintf(path, sizeof path, "/debug/%s", u); /* relative to /debug/dashboard */
        else
            continue;
        if (strncmp(path, "/debug/dashboard/", 17) != 0)
            continue;
        http_resp a;
        http_get(port, path, &a);
        TC_CHECK(a.status == 200 && a.complete, "/debug/dashboard references %s (GET %s): status %d, %zu bytes", u,
                 path, a.status, a.bodylen);
        TC_CHECK(a.bodylen > 0, "GET %s: empty", path);
        http_free(&a);
        fetched++;
    }
    printf("dashboard: %zu src/href attributes, %d fetched under /debug/dashboard/\n", nurls, fetched);
    for (size_t i = 0; i < nurls; i++)
        free(urls[i]);
    free(urls);
    http_free(&r);

    http_resp s1, s2;
    get_ok(port, "/debug/dashboard/samples?since=0", &s1);
    expect_content_type(&s1, "/debug/dashboard/samples?since=0", "application/json");
    jv *j1 = json_body(&s1, "/debug/dashboard/samples?since=0");
    for (int i = 0; i < 30; i++) {
        make_garbage(TC_MiB);
        tc_sleep_ms(10);
    }
    gc_collect();
    tc_sleep_ms(10);
    get_ok(port, "/debug/dashboard/samples?since=0", &s2);
    jv *j2 = json_body(&s2, "/debug/dashboard/samples?since=0 (again)");
    size_t n1 = j_count(j1), n2 = j_count(j2);
    TC_CHECK(n2 > n1 || (n2 >= n1 && (s1.bodylen != s2.bodylen || memcmp(s1.body, s2.body, s1.bodylen) != 0)),
             "the samples did not move in 300 ms with allocation and a collection: %zu array elements then %zu;\n"
             "first: %.800s\nsecond: %.800s",
             n1, n2, s1.body, s2.body);
    printf("dashboard samples: %zu then %zu array elements (%zu, %zu bytes)\n", n1, n2, s1.bodylen, s2.bodylen);
    j_free(j1);
    j_free(j2);
    http_free(&s1);
    http_free(&s2);
    gc_debug_stop();
}

/* ---- bad_requests --------------------------------------------------------------------------------- */

/* Whether req is refused with one of ok_statuses (ended by -1; a connection
 * closed without an answer is status 0, never one of them); a failure is
 * added to *fails (the subtest goes on, to report all). */
static bool expect_rejected(int port, const char *what, const char *req, size_t n, const int *ok_statuses,
                            char *fails, size_t fails_size)
{
    http_resp r;
    TC_CHECK(http_exchange(port, req, n, &r, false) == 0, "%s: connect: %s", what, strerror(errno));
    bool ok = false;
    for (const int *s = ok_statuses; *s >= 0; s++)
        if (r.status == *s)
            ok = true;
    printf("%s (%zu bytes): %s %d\n", what, n, r.status ? "status" : "closed, no status", r.status);
    if (!ok) {
        size_t l = strlen(fails);
        snprintf(fails + l, fails_size - l, "\n  %s (a %zu-byte request): status %d, response: %.*s", what, n, r.status,
                 (int)strcspn(r.raw, "\r\n"), r.raw);
    }
    http_free(&r);
    return ok;
}

static void t_bad_requests(void)
{
    int port = serve_local();
    http_resp r;
    static const struct {
        const char *method, *path;
    } not_allowed[] = {{"POST", "/debug/vars"},       {"PUT", "/debug/vars"},
                       {"DELETE", "/debug/vars"},     {"POST", "/debug/pprof/heap"},
                       {"PUT", "/debug/memstats"},    {"DELETE", "/debug/dashboard"}};
    for (size_t i = 0; i < TC_NTESTS(not_allowed); i++) {
        TC_CHECK(http_method(port, not_allowed[i].method, not_allowed[i].path, &r) == 0, "connect: %s", strerror(errno));
        TC_CHECK(r.status == 405, "%s %s: status %d, want 405: %.300s", not_allowed[i].method, not_allowed[i].path,
                 r.status, r.raw);
        char *allow = http_header(&r, "Allow");
        TC_CHECK(allow && strstr(allow, "GET"), "%s %s: 405 with Allow: %s, want GET in it", not_allowed[i].method,
                 not_allowed[i].path, allow ? allow : "(none)");
        free(allow);
        http_free(&r);
    }

    http_get(port, "/nope", &r);
    TC_CHECK(r.status == 404, "GET /nope: status %d, want 404: %.300s", r.status, r.raw);
    http_free(&r);
    http_get(port, "/debug/pprof/heapx", &r);
    TC_CHECK(r.status == 404, "GET /debug/pprof/heapx: status %d, want 404", r.status);
    http_free(&r);

    static char fails[4096];
    /* Malformed: 400, as Go's server answers (not a silent close). */
#define MALFORMED(what, req) {what, req, sizeof req - 1}
    static const int bad[] = {400, -1};
    static const struct {
        const char *what, *req;
        size_t n;
    } malformed[] = {
        MALFORMED("garbage bytes", "\x01\x02garbage\r\n\r\n"),
        MALFORMED("\"GET\" alone", "GET\r\n\r\n"),
        MALFORMED("one word", "GARBAGE\r\n\r\n"),
        MALFORMED("binary", "\xde\xad\xbe\xef\x00\x01 \xff\xfe\r\n\r\n"),
        MALFORMED("spaces in the method", "G E T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        MALFORMED("no version", "GET /debug/pprof/\r\n\r\n"),
        MALFORMED("a header line without a colon", "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
        MALFORMED("a bad Content-Length", "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    };
    for (size_t i = 0; i < TC_NTESTS(malformed); i++)
        expect_rejected(port, malformed[i].what, malformed[i].req, malformed[i].n, bad, fails, sizeof fails);

    /* Too big: the header promises 32 KiB for the request line and headers. */
    static const int too_big[] = {400, 413, 414, 431, -1};
    size_t big = 40 * 1024;
    char *req = malloc(big + 512);
    /* A 40 KiB URL. */
    int n = sprintf(req, "GET /debug/pprof/?");
    memset(req + n, 'a', big);
    n += (int)big;
    n += sprintf(req + n, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    expect_rejected(port, "a 40 KiB URL", req, (size_t)n, too_big, fails, sizeof fails);
    /* 40 KiB of headers, 1 KiB each. */
    n = sprintf(req, "GET /debug/pprof/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    req = realloc(req, big + 4096);
    for (int i = 0; i < 40; i++) {
        n += sprintf(req + n, "X-Filler-%d: ", i);
        memset(req + n, 'b', 1000);
        n += 1000;
        n += sprintf(req + n, "\r\n");
    }
    n += sprintf(req + n, "\r\n");
    expect_rejected(port, "40 KiB of headers", req, (size_t)n, too_big, fails, sizeof fails);
    /* One header of 40 KiB. */
    n = sprintf(req, "GET /debug/pprof/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: ");
    memset(req + n, 'c', big);
    n += (int)big;
    n += sprintf(req + n, "\r\n\r\n");
    expect_rejected(port, "one 40 KiB header", req, (size_t)n, too_big, fails, sizeof fails);
    free(req);

    /* Still serving. */
    get_ok(port, "/debug/pprof/", &r);
    http_free(&r);

    /* HEAD: the headers, no body. */
    TC_CHECK(http_method(port, "HEAD", "/debug/vars", &r) == 0, "connect: %s", strerror(errno));
    TC_CHECK(r.status == 200, "HEAD /debug/vars: status %d: %.300s", r.status, r.raw);
    TC_CHECK(r.bodylen == 0, "HEAD /debug/vars: %zu bytes of body: %.200s", r.bodylen, r.body);
    http_free(&r);
    TC_CHECK(http_method(port, "HEAD", "/debug/pprof/", &r) == 0, "connect: %s", strerror(errno));
    TC_CHECK(r.status == 200 && r.bodylen == 0, "HEAD /debug/pprof/: status %d, %zu bytes of body", r.status, r.bodylen);
    http_free(&r);

    get_ok(port, "/debug/pprof/", &r);
    http_free(&r);
    gc_debug_stop();
    TC_CHECK(!fails[0], "malformed or oversized requests were not refused (want 400; 413, 414 or 431 for those over "
             "16 KiB; or the connection closed):%s", fails);
}

/* ---- concurrent ------------------------------------------------------------------------------------ */

#define CONC_THREADS 16
#define CONC_GETS 40

static int conc_port;
static atomic_int conc_running;
static atomic_int conc_done_requests;

static void *conc_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < CONC_GETS; i++) {
        const char *path = (i + id) % 2 ? "/debug/memstats" : "/debug/pprof/heap";
        http_resp r;
        TC_CHECK(http_method(conc_port, "GET", path, &r) == 0, "thread %d, GET %d %s: connect: %s", id, i, path,
                 strerror(errno));
        TC_CHECK(r.status == 200, "thread %d, GET %d %s: status %d: %.300s", id, i, path, r.status, r.raw);
        TC_CHECK(r.content_length >= 0 || r.chunked, "thread %d, GET %s: neither Content-Length nor chunked", id, path);
        TC_CHECK(r.complete, "thread %d, GET %d %s: incomplete: %zu bytes, Content-Length %lld, chunked %d", id, i, path,
                 r.bodylen, r.content_length, r.chunked);
        if (strcmp(path, "/debug/memstats") == 0) {
            const char *err;
            size_t pos;
            jv *v = json_parse(r.body, r.bodylen, &err, &pos);
            TC_CHECK(v && j_get(v, "num_gc"), "thread %d: /debug/memstats is not JSON with num_gc (%s at %zu)", id,
                     v ? "ok" : err, v ? 0 : pos);
            j_free(v);
        } else {
            TC_CHECK(is_gzip(&r), "thread %d: /debug/pprof/heap is not gzip", id);
        }
        http_free(&r);
        atomic_fetch_add(&conc_done_requests, 1);
    }
    atomic_fetch_sub(&conc_running, 1);
    return NULL;
}

static void t_concurrent(void)
{
    gc_set_profile_rate(4096);
    tcdebug_keeps_four_mib();
    conc_port = serve_local();
    atomic_store(&conc_running, CONC_THREADS);
    pthread_t t[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++)
        t[i] = tc_thread(conc_client, (void *)(intptr_t)i);
    int collections = 0;
    while (atomic_load(&conc_running) > 0) {
        make_garbage(4 * TC_MiB);
        gc_collect();
        collections++;
    }
    for (int i = 0; i < CONC_THREADS; i++)
        tc_join(t[i]);
    TC_CHECK(atomic_load(&conc_done_requests) == CONC_THREADS * CONC_GETS, "%d requests done",
             atomic_load(&conc_done_requests));
    printf("concurrent: %d requests beside %d collections\n", CONC_THREADS * CONC_GETS, collections);
    http_resp r;
    get_ok(conc_port, "/debug/pprof/", &r);
    http_free(&r);
    gc_debug_stop();
    gc_keep_alive(kept);
}

/* ---- slow_client ---------------------------------------------------------------------------------- */

/* Runs in a child process: SIGPIPE at its default, as in a program. */
static void child_slow(void)
{
    signal(SIGPIPE, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    gc_set_profile_rate(1);
    many_stacks();
    tcdebug_keeps_four_mib();
    gc_collect();
    int port = serve_local();
    http_resp r;

    /* Half a request line, then nothing. */
    int slow = tcp_connect(port);
    TC_CHECK(slow >= 0, "connect: %s", strerror(errno));
    TC_CHECK(send_all(slow, "GET /debug/pp", 13) == 0, "send");
    tc_sleep_ms(100);
    for (int i = 0; i < 5; i++) {
        get_ok(port, i % 2 ? "/debug/memstats" : "/debug/pprof/", &r);
        http_free(&r);
    }

    /* The profile is big: the server is still writing when each hangs up. */
    get_ok(port, "/debug/pprof/heap?debug=1", &r);
    size_t full = r.bodylen;
    http_free(&r);
    int aborted_early = 0;
    for (int i = 0; i < 50; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int rcv = 4096;
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv); /* a small window, set before connect */
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc;
        while ((rc = connect(s, (struct sockaddr *)&a, sizeof a)) != 0 && errno == EINTR)
            ;
        TC_CHECK(rc == 0, "connect %d: %s", i, strerror(errno));
        char req[256];
        int n = snprintf(req, sizeof req,
                         "GET /debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", port);
        TC_CHECK(send_all(s, req, (size_t)n) == 0, "send %d", i);
        char buf[10];
        size_t got = 0;
        while (got < sizeof buf) {
            TC_CHECK(wait_readable(s, 60000), "client %d: no answer in 60 s", i);
            ssize_t k = read(s, buf + got, sizeof buf - got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        TC_CHECK(got == sizeof buf && memcmp(buf, "HTTP/1.", 7) == 0, "client %d: %zu bytes: %.10s", i, got, buf);
        /* Unread data: close resets the connection. */
        struct linger lg = {1, 0};
        if (i % 2)
            setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(s);
        aborted_early++;
    }
    printf("slow_client: %d clients hung up after 10 bytes of a %zu-byte profile\n", aborted_early, full);
    tc_sleep_ms(200);

    for (int i = 0; i < 5; i++) {
        get_ok(port, i % 2 ? "/debug/memstats" : "/debug/pprof/heap?debug=1", &r);
        if (i % 2 == 0)
            TC_CHECK(strncmp(r.body, "heap profile: ", 14) == 0, "after the hang-ups: %.100s", r.body);
        http_free(&r);
    }

    /* The slow client, finished now, gets its answer. */
    char rest[256];
    int n = snprintf(rest, sizeof rest, "rof/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", port);
    memset(&r, 0, sizeof r);
    r.send_err = send_all(slow, rest, (size_t)n);
    read_all(slow, &r.raw, &r.rawlen, &r.read_err);
    close(slow);
    http_parse(&r, false);
    TC_CHECK(r.status == 200 && r.complete, "the slow client's request, finished: status %d (send %s): %.300s",
             r.status, r.send_err ? strerror(r.send_err) : "ok", r.raw);
    http_free(&r);
    gc_debug_stop();
    gc_keep_alive(kept);
    gc_keep_alive(branch_kept);
    printf("slow ok\n");
    exit(0);
}

static void t_slow_client(void)
{
    tc_child c;
    const char *args[] = {"child-slow", NULL};
    tc_run_self(&c, args, NULL, 110);
    if (WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGPIPE)
        TC_FAIL("the program died of SIGPIPE when a client hung up; its output: %s%s", c.out, c.err);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && strstr(c.out, "slow ok"),
             "the child: %s; stdout: %s; stderr: %s", tc_status_str(c.status), c.out, c.err);
    fputs(c.out, stdout);
    tc_child_free(&c);
}

/* ---- stop_restart ---------------------------------------------------------------------------------- */

/* Whether a socket listens on 127.0.0.1:port, and only there, as /proc/net/tcp
 * says (IPv4; /proc/net/tcp6 for a listener on another family). */
static void expect_loopback_listener(int port, const char *how)
{
    char want_port[8];
    snprintf(want_port, sizeof want_port, "%04X", port);
    int loopback = 0, other = 0;
    for (const char *const *file = (const char *const[]){"/proc/net/tcp", "/proc/net/tcp6", NULL}; *file; file++) {
        FILE *f = fopen(*file, "r");
        if (!f)
            continue;
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char local[64], remote[64], st[8];
            if (sscanf(line, " %*[0-9]: %63s %63s %7s", local, remote, st) != 3)
                continue;
            char *colon = strrchr(local, ':');
            if (!colon || strcmp(colon + 1, want_port) != 0 || strcmp(st, "0A") != 0)
                continue;
            *colon = 0;
            if (strcmp(local, "0100007F") == 0)
                loopback++;
            else
                other++;
        }
        fclose(f);
    }
    TC_CHECK(loopback == 1 && other == 0, "%s: port %d listens on 127.0.0.1 %d times and elsewhere %d times", how, port,
             loopback, other);
}

static void t_stop_restart(void)
{
    http_resp r;
    int port = gc_debug_serve("127.0.0.1:0");
    TC_CHECK(port > 0, "gc_debug_serve(\"127.0.0.1:0\") = %d: %s", port, strerror(errno));
    expect_loopback_listener(port, "127.0.0.1:0");
    get_ok(port, "/debug/pprof/", &r);
    http_free(&r);

    errno = 0;
    int again = gc_debug_serve("127.0.0.1:0");
    TC_CHECK(again == -1 && errno == EBUSY, "a second gc_debug_serve while serving: %d, errno %d (%s), want -1 EBUSY",
             again, errno, strerror(errno));
    get_ok(port, "/debug/pprof/", &r); /* the refused call left the server alone */
    http_free(&r);

    /* An idle connection: stop closes it. */
    int idle = tcp_connect(port);
    TC_CHECK(idle >= 0, "connect: %s", strerror(errno));
    tc_sleep_ms(50);
    gc_debug_stop();
    TC_CHECK(wait_readable(idle, 10000), "an idle connection still open 10 s after gc_debug_stop");
    char c;
    ssize_t k;
    while ((k = read(idle, &c, 1)) < 0 && errno == EINTR)
        ;
    TC_CHECK(k == 0 || (k < 0 && errno == ECONNRESET), "the idle connection after gc_debug_stop: read %zd (%s)", k,
             k < 0 ? strerror(errno) : "a byte");
    close(idle);

    errno = 0;
    int s = tcp_connect(port);
    TC_CHECK(s < 0 && errno == ECONNREFUSED, "connect after gc_debug_stop: %d, %s; want ECONNREFUSED", s,
             s < 0 ? strerror(errno) : "connected");

    /* The same port, at once. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int p2 = gc_debug_serve(addr);
    TC_CHECK(p2 == port, "gc_debug_serve(\"%s\") right after stop: %d (%s)", addr, p2, strerror(errno));
    get_ok(port, "/debug/pprof/", &r);
    http_free(&r);
    get_ok(port, "/debug/memstats", &r);
    http_free(&r);
    gc_debug_stop();
    gc_debug_stop(); /* harmless */
    gc_debug_stop();

    /* Not addresses. */
    static const char *const bad[] = {"nonsense:::", "127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:http6060", NULL};
    for (const char *const *b = bad; *b; b++) {
        errno = 0;
        int rc = gc_debug_serve(*b);
        int e = errno;
        if (rc > 0)
            gc_debug_stop();
        TC_CHECK(rc == -1 && e == EINVAL, "gc_debug_serve(\"%s\") = %d, errno %d (%s); want -1 EINVAL", *b, rc, e,
                 strerror(e));
    }

    /* A port in use. */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    TC_CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0 &&
                 getsockname(l, (struct sockaddr *)&a, &al) == 0,
             "bind: %s", strerror(errno));
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(a.sin_port));
    errno = 0;
    int rc = gc_debug_serve(addr);
    int e = errno;
    if (rc > 0)
        gc_debug_stop();
    TC_CHECK(rc == -1 && e == EADDRINUSE, "gc_debug_serve(\"%s\"), a port in use: %d, errno %d (%s); want -1 EADDRINUSE",
             addr, rc, e, strerror(e));
    close(l);
    /* Not serving after the failures: a serve works. */
    port = serve_local();
    gc_debug_stop();

    /* No host: 127.0.0.1, and only there. */
    char portonly[16];
    snprintf(portonly, sizeof portonly, "%d", free_port());
    char colonport[16];
    snprintf(colonport, sizeof colonport, ":%d", free_port());
    const char *dflt[] = {":0", NULL, "", colonport, portonly, "localhost:0"};
    for (size_t i = 0; i < TC_NTESTS(dflt); i++) {
        char how[64];
        snprintf(how, sizeof how, "gc_debug_serve(%s%s%s)", dflt[i] ? "\"" : "", dflt[i] ? dflt[i] : "NULL",
                 dflt[i] ? "\"" : "");
        int p = gc_debug_serve(dflt[i]);
        TC_CHECK(p > 0, "%s = %d (%s)", how, p, strerror(errno));
        if (dflt[i] == colonport)
            TC_CHECK(p == atoi(colonport + 1), "%s serves on %d", how, p);
        if (dflt[i] == portonly)
            TC_CHECK(p == atoi(portonly), "%s serves on %d", how, p);
        expect_loopback_listener(p, how);
        int cs = tcp_connect(p);
        TC_CHECK(cs >= 0, "%s: connect to 127.0.0.1:%d: %s", how, p, strerror(errno));
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        TC_CHECK(getpeername(cs, (struct sockaddr *)&peer, &pl) == 0 && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
                 "%s: getpeername", how);
        close(cs);
        get_ok(p, "/debug/pprof/", &r);
        http_free(&r);
        gc_debug_stop();
    }
}

/* ---- env ------------------------------------------------------------------------------------------ */

/* A program that never calls gc_debug_serve: it allocates, then waits for its
 * stdin to close. */
static void child_env(void)
{
    for (int i = 0; i < 100; i++) {
        void *p = gc_alloc(4096);
        BARRIER(p);
    }
    gc_collect();
    printf("child ready\n");
    fflush(stdout);
    char c;
    for (;;) {
        ssize_t n = read(0, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
    }
    printf("child done\n");
    exit(0);
}

/* The same with a variable that cannot be served: it runs on, and can serve
 * when asked. */
static void child_env_bad(void)
{
    for (int i = 0; i < 1000; i++) {
        void *p = gc_alloc(4096);
        BARRIER(p);
    }
    gc_collect();
    gc_collect();
    int port = gc_debug_serve("127.0.0.1:0");
    printf("alive, serve %d\n", port);
    if (port > 0)
        gc_debug_stop();
    exit(0);
}

static int count_lines_with(const char *text, const char *what)
{
    int n = 0;
    for (const char *l = text; l && *l;) {
        const char *eol = strchr(l, '\n');
        size_t len = eol ? (size_t)(eol - l) : strlen(l);
        char *line = strndup(l, len);
        if (strstr(line, what))
            n++;
        free(line);
        l = eol ? eol + 1 : NULL;
    }
    return n;
}

static void env_bad(const char *value, const char *why)
{
    char var[128];
    snprintf(var, sizeof var, "TRICOLOR_DEBUG_ADDR=%s", value);
    tc_child c;
    const char *args[] = {"child-env-bad", NULL};
    const char *env[] = {var, NULL};
    tc_run_self(&c, args, env, 60);
    TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && strstr(c.out, "alive"),
             "%s (%s): the program did not run on: %s; stdout: %s; stderr: %s", var, why, tc_status_str(c.status), c.out,
             c.err);
    int lines = count_lines_with(c.err, "TRICOLOR_DEBUG_ADDR");
    TC_CHECK(lines == 1, "%s (%s): %d lines on stderr mention TRICOLOR_DEBUG_ADDR, want 1; stderr: %s", var, why, lines,
             c.err);
    int served = -1;
    TC_CHECK(sscanf(strstr(c.out, "alive"), "alive, serve %d", &served) == 1 && served > 0,
             "%s (%s): gc_debug_serve afterwards: %d; stdout: %s", var, why, served, c.out);
    printf("%s: %s", var, c.err);
    tc_child_free(&c);
}

static void t_env(void)
{
    int port = free_port();
    char var[64];
    snprintf(var, sizeof var, "TRICOLOR_DEBUG_ADDR=127.0.0.1:%d", port);
    const char *env[] = {var, "TRICOLOR_TEST_CHILD=1", NULL};
    const char *argv[] = {"tricolor-test-child", "child-env", NULL};
    int in_w;
    const char *out = tc_tmp_path("env.out"), *err = tc_tmp_path("env.err");
    pid_t pid = spawn("/proc/self/exe", argv, env, &in_w, out, err, 100);
    http_resp r;
    bool up = false;
    for (int i = 0; i < 300 && !up; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            TC_FAIL("the child with %s ended: %s; stdout: %s; stderr: %s", var, tc_status_str(st), slurp(out, NULL),
                    slurp(err, NULL));
        if (http_method(port, "GET", "/debug/pprof/", &r) == 0) {
            up = true;
            break;
        }
        tc_sleep_ms(100);
    }
    if (!up) {
        kill(pid, SIGKILL);
        tc_wait(pid);
        TC_FAIL("the child with %s never served 127.0.0.1:%d (30 s); stdout: %s; stderr: %s", var, port,
                slurp(out, NULL), slurp(err, NULL));
    }
    TC_CHECK(r.status == 200 && strstr(r.body, "heap"), "the child's /debug/pprof/: status %d: %.300s", r.status, r.raw);
    http_free(&r);
    get_ok(port, "/debug/pprof/cmdline", &r);
    TC_CHECK(memmem(r.body, r.bodylen, "child-env", 9), "the child's cmdline: %.*s", (int)r.bodylen, r.body);
    http_free(&r);
    get_ok(port, "/debug/memstats", &r);
    jv *v = json_body(&r, "the child's /debug/memstats");
    TC_CHECK(j_num_of(v, "num_gc", "the child's /debug/memstats") >= 1, "the child's num_gc");
    j_free(v);
    http_free(&r);
    expect_loopback_listener(port, var);
    close(in_w);
    int st = tc_wait(pid);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child with %s: %s; stderr: %s", var, tc_status_str(st),
             slurp(err, NULL));
    char *o = slurp(out, NULL);
    TC_CHECK(strstr(o, "child done"), "the child's stdout: %s", o);
    free(o);

    /* A program without tricolor that inherits the variable and the preload: silent. */
    {
        char preload[600];
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s", TC_DEBUG_LIB);
        const char *tenv[] = {var, preload, NULL};
        const char *targv[] = {"true", NULL};
        const char *tout = tc_tmp_path("true.out"), *terr = tc_tmp_path("true.err");
        pid_t tp = spawn("/bin/true", targv, tenv, NULL, tout, terr, 30);
        int tst = tc_wait(tp);
        char *e = slurp(terr, NULL);
        TC_CHECK(WIFEXITED(tst) && WEXITSTATUS(tst) == 0 && e[0] == 0,
                 "/bin/true with %s and the preload: %s, stderr: \"%s\" (want nothing)", var, tc_status_str(tst), e);
        free(e);
    }

    env_bad("256.1.1.1:99999", "not an address");
    /* A port in use. */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    TC_CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0 &&
                 getsockname(l, (struct sockaddr *)&a, &al) == 0,
             "bind: %s", strerror(errno));
    char inuse[64];
    snprintf(inuse, sizeof inuse, "127.0.0.1:%d", ntohs(a.sin_port));
    env_bad(inuse, "a port in use");
    close(l);
}

/* ---- libgc --------------------------------------------------------------------------------------- */

/* A bdwgc program on tricolor's libgc.so.1, libtricolor-debug preloaded: TRICOLOR_DEBUG_ADDR
 * serves its heap, from the one copy of the collector in the process. */
static void t_libgc(void)
{
    int port = free_port();
    char var[64], preload[600];
    snprintf(var, sizeof var, "TRICOLOR_DEBUG_ADDR=127.0.0.1:%d", port);
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", TC_DEBUG_LIB);
    const char *env[] = {var, preload, NULL};
    const char *argv[] = {"debug_libgc_child", NULL};
    int in_w;
    const char *out = tc_tmp_path("libgc.out"), *err = tc_tmp_path("libgc.err");
    pid_t pid = spawn(TC_DEBUG_LIBGC_CHILD, argv, env, &in_w, out, err, 100);
    http_resp r;
    bool up = false;
    for (int i = 0; i < 300 && !up; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            TC_FAIL("the bdwgc child ended: %s; stdout: %s; stderr: %s", tc_status_str(st), slurp(out, NULL),
                    slurp(err, NULL));
        char *o = slurp(out, NULL);
        bool ready = strstr(o, "ready") != NULL;
        free(o);
        if (ready && http_method(port, "GET", "/debug/pprof/", &r) == 0)
            up = true;
        else
            tc_sleep_ms(100);
    }
    if (!up) {
        kill(pid, SIGKILL);
        tc_wait(pid);
        TC_FAIL("the bdwgc child never served 127.0.0.1:%d (30 s); stderr: %s", port, slurp(err, NULL));
    }
    TC_CHECK(r.status == 200, "the bdwgc child's /debug/pprof/: status %d", r.status);
    http_free(&r);

    /* One collector in the process: libgc.so.1's, not libtricolor.so as well. */
    char maps[64];
    snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
    char *m = slurp(maps, NULL);
    TC_CHECK(strstr(m, "libgc.so.1") && !strstr(m, "libtricolor.so"),
             "the bdwgc child should map tricolor's libgc.so.1 and no libtricolor.so");
    free(m);

    get_ok(port, "/debug/memstats", &r);
    jv *v = json_body(&r, "the bdwgc child's /debug/memstats");
    double alloc = j_num_of(v, "heap_alloc", "the bdwgc child's /debug/memstats");
    TC_CHECK(alloc >= 4.0 * TC_MiB, "the bdwgc child keeps 4 MiB; heap_alloc %.0f", alloc);
    TC_CHECK(j_num_of(v, "num_gc", "the bdwgc child's /debug/memstats") >= 1, "the bdwgc child collected");
    j_free(v);
    http_free(&r);
    get_ok(port, "/debug/pprof/heap?debug=1", &r);
    TC_CHECK(strncmp(r.body, "heap profile: ", 14) == 0, "the bdwgc child's heap profile: %.200s", r.body);
    http_free(&r);
    get_ok(port, "/debug/dashboard/samples", &r);
    jv *sv = json_body(&r, "the bdwgc child's samples");
    j_free(sv);
    http_free(&r);

    close(in_w);
    int st = tc_wait(pid);
    TC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the bdwgc child: %s; stdout: %s; stderr: %s", tc_status_str(st),
             slurp(out, NULL), slurp(err, NULL));
}

/* ---- main ---------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    if (argc == 2 && strcmp(argv[1], "child-slow") == 0)
        child_slow();
    if (argc == 2 && strcmp(argv[1], "child-env") == 0)
        child_env();
    if (argc == 2 && strcmp(argv[1], "child-env-bad") == 0)
        child_env_bad();
    static const tc_subtest tests[] = {
        {"index", t_index},
        {"heap", t_heap},
        {"vars", t_vars},
        {"memstats", t_memstats},
        {"dashboard", t_dashboard},
        {"libgc", t_libgc},
        {"bad_requests", t_bad_requests},
        {"concurrent", t_concurrent},
        {"slow_client", t_slow_client},
        {"stop_restart", t_stop_restart},
        {"env", t_env},
    };
    atexit(tc_rm_tmpdir);
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
