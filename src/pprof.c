/*
 * pprof.c - writing heap profiles: pprof's protobuf, gzipped, and Go's legacy
 * text form (runtime/pprof's protomem.go, proto.go and writeHeapInternal).
 *
 * Owns gc_write_heap_profile, gc_write_profile and TRICOLOR_HEAPPROFILE (a
 * profile written at exit).  The counts come from profile.c (as of the last
 * collection), the mappings and function names from symtab.c.
 *
 * The protobuf is hand-encoded, as Go's runtime does: a profile is a few
 * messages (profile.proto: Profile, ValueType, Sample, Label, Mapping,
 * Location, Line, Function).  Values are scaled as Go scales them, by
 * 1 / (1 - e^(-size/rate)).  Locations carry call addresses (a return address
 * less one), one per distinct address, with the function that holds it; the
 * mappings say nothing is symbolized (has_functions false), so that pprof,
 * when it finds a binary with debug info, replaces the names with its own,
 * adding file:line, and otherwise keeps ours.
 *
 * Everything runs in the calling thread, outside allocator sections, with
 * malloc for its scratch memory.  Errors: -1 with errno (EINVAL for a bad
 * name, ENOMEM, or write's).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifndef TRICOLOR_NO_ZLIB
#include <zlib.h>
#endif

/* ---- a growable byte buffer ----------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} buf_t;

static void buf_put(buf_t *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

/* ---- protobuf ---------------------------------------------------------------------- */

enum { WT_VARINT = 0, WT_BYTES = 2 };

static void pb_varint(buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    buf_put(b, tmp, (size_t)n);
}

static void pb_key(buf_t *b, unsigned field, unsigned wt) { pb_varint(b, (uint64_t)field << 3 | wt); }

/* A scalar field; zero is the default and is left out (proto3). */
static void pb_uint(buf_t *b, unsigned field, uint64_t v)
{
    if (v) {
        pb_key(b, field, WT_VARINT);
        pb_varint(b, v);
    }
}

static void pb_bytes(buf_t *b, unsigned field, const void *d, size_t n)
{
    pb_key(b, field, WT_BYTES);
    pb_varint(b, n);
    buf_put(b, d, n);
}

/* An embedded message, built in msg (which is emptied for reuse). */
static void pb_msg(buf_t *b, unsigned field, buf_t *msg)
{
    if (msg->oom)
        b->oom = true;
    pb_bytes(b, field, msg->p, msg->len);
    msg->len = 0;
}

static void pb_packed(buf_t *b, unsigned field, const uint64_t *v, size_t n, buf_t *scratch)
{
    for (size_t i = 0; i < n; i++)
        pb_varint(scratch, v[i]);
    pb_msg(b, field, scratch);
}

/* profile.proto's field numbers. */
enum {
    PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9, PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUETYPE_TYPE = 1, VALUETYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
    LABEL_KEY = 1, LABEL_NUM = 3,
    MAPPING_ID = 1, MAPPING_START = 2, MAPPING_LIMIT = 3, MAPPING_OFFSET = 4, MAPPING_FILENAME = 5,
    MAPPING_BUILD_ID = 6,
    LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1,
    FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3,
};

/* ---- hash maps: strings, addresses ----------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* The string table: index 0 is "". */
typedef struct strtab {
    const char **s;
    size_t n, cap;
    uint32_t *slots; /* 1 + index, open addressing; 0 empty */
    size_t nslots;
    bool oom;
} strtab_t;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool strtab_grow(strtab_t *t)
{
    size_t nslots = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = str_hash(t->s[i]) & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return true;
}

/* The index of s (which must outlive the table). */
static uint64_t str_index(strtab_t *t, const char *s)
{
    if (t->oom)
        return 0;
    if (2 * (t->n + 1) > t->nslots && !strtab_grow(t)) {
        t->oom = true;
        return 0;
    }
    size_t j = str_hash(s) & (t->nslots - 1);
    for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
        if (strcmp(t->s[t->slots[j] - 1], s) == 0)
            return t->slots[j] - 1;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        const char **v = realloc(t->s, cap * sizeof *v);
        if (!v) {
            t->oom = true;
            return 0;
        }
        t->s = v;
        t->cap = cap;
    }
    t->s[t->n] = s;
    t->slots[j] = (uint32_t)(t->n + 1);
    return t->n++;
}

/* Address -> location id (1-based), open addressing sized once. */
typedef struct addrmap {
    uintptr_t *keys;
    uint32_t *ids;
    size_t nslots;
} addrmap_t;

static bool addrmap_init(addrmap_t *m, size_t n)
{
    m->nslots = 64;
    while (m->nslots < 2 * n)
        m->nslots *= 2;
    m->keys = calloc(m->nslots, sizeof *m->keys);
    m->ids = calloc(m->nslots, sizeof *m->ids);
    return m->keys && m->ids;
}

/* The slot of pc: ids[slot] is 0 if pc is new. */
static size_t addrmap_slot(addrmap_t *m, uintptr_t pc)
{
    size_t j = mix64(pc) & (m->nslots - 1);
    while (m->ids[j] && m->keys[j] != pc)
        j = (j + 1) & (m->nslots - 1);
    return j;
}

/* ---- the profile ------------------------------------------------------------------ */

/* A record's in-use figures.  A flush of the cycle that still receives
 * events (the exit profile's, or Go's "no collection yet" view) may see a
 * bucket's frees before its allocations: never below zero. */
static uint64_t inuse_objects(const prof_record_t *r) { return r->allocs > r->frees ? r->allocs - r->frees : 0; }
static uint64_t inuse_bytes(const prof_record_t *r)
{
    return r->alloc_bytes > r->free_bytes ? r->alloc_bytes - r->free_bytes : 0;
}

/* Go's scaleHeapSample: a bucket's sampled counts, as estimates of all. */
static void scale(uint64_t count, uint64_t bytes, int64_t rate, uint64_t *c, uint64_t *b)
{
    if (count == 0 || bytes == 0) {
        *c = *b = 0;
        return;
    }
    if (rate <= 1) {
        *c = count;
        *b = bytes;
        return;
    }
    double avg = (double)bytes / (double)count;
    double q = -expm1(-avg / (double)rate); /* 1 - e^(-avg/rate), exact for tiny ratios */
    double c1 = (double)count / q, b1 = (double)bytes / q;
    *c = c1 < 0x1p63 ? (uint64_t)c1 : (uint64_t)INT64_MAX;
    *b = b1 < 0x1p63 ? (uint64_t)b1 : (uint64_t)INT64_MAX;
}

typedef struct writer {
    prof_record_t *recs;
    size_t nrecs;
    symtab_t *st;
    int64_t rate;
} writer_t;

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void put_value_type(buf_t *out, unsigned field, strtab_t *strs, const char *type, const char *unit,
                           buf_t *msg)
{
    pb_uint(msg, VALUETYPE_TYPE, str_index(strs, type));
    pb_uint(msg, VALUETYPE_UNIT, str_index(strs, unit));
    pb_msg(out, field, msg);
}

/* The whole profile, unzipped, into out; false when out of memory. */
static bool encode(writer_t *w, const char *default_type, buf_t *out)
{
    bool ok = false;
    strtab_t strs = {0};
    addrmap_t locs = {0};
    buf_t msg = {0}, sub = {0}, pk = {0};
    uint64_t *ids = NULL;
    uint64_t *funcs = NULL; /* function id per string index, 0 none */
    size_t nfuncs = 0, funcs_cap = 0;
    uint32_t nlocs = 0;

    str_index(&strs, "");
    put_value_type(out, PROFILE_SAMPLE_TYPE, &strs, "alloc_objects", "count", &msg);
    put_value_type(out, PROFILE_SAMPLE_TYPE, &strs, "alloc_space", "bytes", &msg);
    put_value_type(out, PROFILE_SAMPLE_TYPE, &strs, "inuse_objects", "count", &msg);
    put_value_type(out, PROFILE_SAMPLE_TYPE, &strs, "inuse_space", "bytes", &msg);
    put_value_type(out, PROFILE_PERIOD_TYPE, &strs, "space", "bytes", &msg);
    pb_uint(out, PROFILE_PERIOD, (uint64_t)w->rate);
    if (default_type)
        pb_uint(out, PROFILE_DEFAULT_SAMPLE_TYPE, str_index(&strs, default_type));

    size_t frames = 0;
    for (size_t i = 0; i < w->nrecs; i++)
        frames += w->recs[i].b->nstk;
    ids = malloc((PROF_MAX_STACK + 1) * sizeof *ids);
    if (!ids || !addrmap_init(&locs, frames))
        goto out;
    uint64_t bytes_key = str_index(&strs, "bytes");

    /* Samples, numbering each new address as a location. */
    for (size_t i = 0; i < w->nrecs; i++) {
        const prof_record_t *r = &w->recs[i];
        const bucket_t *b = r->b;
        for (unsigned k = 0; k < b->nstk; k++) {
            size_t j = addrmap_slot(&locs, b->stk[k]);
            if (!locs.ids[j]) {
                locs.keys[j] = b->stk[k];
                locs.ids[j] = ++nlocs;
            }
            ids[k] = locs.ids[j];
        }
        uint64_t v[4];
        scale(r->allocs, r->alloc_bytes, w->rate, &v[0], &v[1]);
        scale(inuse_objects(r), inuse_bytes(r), w->rate, &v[2], &v[3]);
        pb_packed(&msg, SAMPLE_LOCATION_ID, ids, b->nstk, &pk);
        pb_packed(&msg, SAMPLE_VALUE, v, 4, &pk);
        if (r->allocs) {
            pb_uint(&sub, LABEL_KEY, bytes_key);
            pb_uint(&sub, LABEL_NUM, r->alloc_bytes / r->allocs);
            pb_msg(&msg, SAMPLE_LABEL, &sub);
        }
        pb_msg(out, PROFILE_SAMPLE, &msg);
    }

    /* Mappings: every executable segment of every loaded object, the
     * program's first (pprof takes the first for the main binary). */
    uint64_t mapping_id = 0;
    for (size_t i = 0; i < w->st->nobjs; i++) {
        objfile_t *o = &w->st->objs[i];
        for (unsigned k = 0; k < o->nsegs; k++) {
            pb_uint(&msg, MAPPING_ID, ++mapping_id);
            pb_uint(&msg, MAPPING_START, o->segs[k].start);
            pb_uint(&msg, MAPPING_LIMIT, o->segs[k].limit);
            pb_uint(&msg, MAPPING_OFFSET, o->segs[k].offset);
            pb_uint(&msg, MAPPING_FILENAME, str_index(&strs, o->path));
            pb_uint(&msg, MAPPING_BUILD_ID, str_index(&strs, o->build_id));
            pb_msg(out, PROFILE_MAPPING, &msg);
        }
    }

    /* Locations, in id order, and the functions they name. */
    uintptr_t *by_id = malloc((nlocs + 1) * sizeof *by_id);
    if (!by_id)
        goto out;
    for (size_t j = 0; j < locs.nslots; j++)
        if (locs.ids[j])
            by_id[locs.ids[j]] = locs.keys[j];
    for (uint32_t id = 1; id <= nlocs; id++) {
        uintptr_t pc = by_id[id] - 1; /* the call, not the return address */
        unsigned seg = 0;
        objfile_t *o = symtab_object(w->st, pc, &seg);
        uint64_t mid = 0;
        if (o) {
            mid = 1;
            for (objfile_t *q = w->st->objs; q < o; q++)
                mid += q->nsegs;
            mid += seg;
        }
        uintptr_t start;
        const char *name = symtab_name(w->st, o, pc, &start);
        pb_uint(&msg, LOCATION_ID, id);
        pb_uint(&msg, LOCATION_MAPPING_ID, mid);
        pb_uint(&msg, LOCATION_ADDRESS, pc);
        if (name) {
            uint64_t si = str_index(&strs, name);
            if (si >= funcs_cap) {
                size_t cap = funcs_cap ? funcs_cap : 256;
                while (cap <= si)
                    cap *= 2;
                uint64_t *f = realloc(funcs, cap * sizeof *f);
                if (!f) {
                    free(by_id);
                    goto out;
                }
                memset(f + funcs_cap, 0, (cap - funcs_cap) * sizeof *f);
                funcs = f;
                funcs_cap = cap;
            }
            if (!funcs[si]) {
                funcs[si] = ++nfuncs;
                pb_uint(&sub, FUNCTION_ID, nfuncs);
                pb_uint(&sub, FUNCTION_NAME, si);
                pb_uint(&sub, FUNCTION_SYSTEM_NAME, si);
                pb_msg(out, PROFILE_FUNCTION, &sub);
            }
            pb_uint(&sub, LINE_FUNCTION_ID, funcs[si]);
            pb_msg(&msg, LOCATION_LINE, &sub);
        }
        pb_msg(out, PROFILE_LOCATION, &msg);
    }
    free(by_id);

    pb_uint(out, PROFILE_TIME_NANOS, walltime());
    for (size_t i = 0; i < strs.n; i++)
        pb_bytes(out, PROFILE_STRING_TABLE, strs.s[i], strlen(strs.s[i]));
    ok = !strs.oom && !out->oom && !msg.oom && !sub.oom && !pk.oom;
out:
    free(strs.s);
    free(strs.slots);
    free(locs.keys);
    free(locs.ids);
    free(msg.p);
    free(sub.p);
    free(pk.p);
    free(ids);
    free(funcs);
    return ok;
}

/* ---- gzip ---------------------------------------------------------------------------- */

#ifndef TRICOLOR_NO_ZLIB
/* Go compresses its profiles with gzip.BestSpeed: so does this. */
static int write_gzip(int fd, const uint8_t *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        errno = ENOMEM;
        return -1;
    }
    uint8_t out[64 << 10];
    int rc = 0, zr;
    z.next_in = (Bytef *)data;
    do {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        z.avail_in = (uInt)chunk;
        len -= chunk;
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            zr = deflate(&z, len ? Z_NO_FLUSH : Z_FINISH);
            if (zr == Z_STREAM_ERROR) {
                errno = EIO;
                rc = -1;
                break;
            }
            if (write_all(fd, out, sizeof out - z.avail_out) < 0) {
                rc = -1;
                break;
            }
        } while (z.avail_out == 0);
    } while (rc == 0 && len);
    deflateEnd(&z);
    return rc;
}
#else
/* Built without zlib (the aarch64 cross build): gzip's format with stored,
 * uncompressed blocks, which every gzip reader takes. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint32_t *table = crc_table;
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static int write_gzip(int fd, const uint8_t *data, size_t len)
{
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    if (write_all(fd, header, sizeof header) < 0)
        return -1;
    size_t off = 0;
    do {
        size_t n = len - off > 65535 ? 65535 : len - off;
        uint8_t h[5] = {off + n == len, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n, (uint8_t)(~n >> 8)};
        if (write_all(fd, h, 5) < 0 || write_all(fd, data + off, n) < 0)
            return -1;
        off += n;
    } while (off < len);
    uint32_t crc = crc32_update(0, data, len);
    uint8_t t[8] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24),
                    (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    return write_all(fd, t, 8);
}
#endif

/* ---- the legacy text form (?debug=1) ----------------------------------------------------- */

static int by_inuse_bytes(const void *a, const void *b)
{
    uint64_t ix = inuse_bytes(a), iy = inuse_bytes(b);
    return ix > iy ? -1 : ix < iy;
}

static void print_u64s(FILE *f, const char *name, const uint64_t *v, size_t n)
{
    fprintf(f, "# %s = [", name);
    for (size_t i = 0; i < n; i++)
        fprintf(f, i ? " %llu" : "%llu", (unsigned long long)v[i]);
    fprintf(f, "]\n");
}

/* Go's writeHeapInternal with debug > 0: counts as sampled (pprof scales
 * them by the rate in the header, heap/2*rate), biggest in-use first, each
 * with its stack, then MemStats under Go's names. */
static int write_text(writer_t *w, int fd)
{
    int fd2 = dup(fd);
    FILE *f = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
    if (!f) {
        if (fd2 >= 0)
            close(fd2);
        return -1;
    }
    if (w->nrecs) /* an empty profile has no array: qsort(NULL, 0) is undefined */
        qsort(w->recs, w->nrecs, sizeof *w->recs, by_inuse_bytes);
    uint64_t t[4] = {0};
    for (size_t i = 0; i < w->nrecs; i++) {
        t[0] += inuse_objects(&w->recs[i]);
        t[1] += inuse_bytes(&w->recs[i]);
        t[2] += w->recs[i].allocs;
        t[3] += w->recs[i].alloc_bytes;
    }
    fprintf(f, "heap profile: %llu: %llu [%llu: %llu] @ heap/%lld\n", (unsigned long long)t[0],
            (unsigned long long)t[1], (unsigned long long)t[2], (unsigned long long)t[3], (long long)(2 * w->rate));
    for (size_t i = 0; i < w->nrecs; i++) {
        const prof_record_t *r = &w->recs[i];
        fprintf(f, "%llu: %llu [%llu: %llu] @", (unsigned long long)inuse_objects(r),
                (unsigned long long)inuse_bytes(r), (unsigned long long)r->allocs,
                (unsigned long long)r->alloc_bytes);
        for (unsigned k = 0; k < r->b->nstk; k++)
            fprintf(f, " %#lx", (unsigned long)r->b->stk[k]);
        fprintf(f, "\n");
        for (unsigned k = 0; k < r->b->nstk; k++) {
            uintptr_t pc = r->b->stk[k] - 1, start;
            objfile_t *o = symtab_object(w->st, pc, NULL);
            const char *name = symtab_name(w->st, o, pc, &start);
            if (name)
                fprintf(f, "#\t%#lx\t%s+%#lx\t%s\n", (unsigned long)pc, name, (unsigned long)(pc - start),
                        o ? o->path : "?");
            else
                fprintf(f, "#\t%#lx\n", (unsigned long)pc);
        }
        fprintf(f, "\n");
    }
    gc_memstats *m = malloc(sizeof *m);
    if (m) {
        gc_read_memstats(m);
        fprintf(f, "\n# runtime.MemStats\n");
        fprintf(f, "# Alloc = %llu\n", (unsigned long long)m->alloc);
        fprintf(f, "# TotalAlloc = %llu\n", (unsigned long long)m->total_alloc);
        fprintf(f, "# Sys = %llu\n", (unsigned long long)m->sys);
        fprintf(f, "# Lookups = 0\n");
        fprintf(f, "# Mallocs = %llu\n", (unsigned long long)m->mallocs);
        fprintf(f, "# Frees = %llu\n", (unsigned long long)m->frees);
        fprintf(f, "# HeapAlloc = %llu\n", (unsigned long long)m->heap_alloc);
        fprintf(f, "# HeapSys = %llu\n", (unsigned long long)m->heap_sys);
        fprintf(f, "# HeapIdle = %llu\n", (unsigned long long)m->heap_idle);
        fprintf(f, "# HeapInuse = %llu\n", (unsigned long long)m->heap_inuse);
        fprintf(f, "# HeapReleased = %llu\n", (unsigned long long)m->heap_released);
        fprintf(f, "# HeapObjects = %llu\n", (unsigned long long)m->heap_objects);
        fprintf(f, "# Stack = 0 / 0\n");
        fprintf(f, "# MSpan = %llu / %llu\n", (unsigned long long)m->mspan_inuse, (unsigned long long)m->mspan_sys);
        fprintf(f, "# MCache = %llu / %llu\n", (unsigned long long)m->mcache_inuse,
                (unsigned long long)m->mcache_sys);
        fprintf(f, "# BuckHashSys = %llu\n", (unsigned long long)m->buck_hash_sys);
        fprintf(f, "# GCSys = %llu\n", (unsigned long long)m->gc_sys);
        fprintf(f, "# OtherSys = %llu\n", (unsigned long long)m->other_sys);
        fprintf(f, "# NextGC = %llu\n", (unsigned long long)m->next_gc);
        fprintf(f, "# LastGC = %llu\n", (unsigned long long)m->last_gc);
        print_u64s(f, "PauseNs", m->pause_ns, 256);
        print_u64s(f, "PauseEnd", m->pause_end, 256);
        fprintf(f, "# NumGC = %u\n", m->num_gc);
        fprintf(f, "# NumForcedGC = %u\n", m->num_forced_gc);
        fprintf(f, "# GCCPUFraction = %g\n", m->gc_cpu_fraction);
        fprintf(f, "# DebugGC = false\n");
        free(m);
    }
    /* The address map, as gperftools ends its profiles: pprof reads it, and
     * can then find the binaries of a position-independent program. */
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps) {
        char line[4352];
        fprintf(f, "\nMAPPED_LIBRARIES:\n");
        while (fgets(line, sizeof line, maps))
            fputs(line, f);
        fclose(maps);
    }
    bool err = ferror(f) != 0;
    int saved = errno;
    if (fclose(f) != 0 || err) {
        errno = err ? saved : errno;
        return -1;
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------ */

static int write_profile(const char *default_type, int fd, int debug, bool all)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1; /* EBADF, before any work */
    if ((fl & O_ACCMODE) == O_RDONLY) {
        errno = EBADF; /* as write(2) would say (fdopen says EINVAL) */
        return -1;
    }
    writer_t w = {.rate = atomic_load(&profile_rate)};
    if (!profile_records(&w.recs, &w.nrecs, all))
        return -1;
    w.st = symtab_load();
    int rc = -1;
    if (w.st) {
        if (debug > 0) {
            rc = write_text(&w, fd);
        } else {
            buf_t out = {0};
            if (encode(&w, default_type, &out))
                rc = write_gzip(fd, out.p, out.len);
            else
                errno = ENOMEM;
            free(out.p);
        }
    }
    int saved = errno;
    symtab_free(w.st);
    free(w.recs);
    errno = saved;
    return rc;
}

int gc_write_heap_profile(int fd) { return write_profile(NULL, fd, 0, false); }

int gc_write_profile(const char *name, int fd, int debug)
{
    if (!name || (strcmp(name, "heap") != 0 && strcmp(name, "allocs") != 0)) {
        errno = EINVAL;
        return -1;
    }
    return write_profile(strcmp(name, "allocs") == 0 ? "alloc_space" : NULL, fd, debug, false);
}

/* ---- TRICOLOR_HEAPPROFILE ---------------------------------------------------------------- */

/* The path with each %p replaced by the process id and %% by %. */
static bool expand_path(const char *tmpl, char *out, size_t n)
{
    size_t k = 0;
    for (const char *s = tmpl; *s; s++) {
        char num[24];
        const char *put = num;
        if (s[0] == '%' && s[1] == 'p') {
            snprintf(num, sizeof num, "%ld", (long)getpid());
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            num[0] = '%', num[1] = 0;
            s++;
        } else {
            num[0] = *s, num[1] = 0;
        }
        size_t len = strlen(put);
        if (k + len >= n)
            return false;
        memcpy(out + k, put, len);
        k += len;
    }
    out[k] = 0;
    return true;
}

/* At exit the profile counts every event so far: the allocations since the
 * last collection too, with the frees the collections found. */
static void write_at_exit(void)
{
    gc_init_once(); /* (env is parsed there) */
    if (!env.heapprofile)
        return;
    char path[4096];
    if (!expand_path(env.heapprofile, path, sizeof path)) {
        tc_print("TRICOLOR_HEAPPROFILE: path too long: %s", env.heapprofile);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        tc_print("TRICOLOR_HEAPPROFILE: cannot open %s: %s", path, strerror(errno));
        return;
    }
    if (write_profile(NULL, fd, 0, true) < 0)
        tc_print("TRICOLOR_HEAPPROFILE: cannot write %s: %s", path, strerror(errno));
    close(fd);
}

static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void register_exit(void) { atexit(write_at_exit); }

void pprof_init(void)
{
    if (env.heapprofile)
        pthread_once(&exit_once, register_exit);
}

/* A program that never calls the library still gets its (empty) profile:
 * the variable is looked at when the library is loaded. */
__attribute__((constructor)) static void pprof_at_load(void)
{
    const char *s = secure_getenv("TRICOLOR_HEAPPROFILE"); /* (not for set-user-ID programs) */
    if (s && *s)
        pthread_once(&exit_once, register_exit);
}
