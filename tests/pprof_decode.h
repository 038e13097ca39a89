/*
 * pprof_decode.h - a reader of pprof profiles for the tests: gunzip, then
 * decode profile.proto's messages into plain arrays, written from the format's
 * description (github.com/google/pprof, proto/profile.proto), not from the
 * library's encoder, so that the tests check the encoding against the format.
 *
 *   pp_profile p;
 *   pp_read_file(&p, path);             // FAILs the test when it cannot
 *   pp_sum(&p, "inuse_space", "site", PP_LEAF)
 *
 * Without zlib (TC_NO_ZLIB: the aarch64 cross build) only stored (uncompressed)
 * gzip members are read, which is what the library writes then.
 */
#ifndef TC_PPROF_DECODE_H
#define TC_PPROF_DECODE_H

#include "common.h"

#ifndef TC_NO_ZLIB
#include <zlib.h>
#endif

typedef struct {
    uint64_t *locs;
    size_t nlocs;
    int64_t values[8];
    size_t nvalues;
    int64_t label_key, label_num; /* the last numeric label's key (a string index) and value */
} pp_sample;

typedef struct {
    uint64_t id, mapping_id, address;
    uint64_t func_ids[8];
    int64_t lines[8];
    size_t nlines;
} pp_location;

typedef struct {
    uint64_t id;
    int64_t name, system_name, filename;
} pp_function;

typedef struct {
    uint64_t id, start, limit, offset;
    int64_t filename, build_id;
    int has_functions;
} pp_mapping;

typedef struct {
    int64_t type[8], unit[8];
    size_t ntypes;
    int64_t period_type, period_unit, period, default_sample_type, time_nanos;
    pp_sample *samples;
    size_t nsamples;
    pp_location *locations;
    size_t nlocations;
    pp_function *functions;
    size_t nfunctions;
    pp_mapping *mappings;
    size_t nmappings;
    char **strings;
    size_t nstrings;
} pp_profile;

/* ---- gunzip ------------------------------------------------------------------ */

/* The decompressed bytes of a gzip file in (malloc'd; *outlen). */
TC_UNUSED static uint8_t *pp_gunzip(const uint8_t *in, size_t inlen, size_t *outlen)
{
    TC_CHECK(inlen >= 18 && in[0] == 0x1f && in[1] == 0x8b, "not gzip data (%zu bytes, %02x %02x)", inlen,
             inlen ? in[0] : 0, inlen > 1 ? in[1] : 0);
#ifndef TC_NO_ZLIB
    size_t cap = inlen * 4 + 1024, len = 0;
    uint8_t *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    TC_CHECK(inflateInit2(&z, 15 + 16) == Z_OK, "inflateInit2");
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)inlen;
    int r;
    do {
        if (len == cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        r = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        TC_CHECK(r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR, "inflate: %d (%s)", r, z.msg ? z.msg : "");
        TC_CHECK(!(r == Z_BUF_ERROR && z.avail_out), "truncated gzip data");
    } while (r != Z_STREAM_END);
    inflateEnd(&z);
    *outlen = len;
    return out;
#else
    TC_CHECK(in[2] == 8 && in[3] == 0, "gzip header flags %02x", in[3]);
    size_t off = 10, len = 0;
    uint8_t *out = malloc(inlen);
    for (;;) {
        TC_CHECK(off + 5 <= inlen && (in[off] & 6) == 0, "not a stored deflate block");
        int last = in[off] & 1;
        size_t n = in[off + 1] | (size_t)in[off + 2] << 8;
        off += 5;
        TC_CHECK(off + n <= inlen, "truncated stored block");
        memcpy(out + len, in + off, n);
        len += n;
        off += n;
        if (last)
            break;
    }
    *outlen = len;
    return out;
#endif
}

/* ---- protobuf ---------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} pp_cur;

static uint64_t pp_varint(pp_cur *c)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        TC_CHECK(c->p < c->end, "truncated varint");
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    TC_FAIL("varint too long");
}

/* The next field: its number and wire type; for length-delimited ones *sub
 * covers the payload, for varints *v holds the value. */
static int pp_field(pp_cur *c, unsigned *field, unsigned *wt, uint64_t *v, pp_cur *sub)
{
    if (c->p >= c->end)
        return 0;
    uint64_t key = pp_varint(c);
    *field = (unsigned)(key >> 3);
    *wt = (unsigned)(key & 7);
    switch (*wt) {
    case 0:
        *v = pp_varint(c);
        break;
    case 1:
        TC_CHECK(c->end - c->p >= 8, "truncated fixed64");
        memcpy(v, c->p, 8);
        c->p += 8;
        break;
    case 2: {
        uint64_t n = pp_varint(c);
        TC_CHECK((uint64_t)(c->end - c->p) >= n, "truncated field %u (%llu bytes)", *field, (unsigned long long)n);
        sub->p = c->p;
        sub->end = c->p + n;
        c->p += n;
        break;
    }
    case 5:
        TC_CHECK(c->end - c->p >= 4, "truncated fixed32");
        *v = 0;
        memcpy(v, c->p, 4);
        c->p += 4;
        break;
    default:
        TC_FAIL("wire type %u in field %u", *wt, *field);
    }
    return 1;
}

/* A repeated integer field, packed or not, appended to (*a, *n). */
static void pp_ints(unsigned wt, uint64_t v, pp_cur *sub, uint64_t **a, size_t *n)
{
    if (wt == 0) {
        *a = realloc(*a, (*n + 1) * sizeof **a);
        (*a)[(*n)++] = v;
        return;
    }
    TC_CHECK(wt == 2, "repeated integers with wire type %u", wt);
    while (sub->p < sub->end) {
        *a = realloc(*a, (*n + 1) * sizeof **a);
        (*a)[(*n)++] = pp_varint(sub);
    }
}

#define PP_GROW(arr, n) ((arr) = realloc((arr), ((n) + 1) * sizeof *(arr)), memset(&(arr)[n], 0, sizeof *(arr)), &(arr)[(n)++])

TC_UNUSED static void pp_decode(pp_profile *p, const uint8_t *data, size_t len)
{
    memset(p, 0, sizeof *p);
    pp_cur c = {data, data + len}, sub = {0}, s2 = {0}, s3 = {0};
    unsigned f, wt, f2, wt2, f3, wt3;
    uint64_t v, v2, v3;
    while (pp_field(&c, &f, &wt, &v, &sub)) {
        switch (f) {
        case 1:   /* sample_type */
        case 11: { /* period_type */
            int64_t type = 0, unit = 0;
            while (pp_field(&sub, &f2, &wt2, &v2, &s2))
                if (f2 == 1)
                    type = (int64_t)v2;
                else if (f2 == 2)
                    unit = (int64_t)v2;
            if (f == 1) {
                TC_CHECK(p->ntypes < 8, "too many sample types");
                p->type[p->ntypes] = type;
                p->unit[p->ntypes++] = unit;
            } else {
                p->period_type = type;
                p->period_unit = unit;
            }
            break;
        }
        case 2: { /* sample */
            pp_sample *s = PP_GROW(p->samples, p->nsamples);
            uint64_t *vals = NULL;
            size_t nv = 0;
            while (pp_field(&sub, &f2, &wt2, &v2, &s2)) {
                if (f2 == 1)
                    pp_ints(wt2, v2, &s2, &s->locs, &s->nlocs);
                else if (f2 == 2)
                    pp_ints(wt2, v2, &s2, &vals, &nv);
                else if (f2 == 3) {
                    int64_t key = 0, num = 0;
                    while (pp_field(&s2, &f3, &wt3, &v3, &s3))
                        if (f3 == 1)
                            key = (int64_t)v3;
                        else if (f3 == 3)
                            num = (int64_t)v3;
                    s->label_key = key;
                    s->label_num = num;
                }
            }
            TC_CHECK(nv <= 8, "%zu values in a sample", nv);
            for (size_t i = 0; i < nv; i++)
                s->values[i] = (int64_t)vals[i];
            s->nvalues = nv;
            free(vals);
            break;
        }
        case 3: { /* mapping */
            pp_mapping *m = PP_GROW(p->mappings, p->nmappings);
            while (pp_field(&sub, &f2, &wt2, &v2, &s2)) {
                switch (f2) {
                case 1: m->id = v2; break;
                case 2: m->start = v2; break;
                case 3: m->limit = v2; break;
                case 4: m->offset = v2; break;
                case 5: m->filename = (int64_t)v2; break;
                case 6: m->build_id = (int64_t)v2; break;
                case 7: m->has_functions = v2 != 0; break;
                }
            }
            break;
        }
        case 4: { /* location */
            pp_location *l = PP_GROW(p->locations, p->nlocations);
            while (pp_field(&sub, &f2, &wt2, &v2, &s2)) {
                if (f2 == 1)
                    l->id = v2;
                else if (f2 == 2)
                    l->mapping_id = v2;
                else if (f2 == 3)
                    l->address = v2;
                else if (f2 == 4) {
                    TC_CHECK(l->nlines < 8, "too many lines");
                    while (pp_field(&s2, &f3, &wt3, &v3, &s3))
                        if (f3 == 1)
                            l->func_ids[l->nlines] = v3;
                        else if (f3 == 2)
                            l->lines[l->nlines] = (int64_t)v3;
                    l->nlines++;
                }
            }
            break;
        }
        case 5: { /* function */
            pp_function *fn = PP_GROW(p->functions, p->nfunctions);
            while (pp_field(&sub, &f2, &wt2, &v2, &s2))
                if (f2 == 1)
                    fn->id = v2;
                else if (f2 == 2)
                    fn->name = (int64_t)v2;
                else if (f2 == 3)
                    fn->system_name = (int64_t)v2;
                else if (f2 == 4)
                    fn->filename = (int64_t)v2;
            break;
        }
        case 6: { /* string_table */
            char **s = PP_GROW(p->strings, p->nstrings);
            size_t n = (size_t)(sub.end - sub.p);
            *s = malloc(n + 1);
            memcpy(*s, sub.p, n);
            (*s)[n] = 0;
            break;
        }
        case 9: p->time_nanos = (int64_t)v; break;
        case 12: p->period = (int64_t)v; break;
        case 14: p->default_sample_type = (int64_t)v; break;
        default: break;
        }
    }
    TC_CHECK(p->nstrings > 0 && p->strings[0][0] == 0, "string_table[0] must be \"\" (%zu strings)", p->nstrings);
}

/* ---- reading files; looking things up --------------------------------------------- */

TC_UNUSED static uint8_t *pp_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    TC_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        TC_CHECK(r >= 0, "read %s: %s", path, strerror(errno));
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return buf;
}

TC_UNUSED static void pp_read_file(pp_profile *p, const char *path)
{
    size_t zlen, len;
    uint8_t *z = pp_slurp(path, &zlen);
    uint8_t *raw = pp_gunzip(z, zlen, &len);
    pp_decode(p, raw, len);
    free(z);
    free(raw);
}

TC_UNUSED static void pp_free(pp_profile *p)
{
    for (size_t i = 0; i < p->nsamples; i++)
        free(p->samples[i].locs);
    for (size_t i = 0; i < p->nstrings; i++)
        free(p->strings[i]);
    free(p->samples);
    free(p->locations);
    free(p->functions);
    free(p->mappings);
    free(p->strings);
    memset(p, 0, sizeof *p);
}

TC_UNUSED static const char *pp_str(const pp_profile *p, int64_t i)
{
    TC_CHECK(i >= 0 && (size_t)i < p->nstrings, "string index %lld out of %zu", (long long)i, p->nstrings);
    return p->strings[i];
}

TC_UNUSED static int pp_type_index(const pp_profile *p, const char *type)
{
    for (size_t i = 0; i < p->ntypes; i++)
        if (strcmp(pp_str(p, p->type[i]), type) == 0)
            return (int)i;
    TC_FAIL("no sample type %s", type);
}

TC_UNUSED static const pp_location *pp_loc(const pp_profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->nlocations; i++)
        if (p->locations[i].id == id)
            return &p->locations[i];
    TC_FAIL("no location %llu", (unsigned long long)id);
}

/* The name of location id's (innermost) function, or NULL. */
TC_UNUSED static const char *pp_loc_name(const pp_profile *p, uint64_t id)
{
    const pp_location *l = pp_loc(p, id);
    if (!l->nlines)
        return NULL;
    for (size_t i = 0; i < p->nfunctions; i++)
        if (p->functions[i].id == l->func_ids[0])
            return pp_str(p, p->functions[i].name);
    TC_FAIL("location %llu names function %llu, which is not in the profile", (unsigned long long)id,
            (unsigned long long)l->func_ids[0]);
}

/* Where in a sample's stack a function must be. */
enum { PP_LEAF, PP_ANY };

TC_UNUSED static int pp_sample_has(const pp_profile *p, const pp_sample *s, const char *fn, int where)
{
    for (size_t k = 0; k < s->nlocs && (where == PP_ANY || k == 0); k++) {
        const char *n = pp_loc_name(p, s->locs[k]);
        if (n && strcmp(n, fn) == 0)
            return 1;
    }
    return 0;
}

/* The sum of one sample type over the samples whose stack holds fn (at the
 * leaf, or anywhere). */
TC_UNUSED static int64_t pp_sum(const pp_profile *p, const char *type, const char *fn, int where)
{
    int t = pp_type_index(p, type);
    int64_t sum = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        if (!fn || pp_sample_has(p, &p->samples[i], fn, where))
            sum += p->samples[i].values[t];
    return sum;
}

#endif /* TC_PPROF_DECODE_H */
