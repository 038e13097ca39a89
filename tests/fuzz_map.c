/*
 * fuzz_map.c - a fuzzer for tricolor's maps, checked against a reference model.
 *
 * LLVMFuzzerTestOneInput reads its input as a sequence of operations on three
 * fresh maps, each over a small key space so that collisions, tombstones,
 * growth and (for A) table splits happen:
 *   A  map[uint64]{v uint64; c *cell}  8-byte keys, 2048 of them (hot subset of
 *      64), scanned values pointing to collected cells that repeat v
 *   B  map[string]uint32              64 C-string keys ("", "a", "aa", ..., long
 *      ones, shared prefixes); the caller's key buffer is scribbled after use
 *   C  map[[11]byte][5]byte            96 11-byte keys differing only at the end,
 *      noscan
 * Operations: insert/update, delete, lookup (with ok and value), clear, len,
 * bulk insert/delete of a range (A: grows past one table and splits), a full
 * check of every touched key, gc_collect (at most once per input), and
 * iteration with deletes of the current and other entries, inserts, clears and
 * break driven by the following bytes, checked with Go's rules: an entry
 * present at the start and never deleted is produced exactly once, a deleted
 * one not afterwards, an inserted one at most once, each with its current value.
 * The model is direct-indexed arrays in plain C.  Any mismatch prints what
 * differed and aborts (libFuzzer then saves the input).
 *
 * Built with -DTC_FUZZ_DRIVER (every build): a main() that runs the harness on
 * deterministic pseudo-random inputs (argv[1] of them, default 20000; argv[2]
 * the seed), or on the files named after "--" (to replay a libFuzzer artifact).
 * Without it: the libFuzzer target (clang -fsanitize=fuzzer).
 */
#include <tricolor.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KA 2048
#define KA_HOT 64
#define KB 64
#define KC 96
#define KCS 11 /* C's key size */
#define VCS 5  /* C's value size */

#define FAIL(...)                                                        \
    do {                                                                 \
        fprintf(stderr, "FAIL fuzz_map.c:%d: op %d: ", __LINE__, g_opno); \
        fprintf(stderr, __VA_ARGS__);                                    \
        fprintf(stderr, "\n");                                           \
        abort();                                                         \
    } while (0)
#define CHECK(cond, ...)      \
    do {                      \
        if (!(cond))          \
            FAIL(__VA_ARGS__); \
    } while (0)

static int g_opno;

struct cell {
    uint64_t v, check;
};
struct aval {
    uint64_t v;
    struct cell *c;
};

/* The maps under test: globals, so that they are roots. */
static gc_map *g_a, *g_b, *g_c;

/* The model. */
static bool a_in[KA], b_in[KB], c_in[KC];
static uint64_t a_v[KA];
static uint32_t b_v[KB];
static uint8_t c_v[KC][VCS];
static size_t a_len, b_len, c_len;
/* keys touched in this input, for the full check */
static bool a_touched[KA];
static uint16_t a_touch_list[KA];
static size_t a_ntouched;

/* Iteration bookkeeping: must be produced / may be produced once. */
static uint8_t it_need[KA], it_may[KA];

static const uint64_t A_MUL = 0x9e3779b97f4a7c15ull; /* odd: key i * A_MUL is a bijection */
static uint64_t a_inv;                               /* A_MUL's inverse mod 2^64 */
static char b_names[KB][96];

static uint64_t a_key(unsigned i) { return ((uint64_t)i + 1) * A_MUL; }
static long a_index(uint64_t key)
{
    uint64_t i = key * a_inv - 1;
    return i < KA ? (long)i : -1;
}
static void c_key(uint8_t *k, unsigned i)
{
    memset(k, 0xc3, KCS);
    k[KCS - 1] = (uint8_t)i;
    k[KCS - 2] = (uint8_t)(i >> 8);
}
static long c_index(const uint8_t *k)
{
    unsigned i = k[KCS - 1] | (unsigned)k[KCS - 2] << 8;
    uint8_t t[KCS];
    c_key(t, i);
    return i < KC && memcmp(t, k, KCS) == 0 ? (long)i : -1;
}
static long b_index(const char *s)
{
    for (int i = 0; i < KB; i++)
        if (strcmp(s, b_names[i]) == 0)
            return i;
    return -1;
}

static void init_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    uint64_t x = A_MUL; /* Newton: x = x * (2 - a x), 6 rounds for 64 bits */
    for (int r = 0; r < 6; r++)
        x *= 2 - A_MUL * x;
    a_inv = x;
    for (int i = 0; i < KB; i++) {
        char *s = b_names[i];
        if (i < 8) { /* "", "a", "aa", ... : each a prefix of the next */
            memset(s, 'a', (size_t)i);
            s[i] = 0;
        } else if (i < 16) {
            snprintf(s, 96, "k%d", i);
        } else if (i < 24) { /* long, differing only in the last character */
            memset(s, 'L', 80);
            s[80] = (char)('A' + i);
            s[81] = 0;
        } else if (i < 32) { /* differ only in the first character */
            memset(s, 'f', 20);
            s[0] = (char)('A' + i - 24);
            s[20] = 0;
        } else {
            snprintf(s, 96, "key-%d-%.*s", i, i % 13, "zyxwvutsrqponm");
        }
    }
    for (int i = 0; i < KB; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(b_names[i], b_names[j]) == 0) {
                fprintf(stderr, "fuzz_map: duplicate key names %d %d\n", i, j);
                abort();
            }
}

/* ---- input reading ---------------------------------------------------- */

static const uint8_t *g_in;
static size_t g_inlen, g_pos;
static bool more(void) { return g_pos < g_inlen; }
static uint8_t byte(void) { return g_pos < g_inlen ? g_in[g_pos++] : 0; }
static unsigned a_pick(void)
{
    uint8_t b0 = byte(), b1 = byte();
    if (b0 & 0x80)
        return b1 % KA_HOT;
    return (unsigned)(((b0 & 0x7f) << 8 | b1) % KA);
}

/* ---- operations on A --------------------------------------------------- */

static uint64_t g_counter;

static void a_touch(unsigned i)
{
    if (!a_touched[i]) {
        a_touched[i] = true;
        a_touch_list[a_ntouched++] = (uint16_t)i;
    }
}

static void a_set(unsigned i, uint64_t v)
{
    uint64_t k = a_key(i);
    struct cell *c = gc_alloc_noscan(sizeof *c);
    CHECK(c, "gc_alloc_noscan failed");
    c->v = v;
    c->check = ~v;
    struct aval *slot = gc_mapassign(g_a, &k);
    CHECK(slot, "A: gc_mapassign(%u) returned NULL", i);
    if (a_in[i])
        CHECK(slot->v == a_v[i] && slot->c && slot->c->v == a_v[i], "A: mapassign of present key %u: value %llu, want %llu",
              i, (unsigned long long)slot->v, (unsigned long long)a_v[i]);
    else
        CHECK(slot->v == 0 && slot->c == NULL, "A: mapassign of new key %u: slot not zeroed", i);
    slot->v = v;
    slot->c = c;
    if (!a_in[i])
        a_len++;
    a_in[i] = true;
    a_v[i] = v;
    a_touch(i);
}

static void a_del(unsigned i)
{
    uint64_t k = a_key(i);
    bool was = gc_mapdelete(g_a, &k);
    CHECK(was == a_in[i], "A: delete(%u) returned %d, model says %d", i, was, a_in[i]);
    if (a_in[i])
        a_len--;
    a_in[i] = false;
    a_touch(i);
}

static void a_check(unsigned i)
{
    uint64_t k = a_key(i);
    struct aval *p = gc_mapaccess(g_a, &k);
    CHECK((p != NULL) == a_in[i], "A: lookup(%u) found=%d, model %d", i, p != NULL, a_in[i]);
    if (p)
        CHECK(p->v == a_v[i] && p->c && p->c->v == a_v[i] && p->c->check == ~a_v[i],
              "A: lookup(%u) value %llu (cell %llu), want %llu", i, (unsigned long long)p->v,
              p->c ? (unsigned long long)p->c->v : 0ull, (unsigned long long)a_v[i]);
}

/* ---- B and C ------------------------------------------------------------ */

static void b_set(unsigned i, uint32_t v)
{
    char buf[96];
    strcpy(buf, b_names[i]);
    const char *kp = buf;
    uint32_t *slot = gc_mapassign(g_b, &kp);
    CHECK(slot, "B: gc_mapassign(\"%s\") NULL", b_names[i]);
    CHECK(*slot == (b_in[i] ? b_v[i] : 0), "B: mapassign(\"%s\") slot %u, want %u", b_names[i], *slot,
          b_in[i] ? b_v[i] : 0);
    *slot = v;
    memset(buf, '#', sizeof buf - 1); /* the map keeps its own copy */
    if (!b_in[i])
        b_len++;
    b_in[i] = true;
    b_v[i] = v;
}

static void b_del(unsigned i)
{
    char buf[96];
    strcpy(buf, b_names[i]);
    const char *kp = buf;
    bool was = gc_mapdelete(g_b, &kp);
    CHECK(was == b_in[i], "B: delete(\"%s\") returned %d, model %d", b_names[i], was, b_in[i]);
    if (b_in[i])
        b_len--;
    b_in[i] = false;
}

static void b_check(unsigned i)
{
    const char *kp = b_names[i];
    uint32_t *p = gc_mapaccess(g_b, &kp);
    CHECK((p != NULL) == b_in[i], "B: lookup(\"%s\") found=%d, model %d", b_names[i], p != NULL, b_in[i]);
    if (p)
        CHECK(*p == b_v[i], "B: lookup(\"%s\") = %u, want %u", b_names[i], *p, b_v[i]);
}

static void c_set(unsigned i, uint8_t seed)
{
    uint8_t k[KCS];
    c_key(k, i);
    uint8_t *slot = gc_mapassign(g_c, k);
    CHECK(slot, "C: gc_mapassign NULL");
    static const uint8_t zero[VCS];
    CHECK(memcmp(slot, c_in[i] ? c_v[i] : zero, VCS) == 0, "C: mapassign(%u) slot has the wrong bytes", i);
    for (int j = 0; j < VCS; j++)
        c_v[i][j] = (uint8_t)(seed + j * 37);
    memcpy(slot, c_v[i], VCS);
    if (!c_in[i])
        c_len++;
    c_in[i] = true;
}

static void c_del(unsigned i)
{
    uint8_t k[KCS];
    c_key(k, i);
    bool was = gc_mapdelete(g_c, k);
    CHECK(was == c_in[i], "C: delete(%u) returned %d, model %d", i, was, c_in[i]);
    if (c_in[i])
        c_len--;
    c_in[i] = false;
}

static void c_check(unsigned i)
{
    uint8_t k[KCS];
    c_key(k, i);
    uint8_t *p = gc_mapaccess(g_c, k);
    CHECK((p != NULL) == c_in[i], "C: lookup(%u) found=%d, model %d", i, p != NULL, c_in[i]);
    if (p)
        CHECK(memcmp(p, c_v[i], VCS) == 0, "C: lookup(%u) wrong value bytes", i);
}

static void check_lens(void)
{
    CHECK(gc_maplen(g_a) == a_len, "A: len %zu, model %zu", gc_maplen(g_a), a_len);
    CHECK(gc_maplen(g_b) == b_len, "B: len %zu, model %zu", gc_maplen(g_b), b_len);
    CHECK(gc_maplen(g_c) == c_len, "C: len %zu, model %zu", gc_maplen(g_c), c_len);
}

static void check_all(void)
{
    check_lens();
    for (size_t t = 0; t < a_ntouched; t++)
        a_check(a_touch_list[t]);
    for (unsigned i = 0; i < KB; i++)
        b_check(i);
    for (unsigned i = 0; i < KC; i++)
        c_check(i);
}

static void clear_map(int which)
{
    if (which == 0) {
        gc_mapclear(g_a);
        memset(a_in, 0, sizeof a_in);
        a_len = 0;
    } else if (which == 1) {
        gc_mapclear(g_b);
        memset(b_in, 0, sizeof b_in);
        b_len = 0;
    } else {
        gc_mapclear(g_c);
        memset(c_in, 0, sizeof c_in);
        c_len = 0;
    }
}

/* ---- iteration ------------------------------------------------------------ */

static bool *model_in(int which) { return which == 0 ? a_in : which == 1 ? b_in : c_in; }
static unsigned key_space(int which) { return which == 0 ? KA : which == 1 ? KB : KC; }

static void m_set(int which, unsigned i, uint8_t arg)
{
    if (which == 0)
        a_set(i, ++g_counter * 256 + arg);
    else if (which == 1)
        b_set(i, (uint32_t)(++g_counter * 256 + arg));
    else
        c_set(i, (uint8_t)(arg + ++g_counter));
}
static void m_del(int which, unsigned i)
{
    if (which == 0)
        a_del(i);
    else if (which == 1)
        b_del(i);
    else
        c_del(i);
}

static void iterate(int which)
{
    gc_map *m = which == 0 ? g_a : which == 1 ? g_b : g_c;
    bool *in = model_in(which);
    unsigned n = key_space(which);
    for (unsigned i = 0; i < n; i++) {
        it_need[i] = in[i];
        it_may[i] = 0;
    }
    gc_mapiter it;
    bool broke = false;
    size_t produced = 0;
    for (gc_mapiterinit(&it, m); gc_mapiternext(&it);) {
        long i;
        if (which == 0) {
            i = a_index(*(const uint64_t *)it.key);
            CHECK(i >= 0, "A: iteration gave a key never inserted");
            const struct aval *v = it.val;
            CHECK(a_in[i], "A: iteration gave key %ld, which is absent (deleted)", i);
            CHECK(v->v == a_v[i] && v->c && v->c->v == a_v[i], "A: iteration value of %ld: %llu, want %llu", i,
                  (unsigned long long)v->v, (unsigned long long)a_v[i]);
        } else if (which == 1) {
            const char *s = *(const char *const *)it.key;
            CHECK(s, "B: iteration gave a NULL key");
            i = b_index(s);
            CHECK(i >= 0, "B: iteration gave a key never inserted: \"%.100s\"", s);
            CHECK(b_in[i], "B: iteration gave \"%s\", which is absent (deleted)", s);
            CHECK(*(const uint32_t *)it.val == b_v[i], "B: iteration value of \"%s\": %u, want %u", s,
                  *(const uint32_t *)it.val, b_v[i]);
        } else {
            i = c_index(it.key);
            CHECK(i >= 0, "C: iteration gave a key never inserted");
            CHECK(c_in[i], "C: iteration gave key %ld, which is absent (deleted)", i);
            CHECK(memcmp(it.val, c_v[i], VCS) == 0, "C: iteration value of %ld wrong", i);
        }
        if (it_need[i])
            it_need[i] = 0;
        else if (it_may[i])
            it_may[i] = 0;
        else
            FAIL("map %c: key %ld produced twice (or inserted during the loop and produced twice)", 'A' + which, i);
        produced++;
        if (!more())
            continue;
        uint8_t c = byte();
        switch (c % 8) {
        case 0:
        case 1:
            break; /* nothing */
        case 2:    /* delete the current entry */
            m_del(which, (unsigned)i);
            it_need[i] = it_may[i] = 0;
            break;
        case 3: { /* delete another (maybe not yet produced) */
            unsigned j = which == 0 ? a_pick() : byte() % n;
            m_del(which, j);
            it_need[j] = it_may[j] = 0;
            break;
        }
        case 4: /* insert or update */
        case 5: {
            unsigned j = which == 0 ? a_pick() : byte() % n;
            bool was = in[j];
            m_set(which, j, c);
            if (!was)
                it_may[j] = 1; /* a new entry: at most once */
            break;
        }
        case 6: /* a burst of inserts: growth during the loop */
            if (which == 0 && (c & 0x30) == 0x30) {
                unsigned start = a_pick(), cnt = byte() * 4u;
                for (unsigned j = 0; j < cnt; j++) {
                    unsigned k = (start + j) % KA;
                    bool was = a_in[k];
                    a_set(k, ++g_counter);
                    if (!was)
                        it_may[k] = 1;
                }
            } else if (c & 0x40) {
                broke = true;
            }
            break;
        case 7: /* rarely, clear */
            if ((c & 0xf0) == 0xf0) {
                clear_map(which);
                memset(it_need, 0, n);
                memset(it_may, 0, n);
            }
            break;
        }
        if (broke)
            break;
    }
    if (!broke) {
        for (unsigned i = 0; i < n; i++)
            CHECK(!it_need[i], "map %c: key %u present all through the loop was never produced (%zu produced)",
                  'A' + which, i, produced);
        CHECK(!gc_mapiternext(&it), "map %c: a finished iterator gave another entry", 'A' + which);
    }
    check_lens();
}

/* ---- the harness ---------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    g_in = data;
    g_inlen = size;
    g_pos = 0;
    g_opno = 0;
    memset(a_in, 0, sizeof a_in);
    memset(b_in, 0, sizeof b_in);
    memset(c_in, 0, sizeof c_in);
    for (size_t t = 0; t < a_ntouched; t++)
        a_touched[a_touch_list[t]] = false;
    a_ntouched = 0;
    a_len = b_len = c_len = 0;
    g_counter = 0;
    size_t hint = size ? (size_t)(data[0] % 4 == 0 ? data[0] * 8 : 0) : 0;
    g_a = gc_makemap(sizeof(uint64_t), sizeof(struct aval), hint, GC_MAP_KEYS_NOSCAN);
    g_b = gc_makemap(sizeof(const char *), sizeof(uint32_t), hint / 16, GC_MAP_STRING_KEYS | GC_MAP_VALUES_NOSCAN);
    g_c = gc_makemap(KCS, VCS, 0, GC_MAP_KEYS_NOSCAN | GC_MAP_VALUES_NOSCAN);
    CHECK(g_a && g_b && g_c, "gc_makemap failed");
    int collections = 0;
    while (more()) {
        g_opno++;
        uint8_t op = byte();
        switch (op % 16) {
        case 0:
        case 1:
        case 2:
            a_set(a_pick(), ++g_counter * 256 + op);
            break;
        case 3:
            a_del(a_pick());
            break;
        case 4:
            a_check(a_pick());
            break;
        case 5:
            b_set(byte() % KB, (uint32_t)(++g_counter * 256 + op));
            break;
        case 6:
            if (op & 0x10)
                b_del(byte() % KB);
            else
                b_check(byte() % KB);
            break;
        case 7:
            c_set(byte() % KC, op);
            break;
        case 8:
            if (op & 0x10)
                c_del(byte() % KC);
            else
                c_check(byte() % KC);
            break;
        case 9:
            if ((op & 0x30) == 0x30)
                clear_map((op >> 6) % 3);
            else
                check_lens();
            break;
        case 10:
        case 11:
            iterate((op >> 4) % 3);
            break;
        case 12: { /* bulk insert or delete in A */
            unsigned start = a_pick(), cnt = byte() * 4u + 1;
            for (unsigned j = 0; j < cnt; j++) {
                unsigned k = (start + j) % KA;
                if (op & 0x10)
                    a_del(k);
                else
                    a_set(k, ++g_counter);
            }
            check_lens();
            break;
        }
        case 13:
            check_all();
            break;
        case 14:
            if (byte() < 4 && collections++ == 0) {
                gc_collect();
                check_all();
            }
            break;
        case 15: /* lookups of a few keys, each map */
            a_check(a_pick());
            b_check(byte() % KB);
            c_check(byte() % KC);
            break;
        }
    }
    check_all();
    g_a = g_b = g_c = NULL;
    return 0;
}

#ifdef TC_FUZZ_DRIVER
/* xorshift64* */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

int main(int argc, char **argv)
{
    /* ctest runs this once per write-tracking backend, as tc_main does */
    const char *backend = getenv("TRICOLOR_TEST_GODEBUG");
    if (backend && *backend && !getenv("GODEBUG"))
        setenv("GODEBUG", backend, 1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "--") == 0) { /* replay files */
        for (int a = 2; a < argc; a++) {
            FILE *f = fopen(argv[a], "rb");
            if (!f) {
                perror(argv[a]);
                return 2;
            }
            static uint8_t buf[1 << 20];
            size_t n = fread(buf, 1, sizeof buf, f);
            fclose(f);
            LLVMFuzzerTestOneInput(buf, n);
            printf("ok %s (%zu bytes)\n", argv[a], n);
        }
        return 0;
    }
    long iters = argc >= 2 ? atol(argv[1]) : 20000;
    uint64_t s = argc >= 3 ? strtoull(argv[2], NULL, 0) : 0x5eed;
    s |= 1;
    static uint8_t buf[2048];
    for (long it = 0; it < iters; it++) {
        uint64_t r = rnd(&s);
        /* mostly short inputs, some long ones */
        size_t n = r % 16 == 0 ? (size_t)(rnd(&s) % sizeof buf) : (size_t)(rnd(&s) % 300);
        /* bias: some inputs favour one kind of operation, so that long runs of it happen */
        uint8_t favour = (uint8_t)rnd(&s);
        int bias = (int)(rnd(&s) % 4);
        for (size_t i = 0; i < n; i++) {
            uint64_t x = rnd(&s);
            buf[i] = bias == 0 && x % 3 == 0 ? (uint8_t)((favour & 0xf) | ((x >> 8) & 0xf0)) : (uint8_t)(x >> 24);
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_map: %ld inputs, all consistent with the model\n", iters);
    return 0;
}
#endif
