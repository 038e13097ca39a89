/*
 * checkmark.c - GODEBUG=gccheckmark=1: after each concurrent mark, mark the
 * heap again with the world stopped and stop the program if that finds a
 * reachable object the concurrent mark left white (Go's mcheckmark.go).
 *
 * Concurrent marking is correct only if the kernel reported every page the
 * program wrote while it ran (write tracking, barrier.c).  A lost write shows up
 * as an object reachable at mark termination but unmarked, which the
 * sweeper would then free under the program.  This check turns that into a
 * message naming the object, its span and what refers to it.
 *
 * How: at mark termination, world stopped and the final drain done,
 * checkmark_begin saves every in-use span's mark bits and clears them; mgc.c
 * then marks from the same roots as a stop-the-world cycle does, and
 * checkmark_end compares.  A bit set now and not before is an object the
 * concurrent mark missed.  Objects marked before and not now are floating
 * garbage (allocated black, or dropped while marking ran), which is allowed.
 * The saved bits are put back, so the cycle goes on exactly as without the
 * check, and so do the marked-byte counts the pacer reads.
 *
 * Runs only with the world stopped, so it needs no locks; it allocates with
 * sys_map, never malloc (a stopped thread may hold malloc's lock).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static span_t **spans; /* the in-use spans when the check began */
static uint64_t *saved; /* their mark bits, one run of words per span */
static size_t nspans, spans_bytes, saved_bytes;
static uint64_t saved_marked, saved_black;

/* Calls fn for every in-use span, at its first page. */
static void each_span(void (*fn)(span_t *s, void *arg), void *arg)
{
    for (heap_arena_t *a = arena_first(); a; a = a->next) {
        size_t top = a->zeroed_base / PAGE_SIZE;
        for (size_t i = 0; i < top && i < PAGES_PER_ARENA;) {
            span_t *s = a->spans[i];
            uintptr_t p = a->base + i * PAGE_SIZE;
            if (s && s->state == SPAN_INUSE && s->base == p) {
                fn(s, arg);
                i += s->npages;
            } else {
                i++;
            }
        }
    }
}

static void count_span(span_t *s, void *arg)
{
    size_t *n = arg;
    n[0]++;
    n[1] += span_bitmap_words(s);
}

struct saving {
    size_t i, w;
};

static void save_span(span_t *s, void *arg)
{
    struct saving *sv = arg;
    unsigned nw = span_bitmap_words(s);
    spans[sv->i++] = s;
    memcpy(saved + sv->w, s->mark_bits, nw * sizeof(uint64_t));
    memset(s->mark_bits, 0, nw * sizeof(uint64_t));
    sv->w += nw;
}

bool checkmark_begin(void)
{
    size_t n[2] = {0, 0};
    each_span(count_span, n);
    spans_bytes = round_up(n[0] * sizeof(span_t *) + 1, PAGE_SIZE);
    saved_bytes = round_up(n[1] * sizeof(uint64_t) + 1, PAGE_SIZE);
    spans = sys_map(spans_bytes, SYS_GC);
    saved = sys_map(saved_bytes, SYS_GC);
    if (!spans || !saved) {
        if (spans)
            sys_unmap(spans, spans_bytes, SYS_GC);
        if (saved)
            sys_unmap(saved, saved_bytes, SYS_GC);
        spans = NULL;
        saved = NULL;
        tc_print("gccheckmark: out of memory for %zu spans' mark bits: this cycle is not checked", n[0]);
        return false;
    }
    /* Plain scans from here on: a shadow's "unchanged since scanned" would
     * skip words whose targets the cleared bits no longer show marked. */
    mark_shadows_end();
    saved_marked = mark_take_marked_bytes(&saved_black);
    struct saving sv = {0, 0};
    each_span(save_span, &sv);
    nspans = sv.i;
    return true;
}

/* What the diagnostics know of object b's span and page. */
static void describe(uintptr_t b, char *buf, size_t n)
{
    span_t *s = span_of(b);
    int st = barrier_page_state(b);
    const char *wt = writetrack_page_state(b);
    snprintf(buf, n, "span %p, %zu-byte objects%s%s; its page %s%s%s%s", (void *)s->base, s->elemsize,
             s->black ? ", black" : "", s->incache ? ", in a cache" : "",
             st & 1 ? "armed" : "not armed", st & 2 ? ", fresh" : "", *wt ? ", " : "", wt);
}

/* The lost write itself: an object both marks marked (reachable, and
 * scanned or allocated black by the concurrent mark) holding a word into an
 * object the concurrent mark missed.  An object only the concurrent mark
 * marked may be floating garbage and proves nothing.  Called on the way to
 * the fatal message only: now holds the checkmark's bits, each span's mark
 * bits have become its missed objects, saved holds the concurrent mark's. */
static bool lost_write(const uint64_t *now, uintptr_t *by, uintptr_t *slot, uintptr_t *target)
{
    size_t w = 0;
    for (size_t i = 0; i < nspans; w += span_bitmap_words(spans[i]), i++) {
        span_t *s = spans[i];
        if (span_noscan(s))
            continue;
        for (unsigned k = 0; k < s->nelems; k++) {
            if (!(saved[w + k / 64] & now[w + k / 64] >> (k % 64) & 1))
                continue;
            uintptr_t b = s->base + (uintptr_t)k * s->elemsize;
            for (const uintptr_t *q = (const uintptr_t *)b; (uintptr_t)q < b + s->elemsize; q++) {
                span_t *t = span_of(*q);
                unsigned idx = t ? span_obj_index(t, *q) : 0;
                if (t && (t->mark_bits[idx / 64] >> (idx % 64) & 1)) {
                    *by = b;
                    *slot = (uintptr_t)q;
                    *target = t->base + (uintptr_t)idx * t->elemsize;
                    return true;
                }
            }
        }
    }
    return false;
}

static __attribute__((noreturn)) void report(size_t missed, uintptr_t first)
{
    size_t words = 0;
    for (size_t i = 0; i < nspans; i++)
        words += span_bitmap_words(spans[i]);
    size_t now_bytes = round_up(words * sizeof(uint64_t) + 1, PAGE_SIZE);
    uint64_t *now = sys_map(now_bytes, SYS_GC);
    size_t w = 0;
    for (size_t i = 0; i < nspans; w += span_bitmap_words(spans[i]), i++)
        for (unsigned j = 0; j < span_bitmap_words(spans[i]); j++) {
            if (now)
                now[w + j] = spans[i]->mark_bits[j];
            spans[i]->mark_bits[j] &= ~saved[w + j];
        }
    uintptr_t by = 0, slot = 0, target = first;
    char what[400], where[200];
    if (now && lost_write(now, &by, &slot, &target)) {
        describe(by, where, sizeof where);
        snprintf(what, sizeof what, "the object %p (%s), reachable and marked by this mark, holds it at %p: "
                 "a write there went unseen", (void *)by, where, (void *)slot);
    } else if (threads_find_root(target, target + span_of(target)->elemsize, where, sizeof where)) {
        snprintf(what, sizeof what, "no reachable object this mark marked refers to it: %s", where);
    } else if (roots_find(target, target + span_of(target)->elemsize, where, sizeof where)) {
        snprintf(what, sizeof what, "no reachable object this mark marked refers to it: %s", where);
    } else {
        snprintf(what, sizeof what, "no reachable object this mark marked refers to it: a finalizer's or "
                                    "cleanup's record does, or another root");
    }
    describe(target, where, sizeof where);
    tc_fatal("gccheckmark: %zu reachable object%s left unmarked by the concurrent mark (%s write tracking); "
             "%p (%zu bytes, %s; span of %zu pages, size class %u): %s",
             missed, missed == 1 ? "" : "s", writetrack_name(), (void *)target, span_of(target)->elemsize, where,
             span_of(target)->npages, span_sizeclass(span_of(target)), what);
}

void checkmark_end(void)
{
    size_t w = 0, missed = 0;
    uintptr_t first = 0;
    for (size_t i = 0; i < nspans; i++) {
        span_t *s = spans[i];
        unsigned nw = span_bitmap_words(s);
        for (unsigned j = 0; j < nw; j++) {
            uint64_t m = s->mark_bits[j] & ~saved[w + j];
            missed += (size_t)__builtin_popcountll(m);
            if (m && !first)
                first = s->base + (uintptr_t)(j * 64 + (unsigned)__builtin_ctzll(m)) * s->elemsize;
        }
        w += nw;
    }
    if (missed)
        report(missed, first);
    w = 0;
    for (size_t i = 0; i < nspans; i++) {
        unsigned nw = span_bitmap_words(spans[i]);
        memcpy(spans[i]->mark_bits, saved + w, nw * sizeof(uint64_t));
        w += nw;
    }
    uint64_t black;
    (void)mark_take_marked_bytes(&black);
    mark_put_marked_bytes(saved_marked, saved_black);
    sys_unmap(spans, spans_bytes, SYS_GC);
    sys_unmap(saved, saved_bytes, SYS_GC);
    spans = NULL;
    saved = NULL;
    nspans = 0;
}
