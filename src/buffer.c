/*
 * buffer.c - Go's bytes.Buffer.
 *
 * Owns a buffer's storage: one collected noscan array, buf[0, cap), of which
 * buf[off, len) are the unread bytes.  Invariant: off <= len <= cap, and a
 * buffer with buf == NULL has off == len == cap == 0 (the zero value).
 *
 * Growth follows Go's Buffer.grow: when the unread bytes and the new ones
 * fit in half the storage, they slide to its front instead of growing it;
 * otherwise the storage becomes twice as big plus the request (at least 64
 * bytes, Go's smallBufferSize), rounded to the size class by gc_alloc.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

gc_buffer *gc_buffer_new(void) { return gc_alloc(sizeof(gc_buffer)); }

int gc_buffer_grow(gc_buffer *b, size_t n)
{
    size_t unread = b->len - b->off;
    if (b->cap - b->len >= n)
        return 0;
    if (unread == 0 && b->off) { /* empty: start over at the front */
        b->off = b->len = 0;
        if (b->cap >= n)
            return 0;
    }
    if (b->cap / 2 >= unread && n <= b->cap / 2 - unread) {
        memmove(b->buf, b->buf + b->off, unread);
        b->off = 0;
        b->len = unread;
        return 0;
    }
    size_t want;
    if (__builtin_add_overflow(2 * b->cap, n, &want) || want > (SIZE_MAX >> 2)) {
        errno = ENOMEM;
        return -1;
    }
    if (want < 64)
        want = 64;
    unsigned char *nb = alloc_from(want, 1, (uintptr_t)__builtin_return_address(0));
    if (!nb)
        return -1;
    if (unread)
        memcpy(nb, b->buf + b->off, unread);
    b->buf = nb;
    b->off = 0;
    b->len = unread;
    b->cap = gc_size(nb);
    return 0;
}

size_t gc_buffer_write(gc_buffer *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (gc_buffer_grow(b, n) < 0)
        return 0;
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return n;
}

size_t gc_buffer_write_string(gc_buffer *b, const char *s) { return gc_buffer_write(b, s, strlen(s)); }

size_t gc_buffer_write_byte(gc_buffer *b, unsigned char c) { return gc_buffer_write(b, &c, 1); }

size_t gc_buffer_printf(gc_buffer *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return 0;
    if ((size_t)n < sizeof small)
        return gc_buffer_write(b, small, (size_t)n);
    /* Too long for the stack copy: format straight into the buffer. */
    if (gc_buffer_grow(b, (size_t)n + 1) < 0)
        return 0;
    va_start(ap, fmt);
    vsnprintf((char *)b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return (size_t)n;
}

size_t gc_buffer_read(gc_buffer *b, void *p, size_t n)
{
    size_t unread = b->len - b->off;
    if (unread == 0) {
        gc_buffer_reset(b);
        return 0;
    }
    if (n == 0) /* Go's Read(nil): nothing, and no error */
        return 0;
    if (n > unread)
        n = unread;
    memcpy(p, b->buf + b->off, n);
    b->off += n;
    if (b->off == b->len)
        gc_buffer_reset(b);
    return n;
}

int gc_buffer_read_byte(gc_buffer *b)
{
    if (b->off == b->len) {
        gc_buffer_reset(b);
        return -1;
    }
    int c = b->buf[b->off++];
    if (b->off == b->len)
        gc_buffer_reset(b);
    return c;
}

unsigned char *gc_buffer_bytes(const gc_buffer *b) { return b->buf ? b->buf + b->off : NULL; }

char *gc_buffer_string(const gc_buffer *b)
{
    size_t n = b->len - b->off;
    char *s = alloc_from(n + 1, 1, (uintptr_t)__builtin_return_address(0));
    if (s && n)
        memcpy(s, b->buf + b->off, n);
    return s;
}

size_t gc_buffer_len(const gc_buffer *b) { return b->len - b->off; }

size_t gc_buffer_cap(const gc_buffer *b) { return b->cap; }

void gc_buffer_truncate(gc_buffer *b, size_t n)
{
    if (n == 0) {
        gc_buffer_reset(b);
        return;
    }
    if (n > b->len - b->off)
        gc_panic("bytes.Buffer: truncation out of range");
    b->len = b->off + n;
}

void gc_buffer_reset(gc_buffer *b)
{
    b->off = 0;
    b->len = 0;
}
