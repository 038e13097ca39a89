/*
 * test_chan.c - Go's channels and select (tricolor.h, "Channels"), as a user
 * writes them: values out are exactly the values in, and each rule of Go's
 * channels holds, beside threads that allocate and collect.
 *
 *   buffered        len/cap; try_send succeeds until full, try_recv until empty
 *                   (a failed one leaves *elem alone); FIFO through the ring's
 *                   wrap, checked against a model on capacities 1..64;
 *                   impossible sizes give NULL, ENOMEM
 *   buffered_block  a send blocks only on a full buffer, a receive only on an
 *                   empty one (a second thread stays blocked until room or a
 *                   value comes)
 *   unbuffered      a send completes only once a receiver took the value (and
 *                   the reverse); ping-pong; try_send succeeds only with a
 *                   receiver waiting, try_recv only with a sender waiting; a
 *                   failed try_send leaves nothing behind
 *   close_recv      close wakes every blocked receiver (recv, recv_ok,
 *                   recv_timeout, select): ok false, the value zeroed
 *   close_drain     a closed channel gives its buffered values first, then the
 *                   zero value and ok false forever (recv, try_recv,
 *                   recv_timeout, select); len and cap after close
 *   panics          in child processes, stderr exactly Go's message: send on a
 *                   closed channel (blocking, non-blocking, select), a sender
 *                   blocked when the channel closes, close of a closed channel,
 *                   close of a nil channel
 *   nil_chan        a NULL channel: len/cap 0, try_send/try_recv never proceed,
 *                   never chosen in a select, recv_timeout times out; blocking
 *                   send, receive and select on it stay blocked, as does an
 *                   empty select (child processes that collect, then exit
 *                   with the thread still blocked)
 *   timeout         recv_timeout: false after at least the timeout, *elem
 *                   untouched, no receiver left behind; true when a value (or
 *                   a close) comes in time; select with a timeout likewise
 *   signals         elemsize 0: counts, close as a broadcast, a semaphore of
 *                   capacity 2 never lets 3 threads in
 *   gc_buffered     pointers buffered in a channel whose sender is gone survive
 *                   collections and garbage; objects held only by blocked
 *                   senders survive; collections complete while threads block
 *   noscan          uintptr_t channels and gc_make_chan_noscan do not keep what
 *                   their values point to
 *   collected       a channel nobody reaches is collected with the objects
 *                   buffered in it; a reachable one keeps them; a channel only
 *                   a blocked thread reaches lives
 *   select_random   ready cases are chosen uniformly (2 and 3 ready cases,
 *                   30000 rounds; not-ready and NULL cases never)
 *   select_default  timeout 0 returns -1 with nothing changed when no case is
 *                   ready; with one ready case, that one, with its effect;
 *                   timeout > 0 returns -1 after at least the timeout
 *   select_block    a blocking select wakes on whichever case becomes ready
 *                   (send, receive, close) and leaves no waiter on the others;
 *                   selects on both ends of two unbuffered channels pair up
 *   mpmc            4 producers, 3 consumers, buffered and unbuffered, beside
 *                   collections: every value once, per producer in order
 *   close_race      close while receivers block: all return ok false; senders
 *                   racing a close (child processes): success or Go's panic
 *   select_threads  two threads selecting over two always-ready channels: each
 *                   case about half the time, each value once and in order
 *   done            the done-channel pattern: workers select on work and done
 *                   and stop when done closes, having done all the work
 *   oracle          a Go program (tests/go/chan_oracle.go) and its C mirror
 *                   print the same trace (skipped, 77, without go)
 */
#include "common.h"

#include <sched.h>
#include <stdatomic.h>

static uint64_t chk(uint64_t key) { return tc_mix(key ^ 0x5eed0fc4a11ull); }
static const char *tf(bool b) { return b ? "true" : "false"; }

typedef GC_CHAN(int) int_chan;
typedef GC_CHAN(uintptr_t) uptr_chan;
typedef GC_CHAN(double) dbl_chan;
typedef GC_CHAN(int *) intp_chan;

/* GNU C's empty struct: sizeof 0, Go's struct{}. */
struct sig {
};
typedef GC_CHAN(struct sig) sig_chan;
_Static_assert(sizeof(struct sig) == 0, "struct sig must be empty");

#define OBJSZ 64
struct obj {
    uint64_t key, check;
    unsigned char fill[OBJSZ - 16];
};
_Static_assert(sizeof(struct obj) == OBJSZ, "struct obj");
typedef GC_CHAN(struct obj *) obj_chan;

/* A struct element holding a pointer: a scanned buffer. */
struct item {
    struct obj *p;
    uint64_t key, check;
};
typedef GC_CHAN(struct item) item_chan;

static struct obj *obj_new(uint64_t key)
{
    struct obj *o = gc_new(struct obj);
    if (!o)
        TC_FAIL("gc_new(struct obj) returned NULL");
    o->key = key;
    o->check = chk(key);
    tc_fill(o->fill, sizeof o->fill, (uint32_t)key);
    return o;
}

static void obj_verify(const struct obj *o, uint64_t key, const char *what)
{
    if (!o)
        TC_FAIL("%s: NULL where object %#llx was sent", what, (unsigned long long)key);
    if (gc_base((void *)o) != o)
        TC_FAIL("%s: object %#llx at %p is no longer a heap object (gc_base %p): freed while in a channel?", what,
                (unsigned long long)key, (const void *)o, gc_base((void *)o));
    long d = tc_pattern_diff(o->fill, sizeof o->fill, (uint32_t)key);
    if (o->key != key || o->check != chk(key) || d >= 0)
        TC_FAIL("%s: object at %p corrupt: key %#llx (want %#llx), check %s, fill differs at %ld", what,
                (const void *)o, (unsigned long long)o->key, (unsigned long long)key,
                o->check == chk(key) ? "ok" : "wrong", d);
}

static struct item item_new(uint64_t key)
{
    struct item it = {obj_new(key), key, chk(key)};
    return it;
}

static void item_verify(const struct item *it, const char *what)
{
    if (it->check != chk(it->key))
        TC_FAIL("%s: item corrupt: key %#llx check %#llx", what, (unsigned long long)it->key,
                (unsigned long long)it->check);
    obj_verify(it->p, it->key, what);
}

/* Wait until *v >= want; 20 s without it means a thread is stuck. */
static void wait_for(atomic_int *v, int want, const char *what)
{
    for (int i = 0; i < 20000; i++) {
        if (atomic_load(v) >= want)
            return;
        tc_sleep_ms(1);
    }
    TC_FAIL("%s: still %d after 20 s, want %d", what, atomic_load(v), want);
}

static void sleep_us(long us) { tc_sleep_ns(us * 1000L); }

/* A thread that makes garbage and collects until told to stop, so that
 * collections run beside the channel operations. */
static atomic_int g_churn_stop;
static atomic_long g_churn_gcs;

static void *churner(void *arg)
{
    (void)arg;
    unsigned n = 0;
    while (!atomic_load(&g_churn_stop)) {
        tc_churn(32 + (n++ % 4) * 48, 1000);
        gc_collect();
        atomic_fetch_add(&g_churn_gcs, 1);
        tc_sleep_ms(1); /* leave the others time between collections */
    }
    return NULL;
}

static pthread_t churn_start(void)
{
    atomic_store(&g_churn_stop, 0);
    atomic_store(&g_churn_gcs, 0);
    return tc_thread(churner, NULL);
}

static void churn_stop(pthread_t t)
{
    atomic_store(&g_churn_stop, 1);
    tc_join(t);
    printf("     (%ld collections by the churning thread meanwhile)\n", (long)atomic_load(&g_churn_gcs));
}

/* ------------------------------------------------------------------------ */
/* Child processes                                                           */
/* ------------------------------------------------------------------------ */

static atomic_int ch_flag;
static int_chan ch_c;

static void *ch_sender(void *arg)
{
    (void)arg;
    gc_send(ch_c, 2);
    atomic_store(&ch_flag, 1);
    return NULL;
}

static void *ch_select_sender(void *arg)
{
    (void)arg;
    int v = 3, r = -1;
    gc_select_case cs[2] = {{NULL, &r, GC_SELECT_RECV, 0}, GC_SEND_CASE(ch_c, &v)};
    (void)gc_selectgo(cs, 2, -1);
    atomic_store(&ch_flag, 1);
    return NULL;
}

static void *ch_nil_op(void *arg)
{
    int_chan z = {0};
    int v = 5;
    switch ((int)(intptr_t)arg) {
    case 0:
        v = gc_recv(z);
        break;
    case 1:
        gc_send(z, v);
        break;
    case 2: {
        gc_select_case cs[2] = {GC_RECV_CASE(z, &v), GC_SEND_CASE(z, &v)};
        (void)gc_selectgo(cs, 2, -1);
        break;
    }
    case 3:
        (void)gc_chanrecv(NULL, &v);
        break;
    case 4: { /* select {} */
        gc_select_case none[1];
        (void)gc_selectgo(none, 0, -1);
        break;
    }
    }
    atomic_store(&ch_flag, 1);
    return NULL;
}

/* send_race: three senders and a close, each after a delay drawn from seed. */
static atomic_int race_sent;
struct race_arg {
    int_chan c;
    int id;
    long delay_us;
};

static void *race_sender(void *arg)
{
    struct race_arg *a = arg;
    sleep_us(a->delay_us);
    gc_send(a->c, a->id);
    atomic_fetch_add(&race_sent, 1);
    return NULL;
}

static int child_main(const char *mode, const char *param)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int_chan c;
    if (strcmp(mode, "send_closed") == 0) {
        c = gc_make_chan(int_chan, 2);
        gc_close(c);
        gc_send(c, 1);
    } else if (strcmp(mode, "send_closed_unbuf") == 0) {
        c = gc_make_chan(int_chan, 0);
        gc_close(c);
        gc_send(c, 1);
    } else if (strcmp(mode, "send_closed_full") == 0) {
        c = gc_make_chan(int_chan, 1);
        gc_send(c, 1);
        gc_close(c);
        gc_send(c, 2);
    } else if (strcmp(mode, "try_send_closed") == 0) {
        c = gc_make_chan(int_chan, 2);
        gc_close(c);
        printf("try_send gave %d\n", (int)gc_try_send(c, 1));
    } else if (strcmp(mode, "select_send_closed") == 0) {
        c = gc_make_chan(int_chan, 2);
        int_chan empty = gc_make_chan(int_chan, 2);
        gc_close(c);
        int v = 1, r;
        gc_select_case cs[2] = {GC_RECV_CASE(empty, &r), GC_SEND_CASE(c, &v)};
        printf("select gave %d\n", gc_selectgo(cs, 2, 0));
    } else if (strcmp(mode, "select_send_closed_block") == 0) {
        c = gc_make_chan(int_chan, 0);
        gc_close(c);
        int v = 1;
        gc_select_case cs[1] = {GC_SEND_CASE(c, &v)};
        printf("select gave %d\n", gc_selectgo(cs, 1, -1));
    } else if (strcmp(mode, "close_closed") == 0) {
        c = gc_make_chan(int_chan, 2);
        gc_send(c, 1);
        gc_close(c);
        gc_close(c);
    } else if (strcmp(mode, "close_closed_unbuf") == 0) {
        c = gc_make_chan(int_chan, 0);
        gc_close(c);
        gc_close(c);
    } else if (strcmp(mode, "close_nil") == 0) {
        gc_closechan(NULL);
    } else if (strcmp(mode, "close_nil_typed") == 0) {
        int_chan z = {0};
        gc_close(z);
    } else if (strncmp(mode, "blocked_", 8) == 0) {
        /* A sender blocks (unbuffered, or on a full buffer); the close makes it panic. */
        bool full = strstr(mode, "_full") != NULL, sel = strstr(mode, "select") != NULL;
        ch_c = gc_make_chan(int_chan, full ? 1 : 0);
        if (full)
            gc_send(ch_c, 1);
        pthread_t t = tc_thread(sel ? ch_select_sender : ch_sender, NULL);
        tc_sleep_ms(50);
        if (atomic_load(&ch_flag))
            printf("SEND RETURNED BEFORE CLOSE\n");
        gc_close(ch_c);
        tc_sleep_ms(10000);
        printf("RETURNED (sender %s)\n", atomic_load(&ch_flag) ? "returned" : "still blocked");
        (void)t;
        exit(0);
    } else if (strncmp(mode, "nil_", 4) == 0) {
        /* A thread blocks on a NULL channel; collections run; the process
         * exits with the thread still blocked. */
        static const char *const ops[] = {"nil_recv", "nil_send", "nil_select", "nil_chanrecv", "nil_empty_select"};
        int op = 0;
        while (op < 4 && strcmp(mode, ops[op]) != 0)
            op++;
        pthread_t t = tc_thread(ch_nil_op, (void *)(intptr_t)op);
        (void)t;
        tc_sleep_ms(100);
        tc_collect_churn(64, 2000, 2);
        tc_sleep_ms(100);
        printf("%s\n", atomic_load(&ch_flag) ? "RETURNED" : "BLOCKED");
        exit(0);
    } else if (strcmp(mode, "send_race") == 0) {
        /* Three senders into room for all, and a close, in an order the delays
         * decide: a sender either sends (then its value is drained) or panics. */
        uint64_t rng = strtoull(param, NULL, 10) * 2654435761u + 1;
        c = gc_make_chan(int_chan, 8);
        struct race_arg a[3];
        pthread_t t[3];
        for (int i = 0; i < 3; i++) {
            a[i] = (struct race_arg){c, i + 1, (long)(tc_rand(&rng) % 1500)};
            t[i] = tc_thread(race_sender, &a[i]);
        }
        sleep_us((long)(tc_rand(&rng) % 1500));
        gc_close(c);
        for (int i = 0; i < 3; i++)
            tc_join(t[i]);
        int seen = 0, n = 0, v = -1;
        while (gc_recv_ok(c, &v)) {
            if (v < 1 || v > 3 || (seen & (1 << v)))
                TC_FAIL("send_race: drained %d (seen mask %#x)", v, seen);
            seen |= 1 << v;
            n++;
        }
        TC_CHECK(v == 0, "send_race: a drained closed channel gave %d", v);
        TC_CHECK(n == atomic_load(&race_sent), "send_race: %d sends returned but %d values drained",
                 atomic_load(&race_sent), n);
        printf("OK %d\n", n);
        exit(0);
    } else if (strcmp(mode, "unbuf_send_race") == 0) {
        /* Three senders on an unbuffered channel, one receive, then close:
         * the two senders not received from must panic. */
        c = gc_make_chan(int_chan, 0);
        struct race_arg a[3];
        pthread_t t[3];
        uint64_t rng = strtoull(param, NULL, 10) + 7;
        for (int i = 0; i < 3; i++) {
            a[i] = (struct race_arg){c, i + 1, (long)(tc_rand(&rng) % 500)};
            t[i] = tc_thread(race_sender, &a[i]);
        }
        int v = gc_recv(c);
        TC_CHECK(v >= 1 && v <= 3, "unbuf_send_race: received %d", v);
        gc_close(c);
        for (int i = 0; i < 3; i++)
            tc_join(t[i]);
        printf("RETURNED (%d sends returned)\n", atomic_load(&race_sent));
        exit(0);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 3;
    }
    printf("RETURNED\n");
    return 0;
}

/* Run a child mode; it must die of SIGABRT with stderr exactly want
 * (repeated 1..max_repeats times: several threads may panic at once). */
static void expect_panic_n(const char *mode, const char *param, const char *want, int max_repeats)
{
    tc_child c;
    const char *args[] = {"--child", mode, param, NULL};
    tc_run_self(&c, args, NULL, 30);
    size_t wl = strlen(want), el = strlen(c.err);
    bool match = el > 0 && el % wl == 0 && (int)(el / wl) <= max_repeats;
    for (size_t i = 0; match && i < el; i += wl)
        match = memcmp(c.err + i, want, wl) == 0;
    TC_CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT,
             "%s: the child %s, want killed by SIGABRT after \"%.*s\"; stdout \"%s\", stderr \"%s\"", mode,
             tc_status_str(c.status), (int)wl - 1, want, c.out, c.err);
    TC_CHECK(match, "%s: stderr is \"%s\", want \"%.*s\\n\"", mode, c.err, (int)wl - 1, want);
    TC_CHECK(!strstr(c.out, "RETURNED") && !strstr(c.out, " gave "), "%s: stdout \"%s\"", mode, c.out);
    tc_child_free(&c);
}

static void expect_panic(const char *mode, const char *want) { expect_panic_n(mode, "0", want, 1); }

/* ------------------------------------------------------------------------ */
/* buffered                                                                  */
/* ------------------------------------------------------------------------ */

static void test_buffered(void)
{
    int_chan c = gc_make_chan(int_chan, 3);
    TC_CHECK(c.c != NULL, "gc_make_chan(int_chan, 3) returned NULL");
    TC_CHECK(gc_chan_len(c) == 0 && gc_chan_cap(c) == 3, "a new channel: len %zu cap %zu, want 0 and 3",
             gc_chan_len(c), gc_chan_cap(c));
    for (int i = 0; i < 3; i++) {
        TC_CHECK(gc_try_send(c, 10 + i), "try_send into a channel holding %d of 3 did not send", i);
        TC_CHECK(gc_chan_len(c) == (size_t)i + 1, "len %zu after %d sends", gc_chan_len(c), i + 1);
    }
    TC_CHECK(!gc_try_send(c, 99), "try_send into a full channel sent");
    TC_CHECK(gc_chan_len(c) == 3 && gc_chan_cap(c) == 3, "full: len %zu cap %zu", gc_chan_len(c), gc_chan_cap(c));
    int v = -1;
    bool ok = false;
    TC_CHECK(gc_try_recv(c, &v, &ok) && v == 10 && ok, "try_recv from a full channel: v %d ok %d, want 10", v, ok);
    TC_CHECK(gc_try_send(c, 13), "try_send after a receive made room did not send");
    for (int want = 11; want <= 13; want++) {
        v = gc_recv(c);
        TC_CHECK(v == want, "received %d, want %d (FIFO across the ring's end)", v, want);
    }
    v = -7;
    ok = true;
    TC_CHECK(!gc_try_recv(c, &v, &ok), "try_recv from an empty channel received %d", v);
    TC_CHECK(v == -7, "a try_recv that would block wrote %d into *elem", v);
    TC_CHECK(!gc_try_recv(c, &v, NULL) && v == -7, "try_recv(ok NULL) from an empty channel");

    /* A blocking send into room and a blocking receive of a buffered value
     * proceed at once (one thread: it would hang otherwise). */
    gc_send(c, 1);
    gc_send(c, 2);
    gc_send(c, 3);
    TC_CHECK(gc_recv_ok(c, &v) && v == 1, "recv_ok gave %d", v);
    TC_CHECK(gc_chanrecv(c.c, NULL) && gc_chan_len(c) == 1, "gc_chanrecv(elem NULL): len %zu", gc_chan_len(c));
    TC_CHECK(gc_recv_ok(c, NULL) && gc_chan_len(c) == 0, "gc_recv_ok(vp NULL): len %zu", gc_chan_len(c));

    /* Against a model, on several capacities; try and blocking operations. */
    static const size_t caps[] = {1, 2, 5, 7, 64};
    uint64_t rng = 12345;
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        size_t cap = caps[k];
        int_chan m = gc_make_chan(int_chan, cap);
        TC_CHECK(m.c && gc_chan_cap(m) == cap, "gc_make_chan(%zu): cap %zu", cap, gc_chan_cap(m));
        int model[64];
        size_t head = 0, n = 0;
        int next = 0;
        for (int step = 0; step < 20000; step++) {
            uint64_t r = tc_rand(&rng) % 8;
            if (r < 4) {
                bool sent;
                if (r == 0 && n < cap) {
                    gc_send(m, next);
                    sent = true;
                } else {
                    sent = gc_try_send(m, next);
                }
                TC_CHECK(sent == (n < cap), "cap %zu step %d: try_send with %zu buffered gave %d", cap, step, n, sent);
                if (sent) {
                    model[(head + n) % cap] = next++;
                    n++;
                }
            } else {
                v = -1;
                ok = false;
                bool got;
                if (r == 4 && n > 0) {
                    got = true;
                    ok = gc_recv_ok(m, &v);
                } else {
                    got = gc_try_recv(m, &v, &ok);
                }
                TC_CHECK(got == (n > 0), "cap %zu step %d: try_recv with %zu buffered gave %d", cap, step, n, got);
                if (got) {
                    TC_CHECK(ok && v == model[head], "cap %zu step %d: received %d ok %d, want %d", cap, step, v, ok,
                             model[head]);
                    head = (head + 1) % cap;
                    n--;
                } else {
                    TC_CHECK(v == -1, "cap %zu: a failed try_recv wrote %d", cap, v);
                }
            }
            TC_CHECK(gc_chan_len(m) == n, "cap %zu step %d: len %zu, want %zu", cap, step, gc_chan_len(m), n);
        }
    }

    /* Impossible sizes. */
    errno = 0;
    gc_chan *x = gc_makechan(SIZE_MAX / 2, 4, 0);
    TC_CHECK(x == NULL && errno == ENOMEM, "gc_makechan(SIZE_MAX/2, 4): %p, errno %d, want NULL, ENOMEM", (void *)x,
             errno);
    errno = 0;
    x = gc_makechan(16, SIZE_MAX / 8, 1);
    TC_CHECK(x == NULL && errno == ENOMEM, "gc_makechan(16, SIZE_MAX/8): %p, errno %d, want NULL, ENOMEM", (void *)x,
             errno);
    /* and channels still work */
    int_chan after = gc_make_chan(int_chan, 1);
    TC_CHECK(after.c && gc_try_send(after, 4) && gc_recv(after) == 4, "a channel after the failures");
}

/* ------------------------------------------------------------------------ */
/* buffered_block                                                            */
/* ------------------------------------------------------------------------ */

struct bb {
    int_chan c;
    atomic_int count;
    int got[8];
};

static void *bb_sender(void *arg)
{
    struct bb *b = arg;
    for (int i = 0; i < 6; i++) {
        gc_send(b->c, 100 + i);
        atomic_fetch_add(&b->count, 1);
    }
    return NULL;
}

static void *bb_receiver(void *arg)
{
    struct bb *b = arg;
    for (int i = 0; i < 4; i++) {
        b->got[i] = gc_recv(b->c);
        atomic_fetch_add(&b->count, 1);
    }
    return NULL;
}

/* The sender stays blocked at want sends. */
static void bb_still(struct bb *b, int want, const char *after)
{
    wait_for(&b->count, want, after);
    tc_sleep_ms(50);
    TC_CHECK(atomic_load(&b->count) == want, "%d operations returned %s, want %d (the rest must block)",
             atomic_load(&b->count), after, want);
    TC_CHECK(gc_chan_len(b->c) == 2, "a sender blocks with len %zu of capacity 2", gc_chan_len(b->c));
}

static void test_buffered_block(void)
{
    /* Sends block only on a full buffer; each way of making room wakes the
     * blocked sender: a receive, try_recv, a select with default,
     * recv_timeout(0). */
    struct bb b = {.c = gc_make_chan(int_chan, 2)};
    pthread_t t = tc_thread(bb_sender, &b);
    bb_still(&b, 2, "with a channel of capacity 2 full");
    int v = -1;
    bool ok = false;
    TC_CHECK(gc_try_recv(b.c, &v, &ok) && ok && v == 100, "try_recv from a full channel: %d", v);
    bb_still(&b, 3, "after a try_recv made room for one");
    gc_select_case cs[1] = {GC_RECV_CASE(b.c, &v)};
    TC_CHECK(gc_selectgo(cs, 1, 0) == 0 && v == 101, "select with default from a full channel: %d", v);
    bb_still(&b, 4, "after a select made room for one");
    TC_CHECK(gc_recv_timeout(b.c, &v, &ok, 0) && ok && v == 102, "recv_timeout(0) from a full channel: %d", v);
    bb_still(&b, 5, "after recv_timeout(0) made room for one");
    for (int i = 3; i < 6; i++) {
        v = gc_recv(b.c);
        TC_CHECK(v == 100 + i, "received %d, want %d", v, 100 + i);
    }
    tc_join(t);
    TC_CHECK(atomic_load(&b.count) == 6 && gc_chan_len(b.c) == 0, "count %d len %zu", atomic_load(&b.count),
             gc_chan_len(b.c));

    /* Receives block only on an empty buffer; each way of sending wakes the
     * blocked receiver. */
    struct bb r = {.c = gc_make_chan(int_chan, 2)};
    t = tc_thread(bb_receiver, &r);
    tc_sleep_ms(50);
    TC_CHECK(atomic_load(&r.count) == 0, "a receive from an empty channel returned %d", r.got[0]);
    TC_CHECK(gc_try_send(r.c, 7), "try_send into an empty channel");
    wait_for(&r.count, 1, "the blocked receive after a try_send");
    tc_sleep_ms(50);
    TC_CHECK(atomic_load(&r.count) == 1, "a second receive returned with one value sent");
    int out = 8;
    gc_select_case sc[1] = {GC_SEND_CASE(r.c, &out)};
    TC_CHECK(gc_selectgo(sc, 1, 0) == 0, "select send with default into an empty channel");
    wait_for(&r.count, 2, "the blocked receive after a select send");
    tc_sleep_ms(50);
    TC_CHECK(atomic_load(&r.count) == 2, "a third receive returned with two values sent");
    gc_send(r.c, 9);
    gc_send(r.c, 10);
    tc_join(t);
    TC_CHECK(r.got[0] == 7 && r.got[1] == 8 && r.got[2] == 9 && r.got[3] == 10, "received %d %d %d %d, want 7 8 9 10",
             r.got[0], r.got[1], r.got[2], r.got[3]);
}

/* ------------------------------------------------------------------------ */
/* unbuffered                                                                */
/* ------------------------------------------------------------------------ */

struct hand {
    int_chan c, back;
    atomic_int entered, done, bad;
    int v, n;
};

/* Sends h->v; by then the receiver must have entered its receive. */
static void *hand_sender(void *arg)
{
    struct hand *h = arg;
    gc_send(h->c, h->v);
    if (!atomic_load(&h->entered))
        atomic_store(&h->bad, 1);
    atomic_store(&h->done, 1);
    return NULL;
}

static void *hand_receiver(void *arg)
{
    struct hand *h = arg;
    atomic_store(&h->entered, 1);
    h->v = gc_recv(h->c);
    atomic_store(&h->done, 1);
    return NULL;
}

static void *hand_pong(void *arg)
{
    struct hand *h = arg;
    for (int i = 0; i < h->n; i++) {
        int v = gc_recv(h->c);
        gc_send(h->back, v + 1);
    }
    return NULL;
}

static void *hand_stream(void *arg)
{
    struct hand *h = arg;
    for (int i = 0; i < h->n; i++)
        gc_send(h->c, i);
    return NULL;
}

static void test_unbuffered(void)
{
    struct hand h = {.c = gc_make_chan(int_chan, 0), .back = gc_make_chan(int_chan, 0)};
    TC_CHECK(h.c.c && gc_chan_len(h.c) == 0 && gc_chan_cap(h.c) == 0, "unbuffered: len %zu cap %zu",
             gc_chan_len(h.c), gc_chan_cap(h.c));
    int v = -3;
    bool ok = true;
    TC_CHECK(!gc_try_send(h.c, 1), "try_send on an unbuffered channel with no receiver sent");
    TC_CHECK(!gc_try_recv(h.c, &v, &ok) && v == -3, "try_recv on an unbuffered channel with no sender");

    /* A send completes only once a receiver took it. */
    for (int round = 0; round < 100; round++) {
        atomic_store(&h.entered, 0);
        atomic_store(&h.done, 0);
        h.v = round;
        pthread_t t = tc_thread(hand_sender, &h);
        if (round == 0 || round % 10 == 1) {
            tc_sleep_ms(round == 0 ? 50 : 2);
            TC_CHECK(!atomic_load(&h.done), "round %d: a send on an unbuffered channel returned with no receiver",
                     round);
        }
        atomic_store(&h.entered, 1);
        v = gc_recv(h.c);
        tc_join(t);
        TC_CHECK(v == round, "round %d: received %d", round, v);
        TC_CHECK(!atomic_load(&h.bad), "round %d: the send returned before the receive began", round);
    }
    /* A receive completes only with a sender's value. */
    for (int round = 0; round < 100; round++) {
        atomic_store(&h.entered, 0);
        atomic_store(&h.done, 0);
        h.v = -1;
        pthread_t t = tc_thread(hand_receiver, &h);
        if (round == 0) {
            tc_sleep_ms(50);
            TC_CHECK(!atomic_load(&h.done), "a receive on an unbuffered channel returned with no sender");
        }
        gc_send(h.c, 1000 + round);
        TC_CHECK(atomic_load(&h.entered), "round %d: the send returned before the receiver began", round);
        tc_join(t);
        TC_CHECK(h.v == 1000 + round, "round %d: the receiver got %d", round, h.v);
    }
    /* Ping-pong. */
    h.n = 2000;
    pthread_t t = tc_thread(hand_pong, &h);
    for (int i = 0; i < h.n; i++) {
        gc_send(h.c, 2 * i);
        v = gc_recv(h.back);
        TC_CHECK(v == 2 * i + 1, "ping-pong %d: got %d", i, v);
    }
    tc_join(t);
    /* A stream keeps its order. */
    h.n = 5000;
    t = tc_thread(hand_stream, &h);
    for (int i = 0; i < h.n; i++) {
        v = gc_recv(h.c);
        TC_CHECK(v == i, "stream: received %d, want %d", v, i);
    }
    tc_join(t);

    /* try_send succeeds once a receiver waits (and only then). */
    atomic_store(&h.entered, 0);
    atomic_store(&h.done, 0);
    h.v = -1;
    t = tc_thread(hand_receiver, &h);
    wait_for(&h.entered, 1, "the receiver starting");
    int tries = 0;
    while (!gc_try_send(h.c, 77)) {
        TC_CHECK(++tries < 20000, "try_send never succeeded with a receiver blocked on the channel");
        tc_sleep_ms(1);
    }
    tc_join(t);
    TC_CHECK(h.v == 77, "the receiver got %d from try_send", h.v);
    /* try_recv succeeds once a sender waits. */
    atomic_store(&h.entered, 1);
    atomic_store(&h.bad, 0);
    h.v = 88;
    t = tc_thread(hand_sender, &h);
    tries = 0;
    v = -1;
    ok = false;
    while (!gc_try_recv(h.c, &v, &ok)) {
        TC_CHECK(++tries < 20000, "try_recv never succeeded with a sender blocked on the channel");
        tc_sleep_ms(1);
    }
    tc_join(t);
    TC_CHECK(v == 88 && ok, "try_recv from a blocked sender: %d ok %d", v, ok);
    /* A receive that discards the value (elem NULL) still takes it. */
    h.v = 99;
    t = tc_thread(hand_sender, &h);
    TC_CHECK(gc_chanrecv(h.c.c, NULL), "gc_chanrecv(elem NULL) from a sender: ok false");
    tc_join(t);
    TC_CHECK(!gc_try_recv(h.c, &v, NULL), "a value is left after a receive with elem NULL");
    /* A failed try_send leaves nothing for a later receiver. */
    for (int i = 0; i < 1000; i++)
        TC_CHECK(!gc_try_send(h.c, 5), "try_send %d with no receiver sent", i);
    v = -9;
    TC_CHECK(!gc_recv_timeout(h.c, &v, &ok, 20 * 1000000LL) && v == -9,
             "a receive after failed try_sends got %d: a value was left behind", v);
}

/* ------------------------------------------------------------------------ */
/* close_recv                                                                */
/* ------------------------------------------------------------------------ */

struct cr {
    item_chan c;
    int kind;
    bool ok, ret;
    int sel;
    struct item v;
};

static void *cr_receiver(void *arg)
{
    struct cr *r = arg;
    memset(&r->v, 0xa5, sizeof r->v);
    r->ok = true;
    switch (r->kind) {
    case 0:
        r->ok = gc_recv_ok(r->c, &r->v);
        r->ret = true;
        break;
    case 1:
        r->ret = gc_recv_timeout(r->c, &r->v, &r->ok, 30 * 1000000000LL);
        break;
    case 2: {
        int dummy = 4;
        gc_select_case cs[2] = {{NULL, &dummy, GC_SELECT_RECV, 0}, GC_RECV_CASE(r->c, &r->v)};
        r->sel = gc_selectgo(cs, 2, -1);
        r->ok = cs[1].ok;
        r->ret = true;
        break;
    }
    case 3:
        r->v = gc_recv(r->c);
        r->ok = false;
        r->ret = true;
        break;
    }
    return NULL;
}

static void test_close_recv(void)
{
    for (int cap = 0; cap <= 4; cap += 4) {
        item_chan c = gc_make_chan(item_chan, (size_t)cap);
        struct cr r[8];
        pthread_t t[8];
        for (int i = 0; i < 8; i++) {
            r[i] = (struct cr){.c = c, .kind = i % 4, .sel = -5};
            t[i] = tc_thread(cr_receiver, &r[i]);
        }
        tc_sleep_ms(50);
        tc_collect_clean(); /* a collection while they block */
        for (int i = 0; i < 8; i++)
            TC_CHECK(!r[i].ret, "cap %d: receiver %d (kind %d) returned from an empty channel", cap, i, r[i].kind);
        gc_close(c);
        for (int i = 0; i < 8; i++) {
            tc_join(t[i]);
            TC_CHECK(r[i].ret, "cap %d: receiver %d: recv_timeout timed out instead of seeing the close", cap, i);
            TC_CHECK(!r[i].ok, "cap %d: receiver %d (kind %d): ok true from a closed, empty channel", cap, i,
                     r[i].kind);
            TC_CHECK(tc_nonzero_at(&r[i].v, sizeof r[i].v) < 0,
                     "cap %d: receiver %d (kind %d): the value is not zeroed (byte %ld)", cap, i, r[i].kind,
                     tc_nonzero_at(&r[i].v, sizeof r[i].v));
            if (r[i].kind == 2)
                TC_CHECK(r[i].sel == 1, "cap %d: a select woken by close chose %d, want 1", cap, r[i].sel);
        }
        TC_CHECK(gc_chan_len(c) == 0 && gc_chan_cap(c) == (size_t)cap, "after close: len %zu cap %zu", gc_chan_len(c),
                 gc_chan_cap(c));
    }
}

/* ------------------------------------------------------------------------ */
/* close_drain                                                               */
/* ------------------------------------------------------------------------ */

static void test_close_drain(void)
{
    int_chan c = gc_make_chan(int_chan, 4);
    gc_send(c, 1);
    gc_send(c, 2);
    gc_send(c, 3);
    gc_close(c);
    TC_CHECK(gc_chan_len(c) == 3 && gc_chan_cap(c) == 4, "closed with 3 buffered: len %zu cap %zu", gc_chan_len(c),
             gc_chan_cap(c));
    int v = -1;
    bool ok = false;
    TC_CHECK(gc_recv_ok(c, &v) && v == 1, "first drained value %d", v);
    TC_CHECK(gc_try_recv(c, &v, &ok) && ok && v == 2, "try_recv drained %d ok %d", v, ok);
    int w = -1;
    gc_select_case cs[1] = {GC_RECV_CASE(c, &w)};
    TC_CHECK(gc_selectgo(cs, 1, 0) == 0 && cs[0].ok && w == 3, "select drained %d ok %d", w, cs[0].ok);
    TC_CHECK(gc_chan_len(c) == 0 && gc_chan_cap(c) == 4, "drained: len %zu cap %zu", gc_chan_len(c), gc_chan_cap(c));
    for (int i = 0; i < 5; i++) {
        v = -1;
        TC_CHECK(!gc_recv_ok(c, &v) && v == 0, "closed and drained, recv %d: ok true or value %d", i, v);
        TC_CHECK(gc_recv(c) == 0, "gc_recv from a closed, drained channel");
        v = -1;
        ok = true;
        TC_CHECK(gc_try_recv(c, &v, &ok), "try_recv from a closed channel would block");
        TC_CHECK(!ok && v == 0, "try_recv from a closed, drained channel: ok %d v %d", ok, v);
        v = -1;
        ok = true;
        TC_CHECK(gc_recv_timeout(c, &v, &ok, 10 * 1000000000LL) && !ok && v == 0,
                 "recv_timeout from a closed, drained channel: ok %d v %d", ok, v);
        w = -1;
        cs[0].ok = true;
        TC_CHECK(gc_selectgo(cs, 1, -1) == 0 && !cs[0].ok && w == 0, "select on a closed, drained channel: ok %d v %d",
                 cs[0].ok, w);
        TC_CHECK(gc_chanrecv(c.c, NULL) == false, "gc_chanrecv(NULL elem) on closed: ok true");
    }
    /* A full channel closed gives all its values, in order. */
    int_chan f = gc_make_chan(int_chan, 3);
    for (int i = 0; i < 5; i++) { /* move the ring's start */
        gc_send(f, -1);
        (void)gc_recv(f);
    }
    gc_send(f, 7);
    gc_send(f, 8);
    gc_send(f, 9);
    gc_close(f);
    for (int i = 7; i <= 9; i++)
        TC_CHECK(gc_recv_ok(f, &v) && v == i, "full closed channel gave %d, want %d", v, i);
    TC_CHECK(!gc_recv_ok(f, &v) && v == 0, "then ok true or %d", v);
    /* Unbuffered, closed: zero and false at once. */
    int_chan u = gc_make_chan(int_chan, 0);
    gc_close(u);
    v = 5;
    TC_CHECK(!gc_recv_ok(u, &v) && v == 0, "closed unbuffered: v %d", v);
    v = 5;
    ok = true;
    TC_CHECK(gc_try_recv(u, &v, &ok) && !ok && v == 0, "try_recv on a closed unbuffered channel: ok %d v %d", ok, v);
    /* Struct elements: the zero value is all zero bytes. */
    item_chan ic = gc_make_chan(item_chan, 2);
    gc_send(ic, item_new(42));
    gc_close(ic);
    struct item it;
    TC_CHECK(gc_recv_ok(ic, &it), "buffered item after close");
    item_verify(&it, "item drained after close");
    memset(&it, 0x5a, sizeof it);
    TC_CHECK(!gc_recv_ok(ic, &it) && tc_nonzero_at(&it, sizeof it) < 0, "closed item channel: not a zero item");
}

/* ------------------------------------------------------------------------ */
/* panics                                                                    */
/* ------------------------------------------------------------------------ */

static void test_panics(void)
{
    static const char send_closed[] = "panic: send on closed channel\n";
    expect_panic("send_closed", send_closed);
    expect_panic("send_closed_unbuf", send_closed);
    expect_panic("send_closed_full", send_closed);
    expect_panic("try_send_closed", send_closed);
    expect_panic("select_send_closed", send_closed);
    expect_panic("select_send_closed_block", send_closed);
    expect_panic("blocked_sender", send_closed);
    expect_panic("blocked_sender_full", send_closed);
    expect_panic("blocked_select_sender", send_closed);
    expect_panic("blocked_select_sender_full", send_closed);
    expect_panic("close_closed", "panic: close of closed channel\n");
    expect_panic("close_closed_unbuf", "panic: close of closed channel\n");
    expect_panic("close_nil", "panic: close of nil channel\n");
    expect_panic("close_nil_typed", "panic: close of nil channel\n");
}

/* ------------------------------------------------------------------------ */
/* nil_chan                                                                  */
/* ------------------------------------------------------------------------ */

static void test_nil_chan(void)
{
    int_chan z = {0};
    TC_CHECK(gc_chanlen(NULL) == 0 && gc_chancap(NULL) == 0, "len/cap of NULL: %zu %zu", gc_chanlen(NULL),
             gc_chancap(NULL));
    TC_CHECK(gc_chan_len(z) == 0 && gc_chan_cap(z) == 0, "len/cap of a zero channel");
    int v = -5;
    bool ok = true;
    for (int i = 0; i < 100; i++) {
        TC_CHECK(!gc_try_send(z, 1), "try_send on a NULL channel sent");
        TC_CHECK(!gc_try_recv(z, &v, &ok) && v == -5, "try_recv on a NULL channel received %d", v);
        TC_CHECK(!gc_chansend_nb(NULL, &v), "gc_chansend_nb(NULL)");
        TC_CHECK(!gc_chanrecv_nb(NULL, &v, &ok) && v == -5, "gc_chanrecv_nb(NULL)");
    }
    double t0 = tc_now();
    TC_CHECK(!gc_recv_timeout(z, &v, &ok, 20 * 1000000LL) && v == -5, "recv_timeout on a NULL channel received %d",
             v);
    double el = tc_now() - t0;
    TC_CHECK(el >= 0.020, "recv_timeout(20 ms) on a NULL channel returned after %.4f s", el);

    /* In a select, NULL cases are never chosen. */
    int s = 1;
    gc_select_case none[3] = {GC_RECV_CASE(z, &v), GC_SEND_CASE(z, &s), {NULL, NULL, GC_SELECT_RECV, 0}};
    TC_CHECK(gc_selectgo(none, 3, 0) == -1 && v == -5, "select with only NULL cases and default chose a case");
    t0 = tc_now();
    TC_CHECK(gc_selectgo(none, 3, 20 * 1000000LL) == -1, "select with only NULL cases and a timeout chose a case");
    el = tc_now() - t0;
    TC_CHECK(el >= 0.020, "select(timeout 20 ms) on NULL cases returned after %.4f s", el);
    int_chan r = gc_make_chan(int_chan, 1);
    int_chan room = gc_make_chan(int_chan, 1);
    for (int i = 0; i < 1000; i++) {
        gc_send(r, i);
        int got = -1, put = 500 + i;
        gc_select_case cs[5] = {GC_RECV_CASE(z, &v), GC_SEND_CASE(z, &s), GC_RECV_CASE(r, &got),
                                {NULL, &v, GC_SELECT_SEND, 0}, {NULL, &v, GC_SELECT_RECV, 0}};
        int k = gc_selectgo(cs, 5, (i % 2) ? -1 : 0);
        TC_CHECK(k == 2 && got == i && cs[2].ok, "round %d: select chose %d (got %d), want the ready case 2", i, k, got);
        gc_select_case cs2[3] = {GC_SEND_CASE(z, &put), GC_SEND_CASE(room, &put), GC_RECV_CASE(z, &v)};
        k = gc_selectgo(cs2, 3, (i % 2) ? 0 : -1);
        TC_CHECK(k == 1, "round %d: select chose %d, want the ready send case 1", i, k);
        TC_CHECK(gc_recv(room) == put, "round %d: the select sent the wrong value", i);
    }
    TC_CHECK(v == -5, "a NULL case's elem was written: %d", v);

    /* Blocking operations on NULL block forever: each in a child. */
    static const char *const modes[] = {"nil_recv", "nil_send", "nil_select", "nil_chanrecv", "nil_empty_select"};
    for (size_t i = 0; i < 5; i++) {
        tc_child c;
        const char *args[] = {"--child", modes[i], NULL};
        tc_run_self(&c, args, NULL, 30);
        TC_CHECK(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "%s: the child %s; stderr \"%s\"", modes[i],
                 tc_status_str(c.status), c.err);
        TC_CHECK(strcmp(c.out, "BLOCKED\n") == 0, "%s: the child printed \"%s\", want \"BLOCKED\\n\"", modes[i],
                 c.out);
        TC_CHECK(c.err[0] == 0, "%s: stderr \"%s\"", modes[i], c.err);
        tc_child_free(&c);
    }
}

/* ------------------------------------------------------------------------ */
/* timeout                                                                   */
/* ------------------------------------------------------------------------ */

struct late {
    int_chan c;
    long delay_ms;
    int v;
    bool close;
};

static void *late_sender(void *arg)
{
    struct late *l = arg;
    tc_sleep_ms(l->delay_ms);
    if (l->close)
        gc_close(l->c);
    else
        gc_send(l->c, l->v);
    return NULL;
}

static void test_timeout(void)
{
    for (int cap = 0; cap <= 2; cap += 2) {
        int_chan c = gc_make_chan(int_chan, (size_t)cap);
        int v = 77;
        bool ok = true;
        double t0 = tc_now();
        bool r = gc_recv_timeout(c, &v, &ok, 30 * 1000000LL);
        double el = tc_now() - t0;
        TC_CHECK(!r, "cap %d: recv_timeout on an empty channel received %d", cap, v);
        TC_CHECK(el >= 0.030, "cap %d: recv_timeout(30 ms) returned false after %.4f s", cap, el);
        TC_CHECK(v == 77, "cap %d: a timed-out receive wrote %d", cap, v);
        /* Several short ones. */
        for (int i = 0; i < 20; i++) {
            t0 = tc_now();
            TC_CHECK(!gc_recv_timeout(c, &v, &ok, 1000000), "cap %d: recv_timeout(1 ms) received", cap);
            TC_CHECK(tc_now() - t0 >= 0.001, "cap %d: recv_timeout(1 ms) returned after %.5f s", cap, tc_now() - t0);
        }
        /* Timeout 0: a non-blocking receive. */
        TC_CHECK(!gc_recv_timeout(c, &v, &ok, 0) && v == 77, "cap %d: recv_timeout(0) on empty", cap);
        if (cap) {
            gc_send(c, 3);
            TC_CHECK(gc_recv_timeout(c, &v, &ok, 0) && ok && v == 3, "recv_timeout(0) with a value buffered: %d", v);
            gc_send(c, 4);
            TC_CHECK(gc_recv_timeout(c, &v, &ok, 1000000000) && ok && v == 4, "recv_timeout with a value buffered");
        }
        /* No receiver is left behind by a timed-out receive. */
        if (!cap)
            TC_CHECK(!gc_try_send(c, 1), "try_send found a receiver after its receive timed out");
        /* A value in time. */
        struct late l = {c, 30, 123, false};
        pthread_t t = tc_thread(late_sender, &l);
        v = -1;
        ok = false;
        TC_CHECK(gc_recv_timeout(c, &v, &ok, 20 * 1000000000LL), "cap %d: a value sent after 30 ms missed a 20 s "
                 "timeout", cap);
        TC_CHECK(ok && v == 123, "cap %d: recv_timeout got %d ok %d", cap, v, ok);
        tc_join(t);
        /* A close in time. */
        l = (struct late){c, 30, 0, true};
        t = tc_thread(late_sender, &l);
        v = -1;
        ok = true;
        TC_CHECK(gc_recv_timeout(c, &v, &ok, 20 * 1000000000LL), "cap %d: a close after 30 ms missed a 20 s timeout",
                 cap);
        TC_CHECK(!ok && v == 0, "cap %d: recv_timeout woken by close: ok %d v %d", cap, ok, v);
        tc_join(t);
    }
    /* select with a timeout: -1 after at least the timeout; a case that
     * becomes ready in time is chosen. */
    int_chan a = gc_make_chan(int_chan, 0), b = gc_make_chan(int_chan, 0);
    int va = -1, vb = 9;
    gc_select_case cs[2] = {GC_RECV_CASE(a, &va), GC_SEND_CASE(b, &vb)};
    double t0 = tc_now();
    TC_CHECK(gc_selectgo(cs, 2, 25 * 1000000LL) == -1, "select with nothing ready and a timeout chose a case");
    double el = tc_now() - t0;
    TC_CHECK(el >= 0.025, "select(timeout 25 ms) returned after %.4f s", el);
    TC_CHECK(va == -1, "a timed-out select wrote its receive case's elem: %d", va);
    TC_CHECK(!gc_try_send(a, 1), "a timed-out select left a receiver on a");
    TC_CHECK(!gc_try_recv(b, &va, NULL), "a timed-out select left a sender on b");
    struct late l = {a, 30, 55, false};
    pthread_t t = tc_thread(late_sender, &l);
    TC_CHECK(gc_selectgo(cs, 2, 20 * 1000000000LL) == 0 && va == 55 && cs[0].ok,
             "select(timeout 20 s): a value sent after 30 ms: va %d", va);
    tc_join(t);
    /* select with no cases */
    TC_CHECK(gc_selectgo(cs, 0, 0) == -1, "select over 0 cases with default");
    t0 = tc_now();
    TC_CHECK(gc_selectgo(cs, 0, 20 * 1000000LL) == -1, "select over 0 cases with a timeout");
    TC_CHECK(tc_now() - t0 >= 0.020, "select over 0 cases (timeout 20 ms) returned after %.4f s", tc_now() - t0);
}

/* ------------------------------------------------------------------------ */
/* signals                                                                   */
/* ------------------------------------------------------------------------ */

struct sem {
    sig_chan s;
    atomic_int inside, max, runs;
};

static void *sem_worker(void *arg)
{
    struct sem *m = arg;
    for (int i = 0; i < 150; i++) {
        gc_send(m->s, (struct sig){});
        int n = atomic_fetch_add(&m->inside, 1) + 1;
        int mx = atomic_load(&m->max);
        while (n > mx && !atomic_compare_exchange_weak(&m->max, &mx, n))
            ;
        tc_churn(32, 20);
        if (i % 8 == 0)
            sched_yield();
        atomic_fetch_sub(&m->inside, 1);
        atomic_fetch_add(&m->runs, 1);
        (void)gc_recv(m->s);
    }
    return NULL;
}

struct bcast {
    sig_chan s;
    bool ok, ret;
};

static void *bcast_waiter(void *arg)
{
    struct bcast *b = arg;
    b->ok = gc_recv_ok(b->s, NULL);
    b->ret = true;
    return NULL;
}

static void test_signals(void)
{
    sig_chan s = gc_make_chan(sig_chan, 3);
    TC_CHECK(s.c && gc_chan_cap(s) == 3, "a signal channel of capacity 3: cap %zu", gc_chan_cap(s));
    for (int i = 0; i < 3; i++)
        TC_CHECK(gc_try_send(s, (struct sig){}) && gc_chan_len(s) == (size_t)i + 1, "signal %d: len %zu", i,
                 gc_chan_len(s));
    TC_CHECK(!gc_try_send(s, (struct sig){}), "try_send into a full signal channel sent");
    struct sig x;
    bool ok;
    for (int i = 3; i > 0; i--) {
        TC_CHECK(gc_try_recv(s, &x, &ok) && ok, "signal receive %d", i);
        TC_CHECK(gc_chan_len(s) == (size_t)i - 1, "len %zu", gc_chan_len(s));
    }
    TC_CHECK(!gc_try_recv(s, &x, &ok), "try_recv from an empty signal channel");
    gc_send(s, (struct sig){});
    gc_close(s);
    TC_CHECK(gc_recv_ok(s, &x), "the buffered signal after close");
    TC_CHECK(!gc_recv_ok(s, NULL) && !gc_recv_ok(s, &x), "a closed, drained signal channel gave ok true");

    /* The untyped core with elemsize 0. */
    gc_chan *u = gc_makechan(0, 0, 1);
    TC_CHECK(u && gc_chancap(u) == 0, "gc_makechan(0, 0)");
    char dummy = 0;
    TC_CHECK(!gc_chansend_nb(u, &dummy), "non-blocking send on an unbuffered signal channel with no receiver");

    /* close as a broadcast */
    struct bcast b[5];
    pthread_t t[6];
    sig_chan all = gc_make_chan(sig_chan, 0);
    for (int i = 0; i < 5; i++) {
        b[i] = (struct bcast){all, true, false};
        t[i] = tc_thread(bcast_waiter, &b[i]);
    }
    tc_sleep_ms(30);
    for (int i = 0; i < 5; i++)
        TC_CHECK(!b[i].ret, "waiter %d returned before the close", i);
    gc_close(all);
    for (int i = 0; i < 5; i++) {
        tc_join(t[i]);
        TC_CHECK(!b[i].ok, "waiter %d: ok true from close", i);
    }

    /* A semaphore: capacity 2 admits at most 2 at a time. */
    struct sem m = {.s = gc_make_chan(sig_chan, 2)};
    for (int i = 0; i < 6; i++)
        t[i] = tc_thread(sem_worker, &m);
    for (int i = 0; i < 6; i++)
        tc_join(t[i]);
    printf("     semaphore: at most %d of 6 threads inside at once\n", atomic_load(&m.max));
    TC_CHECK(atomic_load(&m.max) <= 2, "%d threads inside a semaphore of capacity 2", atomic_load(&m.max));
    TC_CHECK(atomic_load(&m.runs) == 900 && gc_chan_len(m.s) == 0, "%d runs, len %zu", atomic_load(&m.runs),
             gc_chan_len(m.s));
}

/* ------------------------------------------------------------------------ */
/* gc_buffered                                                               */
/* ------------------------------------------------------------------------ */

#define NB 48

struct gb {
    item_chan ic;
    obj_chan oc;
    uint64_t base;
};

TC_NOINLINE static void gb_fill(struct gb *g)
{
    for (int i = 0; i < NB; i++)
        gc_send(g->ic, item_new(g->base + (uint64_t)i));
    for (int i = 0; i < NB; i++)
        gc_send(g->oc, obj_new(g->base + 1000 + (uint64_t)i));
}

static void *gb_thread(void *arg)
{
    gb_fill(arg);
    tc_clear_stack();
    return NULL;
}

struct blk {
    obj_chan c;
    uint64_t key;
    atomic_int *entered;
};

TC_NOINLINE static void blk_send(struct blk *b)
{
    struct obj *o = obj_new(b->key);
    atomic_fetch_add(b->entered, 1);
    gc_send(b->c, o);
}

static void *blk_sender(void *arg)
{
    blk_send(arg);
    return NULL;
}

static void *blk_receiver(void *arg)
{
    struct blk *b = arg;
    atomic_fetch_add(b->entered, 1);
    struct obj *o = gc_recv(b->c);
    obj_verify(o, b->key, "a receiver blocked across collections");
    return NULL;
}

static void test_gc_buffered(void)
{
    for (int round = 0; round < 2; round++) {
        struct gb g = {gc_make_chan(item_chan, 64), gc_make_chan(obj_chan, 64), (uint64_t)(round + 1) << 20};
        /* move the rings' starts, so the values wrap */
        for (int i = 0; i < 37 + round * 20; i++) {
            gc_send(g.ic, ((struct item){NULL, 1, 2}));
            (void)gc_recv(g.ic);
            gc_send(g.oc, NULL);
            (void)gc_recv(g.oc);
        }
        tc_join(tc_thread(gb_thread, &g)); /* the sender is gone */
        TC_CHECK(gc_chan_len(g.ic) == NB && gc_chan_len(g.oc) == NB, "len %zu %zu", gc_chan_len(g.ic),
                 gc_chan_len(g.oc));
        tc_collect_churn(OBJSZ, 20000, 3);
        tc_churn(sizeof(struct item), 20000);
        gc_collect();
        for (int i = 0; i < NB; i++) {
            struct item it = gc_recv(g.ic);
            TC_CHECK(it.key == g.base + (uint64_t)i, "item %d: key %#llx", i, (unsigned long long)it.key);
            item_verify(&it, "an item buffered across collections");
            struct obj *o = gc_recv(g.oc);
            obj_verify(o, g.base + 1000 + (uint64_t)i, "a pointer buffered across collections");
        }
    }

    /* Objects only blocked senders hold, and receivers blocked meanwhile:
     * collections complete and the objects arrive intact. */
    atomic_int entered = 0;
    struct blk s[4], r[4];
    pthread_t ts[4], tr[4];
    obj_chan sc = gc_make_chan(obj_chan, 0), rc = gc_make_chan(obj_chan, 0);
    for (int i = 0; i < 4; i++) {
        s[i] = (struct blk){sc, 0x7700 + (uint64_t)i, &entered};
        r[i] = (struct blk){rc, 0x8800, &entered};
        ts[i] = tc_thread(blk_sender, &s[i]);
        tr[i] = tc_thread(blk_receiver, &r[i]);
    }
    wait_for(&entered, 8, "blocked senders and receivers starting");
    tc_sleep_ms(20);
    tc_collect_churn(OBJSZ, 20000, 3);
    int seen = 0;
    for (int i = 0; i < 4; i++) {
        struct obj *o = gc_recv(sc);
        TC_CHECK(o && o->key >= 0x7700 && o->key < 0x7704 && !(seen & (1 << (o->key - 0x7700))),
                 "from blocked senders: %p", (void *)o);
        obj_verify(o, o->key, "an object held by a blocked sender across collections");
        seen |= 1 << (o->key - 0x7700);
    }
    for (int i = 0; i < 4; i++)
        gc_send(rc, obj_new(0x8800));
    for (int i = 0; i < 4; i++) {
        tc_join(ts[i]);
        tc_join(tr[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* noscan                                                                    */
/* ------------------------------------------------------------------------ */

#define NN 64
static gc_weak *g_nsw[2][NN];
static uintptr_t g_nsh[2][NN];

TC_NOINLINE static void ns_fill(uptr_chan u, item_chan n)
{
    for (int i = 0; i < NN; i++) {
        struct obj *o = obj_new(0x500 + (uint64_t)i);
        g_nsw[0][i] = gc_weak_make(o);
        g_nsh[0][i] = tc_hide(o);
        gc_send(u, (uintptr_t)o);
        struct item it = item_new(0x600 + (uint64_t)i);
        g_nsw[1][i] = gc_weak_make(it.p);
        g_nsh[1][i] = tc_hide(it.p);
        gc_send(n, it);
    }
}

TC_NOINLINE static int ns_alive(int k)
{
    int n = 0;
    for (int i = 0; i < NN; i++)
        n += gc_weak_get(g_nsw[k][i]) != NULL;
    return n;
}

static void test_noscan(void)
{
    uptr_chan u = gc_make_chan(uptr_chan, NN);
    item_chan n = gc_make_chan_noscan(item_chan, NN);
    ns_fill(u, n);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NN; i++)
            TC_CHECK(g_nsw[k][i], "gc_weak_make returned NULL");
    tc_collect_churn(OBJSZ, 5000, 3);
    int a0 = ns_alive(0), a1 = ns_alive(1);
    printf("     noscan: %d of %d objects behind uintptr_t values, %d of %d behind a noscan item channel live\n", a0,
           NN, a1, NN);
    TC_CHECK(a0 <= NN / 8, "%d of %d objects kept only as uintptr_t values in a channel survived", a0, NN);
    TC_CHECK(a1 <= NN / 8, "%d of %d objects kept only in a gc_make_chan_noscan channel survived", a1, NN);
    /* The values themselves are intact. */
    for (int i = 0; i < NN; i++) {
        uintptr_t x = gc_recv(u);
        TC_CHECK(x == (uintptr_t)tc_unhide(g_nsh[0][i]), "uintptr_t value %d changed", i);
        struct item it = gc_recv(n);
        TC_CHECK(it.key == 0x600 + (uint64_t)i && it.check == chk(it.key) && (uintptr_t)it.p ==
                 (uintptr_t)tc_unhide(g_nsh[1][i]), "noscan item %d changed", i);
    }
}

/* ------------------------------------------------------------------------ */
/* collected                                                                 */
/* ------------------------------------------------------------------------ */

#define NCH 18
#define NPER 16
static gc_weak *g_chw[NCH], *g_objw[NCH][NPER];
static obj_chan g_kept;
static gc_weak *g_keptw[NPER];

TC_NOINLINE static void make_lost_chans(void)
{
    for (int k = 0; k < NCH; k++) {
        gc_chan *ch;
        if (k % 3 == 0) {
            obj_chan c = gc_make_chan(obj_chan, NPER);
            for (int i = 0; i < NPER; i++) {
                struct obj *o = obj_new((uint64_t)k << 8 | (uint64_t)i);
                g_objw[k][i] = gc_weak_make(o);
                gc_send(c, o);
            }
            ch = c.c;
        } else {
            item_chan c = gc_make_chan(item_chan, NPER + 3);
            for (int i = 0; i < NPER; i++) {
                struct item it = item_new((uint64_t)k << 8 | (uint64_t)i);
                g_objw[k][i] = gc_weak_make(it.p);
                gc_send(c, it);
            }
            if (k % 3 == 2)
                gc_close(c);
            ch = c.c;
        }
        g_chw[k] = gc_weak_make(ch);
        if (!g_chw[k])
            TC_FAIL("gc_weak_make(a channel) returned NULL (errno %d): a channel is not a collected object?", errno);
    }
    g_kept = gc_make_chan(obj_chan, NPER);
    for (int i = 0; i < NPER; i++) {
        struct obj *o = obj_new(0xcafe00 + (uint64_t)i);
        g_keptw[i] = gc_weak_make(o);
        gc_send(g_kept, o);
    }
}

/* Send an object through c, receive and drop it; its weak pointer. */
TC_NOINLINE static gc_weak *make_received(obj_chan c, uint64_t key)
{
    struct obj *o = obj_new(key);
    gc_weak *w = gc_weak_make(o);
    gc_send(c, o);
    struct obj *r = gc_recv(c);
    obj_verify(r, key, "an object sent through a channel");
    return w;
}

TC_NOINLINE static void count_lost(int *chans, int *objs)
{
    *chans = *objs = 0;
    for (int k = 0; k < NCH; k++) {
        *chans += gc_weak_get(g_chw[k]) != NULL;
        for (int i = 0; i < NPER; i++)
            *objs += gc_weak_get(g_objw[k][i]) != NULL;
    }
}

/* A thread blocked sending on a channel only it reaches. */
static gc_weak *g_blkw;
static atomic_int g_blk_ready;
static uintptr_t g_blk_hidden;

TC_NOINLINE static void lone_send(void)
{
    obj_chan c = gc_make_chan(obj_chan, 0);
    g_blkw = gc_weak_make(c.c);
    g_blk_hidden = tc_hide(c.c);
    atomic_store(&g_blk_ready, 1);
    gc_send(c, obj_new(0xb10c));
}

static void *lone_sender(void *arg)
{
    (void)arg;
    lone_send();
    return NULL;
}

static void test_collected(void)
{
    make_lost_chans();
    tc_collect_churn(OBJSZ, 5000, 3);
    int chans, objs;
    count_lost(&chans, &objs);
    printf("     collected: %d of %d unreachable channels and %d of %d objects buffered in them live\n", chans, NCH,
           objs, NCH * NPER);
    TC_CHECK(chans <= 2, "%d of %d unreachable channels were not collected", chans, NCH);
    TC_CHECK(objs <= 2 * NPER + 4, "%d of %d objects buffered in unreachable channels were not collected", objs,
             NCH * NPER);
    /* The reachable one kept all of its values. */
    for (int i = 0; i < NPER; i++) {
        struct obj *w = gc_weak_get(g_keptw[i]);
        TC_CHECK(w, "object %d buffered in a reachable channel was collected", i);
        struct obj *o = gc_recv(g_kept);
        TC_CHECK(o == w, "value %d: %p, the weak pointer gives %p", i, (void *)o, (void *)w);
        obj_verify(o, 0xcafe00 + (uint64_t)i, "an object buffered in a reachable channel");
    }
    /* Received values are not kept by the channel that buffered them. */
    for (int i = 0; i < NPER; i++) {
        gc_weak *w = make_received(g_kept, 0xd00d00 + (uint64_t)i);
        g_keptw[i] = w;
    }
    TC_CHECK(gc_chan_len(g_kept) == 0, "len %zu", gc_chan_len(g_kept));
    tc_collect_churn(OBJSZ, 5000, 3);
    int still = 0;
    for (int i = 0; i < NPER; i++)
        still += gc_weak_get(g_keptw[i]) != NULL;
    printf("     %d of %d objects sent through a live channel, received and dropped live\n", still, NPER);
    TC_CHECK(still <= 3, "%d of %d objects sent through a live channel, received and dropped, were not collected",
             still, NPER);
    g_kept.c = NULL;

    /* A channel only a blocked thread reaches is not collected. */
    pthread_t t = tc_thread(lone_sender, NULL);
    wait_for(&g_blk_ready, 1, "the lone sender");
    tc_sleep_ms(20);
    tc_collect_churn(OBJSZ, 5000, 3);
    obj_chan c;
    c.c = gc_weak_get(g_blkw);
    TC_CHECK(c.c != NULL, "a channel a blocked sender reaches was collected");
    TC_CHECK(c.c == tc_unhide(g_blk_hidden), "the weak pointer gives another channel");
    struct obj *o = gc_recv(c);
    obj_verify(o, 0xb10c, "the value of a sender blocked across collections");
    tc_join(t);
}

/* ------------------------------------------------------------------------ */
/* select_random                                                             */
/* ------------------------------------------------------------------------ */

#define ROUNDS 30000

static void test_select_random(void)
{
    /* Three ready receive cases (a NULL and an empty channel beside them). */
    int_chan ch[3], empty = gc_make_chan(int_chan, 1);
    for (int i = 0; i < 3; i++) {
        ch[i] = gc_make_chan(int_chan, 4);
        gc_send(ch[i], 100 * i);
    }
    int v[3], ve = -1, vz = -1;
    int_chan z = {0};
    long count[3] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        v[0] = v[1] = v[2] = -1;
        gc_select_case cs[5] = {GC_RECV_CASE(ch[0], &v[0]), GC_RECV_CASE(empty, &ve), GC_RECV_CASE(ch[1], &v[1]),
                                GC_RECV_CASE(z, &vz), GC_RECV_CASE(ch[2], &v[2])};
        int k = gc_selectgo(cs, 5, r % 2 ? 0 : -1);
        int i = k == 0 ? 0 : k == 2 ? 1 : k == 4 ? 2 : -1;
        TC_CHECK(i >= 0, "round %d: select chose case %d, not a ready one", r, k);
        TC_CHECK(cs[k].ok && v[i] == 100 * i, "round %d: case %d received %d ok %d", r, k, v[i], cs[k].ok);
        for (int j = 0; j < 3; j++)
            TC_CHECK(j == i || v[j] == -1, "round %d: case of channel %d not chosen but its elem written", r, j);
        count[i]++;
        gc_send(ch[i], 100 * i);
        for (int j = 0; j < 3; j++)
            TC_CHECK(gc_chan_len(ch[j]) == 1, "round %d: channel %d holds %zu", r, j, gc_chan_len(ch[j]));
    }
    TC_CHECK(ve == -1 && vz == -1 && gc_chan_len(empty) == 0, "a not-ready case proceeded");
    printf("     3 ready cases: %ld %ld %ld of %d\n", count[0], count[1], count[2], ROUNDS);
    for (int i = 0; i < 3; i++)
        TC_CHECK(count[i] >= ROUNDS * 28 / 100 && count[i] <= ROUNDS * 38 / 100,
                 "of 3 ready cases, case %d was chosen %ld times in %d (want 28%%-38%%)", i, count[i], ROUNDS);

    /* A ready send and a ready receive. */
    int_chan room = gc_make_chan(int_chan, 1), full = gc_make_chan(int_chan, 1);
    gc_send(full, 5);
    long c2[2] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        int out = r, in = -1;
        gc_select_case cs[2] = {GC_SEND_CASE(room, &out), GC_RECV_CASE(full, &in)};
        int k = gc_selectgo(cs, 2, r % 2 ? -1 : 0);
        TC_CHECK(k == 0 || k == 1, "round %d: select chose %d", r, k);
        c2[k]++;
        if (k == 0) {
            TC_CHECK(in == -1 && gc_recv(room) == r, "round %d: the send case sent something else", r);
        } else {
            TC_CHECK(in == 5 && cs[1].ok && gc_chan_len(room) == 0, "round %d: the receive case got %d", r, in);
            gc_send(full, 5);
        }
    }
    printf("     a ready send and a ready receive: %ld %ld of %d\n", c2[0], c2[1], ROUNDS);
    for (int i = 0; i < 2; i++)
        TC_CHECK(c2[i] >= ROUNDS * 45 / 100 && c2[i] <= ROUNDS * 55 / 100,
                 "of 2 ready cases, case %d was chosen %ld times in %d (want 45%%-55%%)", i, c2[i], ROUNDS);
}

/* ------------------------------------------------------------------------ */
/* select_default                                                            */
/* ------------------------------------------------------------------------ */

static void test_select_default(void)
{
    int_chan empty = gc_make_chan(int_chan, 2), full = gc_make_chan(int_chan, 1), unb = gc_make_chan(int_chan, 0);
    int_chan z = {0};
    gc_send(full, 11);
    int v[6] = {-1, -1, -1, -1, -1, -1}, s1 = 1, s2 = 2, s3 = 3;
    gc_select_case cs[7] = {GC_RECV_CASE(empty, &v[0]), GC_SEND_CASE(full, &s1), GC_RECV_CASE(unb, &v[1]),
                            GC_SEND_CASE(unb, &s2), GC_RECV_CASE(z, &v[2]), GC_SEND_CASE(z, &s3),
                            GC_RECV_CASE(empty, NULL)};
    for (int i = 0; i < 200; i++)
        TC_CHECK(gc_selectgo(cs, 7, 0) == -1, "select with default and no case ready chose a case");
    for (int i = 0; i < 6; i++)
        TC_CHECK(v[i] == -1, "a select that chose default wrote elem %d", i);
    TC_CHECK(gc_chan_len(empty) == 0 && gc_chan_len(full) == 1 && gc_recv(full) == 11, "default changed a channel");
    gc_send(full, 11);
    int scratch;
    TC_CHECK(!gc_try_send(unb, 1) && !gc_try_recv(unb, &scratch, NULL), "a select that chose default left a waiter");
    TC_CHECK(gc_selectgo(cs, 0, 0) == -1, "select over no cases with default");

    /* One case ready at a time: that one, with its effect. */
    for (int round = 0; round < 50; round++) {
        /* case 0: a value in empty (the first 6 cases: only case 0 reads it) */
        gc_send(empty, 1000 + round);
        v[0] = -1;
        cs[0].ok = false;
        int k = gc_selectgo(cs, 6, 0);
        TC_CHECK(k == 0, "round %d: select chose %d, want the only ready case 0", round, k);
        TC_CHECK(gc_chan_len(empty) == 0 && v[0] == 1000 + round && cs[0].ok, "round %d: case 0 got %d ok %d",
                 round, v[0], cs[0].ok);
        /* case 1: room in full */
        (void)gc_recv(full);
        k = gc_selectgo(cs, 6, round % 2 ? 0 : -1);
        TC_CHECK(k == 1, "round %d: select chose %d, want the only ready case 1 (a send)", round, k);
        TC_CHECK(gc_chan_len(full) == 1 && gc_recv(full) == 1, "round %d: the send case sent something else", round);
        gc_send(full, 11);
    }
    /* Only one case on a closed channel: ready, ok false, elem zeroed. */
    int_chan cl = gc_make_chan(int_chan, 0);
    gc_close(cl);
    int vc = -1;
    gc_select_case cc[3] = {GC_RECV_CASE(empty, &v[0]), GC_RECV_CASE(cl, &vc), GC_SEND_CASE(full, &s1)};
    cc[1].ok = true;
    TC_CHECK(gc_selectgo(cc, 3, 0) == 1 && !cc[1].ok && vc == 0, "a closed channel's case: ok %d v %d", cc[1].ok,
             vc);
    /* A receive case with a NULL elem consumes the value. */
    gc_send(empty, 5);
    gc_select_case cn[1] = {GC_RECV_CASE(empty, NULL)};
    TC_CHECK(gc_selectgo(cn, 1, 0) == 0 && cn[0].ok && gc_chan_len(empty) == 0, "receive case with NULL elem");
    /* timeout > 0: -1 after at least the timeout */
    double t0 = tc_now();
    TC_CHECK(gc_selectgo(cs, 7, 20 * 1000000LL) == -1, "select(timeout 20 ms) with nothing ready chose a case");
    TC_CHECK(tc_now() - t0 >= 0.020, "select(timeout 20 ms) returned after %.4f s", tc_now() - t0);
    TC_CHECK(!gc_try_send(unb, 1) && !gc_try_recv(unb, &scratch, NULL), "a timed-out select left a waiter");
}

/* ------------------------------------------------------------------------ */
/* select_block                                                              */
/* ------------------------------------------------------------------------ */

struct sb {
    int_chan a, b, c, d;
    int which, round;
    int got;
};

static void *sb_helper(void *arg)
{
    struct sb *s = arg;
    if (s->round % 3)
        sleep_us(1000 * (s->round % 5));
    switch (s->which) {
    case 0:
        gc_send(s->a, s->round);
        break;
    case 1:
        gc_send(s->b, s->round + 500);
        break;
    case 2:
        gc_close(s->c);
        break;
    case 3:
        s->got = gc_recv(s->d);
        break;
    }
    return NULL;
}

struct pair {
    int_chan a, b;
    int id, k, v;
    atomic_int *go;
};

static void *pair_side(void *arg)
{
    struct pair *p = arg;
    int out = 1000 + p->id, in = -1;
    gc_select_case cs[2];
    if (p->id == 0) {
        cs[0] = GC_SEND_CASE(p->a, &out);
        cs[1] = GC_RECV_CASE(p->b, &in);
    } else {
        cs[0] = GC_RECV_CASE(p->a, &in);
        cs[1] = GC_SEND_CASE(p->b, &out);
    }
    p->k = gc_selectgo(cs, 2, -1);
    p->v = in;
    return NULL;
}

struct shared_sel {
    int_chan a, own;
    int got;
    int k;
};

static void *shared_selector(void *arg)
{
    struct shared_sel *s = arg;
    int x = -1, y = -1;
    gc_select_case cs[2] = {GC_RECV_CASE(s->own, &y), GC_RECV_CASE(s->a, &x)};
    s->k = gc_selectgo(cs, 2, -1);
    s->got = s->k == 1 ? x : y;
    return NULL;
}

static void test_select_block(void)
{
    int counts[4] = {0};
    for (int round = 0; round < 80; round++) {
        struct sb s = {gc_make_chan(int_chan, 0), gc_make_chan(int_chan, 0), gc_make_chan(int_chan, 1),
                       gc_make_chan(int_chan, 0), round % 4, round, -1};
        int va = -1, vb = -1, vc = -1, out = 9000 + round;
        gc_select_case cs[4] = {GC_RECV_CASE(s.a, &va), GC_RECV_CASE(s.b, &vb), GC_RECV_CASE(s.c, &vc),
                                GC_SEND_CASE(s.d, &out)};
        cs[2].ok = true;
        pthread_t t = tc_thread(sb_helper, &s);
        int k = gc_selectgo(cs, 4, round % 2 ? -1 : 20 * 1000000000LL);
        tc_join(t);
        TC_CHECK(k == s.which, "round %d: the select chose %d, but only case %d became ready", round, k, s.which);
        counts[k]++;
        switch (k) {
        case 0:
            TC_CHECK(va == round && cs[0].ok && vb == -1 && vc == -1, "round %d: case 0 got %d", round, va);
            break;
        case 1:
            TC_CHECK(vb == round + 500 && cs[1].ok && va == -1, "round %d: case 1 got %d", round, vb);
            break;
        case 2:
            TC_CHECK(vc == 0 && !cs[2].ok && va == -1 && vb == -1, "round %d: close: ok %d v %d", round, cs[2].ok, vc);
            break;
        case 3:
            TC_CHECK(s.got == out && va == -1 && vb == -1, "round %d: the helper received %d, want %d", round, s.got,
                     out);
            break;
        }
        /* the select left no waiter on the other channels */
        int scratch;
        TC_CHECK(!gc_try_send(s.a, 1) && !gc_try_send(s.b, 1), "round %d: a receiver was left on a or b", round);
        TC_CHECK(!gc_try_recv(s.d, &scratch, NULL), "round %d: a sender was left on d", round);
        if (k != 2)
            TC_CHECK(gc_try_send(s.c, 1) && gc_chan_len(s.c) == 1, "round %d: c", round);
    }
    TC_CHECK(counts[0] == 20 && counts[1] == 20 && counts[2] == 20 && counts[3] == 20, "case counts");

    /* Selects on both ends of two unbuffered channels pair up. */
    int outcome[2] = {0};
    for (int round = 0; round < 200; round++) {
        int_chan a = gc_make_chan(int_chan, 0), b = gc_make_chan(int_chan, 0);
        struct pair p[2] = {{a, b, 0, -1, -1, NULL}, {a, b, 1, -1, -1, NULL}};
        pthread_t t0 = tc_thread(pair_side, &p[0]), t1 = tc_thread(pair_side, &p[1]);
        tc_join(t0);
        tc_join(t1);
        TC_CHECK(p[0].k == p[1].k && (p[0].k == 0 || p[0].k == 1), "round %d: the two selects chose %d and %d", round,
                 p[0].k, p[1].k);
        if (p[0].k == 0)
            TC_CHECK(p[1].v == 1000 && p[0].v == -1, "round %d: a carried %d", round, p[1].v);
        else
            TC_CHECK(p[0].v == 1001 && p[1].v == -1, "round %d: b carried %d", round, p[0].v);
        outcome[p[0].k]++;
    }
    printf("     select against select: %d pairings over a, %d over b\n", outcome[0], outcome[1]);

    /* Three selects blocked on one channel: three sends, one each. */
    int_chan a = gc_make_chan(int_chan, 0);
    struct shared_sel ss[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        ss[i] = (struct shared_sel){a, gc_make_chan(int_chan, 0), -1, -1};
        t[i] = tc_thread(shared_selector, &ss[i]);
    }
    for (int i = 0; i < 3; i++)
        gc_send(a, 1 << i);
    int mask = 0;
    for (int i = 0; i < 3; i++) {
        tc_join(t[i]);
        TC_CHECK(ss[i].k == 1, "selector %d chose %d", i, ss[i].k);
        mask |= ss[i].got;
    }
    TC_CHECK(mask == 7, "three selectors got mask %#x, want 0x7", mask);
    int scratch;
    TC_CHECK(!gc_try_send(a, 1), "a selector is still waiting on a");
    for (int i = 0; i < 3; i++)
        TC_CHECK(!gc_try_send(ss[i].own, 1) && !gc_try_recv(ss[i].own, &scratch, NULL), "a waiter left on own %d", i);
}

/* ------------------------------------------------------------------------ */
/* elem_sizes                                                                */
/* ------------------------------------------------------------------------ */

/* Element i of size n: pattern bytes. */
static void es_fill(unsigned char *p, size_t n, uint32_t i) { tc_fill(p, n, i * 31 + (uint32_t)n); }

struct es {
    gc_chan *c;
    size_t size;
    int count;
};

static void *es_sender(void *arg)
{
    struct es *e = arg;
    unsigned char buf[1024];
    for (int i = 0; i < e->count; i++) {
        es_fill(buf, e->size, (uint32_t)i);
        if (i % 3 == 2) {
            gc_select_case cs[1] = {{e->c, buf, GC_SELECT_SEND, 0}};
            if (gc_selectgo(cs, 1, -1) != 0)
                TC_FAIL("select send of size %zu", e->size);
        } else {
            gc_chansend(e->c, buf);
        }
        memset(buf, 0x11, sizeof buf); /* the channel copied it: the sender may reuse its variable */
    }
    return NULL;
}

static void test_elem_sizes(void)
{
    static const size_t sizes[] = {1, 2, 3, 7, 8, 12, 24, 100, 256, 1000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (int cap = 0; cap <= 5; cap += 5) {
            for (int noscan = 0; noscan <= 1; noscan++) {
                struct es e = {gc_makechan(n, (size_t)cap, noscan), n, 200};
                TC_CHECK(e.c && gc_chancap(e.c) == (size_t)cap, "gc_makechan(%zu, %d)", n, cap);
                pthread_t t = tc_thread(es_sender, &e);
                unsigned char buf[1024 + 64], want[1024];
                for (int i = 0; i < e.count; i++) {
                    memset(buf, 0xcd, sizeof buf);
                    bool ok = false;
                    if (i % 4 == 1) {
                        gc_select_case cs[1] = {{e.c, buf, GC_SELECT_RECV, 0}};
                        TC_CHECK(gc_selectgo(cs, 1, -1) == 0, "select receive");
                        ok = cs[0].ok;
                    } else if (i % 4 == 2) {
                        TC_CHECK(gc_chanrecv_timeout(e.c, buf, &ok, 20 * 1000000000LL), "size %zu: timed out", n);
                    } else {
                        ok = gc_chanrecv(e.c, buf);
                    }
                    es_fill(want, n, (uint32_t)i);
                    TC_CHECK(ok && memcmp(buf, want, n) == 0, "size %zu cap %d noscan %d: element %d differs", n, cap,
                             noscan, i);
                    for (size_t j = n; j < n + 64; j++)
                        TC_CHECK(buf[j] == 0xcd, "size %zu cap %d: a receive wrote byte %zu, past the element", n,
                                 cap, j);
                }
                tc_join(t);
                gc_closechan(e.c);
                memset(buf, 0xcd, sizeof buf);
                TC_CHECK(!gc_chanrecv(e.c, buf) && tc_nonzero_at(buf, n) < 0 && buf[n] == 0xcd,
                         "size %zu: the zero value of a closed channel", n);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* select_same                                                               */
/* ------------------------------------------------------------------------ */

struct ss_arg {
    int_chan c;
    int v;
};

static void *ss_plain_recv(void *arg)
{
    struct ss_arg *a = arg;
    a->v = gc_recv(a->c);
    return NULL;
}

static void *ss_plain_send(void *arg)
{
    struct ss_arg *a = arg;
    gc_send(a->c, a->v);
    return NULL;
}

static void test_select_same(void)
{
    /* Two receive cases on one buffered channel with one value: one of
     * them gets it, once. */
    int_chan b = gc_make_chan(int_chan, 4);
    long first = 0;
    for (int r = 0; r < 2000; r++) {
        gc_send(b, r);
        int x = -1, y = -1;
        gc_select_case cs[2] = {GC_RECV_CASE(b, &x), GC_RECV_CASE(b, &y)};
        int k = gc_selectgo(cs, 2, r % 2 ? 0 : -1);
        TC_CHECK((k == 0 && x == r && y == -1) || (k == 1 && y == r && x == -1), "round %d: chose %d, x %d y %d", r,
                 k, x, y);
        TC_CHECK(gc_chan_len(b) == 0, "round %d: len %zu", r, gc_chan_len(b));
        first += k == 0;
    }
    TC_CHECK(first > 800 && first < 1200, "two cases on one channel: the first chosen %ld times of 2000", first);
    /* A send and a receive on one buffered channel with a value and room. */
    gc_send(b, 7);
    for (int r = 0; r < 200; r++) {
        int in = -1, out = 100 + r;
        gc_select_case cs[2] = {GC_SEND_CASE(b, &out), GC_RECV_CASE(b, &in)};
        int k = gc_selectgo(cs, 2, 0);
        TC_CHECK(k == 0 || k == 1, "round %d: chose %d", r, k);
        size_t len = gc_chan_len(b);
        TC_CHECK(k == 0 ? len == 2 && in == -1 : len == 0 && in >= 7, "round %d: case %d, len %zu in %d", r, k, len, in);
        while (gc_chan_len(b) > 0)
            (void)gc_recv(b);
        gc_send(b, 7);
    }
    /* One select sending and receiving on one unbuffered channel pairs
     * with the other party, never with itself. */
    int_chan u = gc_make_chan(int_chan, 0);
    for (int r = 0; r < 100; r++) {
        struct ss_arg a = {u, 500 + r};
        bool recv_side = r % 2;
        pthread_t t = tc_thread(recv_side ? ss_plain_send : ss_plain_recv, &a);
        int in = -1, out = 900 + r;
        gc_select_case cs[2] = {GC_SEND_CASE(u, &out), GC_RECV_CASE(u, &in)};
        int k = gc_selectgo(cs, 2, -1);
        tc_join(t);
        if (recv_side)
            TC_CHECK(k == 1 && in == 500 + r && cs[1].ok, "round %d: chose %d, in %d", r, k, in);
        else
            TC_CHECK(k == 0 && a.v == 900 + r && in == -1, "round %d: chose %d, the receiver got %d", r, k, a.v);
    }
    int scratch;
    TC_CHECK(!gc_try_send(u, 1) && !gc_try_recv(u, &scratch, NULL), "a waiter was left on u");
}

/* ------------------------------------------------------------------------ */
/* select_many                                                               */
/* ------------------------------------------------------------------------ */

#define SM_N 40

struct sm {
    int_chan ch[SM_N];
    int k, v;
    bool ok;
};

TC_NOINLINE static void sm_block(struct sm *m)
{
    int v[SM_N];
    gc_select_case cs[SM_N + 2];
    for (int i = 0; i < SM_N; i++) {
        v[i] = -1;
        cs[i] = GC_RECV_CASE(m->ch[i], &v[i]);
    }
    int out = 3;
    cs[SM_N] = (gc_select_case){NULL, &out, GC_SELECT_SEND, 0};
    cs[SM_N + 1] = (gc_select_case){NULL, &out, GC_SELECT_RECV, 0};
    m->k = gc_selectgo(cs, SM_N + 2, -1);
    m->v = m->k >= 0 && m->k < SM_N ? v[m->k] : -2;
    m->ok = m->k >= 0 ? cs[m->k].ok : false;
    for (int i = 0; i < SM_N; i++)
        if (i != m->k && v[i] != -1)
            TC_FAIL("select over %d cases: case %d not chosen but its elem written", SM_N + 2, i);
}

static void *sm_thread(void *arg)
{
    sm_block(arg);
    return NULL;
}

static void test_select_many(void)
{
    /* Ready cases among 40 buffered channels: only those, roughly uniformly. */
    int_chan ch[SM_N];
    for (int i = 0; i < SM_N; i++)
        ch[i] = gc_make_chan(int_chan, 1);
    uint64_t rng = 5;
    long chosen[SM_N] = {0};
    for (int r = 0; r < 20000; r++) {
        /* channels 0, 2, 4, ..., 38 hold a value; the odd ones are empty */
        for (int i = 0; i < SM_N; i += 2)
            if (gc_chan_len(ch[i]) == 0)
                gc_send(ch[i], 1000 + i);
        int v[SM_N];
        gc_select_case cs[SM_N];
        for (int i = 0; i < SM_N; i++) {
            v[i] = -1;
            cs[i] = GC_RECV_CASE(ch[i], &v[i]);
        }
        int k = gc_selectgo(cs, SM_N, tc_rand(&rng) % 2 ? 0 : -1);
        TC_CHECK(k >= 0 && k % 2 == 0 && v[k] == 1000 + k && cs[k].ok, "round %d: chose %d (v %d)", r, k,
                 k >= 0 ? v[k] : 0);
        chosen[k]++;
    }
    for (int i = 0; i < SM_N; i += 2) /* 20 ready: 1000 each expected */
        TC_CHECK(chosen[i] > 700 && chosen[i] < 1300, "of 20 ready cases among 40, case %d chosen %ld times of 20000", i,
                 chosen[i]);
    /* A blocking select over 42 cases (two NULL) in a thread, across
     * collections; a send on one channel wakes it, a close on another. */
    for (int round = 0; round < 6; round++) {
        struct sm m;
        for (int i = 0; i < SM_N; i++)
            m.ch[i] = gc_make_chan(int_chan, round % 2 ? 0 : 2);
        m.k = -5;
        pthread_t t = tc_thread(sm_thread, &m);
        tc_sleep_ms(10);
        tc_collect_churn(64, 5000, 2);
        int target = (round * 7 + 3) % SM_N;
        if (round % 3 == 2)
            gc_close(m.ch[target]);
        else
            gc_send(m.ch[target], 4242);
        tc_join(t);
        TC_CHECK(m.k == target, "round %d: the select chose %d, want %d", round, m.k, target);
        if (round % 3 == 2)
            TC_CHECK(!m.ok && m.v == 0, "round %d: a close gave ok %d v %d", round, m.ok, m.v);
        else
            TC_CHECK(m.ok && m.v == 4242, "round %d: got %d", round, m.v);
        for (int i = 0; i < SM_N && !gc_chan_cap(m.ch[i]); i++) /* unbuffered: no receiver left behind */
            TC_CHECK(i == target || !gc_try_send(m.ch[i], 1), "round %d: a waiter was left on channel %d", round, i);
    }
}

/* ------------------------------------------------------------------------ */
/* select_wakeup                                                             */
/* ------------------------------------------------------------------------ */

/* A select over two buffered channels a and b sleeps first, a plain receive
 * (or send) on a sleeps behind it.  Then a gets a value (or room) and so does
 * b: if the select takes b, what a has must still reach the plain one. */
struct lw {
    int_chan a, b;
    int dir, k, rv;
    atomic_int done;
};

static void *lw_select(void *arg)
{
    struct lw *l = arg;
    int va = -1, vb = -1, sa = 10, sb = 20;
    gc_select_case cs[2];
    if (l->dir == GC_SELECT_RECV) {
        cs[0] = GC_RECV_CASE(l->a, &va);
        cs[1] = GC_RECV_CASE(l->b, &vb);
    } else {
        cs[0] = GC_SEND_CASE(l->a, &sa);
        cs[1] = GC_SEND_CASE(l->b, &sb);
    }
    l->k = gc_selectgo(cs, 2, -1);
    if (l->dir == GC_SELECT_RECV && (l->k == 0 ? va != 1 : vb != 2))
        TC_FAIL("the select's case %d received %d", l->k, l->k == 0 ? va : vb);
    return NULL;
}

static void *lw_plain(void *arg)
{
    struct lw *l = arg;
    if (l->dir == GC_SELECT_RECV)
        l->rv = gc_recv(l->a);
    else
        gc_send(l->a, 30);
    atomic_store(&l->done, 1);
    return NULL;
}

/* Wait for *v; a thread that is still blocked after 10 s while it could
 * proceed is lost. */
static bool wait_10s(atomic_int *v)
{
    for (int i = 0; i < 10000 && !atomic_load(v); i++)
        tc_sleep_ms(1);
    return atomic_load(v) != 0;
}

static void test_select_wakeup(void)
{
    int took_b[2] = {0, 0};
    for (int round = 0; round < 24; round++) {
        int dir = round % 2 ? GC_SELECT_SEND : GC_SELECT_RECV;
        struct lw l = {gc_make_chan(int_chan, dir == GC_SELECT_RECV ? 4 : 1),
                       gc_make_chan(int_chan, dir == GC_SELECT_RECV ? 4 : 1), dir, -1, -1, 0};
        if (dir == GC_SELECT_SEND) { /* both full */
            gc_send(l.a, 1);
            gc_send(l.b, 2);
        }
        pthread_t ts = tc_thread(lw_select, &l);
        tc_sleep_ms(30);
        pthread_t tp = tc_thread(lw_plain, &l);
        tc_sleep_ms(30);
        TC_CHECK(l.k == -1 && !atomic_load(&l.done), "round %d: a thread proceeded before it could", round);
        if (dir == GC_SELECT_RECV) {
            gc_send(l.a, 1);
            gc_send(l.b, 2);
        } else {
            TC_CHECK(gc_recv(l.a) == 1 && gc_recv(l.b) == 2, "round %d: the full channels' values", round);
        }
        tc_join(ts);
        TC_CHECK(l.k == 0 || l.k == 1, "round %d: select returned %d", round, l.k);
        if (l.k == 1) {
            took_b[dir == GC_SELECT_SEND]++;
            TC_CHECK(wait_10s(&l.done),
                     "round %d: the select took b, and a plain %s on a still blocks 10 s later, with a %s (len %zu "
                     "of %zu): the wake-up a's %s gave the select was lost",
                     round, dir == GC_SELECT_RECV ? "receive" : "send",
                     dir == GC_SELECT_RECV ? "holding a value" : "having room", gc_chan_len(l.a), gc_chan_cap(l.a),
                     dir == GC_SELECT_RECV ? "send" : "receive");
            if (dir == GC_SELECT_RECV)
                TC_CHECK(l.rv == 1, "round %d: the plain receive got %d", round, l.rv);
            else
                TC_CHECK(gc_recv(l.a) == 30, "round %d: the plain send's value", round);
        } else {
            if (dir == GC_SELECT_RECV) {
                gc_send(l.a, 3);
                TC_CHECK(wait_10s(&l.done), "round %d: the plain receive missed a value sent to a", round);
                TC_CHECK(l.rv == 3, "round %d: the plain receive got %d", round, l.rv);
            } else {
                TC_CHECK(gc_recv(l.a) == 10, "round %d: the select's send", round);
                TC_CHECK(gc_recv(l.a) == 30, "round %d: the plain send's value", round);
            }
        }
        tc_join(tp);
    }
    printf("     the select took b in %d of 12 receive rounds, %d of 12 send rounds\n", took_b[0], took_b[1]);
}

/* ------------------------------------------------------------------------ */
/* mpmc                                                                      */
/* ------------------------------------------------------------------------ */

#define MP_PROD 4
#define MP_CONS 3

struct pmsg {
    struct obj *o;
    uint32_t prod, seq;
};
typedef GC_CHAN(struct pmsg) pmsg_chan;

struct mp {
    pmsg_chan c;
    int nper;
    atomic_uchar *seen;
};

struct mp_arg {
    struct mp *m;
    int id;
    long count, timeouts;
};

static uint64_t mp_key(uint32_t prod, uint32_t seq) { return (uint64_t)prod << 32 | seq; }

static void *mp_producer(void *arg)
{
    struct mp_arg *a = arg;
    struct mp *m = a->m;
    for (int s = 0; s < m->nper; s++) {
        struct pmsg x = {obj_new(mp_key((uint32_t)a->id, (uint32_t)s)), (uint32_t)a->id, (uint32_t)s};
        switch (a->id % 3) {
        case 0:
            gc_send(m->c, x);
            break;
        case 1: {
            int dummy;
            gc_select_case cs[2] = {{NULL, &dummy, GC_SELECT_RECV, 0}, GC_SEND_CASE(m->c, &x)};
            int k = gc_selectgo(cs, 2, -1);
            if (k != 1)
                TC_FAIL("producer %d: a select send chose %d", a->id, k);
            break;
        }
        case 2:
            while (!gc_try_send(m->c, x))
                sched_yield();
            break;
        }
    }
    return NULL;
}

static void *mp_consumer(void *arg)
{
    struct mp_arg *a = arg;
    struct mp *m = a->m;
    int64_t last[MP_PROD];
    for (int i = 0; i < MP_PROD; i++)
        last[i] = -1;
    for (;;) {
        struct pmsg x;
        bool ok = false;
        switch (a->id % 3) {
        case 0:
            ok = gc_recv_ok(m->c, &x);
            break;
        case 1: {
            gc_select_case cs[1] = {GC_RECV_CASE(m->c, &x)};
            int k = gc_selectgo(cs, 1, -1);
            if (k != 0)
                TC_FAIL("consumer %d: select chose %d", a->id, k);
            ok = cs[0].ok;
            break;
        }
        case 2:
            while (!gc_recv_timeout(m->c, &x, &ok, 2000000))
                a->timeouts++;
            break;
        }
        if (!ok) {
            if (tc_nonzero_at(&x, sizeof x) >= 0)
                TC_FAIL("consumer %d: the closed channel's value is not zero", a->id);
            break;
        }
        if (x.prod >= MP_PROD || x.seq >= (uint32_t)m->nper)
            TC_FAIL("consumer %d: received producer %u seq %u", a->id, x.prod, x.seq);
        obj_verify(x.o, mp_key(x.prod, x.seq), "mpmc");
        if ((int64_t)x.seq <= last[x.prod])
            TC_FAIL("consumer %d: producer %u's value %u after its %lld: out of order", a->id, x.prod, x.seq,
                    (long long)last[x.prod]);
        last[x.prod] = x.seq;
        if (atomic_exchange(&m->seen[x.prod * (uint32_t)m->nper + x.seq], 1))
            TC_FAIL("consumer %d: producer %u's value %u received twice", a->id, x.prod, x.seq);
        if (++a->count % 1500 == 0) /* a collection while the others send and receive */
            gc_collect();
    }
    return NULL;
}

static void test_mpmc(void)
{
    pthread_t ct = churn_start();
    for (int cap = 8; cap >= 0; cap -= 8) {
        struct mp m = {gc_make_chan(pmsg_chan, (size_t)cap), cap ? 2000 : 1000, NULL};
        m.seen = calloc((size_t)MP_PROD * (size_t)m.nper, 1);
        struct mp_arg pa[MP_PROD], ca[MP_CONS];
        pthread_t pt[MP_PROD], ctt[MP_CONS];
        for (int i = 0; i < MP_CONS; i++) {
            ca[i] = (struct mp_arg){&m, i, 0, 0};
            ctt[i] = tc_thread(mp_consumer, &ca[i]);
        }
        for (int i = 0; i < MP_PROD; i++) {
            pa[i] = (struct mp_arg){&m, i, 0, 0};
            pt[i] = tc_thread(mp_producer, &pa[i]);
        }
        for (int i = 0; i < MP_PROD; i++)
            tc_join(pt[i]);
        gc_close(m.c);
        long total = 0;
        for (int i = 0; i < MP_CONS; i++) {
            tc_join(ctt[i]);
            total += ca[i].count;
        }
        printf("     cap %d: %ld values; consumers got %ld %ld %ld (%ld timeouts)\n", cap, total, ca[0].count,
               ca[1].count, ca[2].count, ca[2].timeouts);
        TC_CHECK(total == (long)MP_PROD * m.nper, "cap %d: %ld values received, %d sent", cap, total,
                 MP_PROD * m.nper);
        for (int i = 0; i < MP_PROD * m.nper; i++)
            TC_CHECK(m.seen[i], "cap %d: producer %d's value %d never received", cap, i / m.nper, i % m.nper);
        free(m.seen);
    }
    churn_stop(ct);
}

/* ------------------------------------------------------------------------ */
/* close_race                                                                */
/* ------------------------------------------------------------------------ */

struct rr {
    int_chan c;
    int kind;
    bool ok;
    int v;
};

static void *rr_receiver(void *arg)
{
    struct rr *r = arg;
    r->v = -1;
    switch (r->kind) {
    case 0:
        r->ok = gc_recv_ok(r->c, &r->v);
        break;
    case 1: {
        gc_select_case cs[1] = {GC_RECV_CASE(r->c, &r->v)};
        if (gc_selectgo(cs, 1, -1) != 0)
            TC_FAIL("select chose another case");
        r->ok = cs[0].ok;
        break;
    }
    case 2:
        if (!gc_recv_timeout(r->c, &r->v, &r->ok, 30 * 1000000000LL))
            TC_FAIL("recv_timeout(30 s) timed out though the channel closes");
        break;
    case 3:
        while (!gc_try_recv(r->c, &r->v, &r->ok))
            sched_yield();
        break;
    }
    return NULL;
}

struct closer {
    int_chan c;
    long delay_us;
};

static void *closer_thread(void *arg)
{
    struct closer *c = arg;
    sleep_us(c->delay_us);
    gc_close(c->c);
    return NULL;
}

static void test_close_race(void)
{
    pthread_t ct = churn_start();
    uint64_t rng = 99;
    for (int round = 0; round < 60; round++) {
        int cap = round % 2 ? 4 : 0;
        int_chan c = gc_make_chan(int_chan, (size_t)cap);
        int pre = cap ? 2 : 0;
        for (int i = 1; i <= pre; i++)
            gc_send(c, i);
        struct rr r[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            r[i] = (struct rr){c, (i + round) % 4, true, -1};
            t[i] = tc_thread(rr_receiver, &r[i]);
        }
        struct closer cl = {c, (long)(tc_rand(&rng) % 2000)};
        pthread_t tc = tc_thread(closer_thread, &cl);
        tc_join(tc);
        int mask = 0, nok = 0;
        for (int i = 0; i < 4; i++) {
            tc_join(t[i]);
            if (r[i].ok) {
                TC_CHECK(r[i].v >= 1 && r[i].v <= pre && !(mask & (1 << r[i].v)), "round %d: receiver got %d ok", round,
                         r[i].v);
                mask |= 1 << r[i].v;
                nok++;
            } else {
                TC_CHECK(r[i].v == 0, "round %d: a receiver woken by close got %d", round, r[i].v);
            }
        }
        TC_CHECK(nok == pre, "round %d: %d receivers got a value, %d were buffered", round, nok, pre);
    }
    churn_stop(ct);

    /* Senders racing a close, in children: each send either succeeds (and
     * its value is drained) or panics with Go's message. */
    static const char send_closed[] = "panic: send on closed channel\n";
    int sent = 0, panicked = 0;
    for (int i = 0; i < 12; i++) {
        char seed[16];
        snprintf(seed, sizeof seed, "%d", i);
        tc_child c;
        const char *args[] = {"--child", "send_race", seed, NULL};
        tc_run_self(&c, args, NULL, 30);
        if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0) {
            TC_CHECK(strncmp(c.out, "OK ", 3) == 0 && c.err[0] == 0, "send_race %d: stdout \"%s\", stderr \"%s\"", i,
                     c.out, c.err);
            sent++;
        } else {
            size_t el = strlen(c.err), wl = strlen(send_closed);
            bool match = el && el % wl == 0 && el / wl <= 3;
            for (size_t j = 0; match && j < el; j += wl)
                match = memcmp(c.err + j, send_closed, wl) == 0;
            TC_CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT && match,
                     "send_race %d: the child %s, stderr \"%s\", stdout \"%s\"", i, tc_status_str(c.status), c.err,
                     c.out);
            TC_CHECK(!strstr(c.out, "OK"), "send_race %d: stdout \"%s\"", i, c.out);
            panicked++;
        }
        tc_child_free(&c);
    }
    printf("     senders racing close: %d children finished, %d panicked\n", sent, panicked);
    for (int i = 0; i < 3; i++) {
        char seed[16];
        snprintf(seed, sizeof seed, "%d", i);
        expect_panic_n("unbuf_send_race", seed, send_closed, 2);
    }
}

/* ------------------------------------------------------------------------ */
/* select_threads                                                            */
/* ------------------------------------------------------------------------ */

#define ST_FILL 20000
#define ST_N 10000

/* Values: objects, which only the channels' buffers hold meanwhile. */
struct stv {
    struct obj *o;
    int v;
};
typedef GC_CHAN(struct stv) stv_chan;
static uint64_t st_key(int k, int v) { return (uint64_t)(k + 1) << 32 | (uint32_t)v; }

struct st {
    stv_chan ch[2];
    atomic_uchar *seen[2];
    long cnt[2];
    int id;
};

static void *st_consumer(void *arg)
{
    struct st *s = arg;
    int last[2] = {-1, -1};
    for (int i = 0; i < ST_N; i++) {
        struct stv v[2] = {{NULL, -1}, {NULL, -1}};
        gc_select_case cs[2] = {GC_RECV_CASE(s->ch[0], &v[0]), GC_RECV_CASE(s->ch[1], &v[1])};
        int k = gc_selectgo(cs, 2, i % 3 ? -1 : 0);
        if (k != 0 && k != 1)
            TC_FAIL("consumer %d: select chose %d with both channels ready", s->id, k);
        if (!cs[k].ok || v[k].v < 0 || v[k].v >= ST_FILL || v[1 - k].v != -1)
            TC_FAIL("consumer %d: case %d got %d ok %d", s->id, k, v[k].v, cs[k].ok);
        obj_verify(v[k].o, st_key(k, v[k].v), "select_threads");
        if (v[k].v <= last[k])
            TC_FAIL("consumer %d: channel %d gave %d after %d", s->id, k, v[k].v, last[k]);
        last[k] = v[k].v;
        if (atomic_exchange(&s->seen[k][v[k].v], 1))
            TC_FAIL("consumer %d: channel %d's value %d received twice", s->id, k, v[k].v);
        s->cnt[k]++;
        if (i % 16 == 0)
            tc_churn(OBJSZ, 16);
        if (i % 2000 == 1000) /* a collection while the other consumer selects */
            gc_collect();
    }
    return NULL;
}

TC_NOINLINE static void st_fill(stv_chan ch[2])
{
    for (int i = 0; i < ST_FILL; i++)
        for (int k = 0; k < 2; k++)
            gc_send(ch[k], ((struct stv){obj_new(st_key(k, i)), i}));
}

static void test_select_threads(void)
{
    stv_chan ch[2] = {gc_make_chan(stv_chan, ST_FILL), gc_make_chan(stv_chan, ST_FILL)};
    atomic_uchar *seen[2] = {calloc(ST_FILL, 1), calloc(ST_FILL, 1)};
    st_fill(ch);
    pthread_t ct = churn_start();
    struct st s[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        s[i] = (struct st){{ch[0], ch[1]}, {seen[0], seen[1]}, {0, 0}, i};
        t[i] = tc_thread(st_consumer, &s[i]);
    }
    for (int i = 0; i < 2; i++)
        tc_join(t[i]);
    churn_stop(ct);
    printf("     consumer 0: %ld / %ld, consumer 1: %ld / %ld\n", s[0].cnt[0], s[0].cnt[1], s[1].cnt[0], s[1].cnt[1]);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            TC_CHECK(s[i].cnt[k] >= ST_N * 45 / 100 && s[i].cnt[k] <= ST_N * 55 / 100,
                     "consumer %d chose channel %d %ld times of %d (want 45%%-55%%)", i, k, s[i].cnt[k], ST_N);
    for (int k = 0; k < 2; k++) {
        long n = s[0].cnt[k] + s[1].cnt[k];
        TC_CHECK(gc_chan_len(ch[k]) == (size_t)(ST_FILL - n), "channel %d: len %zu after %ld received", k,
                 gc_chan_len(ch[k]), n);
        for (long i = 0; i < ST_FILL; i++)
            TC_CHECK(seen[k][i] == (i < n), "channel %d: value %ld %s", k, i,
                     seen[k][i] ? "received beyond the first received ones" : "skipped");
        /* the rest is still intact in the buffer */
        for (long i = n; i < n + 100 && i < ST_FILL; i++) {
            struct stv x = gc_recv(ch[k]);
            TC_CHECK(x.v == i, "channel %d: after the consumers, %d, want %ld", k, x.v, i);
            obj_verify(x.o, st_key(k, x.v), "select_threads: a value left buffered");
        }
    }
    free(seen[0]);
    free(seen[1]);
}

/* ------------------------------------------------------------------------ */
/* done                                                                      */
/* ------------------------------------------------------------------------ */

struct job {
    uint64_t key, check;
    struct obj *o;
};
typedef GC_CHAN(struct job *) job_chan;

struct dw {
    job_chan work;
    sig_chan done;
    int id;
    long count, idle;
    uint64_t sum;
};

static void *done_worker(void *arg)
{
    struct dw *w = arg;
    for (;;) {
        struct job *j = NULL;
        struct sig s;
        gc_select_case cs[2] = {GC_RECV_CASE(w->done, &s), GC_RECV_CASE(w->work, &j)};
        int k = gc_selectgo(cs, 2, w->id == 2 ? 1000000 : -1);
        if (k == -1) {
            if (w->id != 2)
                TC_FAIL("worker %d: a blocking select returned -1", w->id);
            w->idle++;
            continue;
        }
        if (k == 0) {
            if (cs[0].ok)
                TC_FAIL("worker %d: done gave ok true", w->id);
            return NULL;
        }
        if (k != 1 || !cs[1].ok || !j)
            TC_FAIL("worker %d: select chose %d ok %d job %p", w->id, k, cs[1].ok, (void *)j);
        if (j->check != chk(j->key))
            TC_FAIL("worker %d: job %#llx corrupt", w->id, (unsigned long long)j->key);
        obj_verify(j->o, j->key, "a job's object");
        tc_churn(48, 8);
        if (w->count % 400 == 200) /* a collection while the others select */
            gc_collect();
        w->count++;
        w->sum += j->key;
    }
}

static void test_done(void)
{
    pthread_t ct = churn_start();
    {
        struct dw w[3];
        pthread_t t[3];
        job_chan work = gc_make_chan(job_chan, 0);
        sig_chan done = gc_make_chan(sig_chan, 0);
        for (int i = 0; i < 3; i++) {
            w[i] = (struct dw){work, done, i, 0, 0, 0};
            t[i] = tc_thread(done_worker, &w[i]);
        }
        uint64_t sum = 0;
        const int njobs = 3000;
        for (int i = 0; i < njobs; i++) {
            struct job *j = gc_new(struct job);
            j->key = 0x10000 + (uint64_t)i;
            j->check = chk(j->key);
            j->o = obj_new(j->key);
            sum += j->key;
            gc_send(work, j);
        }
        gc_close(done);
        long count = 0;
        uint64_t got = 0;
        for (int i = 0; i < 3; i++) {
            tc_join(t[i]);
            count += w[i].count;
            got += w[i].sum;
        }
        printf("     done: workers did %ld %ld %ld jobs (%ld idle ticks)\n", w[0].count, w[1].count, w[2].count,
               w[2].idle);
        TC_CHECK(count == njobs && got == sum, "%ld jobs done (key sum %#llx), %d sent (%#llx)", count,
                 (unsigned long long)got, njobs, (unsigned long long)sum);
        TC_CHECK(!gc_try_send(work, NULL), "a worker still waits for work after done closed");
    }
    churn_stop(ct);
}

/* ------------------------------------------------------------------------ */
/* oracle                                                                    */
/* ------------------------------------------------------------------------ */

static char *g_trace;
static size_t g_trace_len, g_trace_cap;

__attribute__((format(printf, 1, 2))) static void tr(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    tc_append(&g_trace, &g_trace_len, &g_trace_cap, buf, (size_t)n);
}

static bool o_trysend(int_chan c, int v) { return gc_try_send(c, v); }

static void o_trysend_tr(const char *name, int_chan c, int v)
{
    bool ok = o_trysend(c, v);
    tr("%s trysend %d %s len=%zu\n", name, v, tf(ok), gc_chan_len(c));
}

static void o_tryrecv_tr(const char *name, int_chan c)
{
    int v = -1;
    bool ok = false;
    bool got = gc_try_recv(c, &v, &ok);
    tr("%s tryrecv got=%s v=%d ok=%s len=%zu\n", name, tf(got), v, tf(got && ok), gc_chan_len(c));
}

static void o_recv_tr(const char *name, int_chan c)
{
    int v = -1;
    bool ok = gc_recv_ok(c, &v);
    tr("%s recv v=%d ok=%s len=%zu\n", name, v, tf(ok), gc_chan_len(c));
}

static void o_lencap(const char *name, int_chan c) { tr("%s len=%zu cap=%zu\n", name, gc_chan_len(c), gc_chan_cap(c)); }

struct rec {
    long A;
    double B;
    unsigned char S[3];
    int *P;
};
typedef GC_CHAN(struct rec) rec_chan;

static void o_sel(const char *step, int_chan e, int_chan f, int_chan n)
{
    int v = -1, sv = 99;
    gc_select_case cs[4] = {GC_RECV_CASE(e, &v), GC_SEND_CASE(f, &sv), GC_RECV_CASE(n, &v), GC_SEND_CASE(n, &sv)};
    int k = gc_selectgo(cs, 4, 0);
    bool ok = (k == 0 || k == 2) && cs[k].ok;
    tr("select %s chosen=%d v=%d ok=%s lene=%zu lenf=%zu\n", step, k, v, tf(ok), gc_chan_len(e), gc_chan_len(f));
}

/* The C mirror of tests/go/chan_oracle.go: keep the two in step. */
static void oracle_c(void)
{
    int_chan b = gc_make_chan(int_chan, 3);
    o_lencap("b", b);
    for (int i = 1; i <= 4; i++)
        o_trysend_tr("b", b, i * 10);
    o_tryrecv_tr("b", b);
    o_trysend_tr("b", b, 50);
    o_trysend_tr("b", b, 60);
    for (int i = 0; i < 3; i++)
        o_recv_tr("b", b);
    o_tryrecv_tr("b", b);
    o_lencap("b", b);
    o_trysend_tr("b", b, 70);
    o_trysend_tr("b", b, 80);
    gc_close(b);
    o_lencap("b", b);
    for (int i = 0; i < 4; i++)
        o_recv_tr("b", b);
    o_tryrecv_tr("b", b);
    o_tryrecv_tr("b", b);
    o_lencap("b", b);

    int_chan u = gc_make_chan(int_chan, 0);
    o_lencap("u", u);
    o_trysend_tr("u", u, 1);
    o_tryrecv_tr("u", u);
    gc_close(u);
    o_recv_tr("u", u);
    o_tryrecv_tr("u", u);
    o_lencap("u", u);

    int_chan n = {0};
    o_lencap("n", n);
    o_trysend_tr("n", n, 1);
    o_tryrecv_tr("n", n);

    int_chan e = gc_make_chan(int_chan, 2), f = gc_make_chan(int_chan, 1);
    gc_send(f, 5);
    o_sel("none", e, f, n);
    gc_send(e, 7);
    o_sel("e-ready", e, f, n);
    o_recv_tr("f", f);
    o_sel("f-room", e, f, n);
    o_recv_tr("f", f);
    o_sel("f-room-again", e, f, n);
    o_sel("none-again", e, f, n);
    gc_close(e);
    o_sel("e-closed", e, f, n);
    o_sel("e-closed-again", e, f, n);

    rec_chan rc = gc_make_chan(rec_chan, 2);
    int *x = gc_new(int);
    *x = 3;
    gc_send(rc, ((struct rec){1, 2.5, {'a', 'b', 'c'}, x}));
    tr("rec len=%zu cap=%zu\n", gc_chan_len(rc), gc_chan_cap(rc));
    gc_close(rc);
    for (int i = 0; i < 2; i++) {
        struct rec r;
        memset(&r, 0x77, sizeof r);
        bool ok = gc_recv_ok(rc, &r);
        tr("rec A=%ld B=%g S=%d,%d,%d Pnil=%s ok=%s\n", r.A, r.B, r.S[0], r.S[1], r.S[2], tf(r.P == NULL), tf(ok));
    }
    dbl_chan fc = gc_make_chan(dbl_chan, 1);
    gc_close(fc);
    double fv = 1;
    bool fok = gc_recv_ok(fc, &fv);
    tr("float v=%g ok=%s\n", fv, tf(fok));
    intp_chan pc = gc_make_chan(intp_chan, 0);
    gc_close(pc);
    int *pv = x;
    bool pok = gc_recv_ok(pc, &pv);
    tr("ptr nil=%s ok=%s\n", tf(pv == NULL), tf(pok));

    sig_chan s = gc_make_chan(sig_chan, 2);
    for (int i = 0; i < 3; i++) {
        bool sent = gc_try_send(s, (struct sig){});
        tr("sig trysend %s len=%zu cap=%zu\n", tf(sent), gc_chan_len(s), gc_chan_cap(s));
    }
    gc_close(s);
    for (int i = 0; i < 3; i++) {
        bool ok = gc_recv_ok(s, NULL);
        tr("sig recv ok=%s len=%zu\n", tf(ok), gc_chan_len(s));
    }

    int_chan g = gc_make_chan(int_chan, 2), h = gc_make_chan(int_chan, 1);
    for (int i = 0; i < 3; i++) {
        int v = -1, sv = 100 + i;
        gc_select_case cs[2] = {GC_SEND_CASE(g, &sv), GC_RECV_CASE(h, &v)};
        int k = gc_selectgo(cs, 2, 0);
        tr("mixed chosen=%d v=%d leng=%zu lenh=%zu\n", k, v, gc_chan_len(g), gc_chan_len(h));
    }
    gc_send(h, 8);
    for (int i = 0; i < 2; i++) {
        int v = -1, sv = 200 + i;
        gc_select_case cs[2] = {GC_SEND_CASE(g, &sv), GC_RECV_CASE(h, &v)};
        int k = gc_selectgo(cs, 2, 0);
        tr("mixed2 chosen=%d v=%d leng=%zu lenh=%zu\n", k, v, gc_chan_len(g), gc_chan_len(h));
    }

    int_chan cu = gc_make_chan(int_chan, 0);
    gc_close(cu);
    {
        int v = -1, one = 1;
        gc_select_case cs[2] = {GC_RECV_CASE(cu, &v), GC_SEND_CASE(g, &one)};
        int k = gc_selectgo(cs, 2, -1);
        if (k == 0)
            tr("closed-unbuf chosen=0 v=%d ok=%s\n", v, tf(cs[0].ok));
        else
            tr("closed-unbuf chosen=%d\n", k);
    }

    int_chan w = gc_make_chan(int_chan, 5);
    uint32_t seed = 12345;
    int next = 0;
    bool closed = false;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = (seed >> 16) % 4;
        if (!closed && i >= 200 && gc_chan_len(w) >= 3) {
            gc_close(w);
            closed = true;
            tr("walk close len=%zu\n", gc_chan_len(w));
        }
        if (r <= 1 && !closed) {
            bool ok = o_trysend(w, next);
            tr("walk %d trysend %d %s len=%zu\n", i, next, tf(ok), gc_chan_len(w));
            next++;
        } else if (r <= 2) {
            int v = -1;
            bool ok = false;
            bool got = gc_try_recv(w, &v, &ok);
            tr("walk %d tryrecv got=%s v=%d ok=%s len=%zu\n", i, tf(got), v, tf(got && ok), gc_chan_len(w));
        } else if (gc_chan_len(w) > 0 || closed) {
            int v = -1;
            bool ok = gc_recv_ok(w, &v);
            tr("walk %d recv v=%d ok=%s len=%zu\n", i, v, tf(ok), gc_chan_len(w));
        } else {
            gc_send(w, next);
            next++;
            tr("walk %d send len=%zu\n", i, gc_chan_len(w));
        }
    }
    tr("end\n");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        TC_FAIL("open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    tc_append(&buf, &len, &cap, "", 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        tc_append(&buf, &len, &cap, chunk, n);
    fclose(f);
    return buf;
}

static void test_oracle(void)
{
#ifndef TC_CHAN_ORACLE_GO
    printf("skipped: built without TC_CHAN_ORACLE_GO\n");
    exit(77);
#else
    const char *go = tc_go_path();
    if (!go) {
        printf("skipped: go not found (Debian: apt-get install golang-go); the Go oracle is not run\n");
        exit(77);
    }
    const char *base = getenv("TMPDIR");
    char dir[512], out[600], err[600];
    snprintf(dir, sizeof dir, "%s/tcchan.XXXXXX", base && *base ? base : "/tmp");
    TC_CHECK(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    fflush(stdout);
    pid_t pid = fork();
    TC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        tc_go_child_env(dir);
        alarm(110);
        execl(go, "go", "run", TC_CHAN_ORACLE_GO, (char *)NULL);
        _exit(127);
    }
    int st = tc_wait(pid);
    char *got = slurp(out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *e = slurp(err);
        TC_FAIL("go run %s: %s; stderr: %s", TC_CHAN_ORACLE_GO, tc_status_str(st), e);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("     (could not remove %s)\n", dir);

    oracle_c();
    /* Compare line by line, naming the first difference. */
    const char *a = got, *b = g_trace;
    int line = 1, lines = 0;
    for (;;) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
        if (la != lb || memcmp(a, b, la) != 0)
            TC_FAIL("trace line %d differs:\n  go: %.*s\n  c:  %.*s", line, (int)la, a, (int)lb, b);
        if (!ea || !eb) {
            TC_CHECK(!ea && !eb, "trace line %d: one trace ends", line);
            break;
        }
        a = ea + 1;
        b = eb + 1;
        line++;
        lines++;
    }
    TC_CHECK(lines > 300 && strstr(got, "\nend\n"), "the Go trace has only %d lines", lines);
    printf("     oracle: %d trace lines identical to Go's\n", lines);
    free(got);
#endif
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2], argc >= 4 ? argv[3] : "0");
    static const tc_subtest tests[] = {
        {"buffered", test_buffered},
        {"buffered_block", test_buffered_block},
        {"unbuffered", test_unbuffered},
        {"close_recv", test_close_recv},
        {"close_drain", test_close_drain},
        {"panics", test_panics},
        {"nil_chan", test_nil_chan},
        {"timeout", test_timeout},
        {"signals", test_signals},
        {"gc_buffered", test_gc_buffered},
        {"noscan", test_noscan},
        {"collected", test_collected},
        {"select_random", test_select_random},
        {"select_default", test_select_default},
        {"select_block", test_select_block},
        {"select_same", test_select_same},
        {"select_many", test_select_many},
        {"elem_sizes", test_elem_sizes},
        {"select_wakeup", test_select_wakeup},
        {"mpmc", test_mpmc},
        {"close_race", test_close_race},
        {"select_threads", test_select_threads},
        {"done", test_done},
        {"oracle", test_oracle},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
