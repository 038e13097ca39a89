/*
 * test_buffer.c - Go's bytes.Buffer (tricolor.h, "Go's make": gc_buffer).
 *
 *   zero_value  a zeroed gc_buffer (a local, a global, a field of a collected
 *               object) is an empty buffer: len 0, cap 0, reads give 0 and -1,
 *               its string is ""; writes and reads work on it at once
 *   new         gc_buffer_new: a collected, empty buffer; dropped ones are
 *               reclaimed (weak pointers, counted over many)
 *   write       write, write_string, write_byte, printf: return values, the
 *               bytes (checked against a model), embedded NULs, printf output
 *               of 0, 255, 256, 257, 1000 and 100000 bytes, writes after
 *               reads; a write or grow that cannot grow gives 0 / -1 with
 *               ENOMEM and leaves the buffer as it was
 *   read        partial reads, a read of more than is there, reads until empty
 *               give 0; a read that empties the buffer resets it (off and len
 *               0, storage kept); read_byte in order and -1 at empty
 *   bytes_string  bytes is the unread bytes; string is a collected, NUL-
 *               terminated copy (embedded NULs kept), independent of the
 *               buffer both ways, NUL-terminated even over reused garbage
 *   grow        after grow(n), writing n bytes (in one or several writes)
 *               changes neither cap nor the storage, from every state (zero
 *               value, written, partly read, emptied)
 *   reset_truncate  reset empties and keeps storage and cap; truncate keeps the
 *               first n unread bytes (also after reads), truncate(0) empties
 *   truncate_panic  truncate(n > len) panics "panic: bytes.Buffer: truncation
 *               out of range" (child processes; also with unread < n <= len + off)
 *   large       8 MiB written in pieces of many sizes with collections and
 *               garbage in between, then read back intact in pieces
 *   in_object   buffers kept only in collected objects (and a global) keep
 *               their bytes across collections while they grow
 *   noscan      the storage is pointer-free: addresses written into a buffer
 *               do not keep their objects (a scanned array of them does)
 *   pool        the buffer pool with gc_pool: threads get, reset, write, check
 *               and put buffers for about a second beside collections; every
 *               buffer holds what its thread wrote
 */
#include "common.h"

/* The unread bytes of b equal want[0, n). */
static void check_contents(const gc_buffer *b, const void *want, size_t n, const char *what)
{
    TC_CHECK(gc_buffer_len(b) == n, "%s: len %zu, want %zu", what, gc_buffer_len(b), n);
    TC_CHECK(gc_buffer_cap(b) >= n, "%s: cap %zu < len %zu", what, gc_buffer_cap(b), n);
    if (n == 0)
        return;
    const unsigned char *p = gc_buffer_bytes(b);
    TC_CHECK(p != NULL, "%s: bytes NULL with len %zu", what, n);
    if (memcmp(p, want, n) == 0)
        return;
    for (size_t i = 0; i < n; i++)
        TC_CHECK(p[i] == ((const unsigned char *)want)[i], "%s: byte %zu of %zu is 0x%02x, want 0x%02x", what, i, n, p[i],
                 ((const unsigned char *)want)[i]);
}

static void check_str(const gc_buffer *b, const char *want, const char *what)
{
    check_contents(b, want, strlen(want), what);
}

/* ------------------------------------------------------------------------ */

static gc_buffer g_buf; /* zeroed: in bss */

static void exercise_empty(gc_buffer *b, const char *what)
{
    TC_CHECK(gc_buffer_len(b) == 0 && gc_buffer_cap(b) == 0, "%s: len %zu cap %zu", what, gc_buffer_len(b),
             gc_buffer_cap(b));
    char tmp[8] = "xxxxxxx";
    TC_CHECK(gc_buffer_read(b, tmp, sizeof tmp) == 0 && tmp[0] == 'x', "%s: read of an empty buffer", what);
    TC_CHECK(gc_buffer_read_byte(b) == -1, "%s: read_byte of an empty buffer", what);
    char *s = gc_buffer_string(b);
    TC_CHECK(s && s[0] == 0, "%s: string of an empty buffer", what);
    gc_buffer_reset(b);
    gc_buffer_truncate(b, 0);
    TC_CHECK(gc_buffer_len(b) == 0, "%s: len after reset", what);

    TC_CHECK(gc_buffer_write_string(b, "hello, ") == 7, "%s: write_string", what);
    TC_CHECK(gc_buffer_write(b, "world", 5) == 5, "%s: write", what);
    check_str(b, "hello, world", what);
    TC_CHECK(gc_buffer_cap(b) >= 12, "%s: cap %zu", what, gc_buffer_cap(b));
    TC_CHECK(gc_buffer_read_byte(b) == 'h', "%s: read_byte", what);
    char r[5] = {0};
    TC_CHECK(gc_buffer_read(b, r, 4) == 4 && memcmp(r, "ello", 4) == 0, "%s: read 4", what);
    check_str(b, ", world", what);
    s = gc_buffer_string(b);
    TC_CHECK(s && strcmp(s, ", world") == 0, "%s: string \"%s\"", what, s ? s : "(null)");
}

struct holder {
    uint64_t tag;
    gc_buffer b;
    uint64_t tail;
};

static void test_zero_value(void)
{
    gc_buffer b = {0};
    exercise_empty(&b, "local");
    exercise_empty(&g_buf, "global");
    struct holder *h = gc_new(struct holder);
    exercise_empty(&h->b, "field of a collected object");
    memset(&b, 0, sizeof b);
    TC_CHECK(gc_buffer_write_byte(&b, 'z') == 1 && gc_buffer_len(&b) == 1 && gc_buffer_bytes(&b)[0] == 'z',
             "write_byte to a zeroed buffer");
    gc_buffer c = {0};
    TC_CHECK(gc_buffer_grow(&c, 100) == 0 && gc_buffer_cap(&c) >= 100 && gc_buffer_len(&c) == 0,
             "grow(100) of a zeroed buffer: cap %zu", gc_buffer_cap(&c));
    gc_buffer d = {0};
    TC_CHECK(gc_buffer_printf(&d, "%d", 123) == 3, "printf to a zeroed buffer");
    check_str(&d, "123", "printf to a zeroed buffer");
}

/* ------------------------------------------------------------------------ */

#define NBUF 100
static gc_weak *g_weak[NBUF];

TC_NOINLINE static void make_buffers(void)
{
    for (int i = 0; i < NBUF; i++) {
        gc_buffer *b = gc_buffer_new();
        TC_CHECK(b, "gc_buffer_new");
        gc_buffer_printf(b, "buffer %d", i);
        g_weak[i] = gc_weak_make(b);
        TC_CHECK(g_weak[i], "gc_weak_make(gc_buffer_new())");
    }
}

static void test_new(void)
{
    gc_buffer *b = gc_buffer_new();
    TC_CHECK(b != NULL, "gc_buffer_new: NULL");
    TC_CHECK(gc_base(b) == b && gc_size(b) >= sizeof *b, "gc_buffer_new: not a collected object (base %p size %zu)",
             gc_base(b), gc_size(b));
    TC_CHECK(b->buf == NULL && b->off == 0 && b->len == 0 && b->cap == 0, "gc_buffer_new: not zeroed");
    exercise_empty(b, "gc_buffer_new");
    tc_collect_churn(sizeof *b, 2000, 2);
    check_str(b, ", world", "gc_buffer_new after collections");

    make_buffers();
    tc_collect_clean();
    tc_collect_clean();
    int alive = 0;
    for (int i = 0; i < NBUF; i++)
        alive += gc_weak_get(g_weak[i]) != NULL;
    TC_CHECK(alive <= 5, "%d of %d dropped buffers were not reclaimed (slack 5)", alive, NBUF);
}

/* ------------------------------------------------------------------------ */

/* A plain model of the unread bytes. */
typedef struct {
    unsigned char *p;
    size_t off, len, cap;
} model;

static void m_write(model *m, const void *p, size_t n)
{
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->p = realloc(m->p, m->cap);
        TC_CHECK(m->p, "realloc");
    }
    memcpy(m->p + m->len, p, n);
    m->len += n;
}

static void m_check(const model *m, const gc_buffer *b, const char *what)
{
    check_contents(b, m->p + m->off, m->len - m->off, what);
}

static char *printf_want(size_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *printf_want(size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)k + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)k + 1, fmt, ap);
    va_end(ap);
    *n = (size_t)k;
    return s;
}

static void test_write(void)
{
    gc_buffer b = {0};
    model m = {0};
    TC_CHECK(gc_buffer_write(&b, "abc", 0) == 0 && gc_buffer_len(&b) == 0, "write of 0 bytes");
    TC_CHECK(gc_buffer_write_string(&b, "") == 0 && gc_buffer_len(&b) == 0, "write_string(\"\")");
    TC_CHECK(gc_buffer_printf(&b, "%s", "") == 0 && gc_buffer_len(&b) == 0, "printf of nothing");

    TC_CHECK(gc_buffer_write(&b, "a\0b", 3) == 3, "write with a NUL");
    m_write(&m, "a\0b", 3);
    TC_CHECK(gc_buffer_write_byte(&b, 0) == 1 && gc_buffer_write_byte(&b, 0xff) == 1, "write_byte");
    m_write(&m, "\0\xff", 2);
    TC_CHECK(gc_buffer_write_string(&b, "xyz") == 3, "write_string");
    m_write(&m, "xyz", 3);
    TC_CHECK(gc_buffer_printf(&b, "%d-%s-%c", 42, "go", 'q') == 7, "printf");
    m_write(&m, "42-go-q", 7);
    m_check(&m, &b, "small writes");

    /* printf around its stack copy's size, and far beyond */
    static const size_t lens[] = {1, 254, 255, 256, 257, 258, 511, 1000, 4095, 100000, 3};
    char *big = malloc(100001);
    for (size_t i = 0; i < 100000; i++)
        big[i] = (char)('a' + i % 26);
    big[100000] = 0;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n;
        int w = (int)lens[i];
        char *want = printf_want(&n, "%.*s", w, big);
        size_t got = gc_buffer_printf(&b, "%.*s", w, big);
        TC_CHECK(got == n, "printf of %zu bytes returned %zu", n, got);
        m_write(&m, want, n);
        m_check(&m, &b, "printf");
        free(want);
        /* with arguments after a long one: the format restarts correctly */
        want = printf_want(&n, "[%.*s|%d|%s|%08.3f]", w, big + 1, (int)i * 1000, "tail", 3.25);
        got = gc_buffer_printf(&b, "[%.*s|%d|%s|%08.3f]", w, big + 1, (int)i * 1000, "tail", 3.25);
        TC_CHECK(got == n, "printf of %zu bytes with more arguments returned %zu", n, got);
        m_write(&m, want, n);
        m_check(&m, &b, "printf with more arguments");
        free(want);
        /* width */
        want = printf_want(&n, "%*d", w, (int)i);
        got = gc_buffer_printf(&b, "%*d", w, (int)i);
        TC_CHECK(got == n, "printf(%%*d) of %zu bytes returned %zu", n, got);
        m_write(&m, want, n);
        m_check(&m, &b, "printf width");
        free(want);
    }

    /* writes after reads, interleaved, against the model */
    uint64_t rng = 12345;
    unsigned char tmp[3000];
    for (int step = 0; step < 3000; step++) {
        uint64_t r = tc_rand(&rng);
        size_t n = (size_t)(r >> 8) % (r % 7 == 0 ? 3000 : 60);
        switch (r % 5) {
        case 0:
        case 1:
            tc_fill(tmp, n, (uint32_t)step);
            TC_CHECK(gc_buffer_write(&b, tmp, n) == n, "write %zu", n);
            m_write(&m, tmp, n);
            break;
        case 2: {
            size_t k = gc_buffer_read(&b, tmp, n);
            size_t unread = m.len - m.off, want = n < unread ? n : unread;
            TC_CHECK(k == want, "read %zu of %zu unread gave %zu", n, unread, k);
            TC_CHECK(memcmp(tmp, m.p + m.off, k) == 0, "read's bytes");
            m.off += k;
            break;
        }
        case 3: {
            size_t want;
            char *s = printf_want(&want, "<%d:%zu>", step, n);
            TC_CHECK(gc_buffer_printf(&b, "<%d:%zu>", step, n) == want, "printf");
            m_write(&m, s, want);
            free(s);
            break;
        }
        case 4:
            TC_CHECK(gc_buffer_write_byte(&b, (unsigned char)r) == 1, "write_byte");
            m_write(&m, &(unsigned char){(unsigned char)r}, 1);
            break;
        }
        if (step % 500 == 0)
            tc_collect_clean();
        m_check(&m, &b, "interleaved writes and reads");
    }
    free(big);

    /* what cannot grow: 0 or -1 with ENOMEM, nothing changed */
    gc_buffer c = {0};
    gc_buffer_write_string(&c, "keep me");
    gc_buffer before = c;
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 3, SIZE_MAX / 2, SIZE_MAX / 4 + 1, (size_t)1 << 50,
                                  (size_t)1 << 47};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        size_t got = gc_buffer_write(&c, "x", huge[i]); /* must fail before reading p */
        int e = errno;
        TC_CHECK(got == 0 && e == ENOMEM, "write of %zu bytes returned %zu, errno %d; want 0, ENOMEM", huge[i], got, e);
        TC_CHECK(memcmp(&c, &before, sizeof c) == 0, "a failed write of %zu bytes changed the buffer", huge[i]);
        errno = 0;
        int g = gc_buffer_grow(&c, huge[i]);
        e = errno;
        TC_CHECK(g == -1 && e == ENOMEM, "grow(%zu) returned %d, errno %d; want -1, ENOMEM", huge[i], g, e);
        TC_CHECK(memcmp(&c, &before, sizeof c) == 0, "a failed grow(%zu) changed the buffer", huge[i]);
    }
    check_str(&c, "keep me", "after the failures");
    TC_CHECK(gc_buffer_write_string(&c, "!") == 1, "write after the failures");
    check_str(&c, "keep me!", "after the failures");
    free(m.p);
}

/* ------------------------------------------------------------------------ */

static void test_read(void)
{
    gc_buffer b = {0};
    const char *text = "the quick brown fox jumps over the lazy dog";
    size_t tl = strlen(text);
    gc_buffer_write_string(&b, text);
    size_t cap = gc_buffer_cap(&b);
    char out[64];
    size_t got = 0;
    static const size_t pieces[] = {1, 3, 0, 10, 7, 2, 100};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        size_t n = gc_buffer_read(&b, out + got, pieces[i]);
        size_t want = pieces[i] < tl - got ? pieces[i] : tl - got;
        TC_CHECK(n == want, "read(%zu) with %zu unread gave %zu", pieces[i], tl - got, n);
        got += n;
        TC_CHECK(gc_buffer_len(&b) == tl - got, "len %zu after reading %zu of %zu", gc_buffer_len(&b), got, tl);
        if (got < tl)
            check_contents(&b, text + got, tl - got, "unread after a partial read");
    }
    TC_CHECK(got == tl && memcmp(out, text, tl) == 0, "the bytes read");
    /* the read that emptied the buffer reset it */
    TC_CHECK(b.off == 0 && b.len == 0 && gc_buffer_cap(&b) == cap && b.buf != NULL,
             "after a read emptied it: off %zu len %zu cap %zu (was %zu)", b.off, b.len, gc_buffer_cap(&b), cap);
    TC_CHECK(gc_buffer_read(&b, out, 10) == 0 && gc_buffer_read(&b, out, 10) == 0, "read of an empty buffer");
    /* an exact read empties and resets too */
    unsigned char *storage = b.buf;
    gc_buffer_write_string(&b, "abcdef");
    TC_CHECK(b.buf == storage, "a small write after the reset moved the storage");
    TC_CHECK(gc_buffer_read(&b, out, 2) == 2 && b.off == 2, "read 2: off %zu", b.off);
    TC_CHECK(gc_buffer_read(&b, out, 4) == 4 && memcmp(out, "cdef", 4) == 0, "read the rest");
    TC_CHECK(b.off == 0 && b.len == 0 && gc_buffer_len(&b) == 0, "an exact read did not reset: off %zu len %zu", b.off,
             b.len);

    /* read_byte */
    gc_buffer_write(&b, "\x00\x01\xfe\xff", 4);
    TC_CHECK(gc_buffer_read_byte(&b) == 0 && gc_buffer_read_byte(&b) == 1 && gc_buffer_read_byte(&b) == 0xfe,
             "read_byte order");
    TC_CHECK(gc_buffer_len(&b) == 1, "len after 3 read_bytes");
    gc_buffer_write_byte(&b, 'Z');
    TC_CHECK(gc_buffer_read_byte(&b) == 0xff && gc_buffer_read_byte(&b) == 'Z', "read_byte after a write");
    TC_CHECK(gc_buffer_read_byte(&b) == -1 && gc_buffer_read_byte(&b) == -1, "read_byte at empty");
    TC_CHECK(gc_buffer_read(&b, out, 1) == 0, "read at empty");

    /* large reads through a long buffer, with a collection in between */
    size_t n = 300000;
    unsigned char *src = malloc(n), *dst = malloc(n);
    tc_fill(src, n, 77);
    gc_buffer_write(&b, src, n);
    size_t at = 0;
    for (size_t k = 1; at < n; k = k * 3 + 1) {
        size_t r = gc_buffer_read(&b, dst + at, k);
        TC_CHECK(r == (k < n - at ? k : n - at), "read(%zu) at %zu", k, at);
        at += r;
        tc_collect_clean();
    }
    TC_CHECK(memcmp(src, dst, n) == 0 && gc_buffer_len(&b) == 0, "a long buffer read back in pieces");
    free(src);
    free(dst);
}

/* ------------------------------------------------------------------------ */

static void test_bytes_string(void)
{
    gc_buffer b = {0};
    TC_CHECK(gc_buffer_len(&b) == 0, "len");
    gc_buffer_write(&b, "01234\0" "6789", 10);
    unsigned char *p = gc_buffer_bytes(&b);
    TC_CHECK(p == b.buf + b.off && memcmp(p, "01234\0" "6789", 10) == 0, "bytes");
    TC_CHECK(gc_buffer_read_byte(&b) == '0' && gc_buffer_read_byte(&b) == '1', "read_byte");
    p = gc_buffer_bytes(&b);
    TC_CHECK(p == b.buf + b.off && gc_buffer_len(&b) == 8 && p[0] == '2', "bytes after reads: the unread ones");
    p[0] = 'X'; /* bytes is the storage itself */
    TC_CHECK(gc_buffer_read_byte(&b) == 'X', "a write through bytes is not read back");

    char *s = gc_buffer_string(&b);
    TC_CHECK(s && gc_base(s) == s, "string: not a collected object (%p)", (void *)s);
    TC_CHECK(memcmp(s, "34\0" "6789", 7) == 0 && s[7] == 0, "string: the 7 unread bytes and a NUL");
    TC_CHECK(gc_size(s) >= 8, "string: gc_size %zu", gc_size(s));
    /* independent both ways */
    s[0] = 'Q';
    TC_CHECK(gc_buffer_bytes(&b)[0] == '3', "a write to the string changed the buffer");
    gc_buffer_bytes(&b)[1] = 'W';
    gc_buffer_write_string(&b, "more");
    gc_buffer_reset(&b);
    gc_buffer_write_string(&b, "overwritten");
    TC_CHECK(memcmp(s, "Q4\0" "6789", 7) == 0 && s[7] == 0, "the string changed with the buffer");
    tc_collect_churn(16, 3000, 2);
    TC_CHECK(memcmp(s, "Q4\0" "6789", 7) == 0 && s[7] == 0, "the string changed across collections");

    /* NUL-terminated even where garbage of its class was just freed */
    for (int round = 0; round < 3; round++) {
        static const size_t lens[] = {7, 15, 16, 31, 32, 100, 255, 256, 1000, 4095, 4096, 40959, 40960};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            size_t n = lens[i];
            tc_churn_kind(n + 1, n > 10000 ? 4 : 200, 1);
            tc_collect_clean();
            gc_buffer c = {0};
            unsigned char *src = malloc(n);
            tc_fill(src, n, (uint32_t)n);
            for (size_t k = 0; k < n; k++)
                if (!src[k])
                    src[k] = 1;
            gc_buffer_write(&c, src, n);
            for (int k = 0; k < 50; k++) {
                char *t = gc_buffer_string(&c);
                TC_CHECK(t && memcmp(t, src, n) == 0 && t[n] == 0 && strlen(t) == n,
                         "string of %zu bytes: not the bytes and a NUL (strlen %zu)", n, t ? strlen(t) : 0);
                memset(t, 0xEE, n + 1);
            }
            free(src);
        }
    }
    gc_buffer z = {0};
    char *e = gc_buffer_string(&z);
    TC_CHECK(e && e[0] == 0, "string of a zeroed buffer");
}

/* ------------------------------------------------------------------------ */

/* After grow(n), n bytes written in pieces of `piece` change neither cap nor storage. */
static void grow_then_write(gc_buffer *b, size_t n, size_t piece, const char *state)
{
    size_t before = gc_buffer_len(b);
    unsigned char *old = malloc(before + 1);
    memcpy(old, gc_buffer_bytes(b) ? gc_buffer_bytes(b) : (unsigned char *)"", before);
    TC_CHECK(gc_buffer_grow(b, n) == 0, "%s: grow(%zu) failed", state, n);
    size_t cap = gc_buffer_cap(b);
    unsigned char *storage = b->buf;
    TC_CHECK(gc_buffer_len(b) == before, "%s: grow(%zu) changed len %zu -> %zu", state, n, before, gc_buffer_len(b));
    check_contents(b, old, before, "grow kept the unread bytes");
    unsigned char *src = malloc(n + 1);
    tc_fill(src, n, (uint32_t)n);
    for (size_t at = 0; at < n; at += piece) {
        size_t k = n - at < piece ? n - at : piece;
        TC_CHECK(gc_buffer_write(b, src + at, k) == k, "write");
        TC_CHECK(gc_buffer_cap(b) == cap && b->buf == storage,
                 "%s: after grow(%zu), writing %zu of them (in pieces of %zu) changed cap %zu -> %zu or moved storage",
                 state, n, at + k, piece, cap, gc_buffer_cap(b));
    }
    TC_CHECK(gc_buffer_len(b) == before + n, "len");
    TC_CHECK(memcmp(gc_buffer_bytes(b), old, before) == 0 && memcmp(gc_buffer_bytes(b) + before, src, n) == 0,
             "%s: grow(%zu) then writes: contents", state, n);
    free(old);
    free(src);
}

static void test_grow(void)
{
    static const size_t ns[] = {1, 10, 63, 64, 65, 100, 1000, 5000, 40000, 300000};
    static const size_t pieces[] = {1, 7, 1000000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++) {
            size_t n = ns[i], pc = pieces[j];
            if (pc == 1 && n > 5000)
                continue;
            gc_buffer z = {0};
            grow_then_write(&z, n, pc, "zero value");
            gc_buffer w = {0};
            gc_buffer_write_string(&w, "already here");
            grow_then_write(&w, n, pc, "written");
            gc_buffer r = {0};
            for (int k = 0; k < 100; k++)
                gc_buffer_printf(&r, "%03d", k);
            char tmp[250];
            gc_buffer_read(&r, tmp, 250); /* 50 left, 250 read */
            grow_then_write(&r, n, pc, "partly read");
            gc_buffer e = {0};
            gc_buffer_write(&e, "abc", 3);
            gc_buffer_read(&e, tmp, 3);
            grow_then_write(&e, n, pc, "emptied");
            gc_buffer g = {0};
            TC_CHECK(gc_buffer_grow(&g, n) == 0, "grow");
            grow_then_write(&g, n, pc, "grown twice");
        }
    }
    gc_buffer b = {0};
    gc_buffer_write_string(&b, "x");
    size_t cap = gc_buffer_cap(&b);
    TC_CHECK(gc_buffer_grow(&b, 0) == 0 && gc_buffer_cap(&b) == cap, "grow(0)");
    TC_CHECK(gc_buffer_grow(&b, cap - 1) == 0 && gc_buffer_cap(&b) == cap, "grow within the room left");
}

/* ------------------------------------------------------------------------ */

static void test_reset_truncate(void)
{
    gc_buffer b = {0};
    for (int i = 0; i < 100; i++)
        gc_buffer_printf(&b, "line %d\n", i);
    size_t cap = gc_buffer_cap(&b);
    unsigned char *storage = b.buf;
    gc_buffer_reset(&b);
    TC_CHECK(gc_buffer_len(&b) == 0 && gc_buffer_cap(&b) == cap && b.buf == storage, "reset: len %zu cap %zu (was %zu)",
             gc_buffer_len(&b), gc_buffer_cap(&b), cap);
    TC_CHECK(gc_buffer_read_byte(&b) == -1, "reset: something left to read");
    gc_buffer_write_string(&b, "again");
    TC_CHECK(b.buf == storage && gc_buffer_cap(&b) == cap, "a write after reset did not reuse the storage");
    check_str(&b, "again", "write after reset");
    /* fill to exactly cap after a reset: still no new storage */
    gc_buffer_reset(&b);
    char *fill = malloc(cap);
    memset(fill, 'f', cap);
    gc_buffer_write(&b, fill, cap);
    TC_CHECK(b.buf == storage && gc_buffer_cap(&b) == cap, "writing cap bytes after reset moved the storage");
    free(fill);

    gc_buffer_reset(&b);
    gc_buffer_write_string(&b, "0123456789");
    gc_buffer_truncate(&b, 10);
    check_str(&b, "0123456789", "truncate(len)");
    gc_buffer_truncate(&b, 4);
    check_str(&b, "0123", "truncate(4)");
    gc_buffer_write_string(&b, "ab");
    check_str(&b, "0123ab", "write after truncate");
    char tmp[4];
    gc_buffer_read(&b, tmp, 2);
    gc_buffer_truncate(&b, 3); /* the first 3 unread: "23a" */
    check_str(&b, "23a", "truncate(3) after reading 2");
    gc_buffer_truncate(&b, 0);
    TC_CHECK(gc_buffer_len(&b) == 0 && gc_buffer_cap(&b) == cap, "truncate(0): len %zu cap %zu", gc_buffer_len(&b),
             gc_buffer_cap(&b));
    gc_buffer_write_string(&b, "z");
    check_str(&b, "z", "write after truncate(0)");
    gc_buffer z = {0};
    gc_buffer_truncate(&z, 0);
    TC_CHECK(gc_buffer_len(&z) == 0, "truncate(0) of a zeroed buffer");
}

/* ------------------------------------------------------------------------ */

static int child_main(const char *mode)
{
    gc_buffer b = {0};
    printf("BEFORE\n");
    fflush(stdout);
    if (strcmp(mode, "over") == 0) {
        gc_buffer_write_string(&b, "abc");
        gc_buffer_truncate(&b, 4);
    } else if (strcmp(mode, "zero") == 0) {
        gc_buffer_truncate(&b, 1);
    } else if (strcmp(mode, "after_read") == 0) {
        gc_buffer_write_string(&b, "0123456789");
        char tmp[7];
        gc_buffer_read(&b, tmp, 7); /* 3 unread, 10 written */
        gc_buffer_truncate(&b, 4);
    } else if (strcmp(mode, "huge") == 0) {
        gc_buffer_write_string(&b, "abc");
        gc_buffer_truncate(&b, SIZE_MAX);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 3;
    }
    printf("RETURNED\n");
    return 0;
}

static void test_truncate_panic(void)
{
    static const char *const modes[] = {"over", "zero", "after_read", "huge"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        tc_child c;
        const char *args[] = {"--child", modes[i], NULL};
        tc_run_self(&c, args, NULL, 30);
        TC_CHECK(strcmp(c.out, "BEFORE\n") == 0, "%s: stdout \"%s\" (%s): truncate returned", modes[i], c.out,
                 tc_status_str(c.status));
        TC_CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "%s: the child %s, want killed by SIGABRT",
                 modes[i], tc_status_str(c.status));
        TC_CHECK(strcmp(c.err, "panic: bytes.Buffer: truncation out of range\n") == 0, "%s: stderr \"%s\"", modes[i],
                 c.err);
        tc_child_free(&c);
    }
}

/* ------------------------------------------------------------------------ */

static void test_large(void)
{
    gc_buffer b = {0};
    const size_t total = 8 * TC_MiB;
    unsigned char *src = malloc(total);
    tc_fill(src, total, 4242);
    size_t at = 0;
    uint64_t rng = 99;
    int k = 0;
    while (at < total) {
        uint64_t r = tc_rand(&rng);
        size_t n = (size_t)(r >> 16) % (r % 4 == 0 ? TC_MiB : 5000) + 1;
        if (n > total - at)
            n = total - at;
        TC_CHECK(gc_buffer_write(&b, src + at, n) == n, "write %zu at %zu", n, at);
        at += n;
        if (++k % 16 == 0) {
            tc_churn_kind(64 * TC_KiB, 16, 1);
            tc_churn_kind(4096, 64, 0);
            tc_collect_clean();
        }
    }
    TC_CHECK(gc_buffer_cap(&b) >= total, "cap %zu", gc_buffer_cap(&b));
    tc_collect_churn(TC_MiB, 16, 2);
    check_contents(&b, src, total, "8 MiB after collections");
    char *s = gc_buffer_string(&b);
    TC_CHECK(s && memcmp(s, src, total) == 0 && s[total] == 0, "string of 8 MiB");
    /* read it back in pieces, with collections between */
    unsigned char *dst = malloc(total);
    at = 0;
    k = 0;
    while (at < total) {
        uint64_t r = tc_rand(&rng);
        size_t n = (size_t)(r >> 16) % (r % 4 == 0 ? 2 * TC_MiB : 7000) + 1;
        size_t got = gc_buffer_read(&b, dst + at, n);
        TC_CHECK(got == (n < total - at ? n : total - at), "read %zu at %zu gave %zu", n, at, got);
        at += got;
        if (++k % 16 == 0) {
            tc_churn_kind(64 * TC_KiB, 16, 1);
            tc_collect_clean();
            TC_CHECK(at == total || memcmp(gc_buffer_bytes(&b), src + at, total - at) == 0,
                     "the unread bytes changed at %zu", at);
        }
    }
    TC_CHECK(memcmp(src, dst, total) == 0, "8 MiB read back");
    TC_CHECK(gc_buffer_read(&b, dst, 1) == 0, "not empty at the end");
    /* a large printf */
    size_t n = 3 * TC_MiB;
    TC_CHECK(gc_buffer_printf(&b, "%*s|", (int)n, "x") == n + 1, "printf of 3 MiB");
    const unsigned char *p = gc_buffer_bytes(&b);
    TC_CHECK(p[0] == ' ' && p[n - 2] == ' ' && p[n - 1] == 'x' && p[n] == '|' && gc_buffer_len(&b) == n + 1,
             "printf of 3 MiB: contents");
    free(src);
    free(dst);
}

/* ------------------------------------------------------------------------ */

#define NHOLD 40
static gc_buffer g_global_buf;

TC_NOINLINE static struct holder **make_holders(void)
{
    struct holder **hs = gc_alloc(NHOLD * sizeof *hs);
    for (int i = 0; i < NHOLD; i++) {
        hs[i] = gc_new(struct holder);
        hs[i]->tag = 0x1111111111111111ull * (uint64_t)(i % 15 + 1);
        hs[i]->tail = ~hs[i]->tag;
    }
    return hs;
}

/* What holder i holds after `round` rounds: round r appended r*97+i bytes of pattern (i, r). */
static void append_round(gc_buffer *b, int i, int r)
{
    size_t n = (size_t)r * 97 + (size_t)i * 13 + 1;
    unsigned char tmp[8192];
    tc_fill(tmp, n, (uint32_t)(i * 1000 + r));
    TC_CHECK(gc_buffer_write(b, tmp, n) == n, "write");
}

static void check_rounds(const gc_buffer *b, int i, int rounds, const char *what)
{
    const unsigned char *p = gc_buffer_bytes(b);
    size_t at = 0;
    for (int r = 0; r < rounds; r++) {
        size_t n = (size_t)r * 97 + (size_t)i * 13 + 1;
        TC_CHECK(gc_buffer_len(b) >= at + n, "%s %d: len %zu too short at round %d", what, i, gc_buffer_len(b), r);
        long d = tc_pattern_diff(p + at, n, (uint32_t)(i * 1000 + r));
        TC_CHECK(d < 0, "%s %d: round %d's bytes changed at %ld", what, i, r, d);
        at += n;
    }
    TC_CHECK(gc_buffer_len(b) == at, "%s %d: len %zu, want %zu", what, i, gc_buffer_len(b), at);
}

static void test_in_object(void)
{
    struct holder **hs = make_holders();
    const int rounds = 60;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < NHOLD; i++)
            append_round(&hs[i]->b, i, r);
        append_round(&g_global_buf, NHOLD, r);
        if (r % 6 == 5) {
            tc_churn_kind(4096, 200, 1);
            tc_churn_kind(16384, 40, 1);
            tc_collect_clean();
            for (int i = 0; i < NHOLD; i++)
                check_rounds(&hs[i]->b, i, r + 1, "holder");
        }
    }
    tc_collect_churn(8192, 300, 3);
    for (int i = 0; i < NHOLD; i++) {
        TC_CHECK(hs[i]->tag == 0x1111111111111111ull * (uint64_t)(i % 15 + 1) && hs[i]->tail == ~hs[i]->tag,
                 "holder %d's other fields changed", i);
        check_rounds(&hs[i]->b, i, rounds, "holder");
    }
    check_rounds(&g_global_buf, NHOLD, rounds, "global buffer");
}

/* ------------------------------------------------------------------------ */

#define NOBJ 100
static gc_weak *g_obj_weak[NOBJ];

/* NOBJ objects whose addresses go into b (and, for the control, into *scanned). */
TC_NOINLINE static void write_addresses(gc_buffer *b, void ***scanned)
{
    if (scanned)
        *scanned = gc_alloc(NOBJ * sizeof(void *));
    for (int i = 0; i < NOBJ; i++) {
        void *o = gc_alloc_noscan(64);
        tc_fill(o, 64, (uint32_t)i);
        g_obj_weak[i] = gc_weak_make(o);
        uintptr_t a = (uintptr_t)o;
        TC_CHECK(gc_buffer_write(b, &a, sizeof a) == sizeof a, "write");
        if (scanned)
            (*scanned)[i] = o;
    }
}

static int count_alive(void)
{
    tc_collect_churn(64, 4000, 3);
    int alive = 0;
    for (int i = 0; i < NOBJ; i++)
        alive += gc_weak_get(g_obj_weak[i]) != NULL;
    return alive;
}

static void test_noscan(void)
{
    gc_buffer b = {0};
    write_addresses(&b, NULL);
    int alive = count_alive();
    TC_CHECK(alive <= 5, "a buffer holding the only copies of %d addresses kept %d objects (slack 5)", NOBJ, alive);
    TC_CHECK(gc_buffer_len(&b) == NOBJ * sizeof(uintptr_t), "the buffer lost its bytes");
    /* control: the same in a scanned array keeps them */
    gc_buffer c = {0};
    void **arr;
    write_addresses(&c, &arr);
    alive = count_alive();
    TC_CHECK(alive == NOBJ, "control: a scanned array kept only %d of %d objects", alive, NOBJ);
    for (int i = 0; i < NOBJ; i++) {
        uintptr_t a;
        memcpy(&a, gc_buffer_bytes(&c) + i * sizeof a, sizeof a);
        TC_CHECK(a == (uintptr_t)arr[i] && tc_pattern_diff(arr[i], 64, (uint32_t)i) < 0, "control object %d", i);
    }
}

/* ------------------------------------------------------------------------ */

static gc_pool *g_pool;
static volatile int g_stop;
static void *new_buffer(void) { return gc_buffer_new(); }

struct worker {
    int id;
    uint64_t iters, bytes;
};

static void *pool_worker(void *arg)
{
    struct worker *w = arg;
    double end = tc_now() + 1.0;
    unsigned char tmp[20000];
    char head[64];
    uint64_t rng = (uint64_t)w->id * 7919 + 1;
    while (tc_now() < end) {
        gc_buffer *b = gc_pool_get(g_pool);
        TC_CHECK(b != NULL, "thread %d: gc_pool_get gave NULL (new_fn is gc_buffer_new)", w->id);
        gc_buffer_reset(b);
        TC_CHECK(gc_buffer_len(b) == 0, "thread %d: len %zu after reset", w->id, gc_buffer_len(b));
        uint32_t seed = (uint32_t)(w->id * 1000003 + (int)w->iters);
        size_t n = (size_t)(tc_rand(&rng) % sizeof tmp);
        int hl = snprintf(head, sizeof head, "thread %d iteration %llu:", w->id, (unsigned long long)w->iters);
        TC_CHECK(gc_buffer_printf(b, "thread %d iteration %llu:", w->id, (unsigned long long)w->iters) == (size_t)hl,
                 "printf");
        tc_fill(tmp, n, seed);
        for (size_t at = 0; at < n;) {
            size_t k = n - at < 1500 ? n - at : 1500;
            TC_CHECK(gc_buffer_write(b, tmp + at, k) == k, "write");
            at += k;
        }
        if (w->iters % 8 == 0)
            tc_churn_kind(1024, 20, 1);
        if (w->iters % 64 == 0)
            gc_collect();
        /* still what this thread wrote */
        const unsigned char *p = gc_buffer_bytes(b);
        TC_CHECK(gc_buffer_len(b) == (size_t)hl + n && memcmp(p, head, (size_t)hl) == 0,
                 "thread %d: the buffer's head changed: len %zu, want %zu; \"%.40s\"", w->id, gc_buffer_len(b),
                 (size_t)hl + n, (const char *)p);
        long d = tc_pattern_diff(p + hl, n, seed);
        TC_CHECK(d < 0, "thread %d iteration %llu: byte %ld of %zu changed", w->id, (unsigned long long)w->iters, d, n);
        w->bytes += n;
        w->iters++;
        gc_pool_put(g_pool, b);
    }
    return NULL;
}

static void *pool_collector(void *arg)
{
    (void)arg;
    while (!g_stop) {
        gc_collect();
        tc_sleep_ms(5);
    }
    return NULL;
}

static void test_pool(void)
{
    g_pool = gc_pool_new(new_buffer);
    TC_CHECK(g_pool, "gc_pool_new");
    /* single thread first: the pattern itself */
    gc_buffer *b = gc_pool_get(g_pool);
    TC_CHECK(b && gc_base(b) == b && gc_buffer_len(b) == 0, "first get: a new buffer");
    gc_buffer_reset(b);
    gc_buffer_write_string(b, "first");
    gc_pool_put(g_pool, b);
    gc_buffer *b2 = gc_pool_get(g_pool);
    TC_CHECK(b2 != NULL, "get");
    gc_buffer_reset(b2);
    TC_CHECK(gc_buffer_len(b2) == 0, "reset after get");
    gc_buffer_write_string(b2, "second");
    check_str(b2, "second", "pooled buffer");
    gc_pool_put(g_pool, b2);

    g_stop = 0;
    pthread_t c = tc_thread(pool_collector, NULL);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){i + 1, 0, 0};
        t[i] = tc_thread(pool_worker, &w[i]);
    }
    uint64_t iters = 0, bytes = 0;
    for (int i = 0; i < 4; i++) {
        tc_join(t[i]);
        iters += w[i].iters;
        bytes += w[i].bytes;
        TC_CHECK(w[i].iters > 0, "thread %d did nothing", i + 1);
    }
    g_stop = 1;
    tc_join(c);
    printf("     %llu get/put rounds, %llu MiB written\n", (unsigned long long)iters,
           (unsigned long long)(bytes >> 20));
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    static const tc_subtest tests[] = {
        {"zero_value", test_zero_value},
        {"new", test_new},
        {"write", test_write},
        {"read", test_read},
        {"bytes_string", test_bytes_string},
        {"grow", test_grow},
        {"reset_truncate", test_reset_truncate},
        {"truncate_panic", test_truncate_panic},
        {"large", test_large},
        {"in_object", test_in_object},
        {"noscan", test_noscan},
        {"pool", test_pool},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
