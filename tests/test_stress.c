/*
 * test_stress.c - many threads mutating checked structures while the collector
 * runs, for TRICOLOR_STRESS_SECONDS seconds (default 150) with
 * TRICOLOR_STRESS_THREADS workers (default 4).
 *
 * Each worker owns, and verifies completely on every pass:
 *   - a singly linked list rooted in a __thread variable (push, pop, remove in
 *     the middle, reverse);
 *   - a binary search tree rooted in a global, each node with a noscan
 *     gc_strdup'd payload (insert, delete);
 *   - an array of pointers rooted on its stack, half of them interior pointers
 *     (&leaf->check), grown and shrunk with gc_realloc, edited with memmove,
 *     copied wholesale into a new array with memcpy;
 *   - a heap buffer of pointers filled by read(2) from a pipe (the pointers were
 *     written into the pipe from another heap array, then dropped there);
 *   - a large noscan buffer with a checksum;
 *   - an array of gc_strdup'd strings rooted in a __thread variable;
 *   - the last list another worker sent it through a mailbox (objects allocated
 *     by one thread, kept alive by another);
 *   - a window of objects, each with a finalizer, a cleanup and a weak pointer:
 *     the weak pointer must give its object while the window holds it, a
 *     finalizer must find its object dropped and intact (and what it points
 *     to), and each runs once;
 *   - objects borrowed from a pool all workers share: an object handed to two
 *     workers at once, or corrupted, fails;
 *   - Go's make types (each can be left out for a debugging run with
 *     -DTC_STRESS_CHAN=0, TC_STRESS_SLICE=0 or TC_STRESS_MAP=0): a ring of
 *     channels between the workers (worker i sends lists to worker i+1 with
 *     try_send and selects with a 1 ms
 *     timeout, and takes what comes with try_recv and recv_timeout: the
 *     sequence numbers from its one sender must come consecutively, each
 *     list intact); two slices grown with gc_append, cut with gc_sub and
 *     gc_sub3, appended to themselves and copied, checked element by element
 *     against a plain C array; two maps (uint64_t keys with values holding
 *     leaves, and C-string keys) set, deleted, looked up, cleared, copied by
 *     iteration, and checked against a plain C array on every pass.
 * Each node carries a checksum of its key; counts and key sums are tracked, so
 * a freed-and-reused or overwritten object is detected.  Workers also make
 * garbage and now and then call gc_collect themselves.
 *
 * With channels, a pipeline of threads runs beside the workers: a producer
 * sends checked objects (with noscan payloads) over an unbuffered channel with
 * a select that also watches a done channel, two stages verify and wrap them
 * and pass them on over a buffered channel, and a sink verifies them, checks
 * each stage's order and that every object arrives exactly once; closing done
 * stops the producer, whose close of its channel stops the stages, whose
 * close stops the sink, which must have received all that was produced.
 *
 * Meanwhile a spawner thread starts and joins short-lived threads continuously
 * (joinable and detached; some only gc_register_thread), and the main thread
 * forks every 2 s: the child checks a structure built at start, allocates,
 * collects, writes a heap profile, checks, and must exit 0.  The heap profile
 * samples one allocation per 16 KiB, and the main thread writes a profile
 * every second (gzipped protobuf, then the text form, in turns) beside it all.
 *
 * Any corruption fails at once with a message; at the end a summary is printed,
 * statistics are checked exact, and everything dropped must be reclaimed.
 */
#include "common.h"

#include <stdbool.h>

#include <stdatomic.h>

#define MAXW 64

/* Go's make types, tested where their implementation is in the tree
 * (tests/CMakeLists.txt defines these). */
#ifndef TC_STRESS_CHAN
#define TC_STRESS_CHAN 1
#endif
#ifndef TC_STRESS_SLICE
#define TC_STRESS_SLICE 1
#endif
#ifndef TC_STRESS_MAP
#define TC_STRESS_MAP 1
#endif

static double g_seconds = 150;
static int g_nworkers = 4;
static atomic_int g_stop;

static uint64_t chk(uint64_t key) { return tc_mix(key ^ 0xabcdef12345ull); }

/* ------------------------------------------------------------------------ */
/* Node types                                                                */
/* ------------------------------------------------------------------------ */

struct lnode {
    struct lnode *next;
    uint64_t key, check;
};

struct tnode {
    struct tnode *l, *r;
    uint64_t key, check;
    char *payload; /* noscan: the key in hex */
};

struct leaf {
    uint64_t id, check;
};

struct msg {
    struct lnode *list;
    size_t n;
    uint64_t sum;
    int from;
};

/* ------------------------------------------------------------------------ */
/* Roots                                                                     */
/* ------------------------------------------------------------------------ */

static __thread struct lnode *t_list;  /* TLS root */
static __thread char **t_strs;         /* TLS root: array of strings */
static struct tnode *g_tree[MAXW];     /* global roots */
static struct tnode *g_static;         /* built at start, never changed */
static size_t g_static_n;
static uint64_t g_static_sum;

static pthread_mutex_t g_mail_lock[MAXW];
static struct msg *g_mail[MAXW]; /* global roots: one message each */

/* ------------------------------------------------------------------------ */
/* Counters                                                                  */
/* ------------------------------------------------------------------------ */

static atomic_long c_passes, c_ops, c_worker_gcs, c_pipe, c_msgs, c_short, c_forks, c_realloc, c_copies;
static atomic_long c_finalized, c_cleanups, c_pool_gets;
static atomic_int g_in_child;

/* ------------------------------------------------------------------------ */
/* Lists                                                                     */
/* ------------------------------------------------------------------------ */

static struct lnode *lnode_new(uint64_t key)
{
    struct lnode *x = gc_new(struct lnode);
    if (!x)
        TC_FAIL("gc_new(struct lnode) returned NULL");
    x->key = key;
    x->check = chk(key);
    return x;
}

static void list_verify(const struct lnode *head, size_t n, uint64_t sum, const char *who, const char *what)
{
    size_t count = 0;
    uint64_t s = 0;
    for (const struct lnode *x = head; x; x = x->next, count++) {
        if (count >= n)
            TC_FAIL("%s: %s: longer than its %zu nodes", who, what, n);
        if (x->check != chk(x->key))
            TC_FAIL("%s: %s: node %zu at %p corrupt: key %#llx check %#llx, want %#llx", who, what, count,
                    (void *)x, (unsigned long long)x->key, (unsigned long long)x->check,
                    (unsigned long long)chk(x->key));
        s += x->key;
    }
    if (count != n)
        TC_FAIL("%s: %s: %zu nodes, want %zu", who, what, count, n);
    if (s != sum)
        TC_FAIL("%s: %s: key sum %#llx, want %#llx", who, what, (unsigned long long)s, (unsigned long long)sum);
}

/* ------------------------------------------------------------------------ */
/* Trees                                                                     */
/* ------------------------------------------------------------------------ */

static struct tnode *tnode_new(uint64_t key)
{
    struct tnode *x = gc_new(struct tnode);
    if (!x)
        TC_FAIL("gc_new(struct tnode) returned NULL");
    char buf[32];
    snprintf(buf, sizeof buf, "%llx", (unsigned long long)key);
    x->key = key;
    x->check = chk(key);
    x->payload = gc_strdup(buf);
    return x;
}

static int tree_insert(struct tnode **root, uint64_t key)
{
    struct tnode **at = root;
    while (*at) {
        if (key == (*at)->key)
            return 0;
        at = key < (*at)->key ? &(*at)->l : &(*at)->r;
    }
    *at = tnode_new(key);
    return 1;
}

/* Delete the node reached by a random walk of up to `steps` steps. */
static int tree_delete_random(struct tnode **root, uint64_t *rng, uint64_t *key_out)
{
    struct tnode **at = root;
    if (!*at)
        return 0;
    int steps = (int)(tc_rand(rng) % 12);
    for (int i = 0; i < steps; i++) {
        struct tnode **next = (tc_rand(rng) & 1) ? &(*at)->l : &(*at)->r;
        if (!*next)
            break;
        at = next;
    }
    struct tnode *x = *at;
    *key_out = x->key;
    if (!x->l) {
        *at = x->r;
    } else if (!x->r) {
        *at = x->l;
    } else {
        struct tnode **m = &x->r;
        while ((*m)->l)
            m = &(*m)->l;
        struct tnode *y = *m;
        *m = y->r;
        y->l = x->l;
        y->r = x->r;
        *at = y;
    }
    return 1;
}

static void tree_walk(const struct tnode *t, size_t *count, uint64_t *sum, uint64_t *last, int depth,
                      const char *who, const char *what)
{
    while (t) {
        if (depth > 20000)
            TC_FAIL("%s: %s: deeper than 20000: a cycle?", who, what);
        tree_walk(t->l, count, sum, last, depth + 1, who, what);
        if (t->check != chk(t->key))
            TC_FAIL("%s: %s: node at %p corrupt: key %#llx check %#llx", who, what, (void *)t,
                    (unsigned long long)t->key, (unsigned long long)t->check);
        if (!t->payload || strtoull(t->payload, NULL, 16) != t->key)
            TC_FAIL("%s: %s: node at %p (key %#llx): payload %p \"%.20s\" corrupt", who, what, (void *)t,
                    (unsigned long long)t->key, (void *)t->payload, t->payload ? t->payload : "(null)");
        if (*count > 0 && t->key <= *last)
            TC_FAIL("%s: %s: out of order at %p", who, what, (void *)t);
        *last = t->key;
        ++*count;
        *sum += t->key;
        t = t->r;
        depth++;
    }
}

static void tree_verify(const struct tnode *root, size_t n, uint64_t sum, const char *who, const char *what)
{
    size_t count = 0;
    uint64_t s = 0, last = 0;
    tree_walk(root, &count, &s, &last, 0, who, what);
    if (count != n || s != sum)
        TC_FAIL("%s: %s: %zu nodes (key sum %#llx), want %zu (%#llx)", who, what, count, (unsigned long long)s, n,
                (unsigned long long)sum);
}

/* ------------------------------------------------------------------------ */
/* Leaves and pointer arrays                                                 */
/* ------------------------------------------------------------------------ */

static void *leaf_new(uint64_t id, int interior)
{
    struct leaf *l = gc_new(struct leaf);
    if (!l)
        TC_FAIL("gc_new(struct leaf) returned NULL");
    l->id = id;
    l->check = chk(id);
    return interior ? (void *)&l->check : (void *)l;
}

/* A second look after a failed lookup tells a wrong answer from gc_base or
 * gc_size (the object is there a moment later) from a freed object. */
static const char *second_look(void *p, struct leaf *expect)
{
    static __thread char buf[160];
    tc_sleep_ms(10);
    struct leaf *l = gc_base(p);
    size_t sz = gc_size(p);
    snprintf(buf, sizeof buf, "10 ms later gc_base = %p, gc_size = %zu%s", (void *)l, sz,
             l && l == expect && sz == 16 && l->check == chk(l->id) ? " and the leaf is intact: a wrong answer" : "");
    return buf;
}

static uint64_t leaf_check(void *p, const char *who, const char *what, size_t i)
{
    struct leaf *l = gc_base(p);
    if (!l) {
        struct leaf *guess = (struct leaf *)((uintptr_t)p & ~(uintptr_t)15);
        TC_FAIL("%s: %s[%zu] = %p: gc_base returned NULL (freed while reachable?); %s", who, what, i, p,
                second_look(p, guess));
    }
    if (p != (void *)l && p != (void *)&l->check)
        TC_FAIL("%s: %s[%zu] = %p: gc_base gives %p, offset %td; %s", who, what, i, p, (void *)l,
                (char *)p - (char *)l, second_look(p, l));
    size_t sz = gc_size(p);
    if (sz != 16)
        TC_FAIL("%s: %s[%zu] = %p: gc_size returned %zu, want 16; %s", who, what, i, p, sz, second_look(p, l));
    if (l->check != chk(l->id))
        TC_FAIL("%s: %s[%zu]: leaf at %p corrupt: id %#llx check %#llx", who, what, i, (void *)l,
                (unsigned long long)l->id, (unsigned long long)l->check);
    return l->id;
}

static void ptrs_verify(void **a, size_t n, uint64_t sum, const char *who, const char *what)
{
    if (n && gc_size(a) < n * sizeof(void *))
        TC_FAIL("%s: %s: array %p of %zu pointers has gc_size %zu", who, what, (void *)a, n, gc_size(a));
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += leaf_check(a[i], who, what, i);
    if (s != sum)
        TC_FAIL("%s: %s: id sum %#llx, want %#llx", who, what, (unsigned long long)s, (unsigned long long)sum);
}

/* ------------------------------------------------------------------------ */
/* Large noscan buffers                                                      */
/* ------------------------------------------------------------------------ */

static void big_fill(uint64_t *w, size_t nw, uint64_t seed)
{
    for (size_t i = 0; i < nw; i++)
        w[i] = tc_mix(seed + i);
}

static void big_verify(const uint64_t *w, size_t nw, uint64_t seed, const char *who)
{
    if (gc_base(w) != w)
        TC_FAIL("%s: the large buffer %p is no longer a heap object", who, (const void *)w);
    for (size_t i = 0; i < nw; i++)
        if (w[i] != tc_mix(seed + i))
            TC_FAIL("%s: the large buffer (%zu bytes at %p): word %zu changed", who, nw * 8, (const void *)w, i);
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

static void str_make(char *buf, size_t cap, int id, size_t i, uint64_t gen)
{
    snprintf(buf, cap, "w%d-s%zu-g%llu-%.*s", id, i, (unsigned long long)gen, (int)(i % 40),
             "----------------------------------------");
}

/* ------------------------------------------------------------------------ */
/* Finalizers, cleanups, weak pointers, a pool                               */
/* ------------------------------------------------------------------------ */

#define SPWIN 64

struct sobj {
    uint64_t key, check;
    atomic_int dropped, runs;
    char *payload; /* noscan: the key in hex, which the finalizer reads */
};

static void sobj_fin(void *obj, void *arg)
{
    struct sobj *o = obj;
    char buf[24];
    snprintf(buf, sizeof buf, "%llx", (unsigned long long)o->key);
    if (o->check != chk(o->key) || (uint64_t)(uintptr_t)arg != (o->key & 0xffffffff))
        TC_FAIL("finalizer: object %llx corrupt", (unsigned long long)o->key);
    if (!atomic_load(&o->dropped) && !atomic_load(&g_in_child))
        TC_FAIL("finalizer ran for object %llx, which a worker still holds", (unsigned long long)o->key);
    if (atomic_fetch_add(&o->runs, 1) != 0)
        TC_FAIL("finalizer ran twice for object %llx", (unsigned long long)o->key);
    if (!o->payload || strcmp(o->payload, buf) != 0)
        TC_FAIL("finalizer: object %llx's payload is \"%.30s\"", (unsigned long long)o->key,
                o->payload ? o->payload : "(null)");
    atomic_fetch_add(&c_finalized, 1);
}

static void sobj_cleanup(void *arg)
{
    uint64_t *k = arg; /* [key, chk(key)]: kept alive by the cleanup alone */
    if (k[1] != chk(k[0]))
        TC_FAIL("cleanup: its arg %llx was overwritten", (unsigned long long)k[0]);
    atomic_fetch_add(&c_cleanups, 1);
}

struct pitem {
    uint64_t key, check;
    atomic_int owner;
};

static gc_pool *g_pool;
static void *pitem_new(void)
{
    static atomic_ulong next = 1;
    struct pitem *p = gc_new(struct pitem);
    p->key = atomic_fetch_add(&next, 1);
    p->check = chk(p->key);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Go's make types: channels, slices, maps                                   */
/* ------------------------------------------------------------------------ */

#if TC_STRESS_CHAN
/* The ring: worker i receives on g_ring[i], from worker i-1 only. */
struct rmsg {
    struct lnode *list;
    size_t n;
    uint64_t sum, seq;
    int from;
};
typedef GC_CHAN(struct rmsg) rmsg_chan;
static rmsg_chan g_ring[MAXW]; /* global roots */
static atomic_long c_ring_sent, c_ring_recv;

struct sig { /* Go's struct{}: GNU C's empty struct, sizeof 0 */
};
typedef GC_CHAN(struct sig) sig_chan;
#endif

#if TC_STRESS_SLICE
typedef GC_SLICE(struct leaf *) leaf_slice;
typedef GC_SLICE(uint64_t) u64_slice;
static atomic_long c_slice_ops, c_slice_moves;
static uint64_t sv_of(uint64_t id) { return tc_mix(id ^ 0x51ce5ull); }
#endif

#if TC_STRESS_MAP
#define MAPK 1024 /* keys 0..MAPK-1 of each worker's model */
struct mval {
    struct leaf *l;
    uint64_t id;
    uint32_t k;
};
typedef GC_MAP(uint64_t, struct mval) leaf_map;
typedef GC_MAP_STR(uint64_t) str_map;
static atomic_long c_map_ops, c_map_copies;
#endif

/* ------------------------------------------------------------------------ */
/* Workers                                                                   */
/* ------------------------------------------------------------------------ */

struct wstate {
    int id;
    char who[32];
    uint64_t rng;
    uint64_t next_key;
    /* TLS list */
    size_t list_n;
    uint64_t list_sum;
    /* global tree */
    size_t tree_n;
    uint64_t tree_sum;
    /* stack-rooted pointer array */
    void **arr;
    size_t arr_n, arr_cap;
    uint64_t arr_sum;
    /* pipe-filled buffer */
    int pfd[2];
    void **pbuf;
    size_t pbuf_n;
    uint64_t pbuf_sum;
    /* large noscan */
    uint64_t *big;
    size_t big_nw;
    uint64_t big_seed;
    /* TLS strings */
    size_t strs_n;
    uint64_t strs_gen;
    /* received */
    struct msg *inbox;
    /* finalizers, weak pointers (collected arrays rooted here) */
    struct sobj **win;
    gc_weak **weak;
#if TC_STRESS_CHAN
    /* the ring: next sequence number to send, and to receive; the last
     * message received (its list is verified on every pass) */
    uint64_t ring_out, ring_in;
    struct rmsg ring_last;
#endif
#if TC_STRESS_SLICE
    /* two slices of the same length (rooted here, often by an interior
     * pointer), and their model: sl[i]->id == sl_model[i], sv[i] ==
     * sv_of(sl_model[i]) */
    leaf_slice sl;
    u64_slice sv;
    uint64_t *sl_model; /* malloc'd */
    size_t sl_model_cap;
#endif
#if TC_STRESS_MAP
    /* two maps with the same keys, and their model (malloc'd): key k is
     * present with leaf id m_val[k] if m_present[k] */
    leaf_map map;
    str_map smap;
    unsigned char *m_present;
    uint64_t *m_val;
    size_t m_len;
#endif
};

#if TC_STRESS_SLICE
static void slice_verify(struct wstate *s)
{
    size_t n = s->sl.len;
    if (s->sv.len != n || n > s->sl.cap || s->sv.len > s->sv.cap)
        TC_FAIL("%s: slices: len %zu cap %zu and len %zu cap %zu", s->who, n, s->sl.cap, s->sv.len, s->sv.cap);
    if (s->sl.cap) {
        char *base = gc_base(s->sl.ptr);
        if (!base || base + gc_size(s->sl.ptr) < (char *)(s->sl.ptr + s->sl.cap))
            TC_FAIL("%s: the slice's backing array (from %p, cap %zu) is freed or too small: base %p size %zu", s->who,
                    (void *)s->sl.ptr, s->sl.cap, (void *)base, gc_size(s->sl.ptr));
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t id = leaf_check(s->sl.ptr[i], s->who, "slice", i);
        if (id != s->sl_model[i])
            TC_FAIL("%s: slice[%zu] holds leaf %#llx, want %#llx", s->who, i, (unsigned long long)id,
                    (unsigned long long)s->sl_model[i]);
        if (s->sv.ptr[i] != sv_of(id))
            TC_FAIL("%s: uint64_t slice[%zu] is %#llx, want %#llx", s->who, i, (unsigned long long)s->sv.ptr[i],
                    (unsigned long long)sv_of(id));
    }
}
#endif

#if TC_STRESS_MAP
static uint64_t mkey(const struct wstate *s, uint32_t k) { return tc_mix((uint64_t)k ^ ((uint64_t)(s->id + 1) << 40)); }
static void mstr(char *buf, size_t cap, const struct wstate *s, uint32_t k)
{
    snprintf(buf, cap, "w%d-key-%u", s->id, k);
}

static void map_verify(struct wstate *s)
{
    if (!s->map.m)
        return;
    size_t len = gc_map_len(s->map), slen = gc_map_len(s->smap);
    if (len != s->m_len || slen != s->m_len)
        TC_FAIL("%s: map len %zu, string map len %zu, want %zu", s->who, len, slen, s->m_len);
    unsigned char seen[MAPK];
    memset(seen, 0, sizeof seen);
    size_t n = 0;
    gc_map_range(s->map, kp, vp)
    {
        uint32_t k = vp->k;
        if (k >= MAPK || *kp != mkey(s, k) || !s->m_present[k] || seen[k])
            TC_FAIL("%s: map entry %#llx -> k %u: %s", s->who, (unsigned long long)*kp, k,
                    k >= MAPK ? "no such k" : *kp != mkey(s, k) ? "the wrong key" : seen[k] ? "produced twice" : "deleted");
        seen[k] = 1;
        if (vp->id != s->m_val[k] || leaf_check(vp->l, s->who, "map value", k) != vp->id)
            TC_FAIL("%s: map[%u] holds id %#llx, want %#llx", s->who, k, (unsigned long long)vp->id,
                    (unsigned long long)s->m_val[k]);
        n++;
    }
    if (n != s->m_len)
        TC_FAIL("%s: iterating the map gave %zu entries, want %zu", s->who, n, s->m_len);
    memset(seen, 0, sizeof seen);
    n = 0;
    char prefix[24];
    int pl = snprintf(prefix, sizeof prefix, "w%d-key-", s->id);
    gc_map_range(s->smap, kp, vp)
    {
        const char *key = *kp;
        unsigned long k = strncmp(key, prefix, (size_t)pl) == 0 ? strtoul(key + pl, NULL, 10) : MAPK;
        if (k >= MAPK || !s->m_present[k] || seen[k] || *vp != s->m_val[k])
            TC_FAIL("%s: string map entry \"%.40s\" -> %#llx is wrong", s->who, key, (unsigned long long)*vp);
        seen[k] = 1;
        n++;
    }
    if (n != s->m_len)
        TC_FAIL("%s: iterating the string map gave %zu entries, want %zu", s->who, n, s->m_len);
}
#endif

static void verify_all(struct wstate *s)
{
    list_verify(t_list, s->list_n, s->list_sum, s->who, "TLS list");
    tree_verify(g_tree[s->id], s->tree_n, s->tree_sum, s->who, "global tree");
    ptrs_verify(s->arr, s->arr_n, s->arr_sum, s->who, "stack array");
    ptrs_verify(s->pbuf, s->pbuf_n, s->pbuf_sum, s->who, "pipe buffer");
    if (s->big)
        big_verify(s->big, s->big_nw, s->big_seed, s->who);
    char buf[96];
    for (size_t i = 0; i < s->strs_n; i++) {
        str_make(buf, sizeof buf, s->id, i, s->strs_gen);
        if (!t_strs[i] || strcmp(t_strs[i], buf) != 0)
            TC_FAIL("%s: TLS string %zu is \"%.60s\", want \"%s\"", s->who, i, t_strs[i] ? t_strs[i] : "(null)", buf);
    }
    if (s->inbox)
        list_verify(s->inbox->list, s->inbox->n, s->inbox->sum, s->who, "list received from another worker");
    for (int i = 0; i < SPWIN; i++) {
        struct sobj *o = s->win[i];
        if (!o)
            continue;
        if (gc_weak_get(s->weak[i]) != o)
            TC_FAIL("%s: weak pointer %d gives %p, not its held object %p", s->who, i, gc_weak_get(s->weak[i]),
                    (void *)o);
        if (o->check != chk(o->key) || atomic_load(&o->runs))
            TC_FAIL("%s: held object %llx corrupt or finalized", s->who, (unsigned long long)o->key);
    }
#if TC_STRESS_CHAN
    if (s->ring_last.list)
        list_verify(s->ring_last.list, s->ring_last.n, s->ring_last.sum, s->who, "list received through the ring");
#endif
#if TC_STRESS_SLICE
    slice_verify(s);
#endif
#if TC_STRESS_MAP
    map_verify(s);
#endif
}

static void op_special(struct wstate *s)
{
    int i = (int)(tc_rand(&s->rng) % SPWIN);
    struct sobj *old = s->win[i];
    if (old) {
        if (gc_weak_get(s->weak[i]) != old)
            TC_FAIL("%s: weak pointer %d lost its held object", s->who, i);
        atomic_store(&old->dropped, 1);
    }
    struct sobj *o = gc_new(struct sobj);
    o->key = s->next_key++;
    o->check = chk(o->key);
    char buf[24];
    snprintf(buf, sizeof buf, "%llx", (unsigned long long)o->key);
    o->payload = gc_strdup(buf);
    gc_set_finalizer(o, sobj_fin, (void *)(uintptr_t)(o->key & 0xffffffff));
    uint64_t *k = gc_alloc_noscan(2 * sizeof(uint64_t));
    k[0] = o->key;
    k[1] = chk(o->key);
    if (!gc_add_cleanup(o, sobj_cleanup, k))
        TC_FAIL("%s: gc_add_cleanup failed", s->who);
    gc_weak *w = gc_weak_make(o);
    if (!w || gc_weak_make(o) != w)
        TC_FAIL("%s: gc_weak_make gave no handle, or two", s->who);
    s->win[i] = o;
    s->weak[i] = w;
}

static void op_pool(struct wstate *s)
{
    struct pitem *held[8];
    int n = 1 + (int)(tc_rand(&s->rng) % 8);
    for (int i = 0; i < n; i++) {
        struct pitem *p = held[i] = gc_pool_get(g_pool);
        int zero = 0;
        if (!atomic_compare_exchange_strong(&p->owner, &zero, s->id + 1))
            TC_FAIL("%s: pool object %llu also held by worker %d", s->who, (unsigned long long)p->key, zero - 1);
        if (p->check != chk(p->key))
            TC_FAIL("%s: pool object %llu corrupt", s->who, (unsigned long long)p->key);
    }
    for (int i = n - 1; i >= 0; i--) {
        atomic_store(&held[i]->owner, 0);
        gc_pool_put(g_pool, held[i]);
    }
    atomic_fetch_add(&c_pool_gets, n);
}

static void op_list(struct wstate *s)
{
    switch (tc_rand(&s->rng) % 5) {
    case 0:
    case 1: { /* push */
        int k = 1 + (int)(tc_rand(&s->rng) % 50);
        for (int i = 0; i < k; i++) {
            struct lnode *x = lnode_new(s->next_key++);
            x->next = t_list;
            t_list = x;
            s->list_n++;
            s->list_sum += x->key;
        }
        break;
    }
    case 2: { /* pop */
        int k = 1 + (int)(tc_rand(&s->rng) % 50);
        for (int i = 0; i < k && t_list; i++) {
            s->list_sum -= t_list->key;
            s->list_n--;
            t_list = t_list->next;
        }
        break;
    }
    case 3: { /* remove in the middle */
        if (s->list_n < 2)
            break;
        size_t at = tc_rand(&s->rng) % (s->list_n - 1);
        struct lnode *p = t_list;
        for (size_t i = 0; i < at; i++)
            p = p->next;
        struct lnode *x = p->next;
        p->next = x->next;
        s->list_sum -= x->key;
        s->list_n--;
        break;
    }
    case 4: { /* reverse */
        struct lnode *prev = NULL, *x = t_list;
        while (x) {
            struct lnode *n = x->next;
            x->next = prev;
            prev = x;
            x = n;
        }
        t_list = prev;
        break;
    }
    }
    while (s->list_n > 6000) {
        s->list_sum -= t_list->key;
        s->list_n--;
        t_list = t_list->next;
    }
}

static void op_tree(struct wstate *s)
{
    if (tc_rand(&s->rng) % 3 != 0 && s->tree_n < 4000) {
        uint64_t key = tc_rand(&s->rng) >> 4;
        if (tree_insert(&g_tree[s->id], key)) {
            s->tree_n++;
            s->tree_sum += key;
        }
    } else {
        uint64_t key;
        if (tree_delete_random(&g_tree[s->id], &s->rng, &key)) {
            s->tree_n--;
            s->tree_sum -= key;
        }
    }
}

static void arr_resize(struct wstate *s, size_t cap)
{
    void **a = gc_realloc(s->arr, cap * sizeof(void *));
    if (!a)
        TC_FAIL("%s: gc_realloc(array, %zu) returned NULL", s->who, cap * sizeof(void *));
    s->arr = a;
    s->arr_cap = cap;
    atomic_fetch_add(&c_realloc, 1);
}

static void op_arr(struct wstate *s)
{
    switch (tc_rand(&s->rng) % 6) {
    case 0:
    case 1: { /* append */
        int k = 1 + (int)(tc_rand(&s->rng) % 40);
        for (int i = 0; i < k && s->arr_n < 4000; i++) {
            if (s->arr_n == s->arr_cap)
                arr_resize(s, s->arr_cap ? s->arr_cap * 2 : 8);
            uint64_t id = s->next_key++;
            s->arr[s->arr_n++] = leaf_new(id, (int)(id & 1));
            s->arr_sum += id;
        }
        break;
    }
    case 2: { /* remove with memmove */
        if (!s->arr_n)
            break;
        size_t at = tc_rand(&s->rng) % s->arr_n;
        s->arr_sum -= leaf_check(s->arr[at], s->who, "stack array", at);
        memmove(&s->arr[at], &s->arr[at + 1], (s->arr_n - at - 1) * sizeof(void *));
        s->arr[--s->arr_n] = NULL;
        break;
    }
    case 3: { /* copy into a new array with memcpy */
        size_t cap = s->arr_cap ? s->arr_cap : 8;
        void **a = gc_alloc(cap * sizeof(void *));
        if (!a)
            TC_FAIL("gc_alloc(array)");
        if (s->arr_n)
            memcpy(a, s->arr, s->arr_n * sizeof(void *));
        s->arr = a;
        s->arr_cap = cap;
        atomic_fetch_add(&c_copies, 1);
        break;
    }
    case 4: { /* gc_realloc to a random capacity that still holds them all, then rotate by memmove */
        arr_resize(s, s->arr_n + 1 + tc_rand(&s->rng) % (s->arr_n + 16));
        if (s->arr_n > 2) {
            void *first = s->arr[0];
            memmove(&s->arr[0], &s->arr[1], (s->arr_n - 1) * sizeof(void *));
            s->arr[s->arr_n - 1] = first;
        }
        break;
    }
    case 5: { /* drop half */
        while (s->arr_n > 0 && tc_rand(&s->rng) % 2) {
            s->arr_sum -= leaf_check(s->arr[s->arr_n - 1], s->who, "stack array", s->arr_n - 1);
            s->arr[--s->arr_n] = NULL;
        }
        break;
    }
    }
}

static void write_all(int fd, const void *buf, size_t n, const char *who)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            TC_FAIL("%s: write to the pipe: %s", who, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* Under the mprotect backend a read(2) into a protected heap page fails with
 * EFAULT while marking runs: the documented workaround is to write to each
 * page first, which unprotects it, and retry.  Anywhere else EFAULT fails. */
static void touch_pages(char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4096 - ((uintptr_t)(p + i) % 4096))
        ((volatile char *)p)[i] = ((volatile char *)p)[i];
}

static void read_all(int fd, void *buf, size_t n, const char *who)
{
    char *p = buf;
    const char *gd = getenv("GODEBUG");
    bool mprotect = gd && strstr(gd, "gcwritetrack=mprotect");
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EFAULT && mprotect) {
            touch_pages(p, n);
            continue;
        }
        if (r <= 0)
            TC_FAIL("%s: read(2) from the pipe into the heap buffer %p: %s", who, buf, r < 0 ? strerror(errno) : "EOF");
        p += r;
        n -= (size_t)r;
    }
}

static void op_pipe(struct wstate *s)
{
    size_t k = 1 + tc_rand(&s->rng) % 256;
    void **tmp = gc_alloc(k * sizeof(void *));
    void **buf = gc_alloc(k * sizeof(void *));
    if (!tmp || !buf)
        TC_FAIL("gc_alloc(pipe arrays)");
    uint64_t sum = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t id = s->next_key++;
        tmp[i] = leaf_new(id, (int)(id % 3 == 0));
        sum += id;
    }
    write_all(s->pfd[1], tmp, k * sizeof(void *), s->who);
    read_all(s->pfd[0], buf, k * sizeof(void *), s->who); /* read(2) straight into the heap */
    memset(tmp, 0, k * sizeof(void *)); /* now buf holds the only pointers */
    s->pbuf = buf;
    s->pbuf_n = k;
    s->pbuf_sum = sum;
    atomic_fetch_add(&c_pipe, 1);
}

static void op_big(struct wstate *s)
{
    size_t bytes = 33000 + tc_rand(&s->rng) % (256 * 1024);
    uint64_t *w = gc_alloc_noscan(bytes);
    if (!w)
        TC_FAIL("gc_alloc_noscan(%zu)", bytes);
    s->big_nw = bytes / 8;
    s->big_seed = tc_rand(&s->rng);
    big_fill(w, s->big_nw, s->big_seed);
    s->big = w;
}

static void op_strs(struct wstate *s)
{
    size_t n = 1 + tc_rand(&s->rng) % 300;
    char **a = gc_alloc(n * sizeof(char *));
    if (!a)
        TC_FAIL("gc_alloc(strings)");
    uint64_t gen = s->strs_gen + 1;
    char buf[96];
    for (size_t i = 0; i < n; i++) {
        str_make(buf, sizeof buf, s->id, i, gen);
        a[i] = gc_strdup(buf);
    }
    t_strs = a;
    s->strs_n = n;
    s->strs_gen = gen;
}

static void op_mail(struct wstate *s)
{
    /* receive */
    pthread_mutex_lock(&g_mail_lock[s->id]);
    struct msg *m = g_mail[s->id];
    g_mail[s->id] = NULL;
    pthread_mutex_unlock(&g_mail_lock[s->id]);
    if (m) {
        list_verify(m->list, m->n, m->sum, s->who, "list just received");
        s->inbox = m;
        atomic_fetch_add(&c_msgs, 1);
    }
    /* send */
    int to = (s->id + 1) % g_nworkers;
    struct msg *out = gc_new(struct msg);
    out->n = 100 + tc_rand(&s->rng) % 1000;
    out->from = s->id;
    for (size_t i = 0; i < out->n; i++) {
        struct lnode *x = lnode_new(tc_rand(&s->rng) >> 2);
        x->next = out->list;
        out->list = x;
        out->sum += x->key;
    }
    pthread_mutex_lock(&g_mail_lock[to]);
    if (!g_mail[to])
        g_mail[to] = out;
    pthread_mutex_unlock(&g_mail_lock[to]);
}

#if TC_STRESS_CHAN
static void ring_accept(struct wstate *s, const struct rmsg *m)
{
    int from = (s->id + g_nworkers - 1) % g_nworkers;
    if (m->from != from || m->seq != s->ring_in)
        TC_FAIL("%s: ring message %llu from worker %d, want %llu from worker %d: lost, repeated or reordered", s->who,
                (unsigned long long)m->seq, m->from, (unsigned long long)s->ring_in, from);
    list_verify(m->list, m->n, m->sum, s->who, "list just received through the ring");
    s->ring_last = *m;
    s->ring_in++;
    atomic_fetch_add(&c_ring_recv, 1);
}

/* Send a new list to the next worker without waiting more than 1 ms, then
 * take what the previous one sent. */
static void op_ring(struct wstate *s)
{
    int to = (s->id + 1) % g_nworkers;
    struct rmsg m = {NULL, 1 + tc_rand(&s->rng) % 60, 0, s->ring_out, s->id}, in;
    for (size_t i = 0; i < m.n; i++) {
        struct lnode *x = lnode_new(tc_rand(&s->rng) >> 2);
        x->next = m.list;
        m.list = x;
        m.sum += x->key;
    }
    bool sent = false;
    switch (tc_rand(&s->rng) % 3) {
    case 0:
        sent = gc_try_send(g_ring[to], m);
        break;
    case 1: {
        gc_select_case cs[1] = {GC_SEND_CASE(g_ring[to], &m)};
        sent = gc_selectgo(cs, 1, 1000000) == 0;
        break;
    }
    case 2: {
        gc_select_case cs[2] = {GC_SEND_CASE(g_ring[to], &m), GC_RECV_CASE(g_ring[s->id], &in)};
        int k = gc_selectgo(cs, 2, 1000000);
        sent = k == 0;
        if (k == 1) {
            if (!cs[1].ok)
                TC_FAIL("%s: a select received ok false from the ring, which is never closed", s->who);
            ring_accept(s, &in);
        } else if (k != 0 && k != -1) {
            TC_FAIL("%s: select returned %d", s->who, k);
        }
        break;
    }
    }
    if (sent) {
        s->ring_out++;
        atomic_fetch_add(&c_ring_sent, 1);
    }
    for (int i = 0; i < 4; i++) {
        bool ok = false;
        bool got = (tc_rand(&s->rng) & 1) ? gc_try_recv(g_ring[s->id], &in, &ok)
                                           : gc_recv_timeout(g_ring[s->id], &in, &ok, 200000);
        if (!got)
            break;
        if (!ok)
            TC_FAIL("%s: a receive from the ring gave ok false; it is never closed", s->who);
        ring_accept(s, &in);
    }
}
#else
static void op_ring(struct wstate *s) { (void)s; }
#endif

#if TC_STRESS_SLICE
static void model_reserve(struct wstate *s, size_t n)
{
    if (n <= s->sl_model_cap)
        return;
    s->sl_model_cap = 2 * n;
    s->sl_model = realloc(s->sl_model, s->sl_model_cap * sizeof(uint64_t));
    if (!s->sl_model)
        TC_FAIL("%s: realloc of the slice model", s->who);
}

static void op_slice(struct wstate *s)
{
    size_t n = s->sl.len;
    uint64_t r = tc_rand(&s->rng) % 8;
    switch (r) {
    case 0:
    case 1: { /* s = append(s, x), one at a time */
        size_t k = 1 + tc_rand(&s->rng) % 40;
        model_reserve(s, n + k);
        for (size_t i = 0; i < k; i++) {
            uint64_t id = s->next_key++;
            gc_append(s->sl, leaf_new(id, 0));
            gc_append(s->sv, sv_of(id));
            s->sl_model[n + i] = id;
        }
        break;
    }
    case 2: { /* s = append(s, a, b, c), then append(s, array...) */
        size_t k = 1 + tc_rand(&s->rng) % 16;
        uint64_t id0 = s->next_key;
        s->next_key += 3 + k;
        model_reserve(s, n + 3 + k);
        gc_append(s->sl, leaf_new(id0, 0), leaf_new(id0 + 1, 0), leaf_new(id0 + 2, 0));
        gc_append(s->sv, sv_of(id0), sv_of(id0 + 1), sv_of(id0 + 2));
        struct leaf *la[16];
        uint64_t va[16];
        for (size_t i = 0; i < k; i++) {
            la[i] = leaf_new(id0 + 3 + i, 0);
            va[i] = sv_of(id0 + 3 + i);
        }
        gc_append_array(s->sl, la, k);
        gc_append_array(s->sv, va, k);
        for (size_t i = 0; i < 3 + k; i++)
            s->sl_model[n + i] = id0 + i;
        break;
    }
    case 3: { /* s = s[k:]: the array is then held through an interior pointer */
        size_t k = tc_rand(&s->rng) % (n + 1);
        s->sl = gc_sub(s->sl, k, n);
        s->sv = gc_sub(s->sv, k, n);
        if (n > k)
            memmove(s->sl_model, s->sl_model + k, (n - k) * sizeof(uint64_t));
        break;
    }
    case 4: { /* s = s[:n-k] */
        size_t k = tc_rand(&s->rng) % (n + 1);
        s->sl = gc_sub(s->sl, 0, n - k);
        s->sv = gc_sub(s->sv, 0, n - k);
        break;
    }
    case 5: /* s = append(s, s...) */
        if (n > 1500)
            break;
        model_reserve(s, 2 * n);
        gc_append_slice(s->sl, s->sl);
        gc_append_slice(s->sv, s->sv);
        if (n)
            memcpy(s->sl_model + n, s->sl_model, n * sizeof(uint64_t));
        break;
    case 6: { /* copy into fresh slices */
        leaf_slice t = gc_make_slice(leaf_slice, n, n + tc_rand(&s->rng) % 8);
        u64_slice u = gc_make_slice(u64_slice, n, n);
        if ((n && (!t.ptr || !u.ptr)) || gc_copy(t, s->sl) != n || gc_copy(u, s->sv) != n)
            TC_FAIL("%s: gc_make_slice/gc_copy of %zu elements", s->who, n);
        s->sl = t;
        s->sv = u;
        break;
    }
    case 7: { /* t = s[:keep:keep]; append(t, x) must move t and leave s's array alone; s[i] = y */
        size_t keep = tc_rand(&s->rng) % (n + 1);
        uint64_t id = s->next_key++;
        leaf_slice t = gc_sub3(s->sl, 0, keep, keep);
        u64_slice u = gc_sub3(s->sv, 0, keep, keep);
        gc_append(t, leaf_new(id, 0));
        gc_append(u, sv_of(id));
        if (t.ptr == s->sl.ptr || u.ptr == s->sv.ptr)
            TC_FAIL("%s: append to a full slice expression s[:%zu:%zu] did not move it", s->who, keep, keep);
        if (keep < n && (leaf_check(s->sl.ptr[keep], s->who, "slice", keep) != s->sl_model[keep] ||
                         s->sv.ptr[keep] != sv_of(s->sl_model[keep])))
            TC_FAIL("%s: append to s[:%zu:%zu] overwrote s[%zu]", s->who, keep, keep, keep);
        s->sl = t;
        s->sv = u;
        model_reserve(s, keep + 1);
        s->sl_model[keep] = id;
        n = keep + 1;
        size_t i = tc_rand(&s->rng) % n;
        uint64_t id2 = s->next_key++;
        gc_at(s->sl, i) = leaf_new(id2, 0);
        gc_at(s->sv, i) = sv_of(id2);
        s->sl_model[i] = id2;
        atomic_fetch_add(&c_slice_moves, 1);
        break;
    }
    }
    if (s->sl.len > 3000) {
        s->sl = gc_sub(s->sl, 0, 2000);
        s->sv = gc_sub(s->sv, 0, 2000);
    }
    if (s->sl.len != s->sv.len)
        TC_FAIL("%s: slice lengths %zu and %zu after operation %llu", s->who, s->sl.len, s->sv.len,
                (unsigned long long)r);
    atomic_fetch_add(&c_slice_ops, 1);
}
#else
static void op_slice(struct wstate *s) { (void)s; }
#endif

#if TC_STRESS_MAP
static void op_map(struct wstate *s)
{
    if (!s->map.m) {
        s->map = gc_make_map(leaf_map, 0);
        s->smap = gc_make_map(str_map, 16);
        if (!s->map.m || !s->smap.m)
            TC_FAIL("%s: gc_make_map returned NULL", s->who);
        if (!s->m_present) {
            s->m_present = calloc(MAPK, 1);
            s->m_val = calloc(MAPK, sizeof(uint64_t));
        }
    }
    int n = 1 + (int)(tc_rand(&s->rng) % 64);
    char kb[48];
    for (int i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(tc_rand(&s->rng) % MAPK);
        mstr(kb, sizeof kb, s, k);
        switch (tc_rand(&s->rng) % 8) {
        case 0 ... 3: { /* m[k] = v */
            uint64_t id = s->next_key++;
            struct leaf *l = leaf_new(id, 0);
            gc_map_set(s->map, mkey(s, k), ((struct mval){l, id, k}));
            gc_map_set(s->smap, kb, id);
            if (!s->m_present[k]) {
                s->m_present[k] = 1;
                s->m_len++;
            }
            s->m_val[k] = id;
            break;
        }
        case 4 ... 5: { /* delete(m, k) */
            bool was = gc_map_delete(s->map, mkey(s, k)), swas = gc_map_delete(s->smap, kb);
            if (was != (bool)s->m_present[k] || swas != was)
                TC_FAIL("%s: delete of key %u: %d and %d, want %d", s->who, k, was, swas, s->m_present[k]);
            if (was) {
                s->m_present[k] = 0;
                s->m_len--;
            }
            break;
        }
        default: { /* v, ok := m[k] */
            struct mval v;
            uint64_t sv = 1;
            bool found = gc_map_lookup(s->map, mkey(s, k), &v), sfound = gc_map_lookup(s->smap, kb, &sv);
            if (found != (bool)s->m_present[k] || sfound != found)
                TC_FAIL("%s: lookup of key %u: found %d and %d, want %d", s->who, k, found, sfound, s->m_present[k]);
            if (found && (v.id != s->m_val[k] || v.k != k || sv != v.id ||
                          leaf_check(v.l, s->who, "map value looked up", k) != v.id))
                TC_FAIL("%s: map[%u] gives id %#llx (string map %#llx), want %#llx", s->who, k,
                        (unsigned long long)v.id, (unsigned long long)sv, (unsigned long long)s->m_val[k]);
            if (!found && (v.l || v.id || sv))
                TC_FAIL("%s: a lookup of absent key %u did not zero the value", s->who, k);
            break;
        }
        }
    }
    if (gc_map_len(s->map) != s->m_len)
        TC_FAIL("%s: map len %zu, want %zu", s->who, gc_map_len(s->map), s->m_len);
    uint64_t r = tc_rand(&s->rng) % 64;
    if (r == 0) { /* clear(m) */
        gc_map_clear(s->map);
        gc_map_clear(s->smap);
        memset(s->m_present, 0, MAPK);
        s->m_len = 0;
    } else if (r == 1) { /* a copy made by iteration replaces the map */
        leaf_map m2 = gc_make_map(leaf_map, s->m_len);
        gc_map_range(s->map, kp, vp) gc_map_set(m2, *kp, *vp);
        s->map = m2;
        atomic_fetch_add(&c_map_copies, 1);
    }
    atomic_fetch_add(&c_map_ops, n);
}
#else
static void op_map(struct wstate *s) { (void)s; }
#endif

static void garbage(struct wstate *s, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len = 8 + tc_rand(&s->rng) % 1500;
        char *g = (i & 1) ? gc_alloc(len) : gc_alloc_noscan(len);
        if (!g)
            TC_FAIL("gc_alloc(%zu) for garbage", len);
        g[len - 1] = 1;
    }
}

static void *worker(void *arg)
{
    /* Registered before it holds any collected pointer: its first operation may
     * take a message from a global before it allocates (tricolor.h). */
    if (gc_register_thread() != 0)
        TC_FAIL("gc_register_thread failed");
    struct wstate st;
    memset(&st, 0, sizeof st);
    struct wstate *s = &st;
    s->id = (int)(intptr_t)arg;
    snprintf(s->who, sizeof s->who, "worker %d", s->id);
    s->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(s->id + 1) ^ (uint64_t)time(NULL);
    s->next_key = (uint64_t)s->id << 48;
    if (pipe(s->pfd) != 0)
        TC_FAIL("pipe: %s", strerror(errno));
    s->win = gc_new_array(struct sobj *, SPWIN);
    s->weak = gc_new_array(gc_weak *, SPWIN);
    long passes = 0, ops = 0;
    while (!atomic_load(&g_stop)) {
        int nops = 20 + (int)(tc_rand(&s->rng) % 100);
        for (int i = 0; i < nops; i++) {
            switch (tc_rand(&s->rng) % 21) {
            case 18:
                op_ring(s);
                break;
            case 19:
                op_slice(s);
                break;
            case 20:
                op_map(s);
                break;
            case 16:
                op_special(s);
                break;
            case 17:
                op_pool(s);
                break;
            case 0 ... 4:
                op_list(s);
                break;
            case 5 ... 8:
                op_tree(s);
                break;
            case 9 ... 11:
                op_arr(s);
                break;
            case 12:
                op_pipe(s);
                break;
            case 13:
                op_big(s);
                break;
            case 14:
                op_strs(s);
                break;
            case 15:
                op_mail(s);
                break;
            }
        }
        ops += nops;
        garbage(s, 100);
        if (tc_rand(&s->rng) % 64 == 0) {
            gc_collect();
            atomic_fetch_add(&c_worker_gcs, 1);
        }
        verify_all(s);
        if (passes % 64 == 0)
            tree_verify(g_static, g_static_n, g_static_sum, s->who, "the shared static tree");
        passes++;
    }
    verify_all(s);
    for (int i = 0; i < SPWIN; i++) /* the window goes with this thread */
        if (s->win[i])
            atomic_store(&s->win[i]->dropped, 1);
    /* drop everything rooted outside this stack */
    t_list = NULL;
    t_strs = NULL;
    g_tree[s->id] = NULL;
    close(s->pfd[0]);
    close(s->pfd[1]);
#if TC_STRESS_SLICE
    free(s->sl_model);
#endif
#if TC_STRESS_MAP
    free(s->m_present);
    free(s->m_val);
#endif
    atomic_fetch_add(&c_passes, passes);
    atomic_fetch_add(&c_ops, ops);
    return NULL;
}

#if TC_STRESS_CHAN
/* ------------------------------------------------------------------------ */
/* A pipeline over channels                                                  */
/* ------------------------------------------------------------------------ */

struct pl_obj {
    uint64_t seq, check;
    uint64_t *payload; /* noscan: nw words pl_word(seq, i) */
    size_t nw;
};
struct pl_wrap {
    struct pl_obj *o;
    uint64_t seq, check;
    int stage;
};
typedef GC_CHAN(struct pl_obj *) plobj_chan;
typedef GC_CHAN(struct pl_wrap *) plwrap_chan;

static plobj_chan g_pl_c1;  /* producer -> stages, unbuffered */
static plwrap_chan g_pl_c2; /* stages -> sink, buffered */
static sig_chan g_pl_done;  /* closed to stop the producer */
static atomic_int g_pl_stages;
static uint64_t g_pl_produced, g_pl_received, g_pl_timeouts;
static unsigned char *g_pl_seen; /* malloc'd by the sink: g_pl_seen[seq] */
static size_t g_pl_seen_cap;

static uint64_t pl_word(uint64_t seq, size_t i) { return tc_mix(seq * 1000003u + i); }
static size_t pl_nw(uint64_t seq) { return 1 + (size_t)(seq % 200); }
static uint64_t pl_wcheck(uint64_t seq) { return chk(seq ^ 0x7777); }

static struct pl_obj *pl_obj_new(uint64_t seq)
{
    struct pl_obj *o = gc_new(struct pl_obj);
    if (!o)
        TC_FAIL("pipeline: gc_new returned NULL");
    o->seq = seq;
    o->check = chk(seq);
    o->nw = pl_nw(seq);
    o->payload = gc_alloc_noscan(o->nw * sizeof(uint64_t));
    if (!o->payload)
        TC_FAIL("pipeline: gc_alloc_noscan returned NULL");
    for (size_t i = 0; i < o->nw; i++)
        o->payload[i] = pl_word(seq, i);
    return o;
}

static void pl_obj_verify(const struct pl_obj *o, const char *who)
{
    if (!o || o->check != chk(o->seq) || o->nw != pl_nw(o->seq) || !o->payload)
        TC_FAIL("%s: pipeline object %p corrupt", who, (const void *)o);
    if (gc_base(o->payload) != o->payload)
        TC_FAIL("%s: pipeline object %llu's payload %p is no longer a heap object", who, (unsigned long long)o->seq,
                (void *)o->payload);
    for (size_t i = 0; i < o->nw; i++)
        if (o->payload[i] != pl_word(o->seq, i))
            TC_FAIL("%s: pipeline object %llu's payload word %zu changed", who, (unsigned long long)o->seq, i);
}

static void *pl_producer(void *arg)
{
    (void)arg;
    uint64_t seq = 0;
    struct sig dummy;
    for (;;) {
        struct pl_obj *o = pl_obj_new(seq);
        gc_select_case cs[2] = {GC_SEND_CASE(g_pl_c1, &o), GC_RECV_CASE(g_pl_done, &dummy)};
        int k = gc_selectgo(cs, 2, -1);
        if (k == 1) {
            if (cs[1].ok)
                TC_FAIL("pipeline producer: done gave a value");
            break;
        }
        if (k != 0)
            TC_FAIL("pipeline producer: a blocking select returned %d", k);
        seq++;
        /* a pause, which ends at once when done closes */
        if (seq % 16 == 0 && gc_recv_timeout(g_pl_done, &dummy, NULL, 1000000))
            break;
    }
    g_pl_produced = seq;
    gc_close(g_pl_c1);
    return NULL;
}

static void *pl_stage(void *arg)
{
    int id = (int)(intptr_t)arg;
    char who[32];
    snprintf(who, sizeof who, "pipeline stage %d", id);
    for (;;) {
        struct pl_obj *o = (void *)1;
        if (!gc_recv_ok(g_pl_c1, &o)) {
            if (o)
                TC_FAIL("%s: a closed channel's value is %p, not NULL", who, (void *)o);
            break;
        }
        pl_obj_verify(o, who);
        struct pl_wrap *w = gc_new(struct pl_wrap);
        w->o = o;
        w->seq = o->seq;
        w->check = pl_wcheck(o->seq);
        w->stage = id;
        gc_send(g_pl_c2, w);
    }
    if (atomic_fetch_sub(&g_pl_stages, 1) == 1)
        gc_close(g_pl_c2);
    return NULL;
}

static void *pl_sink(void *arg)
{
    (void)arg;
    int64_t last[2] = {-1, -1};
    struct pl_wrap *recent[16] = {0}; /* held a while, verified again */
    uint64_t n = 0;
    for (;;) {
        struct pl_wrap *w = NULL;
        bool ok = false;
        if (!gc_recv_timeout(g_pl_c2, &w, &ok, 50 * 1000000LL)) {
            g_pl_timeouts++;
            continue;
        }
        if (!ok)
            break;
        if (!w || w->stage < 0 || w->stage > 1 || w->check != pl_wcheck(w->seq) || !w->o || w->o->seq != w->seq)
            TC_FAIL("pipeline sink: wrapper %p corrupt", (void *)w);
        pl_obj_verify(w->o, "pipeline sink");
        if ((int64_t)w->seq <= last[w->stage])
            TC_FAIL("pipeline sink: stage %d passed %llu after %lld: out of order", w->stage,
                    (unsigned long long)w->seq, (long long)last[w->stage]);
        last[w->stage] = (int64_t)w->seq;
        if (w->seq >= g_pl_seen_cap) {
            size_t cap = 2 * (size_t)w->seq + 4096;
            g_pl_seen = realloc(g_pl_seen, cap);
            if (!g_pl_seen)
                TC_FAIL("pipeline sink: realloc");
            memset(g_pl_seen + g_pl_seen_cap, 0, cap - g_pl_seen_cap);
            g_pl_seen_cap = cap;
        }
        if (g_pl_seen[w->seq]++)
            TC_FAIL("pipeline sink: object %llu arrived twice", (unsigned long long)w->seq);
        recent[n % 16] = w;
        if (n % 64 == 0)
            for (int i = 0; i < 16; i++)
                if (recent[i])
                    pl_obj_verify(recent[i]->o, "pipeline sink (an object received earlier)");
        n++;
    }
    g_pl_received = n;
    return NULL;
}

static void pl_start(pthread_t t[4])
{
    g_pl_c1 = gc_make_chan(plobj_chan, 0);
    g_pl_c2 = gc_make_chan(plwrap_chan, 32);
    g_pl_done = gc_make_chan(sig_chan, 0);
    if (!g_pl_c1.c || !g_pl_c2.c || !g_pl_done.c)
        TC_FAIL("gc_make_chan returned NULL");
    atomic_store(&g_pl_stages, 2);
    t[0] = tc_thread(pl_producer, NULL);
    t[1] = tc_thread(pl_stage, (void *)(intptr_t)0);
    t[2] = tc_thread(pl_stage, (void *)(intptr_t)1);
    t[3] = tc_thread(pl_sink, NULL);
}

static void pl_stop(pthread_t t[4])
{
    gc_close(g_pl_done);
    for (int i = 0; i < 4; i++)
        tc_join(t[i]);
    printf("     pipeline: %llu objects produced, %llu received (%llu receive timeouts)\n",
           (unsigned long long)g_pl_produced, (unsigned long long)g_pl_received, (unsigned long long)g_pl_timeouts);
    TC_CHECK(g_pl_received == g_pl_produced, "the pipeline's sink received %llu objects, %llu were produced",
             (unsigned long long)g_pl_received, (unsigned long long)g_pl_produced);
    for (uint64_t i = 0; i < g_pl_produced; i++)
        TC_CHECK(g_pl_seen[i], "the pipeline's object %llu never arrived", (unsigned long long)i);
    TC_CHECK(g_seconds < 4 || g_pl_produced > 0, "the pipeline produced nothing");
    free(g_pl_seen);
    g_pl_c1.c = NULL;
    g_pl_c2.c = NULL;
    g_pl_done.c = NULL;
}
#endif

/* ------------------------------------------------------------------------ */
/* Short-lived threads                                                       */
/* ------------------------------------------------------------------------ */

static __thread struct tnode *t_short_tree;
static atomic_long g_detached;

static void *short_thread(void *arg)
{
    intptr_t n = (intptr_t)arg;
    if (n % 5 == 4) { /* register only */
        if (gc_register_thread() != 0)
            TC_FAIL("gc_register_thread failed in a short-lived thread");
        atomic_fetch_add(&c_short, 1);
        return NULL;
    }
    uint64_t rng = (uint64_t)n * 7919 + 3;
    size_t count = 0;
    uint64_t sum = 0;
    for (int i = 0; i < 300; i++) {
        uint64_t key = tc_rand(&rng) >> 8;
        if (tree_insert(&t_short_tree, key)) {
            count++;
            sum += key;
        }
    }
    if (n % 10 == 0)
        gc_collect();
    tree_verify(t_short_tree, count, sum, "short-lived thread", "TLS tree");
    t_short_tree = NULL;
    atomic_fetch_add(&c_short, 1);
    return NULL;
}

static void *short_detached(void *arg)
{
    short_thread(arg);
    atomic_fetch_sub(&g_detached, 1);
    return NULL;
}

static void *spawner(void *arg)
{
    (void)arg;
    pthread_attr_t det;
    pthread_attr_init(&det);
    pthread_attr_setdetachstate(&det, PTHREAD_CREATE_DETACHED);
    intptr_t n = 0;
    while (!atomic_load(&g_stop)) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            t[i] = tc_thread(short_thread, (void *)n++);
        if (atomic_load(&g_detached) < 8) {
            pthread_t d;
            atomic_fetch_add(&g_detached, 1);
            if (pthread_create(&d, &det, short_detached, (void *)n++) != 0)
                atomic_fetch_sub(&g_detached, 1);
        }
        for (int i = 0; i < 4; i++)
            tc_join(t[i]);
    }
    while (atomic_load(&g_detached) > 0)
        tc_sleep_ms(1);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Fork                                                                      */
/* ------------------------------------------------------------------------ */

static gc_memstats ms;

static void child(void)
{
    alarm(60);
    tree_verify(g_static, g_static_n, g_static_sum, "fork child", "the static tree");
    uint64_t rng = (uint64_t)getpid();
    struct lnode *volatile head = NULL;
    uint64_t sum = 0;
    for (int i = 0; i < 50000; i++) {
        struct lnode *x = lnode_new(tc_rand(&rng) >> 1);
        x->next = head;
        head = x;
        sum += x->key;
    }
    gc_collect();
    for (int i = 0; i < 20000; i++) {
        char *g = gc_alloc(64);
        g[0] = 1;
    }
    gc_collect();
    int null = open("/dev/null", O_WRONLY);
    if (gc_write_heap_profile(null) != 0)
        TC_FAIL("fork child: gc_write_heap_profile: %s", strerror(errno));
    close(null);
    list_verify(head, 50000, sum, "fork child", "its own list");
    tree_verify(g_static, g_static_n, g_static_sum, "fork child", "the static tree after collections");
    gc_read_memstats(&ms);
    if (ms.mallocs - ms.frees != ms.heap_objects)
        TC_FAIL("fork child: mallocs - frees != heap_objects");
    exit(0);
}

static void do_fork(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        TC_FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        g_in_child = 1; /* the workers are not in the child: what they held is garbage there */
        child();
    }
    int status = tc_wait(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        TC_FAIL("a forked child %s", tc_status_str(status));
    atomic_fetch_add(&c_forks, 1);
}

/* A heap profile written beside the workers: it must succeed and be gzip
 * (or the legacy text form, every other time). */
static long c_profiles;

static void write_profile(void)
{
    char path[] = "/tmp/tricolor-stress-profile.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        TC_FAIL("mkstemp: %s", strerror(errno));
    unlink(path);
    bool text = c_profiles % 2;
    if ((text ? gc_write_profile("heap", fd, 1) : gc_write_heap_profile(fd)) != 0)
        TC_FAIL("writing a heap profile: %s", strerror(errno));
    unsigned char head[16] = {0};
    if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head)
        TC_FAIL("the heap profile is shorter than 16 bytes");
    if (text ? memcmp(head, "heap profile: ", 14) != 0 : head[0] != 0x1f || head[1] != 0x8b)
        TC_FAIL("the heap profile starts with %02x %02x", head[0], head[1]);
    close(fd);
    c_profiles++;
}

/* ------------------------------------------------------------------------ */

TC_NOINLINE static void build_static(void)
{
    uint64_t rng = 42;
    for (int i = 0; i < 20000; i++) {
        uint64_t key = tc_rand(&rng) >> 3;
        if (tree_insert(&g_static, key)) {
            g_static_n++;
            g_static_sum += key;
        }
    }
}

static void test_stress(void)
{
    const char *e = getenv("TRICOLOR_STRESS_SECONDS");
    if (e)
        g_seconds = atof(e);
    e = getenv("TRICOLOR_STRESS_THREADS");
    if (e)
        g_nworkers = atoi(e);
    TC_CHECK(g_nworkers >= 1 && g_nworkers <= MAXW, "TRICOLOR_STRESS_THREADS=%d", g_nworkers);
    for (int i = 0; i < MAXW; i++)
        pthread_mutex_init(&g_mail_lock[i], NULL);
    printf("     stress: %d workers + spawner for %.0f s on %ld CPUs; channels %s, slices %s, maps %s\n", g_nworkers,
           g_seconds, sysconf(_SC_NPROCESSORS_ONLN), TC_STRESS_CHAN ? "on" : "off",
           TC_STRESS_SLICE ? "on" : "off", TC_STRESS_MAP ? "on" : "off");

    gc_set_profile_rate(16 << 10);
    build_static();
    g_pool = gc_pool_new(pitem_new);
    gc_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc, forced0 = ms.num_forced_gc;

    pthread_t w[MAXW], sp;
#if TC_STRESS_CHAN
    for (int i = 0; i < g_nworkers; i++) {
        g_ring[i] = gc_make_chan(rmsg_chan, 8);
        TC_CHECK(g_ring[i].c, "gc_make_chan(rmsg_chan, 8) returned NULL");
    }
    pthread_t pl[4];
    pl_start(pl);
#endif
    for (int i = 0; i < g_nworkers; i++)
        w[i] = tc_thread(worker, (void *)(intptr_t)i);
    sp = tc_thread(spawner, NULL);

    double t0 = tc_now(), next_fork = t0 + 2, next_report = t0 + 10, next_profile = t0 + 1;
    uint64_t peak_heap = 0;
    while (tc_now() - t0 < g_seconds) {
        tc_sleep_ms(100);
        double now = tc_now();
        if (now >= next_fork) {
            do_fork();
            next_fork = now + 2;
        }
        if (now >= next_profile) {
            write_profile();
            next_profile = now + 1;
        }
        if (now >= next_report) {
            gc_read_memstats(&ms);
            printf("     %4.0fs: %u collections, heap_alloc %.1f MiB, %ld short threads, %ld forks\n", now - t0,
                   ms.num_gc - gc0, ms.heap_alloc / 1048576.0, (long)c_short, (long)c_forks);
            next_report = now + 10;
        }
        gc_read_memstats(&ms);
        if (ms.heap_alloc > peak_heap)
            peak_heap = ms.heap_alloc;
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < g_nworkers; i++)
        tc_join(w[i]);
    tc_join(sp);
#if TC_STRESS_CHAN
    pl_stop(pl);
#endif
    double elapsed = tc_now() - t0;

    gc_collect();
    gc_read_memstats(&ms);
    printf("     stress summary: %.1f s, %d workers: %ld passes, %ld operations, %ld worker gc_collects, "
           "%ld pipe transfers, %ld reallocs, %ld array copies, %ld messages, %ld short-lived threads, %ld forks; "
           "%u collections (%u forced), peak heap_alloc %.1f MiB, pause total %.1f ms\n",
           elapsed, g_nworkers, (long)c_passes, (long)c_ops, (long)c_worker_gcs, (long)c_pipe, (long)c_realloc,
           (long)c_copies, (long)c_msgs, (long)c_short, (long)c_forks, ms.num_gc - gc0,
           ms.num_forced_gc - forced0, peak_heap / 1048576.0, ms.pause_total_ns / 1e6);
    printf("     %ld finalizers and %ld cleanups ran, %ld pool gets, %ld heap profiles written\n", (long)c_finalized,
           (long)c_cleanups, (long)c_pool_gets, c_profiles);
#if TC_STRESS_CHAN
    long ring_left = 0;
    for (int i = 0; i < g_nworkers; i++)
        ring_left += (long)gc_chan_len(g_ring[i]);
    printf("     ring: %ld lists sent, %ld received, %ld left in the channels\n", (long)c_ring_sent, (long)c_ring_recv,
           ring_left);
    TC_CHECK(c_ring_sent == c_ring_recv + ring_left, "ring: %ld sent, %ld received and %ld buffered", (long)c_ring_sent,
             (long)c_ring_recv, ring_left);
    TC_CHECK(g_seconds < 4 || c_ring_recv > 0, "no list went through the ring");
#endif
#if TC_STRESS_SLICE
    printf("     slices: %ld operations, %ld appends to full slice expressions\n", (long)c_slice_ops,
           (long)c_slice_moves);
    TC_CHECK(g_seconds < 4 || c_slice_ops > 0, "no slice operation ran");
#endif
#if TC_STRESS_MAP
    printf("     maps: %ld operations, %ld copies by iteration\n", (long)c_map_ops, (long)c_map_copies);
    TC_CHECK(g_seconds < 4 || c_map_ops > 0, "no map operation ran");
#endif
    TC_CHECK(g_seconds < 4 || c_profiles >= 2, "only %ld heap profiles were written", c_profiles);
    TC_CHECK(g_seconds < 4 || c_finalized > 0, "no finalizer ran");
    TC_CHECK(g_seconds < 4 || c_cleanups > 0, "no cleanup ran");
    TC_CHECK(ms.mallocs - ms.frees == ms.heap_objects, "after the run: mallocs %llu - frees %llu != heap_objects %llu",
             (unsigned long long)ms.mallocs, (unsigned long long)ms.frees, (unsigned long long)ms.heap_objects);
    TC_CHECK(c_passes >= g_nworkers, "only %ld passes", (long)c_passes);
    TC_CHECK(ms.num_gc - gc0 >= 10, "only %u collections", ms.num_gc - gc0);
    TC_CHECK(g_seconds < 4 || c_forks >= 1, "no fork ran");
    tree_verify(g_static, g_static_n, g_static_sum, "main", "the static tree at the end");

    /* everything dropped: nearly all reclaimed */
    uint64_t live = ms.heap_objects;
    g_static = NULL;
    for (int i = 0; i < MAXW; i++)
        g_mail[i] = NULL;
#if TC_STRESS_CHAN
    for (int i = 0; i < MAXW; i++) /* with the lists still buffered in them */
        g_ring[i].c = NULL;
#endif
    tc_collect_clean();
    gc_read_memstats(&ms);
    printf("     after dropping everything: heap_objects %llu (was %llu)\n", (unsigned long long)ms.heap_objects,
           (unsigned long long)live);
    /* One stale word can keep a whole list or tree: allow a tenth. */
    TC_CHECK(ms.heap_objects <= 2000 + live / 10, "after dropping everything, %llu of %llu objects remain",
             (unsigned long long)ms.heap_objects, (unsigned long long)live);
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"stress", test_stress},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
