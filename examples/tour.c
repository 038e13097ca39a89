/*
 * tour.c - a guided tour of Go's memory management, in C, with tricolor.
 *
 * It follows the document tricolor was born from ("Memory Management": pointers, stack vs heap,
 * new, garbage collection, GOGC, leak prevention, sync.Pool, profiling, alignment) section by section,
 * under the same headings, and prints what the collector does with numbers from
 * gc_read_memstats (Go's runtime.ReadMemStats).
 *
 *     make demo                                  build and run it
 *     GODEBUG=gctrace=1 ./build/examples/tour    the same, with one line per collection
 *
 * A word on the numbers.  tricolor's collector is conservative: any word on a thread's stack or
 * in a register that looks like a pointer into the heap keeps that object alive.  A dead stack
 * slot that still holds an old pointer can therefore keep a little garbage alive.  So the tour
 * makes its garbage in separate noinline functions, scrubs the dead part of the stack before
 * collecting, and compares statistics before and after rather than promising exact counts.
 * What the library guarantees (zeroed memory, reachable objects stay intact, interior pointers
 * keep objects alive) is checked, and the tour exits 1 if any of it fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef TOUR_DEBUG_ENDPOINT
#include <arpa/inet.h>
#include <sys/socket.h>
#endif

#include <tricolor.h>

#define NOINLINE __attribute__((noinline))

/* ------------------------------------------------------------------------------------------ */
/* Helpers: headings, checks, statistics                                                       */
/* ------------------------------------------------------------------------------------------ */

static int failures;

static void section(const char *title) { printf("\n## %s\n\n", title); }

/* A guarantee of the library: report it, and fail the tour if it does not hold. */
static void check(int ok, const char *what)
{
    printf("  [%s] %s\n", ok ? "ok" : "FAILED", what);
    if (!ok)
        failures++;
}

/* Bytes in a readable unit. */
static const char *human(uint64_t b, char buf[32])
{
    if (b >= 1u << 20)
        snprintf(buf, 32, "%.1f MiB", (double)b / (1 << 20));
    else if (b >= 1u << 10)
        snprintf(buf, 32, "%.1f KiB", (double)b / (1 << 10));
    else
        snprintf(buf, 32, "%" PRIu64 " B", b);
    return buf;
}

static gc_memstats stats(void)
{
    gc_memstats ms;
    gc_read_memstats(&ms);
    return ms;
}

static void print_stats(const char *label, const gc_memstats *ms)
{
    char a[32], t[32], n[32];
    printf("  %-28s alloc=%-10s heap_objects=%-7" PRIu64 " num_gc=%-3u total_alloc=%-10s next_gc=%s\n",
           label, human(ms->alloc, a), ms->heap_objects, ms->num_gc, human(ms->total_alloc, t),
           human(ms->next_gc, n));
}

/* Overwrite the dead part of the stack below us, so that stale pointers left there by
 * finished calls are not mistaken for live ones (bdwgc's GC_clear_stack does the same). */
static NOINLINE void scrub_stack(void)
{
    volatile char pad[16384];
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = 0;
}

/* A full collection from a clean stack, as runtime.GC(). */
static NOINLINE void collect(void)
{
    scrub_stack();
    gc_collect();
}

/* Where the tour keeps what it must not lose: the data and bss of the program are roots. */
static void *volatile sink;

/* ------------------------------------------------------------------------------------------ */
/* ## Pointers                                                                                 */
/* ------------------------------------------------------------------------------------------ */

struct user {
    char *name; /* a gc_strdup'd string: the user object points to it */
    int age;
    char notes[40];
};

/* Returns only a pointer into the middle of a new user: the interior pointer alone must keep
 * the whole object (and the name it points to) alive. */
static NOINLINE int *new_user_age(const char *name, int age)
{
    struct user *u = gc_new(struct user);
    u->name = gc_strdup(name);
    u->age = age;
    return &u->age;
}

static void tour_pointers(void)
{
    section("Pointers");

    /* p := new(int) */
    int *p = gc_new(int);
    printf("  p := gc_new(int)            *p = %d   (new() gives zeroed memory)\n", *p);
    check(p && *p == 0, "gc_new returns zeroed memory");
    *p = 100;
    printf("  *p = 100                    *p = %d\n", *p);

    /* u := &User{Name: "Alice"}; u.Name = "Bob" */
    struct user *u = gc_new(struct user);
    u->name = gc_strdup("Alice");
    printf("  u := gc_new(struct user)    u->name = \"%s\", u->age = %d\n", u->name, u->age);
    u->name = gc_strdup("Bob"); /* "Alice" is now garbage: nothing points to it */
    printf("  u->name = \"Bob\"             the old string is garbage, the collector reclaims it\n");

    /* A pointer to a field is a pointer into the object: gc_base finds the start. */
    int *age = &u->age;
    printf("  age := &u->age              gc_base(age) == u: %s, gc_size(age) = %zu (struct is %zu)\n",
           gc_base(age) == u ? "yes" : "no", gc_size(age), sizeof(struct user));
    check(gc_base(age) == u, "gc_base of an interior pointer is the object's start");

    /* Only an interior pointer left: the object lives on through a collection. */
    int *alice_age = new_user_age("Alice", 30);
    collect();
    struct user *alice = gc_base(alice_age);
    printf("  after gc_collect, only &alice->age was kept: gc_base gives the user back: %s, age %d\n",
           alice ? alice->name : "(gone)", *alice_age);
    check(alice && strcmp(alice->name, "Alice") == 0 && *alice_age == 30,
          "an interior pointer keeps the whole object (and what it points to) alive");
    gc_keep_alive(u);
}

/* ------------------------------------------------------------------------------------------ */
/* ## When to Use Pointers                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void increment(int *n) { (*n)++; }

struct counter {
    long value;
};

static void counter_increment(struct counter *c) { c->value++; }

struct config {
    int64_t *timeout_ms; /* NULL means "not set" */
};

static void tour_when_pointers(void)
{
    section("When to Use Pointers");

    int *n = gc_new(int);
    increment(n);
    increment(n);
    printf("  1. modify the original:    increment(n) twice -> *n = %d\n", *n);

    struct config *cfg = gc_new(struct config);
    printf("  3. optional values:        cfg->timeout_ms is %s\n", cfg->timeout_ms ? "set" : "NULL: not set");
    cfg->timeout_ms = gc_new(int64_t);
    *cfg->timeout_ms = 1500;
    printf("                             after setting: %" PRId64 " ms\n", *cfg->timeout_ms);

    /* Shared state: two holders of the same counter see each other's increments. */
    struct counter *c = gc_new(struct counter);
    struct counter *alias = c;
    counter_increment(c);
    counter_increment(alias);
    printf("  4. shared state:           c and alias point to one counter: value = %ld\n", c->value);
    check(*n == 2 && c->value == 2, "changes through pointers reach the shared object");
}

/* ------------------------------------------------------------------------------------------ */
/* ## Stack vs Heap                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Stays on the stack: the value is copied out. */
static NOINLINE int stack_alloc(void)
{
    int x = 42;
    return x;
}

/* "Escapes to the heap".  Go's compiler moves x to the heap by itself; in C returning &x of a
 * local would be a dangling pointer (gcc warns: -Wreturn-local-addr), so the object is made on
 * the collected heap explicitly, and the collector frees it once nothing points to it. */
static NOINLINE int *heap_alloc(void)
{
    int *x = gc_new(int);
    *x = 42;
    return x;
}

static void tour_stack_heap(void)
{
    section("Stack vs Heap");

    int local = stack_alloc();
    int *escaped = heap_alloc();
    printf("  stack_alloc() = %d          a copy; gc_base(&local) = %p (the stack is not heap)\n", local,
           gc_base(&local));
    printf("  heap_alloc()  = %p  *p = %d, gc_size = %zu, gc_base(p) == p: %s\n", (void *)escaped,
           *escaped, gc_size(escaped), gc_base(escaped) == escaped ? "yes" : "no");
    check(gc_base(&local) == NULL && gc_base(escaped) == escaped,
          "stack memory is not the collector's; the escaped object is");

    for (int i = 0; i < 3; i++)
        collect();
    printf("  three collections later, *p = %d: reachable objects are never freed\n", *escaped);
    check(*escaped == 42, "the escaped object survives collections while it is referenced");
}

/* ------------------------------------------------------------------------------------------ */
/* ## make vs new                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef int int3[3];

typedef GC_SLICE(int) int_slice;  /* []int */
typedef GC_MAP_STR(int) str_int_map; /* map[string]int */
typedef GC_CHAN(int) int_chan;      /* chan int */

static void tour_make_new(void)
{
    section("make vs new");

    int3 *arr = gc_new(int3); /* arr := new([3]int) */
    printf("  arr := gc_new(int3)                        [%d %d %d], gc_size = %zu\n", (*arr)[0], (*arr)[1],
           (*arr)[2], gc_size(arr));

    int_slice s = gc_make_slice(int_slice, 5, 10); /* slice := make([]int, 5, 10) */
    printf("  slice := gc_make_slice(int_slice, 5, 10)   len=%zu cap=%zu\n", s.len, s.cap);
    int zero = 1;
    for (size_t i = 0; i < s.len; i++)
        zero &= gc_at(s, i) == 0;
    check(zero && (*arr)[0] == 0 && s.len == 5 && s.cap >= 10, "new and make return zeroed memory");

    /* A map of counts: m[w]++ for each word. */
    str_int_map m = gc_make_map(str_int_map, 0); /* m := make(map[string]int) */
    const char *words[] = {"make", "new", "make", "slice", "make", "map", "new"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        gc_map_set(m, words[i], gc_map_get(m, words[i]) + 1);
    printf("  m := gc_make_map(str_int_map, 0)           counts:");
    gc_map_range(m, w, n) printf(" %s=%d", *w, *n); /* for w, n := range m (random order) */
    printf("\n");
    check(gc_map_len(m) == 4 && gc_map_get(m, "make") == 3 && gc_map_get(m, "absent") == 0,
          "a map counts: len 4, m[\"make\"] == 3, a missing key reads as 0");

    int_chan ch = gc_make_chan(int_chan, 100); /* ch := make(chan int, 100) */
    for (int i = 1; i <= 3; i++)
        gc_send(ch, i * 10);
    printf("  ch := gc_make_chan(int_chan, 100)          len=%zu cap=%zu after three sends\n", gc_chan_len(ch),
           gc_chan_cap(ch));
    gc_close(ch);
    int got = 0, v;
    while (gc_recv_ok(ch, &v)) /* for v := range ch */
        got += v;
    check(got == 60 && gc_chan_len(ch) == 0, "a closed channel still gives what it buffered, then ok = false");
    printf("  new returns a pointer to a zeroed value; make returns the slice, map or channel\n"
           "  itself: a small value over collected storage, passed and copied as is.\n");
}

/* ------------------------------------------------------------------------------------------ */
/* ## Garbage Collection                                                                       */
/* ------------------------------------------------------------------------------------------ */

struct node {
    struct node *next;
    long payload[6];
};

/* Allocates a list of n nodes and drops it: all garbage when this returns. */
static NOINLINE void make_garbage(size_t n)
{
    struct node *head = NULL;
    for (size_t i = 0; i < n; i++) {
        struct node *x = gc_new(struct node);
        x->next = head;
        head = x;
    }
}

/* The same workload for every GOGC setting: a live set of live_n objects of size bytes kept
 * in a heap array reachable from a global, and churn bytes of short-lived allocations. */
static void **live_set;

static NOINLINE void build_live_set(size_t live_n, size_t size)
{
    live_set = gc_new_array(void *, live_n);
    for (size_t i = 0; i < live_n; i++)
        live_set[i] = gc_alloc_noscan(size);
}

static NOINLINE void churn(size_t bytes, size_t size)
{
    for (size_t done = 0; done < bytes; done += size) {
        char *tmp = gc_alloc_noscan(size);
        tmp[0] = 1;
        sink = tmp;
    }
    sink = NULL;
}

static void tour_gc(void)
{
    section("Garbage Collection");

    printf("  The collector runs by itself; gc_collect() is runtime.GC(), gc_read_memstats() is\n"
           "  runtime.ReadMemStats().  100,000 list nodes, then dropped:\n\n");
    collect();
    gc_memstats before = stats();
    print_stats("before:", &before);
    make_garbage(100000);
    gc_memstats garbage = stats();
    print_stats("100,000 nodes allocated:", &garbage);
    collect();
    gc_memstats after = stats();
    print_stats("after gc_collect():", &after);
    char b1[32], b2[32];
    printf("\n  mallocs +%" PRIu64 ", frees +%" PRIu64 "; the collection took alloc from %s down to %s\n",
           after.mallocs - before.mallocs, after.frees - before.frees, human(garbage.alloc, b1),
           human(after.alloc, b2));
    printf("  last pause %.3f ms, total pauses %.3f ms over %u collections (%u forced)\n",
           after.pause_ns[(after.num_gc + 255) % 256] / 1e6, after.pause_total_ns / 1e6, after.num_gc,
           after.num_forced_gc);
    check(after.num_gc > before.num_gc, "gc_collect completes a collection (num_gc grows)");
    check(after.total_alloc >= garbage.total_alloc && garbage.mallocs - before.mallocs >= 100000,
          "mallocs counts every allocation; total_alloc never decreases");
    printf("  (reclaimed %s of %s made: a conservative collector may keep a few from stale stack words)\n",
           garbage.alloc > after.alloc ? human(garbage.alloc - after.alloc, b1) : "0 B",
           human(garbage.total_alloc - before.total_alloc, b2));

    /* GOGC: the same workload under different settings. */
    const size_t live_n = 8192, obj = 1024, churn_bytes = (size_t)64 << 20;
    char l[32], c[32];
    printf("\n  GOGC: the heap may grow by GOGC%% of the live heap before the next collection.\n"
           "  gc_set_percent() sets it (debug.SetGCPercent; negative = off), gc_set_memory_limit()\n"
           "  sets GOMEMLIMIT (debug.SetMemoryLimit).  The same workload under each setting:\n"
           "  a live set of %s, then %s of short-lived 1 KiB objects.\n\n",
           human(live_n * obj, l), human(churn_bytes, c));
    build_live_set(live_n, obj);
    /* GOGC 50, 100, 200, then off with a 32 MiB memory limit, then off with none. */
    const int settings[] = {50, 100, 200, -1, -1};
    const int64_t limits[] = {INT64_MAX, INT64_MAX, INT64_MAX, (int64_t)32 << 20, INT64_MAX};
    enum { NSET = sizeof settings / sizeof settings[0] };
    int prev = gc_set_percent(100);
    int64_t prev_limit = gc_set_memory_limit(-1);
    uint32_t counts[NSET];
    for (int i = 0; i < NSET; i++) {
        gc_set_percent(settings[i]);
        gc_set_memory_limit(limits[i]);
        collect();
        gc_memstats s0 = stats();
        churn(churn_bytes, obj);
        gc_memstats s1 = stats();
        counts[i] = s1.num_gc - s0.num_gc;
        char g[32], label[64];
        if (settings[i] >= 0)
            snprintf(label, sizeof label, "GOGC=%d", settings[i]);
        else
            snprintf(label, sizeof label, "GOGC=off%s", limits[i] != INT64_MAX ? ", GOMEMLIMIT=32MiB" : "");
        printf("  %-28s %3u collections, ", label, counts[i]);
        if (settings[i] >= 0 || limits[i] != INT64_MAX)
            printf("heap goal %s\n", human(s1.next_gc, g));
        else
            printf("the heap grew to %s\n", human(s1.heap_alloc, g));
    }
    gc_set_percent(prev);
    gc_set_memory_limit(prev_limit);
    collect();
    printf("\n  Lower GOGC: more collections, smaller heap; higher: fewer collections, more memory.\n"
           "  GOGC=off with a memory limit collects only when the heap nears the limit.\n");
    check(counts[0] > counts[2] && counts[4] == 0, "GOGC=50 collects more often than GOGC=200; off never");
    check(counts[3] > 0, "with GOGC=off, a memory limit still triggers collections");

    printf("  The environment sets the same at start-up: GOGC=50, GOGC=off, GOMEMLIMIT=1GiB,\n"
           "  and GODEBUG=gctrace=1 prints a line per collection on stderr.\n");
    live_set = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* ## Memory Leaks Prevention                                                                  */
/* ------------------------------------------------------------------------------------------ */

struct large_object {
    char payload[4096];
};

#define NDATA 1000
typedef GC_SLICE(struct large_object *) large_slice; /* []*LargeObject */
static large_slice data;

static NOINLINE void fill_data(void)
{
    data = gc_make_slice(large_slice, NDATA, NDATA); /* data := make([]*LargeObject, 1000) */
    for (int i = 0; i < NDATA; i++) {
        /* Pointer-free payload: gc_alloc_noscan, the collector never scans it. */
        gc_at(data, i) = gc_alloc_noscan(sizeof(struct large_object));
        gc_at(data, i)->payload[0] = (char)i;
    }
}

static NOINLINE void clear_data(void)
{
    for (size_t i = 0; i < data.len; i++)
        data.ptr[i] = NULL; /* allow GC */
    data = (large_slice){0}; /* data = nil */
}

/* Memory from malloc is not the collector's and is not scanned: a table of collected
 * pointers kept there must be registered with gc_add_roots. */
#define NTABLE 100
static NOINLINE void **malloc_table(void)
{
    void **t = malloc(NTABLE * sizeof *t);
    if (!t)
        return NULL;
    gc_add_roots(t, NTABLE * sizeof *t);
    for (int i = 0; i < NTABLE; i++) {
        int *v = gc_new(int);
        *v = i;
        t[i] = v;
    }
    return t;
}

/* How many of the table's pointers still point to live objects.  gc_size only asks the
 * heap about an address; it never touches the memory. */
static int live_in_table(void **t)
{
    int live = 0;
    for (int i = 0; i < NTABLE; i++)
        live += gc_size(t[i]) != 0;
    return live;
}

static struct node *_Atomic worker_result;
static int_chan work_chan; /* workChan */
static int_chan done_chan; /* ctx.Done(): closed to cancel */

/* A thread registers itself with the collector on its first allocation and unregisters when it
 * exits.  It works until told to stop, as the seed's worker does:
 *     for { select { case <-ctx.Done(): return; case work := <-workChan: process(work) } } */
#define KEEP 1000
static void *worker(void *arg)
{
    (void)arg;
    struct node *kept = NULL;
    long made = 0;
    for (;;) {
        int work = 0;
        gc_select_case cases[] = {GC_RECV_CASE(done_chan, NULL), GC_RECV_CASE(work_chan, &work)};
        if (gc_selectgo(cases, 2, -1) == 0 || !cases[1].ok)
            break; /* cancelled */
        struct node *x = gc_new(struct node); /* process(work) */
        x->payload[0] = work;
        if (made++ < KEEP) { /* the first KEEP nodes are the result, the rest scratch */
            x->next = kept;
            kept = x;
        }
    }
    atomic_store(&worker_result, kept); /* published in a global: a root */
    return (void *)made;
}

/* 1. Close resources.  A file wrapper closes its descriptor in file_close (defer f.Close());
 * a finalizer is only the safety net for a wrapper dropped without it, as Go's os.File has one:
 * file_close removes it. */
struct file {
    int fd;
};

static atomic_int closed_by_finalizer;

static void file_finalize(void *obj, void *arg)
{
    struct file *f = obj;
    (void)arg;
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
        atomic_fetch_add(&closed_by_finalizer, 1);
    }
}

static struct file *file_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct file *f = gc_new(struct file);
    f->fd = fd;
    gc_set_finalizer(f, file_finalize, NULL);
    return f;
}

static void file_close(struct file *f)
{
    close(f->fd);
    f->fd = -1;
    gc_set_finalizer(f, NULL, NULL); /* closed: no safety net needed */
}

#define NFILES 8
static int leaked_fds[NFILES / 2];

/* Opens NFILES files, closes half properly and forgets the other half. */
static NOINLINE int open_and_forget(void)
{
    int n = 0;
    for (int i = 0; i < NFILES; i++) {
        struct file *f = file_open("/dev/null");
        if (!f)
            return -1;
        if (i % 2 == 0)
            file_close(f); /* defer f.Close() */
        else
            leaked_fds[n++] = f->fd; /* (the number only: the wrapper is dropped) */
    }
    return n;
}

static void tour_close_resources(void)
{
    printf("  1. Close resources: the collector frees memory, not files; close them yourself.\n"
           "     A finalizer can be the safety net for a file wrapper dropped without closing.\n");
    int leaked = open_and_forget();
    if (leaked < 0) {
        printf("     (cannot open /dev/null: skipped)\n\n");
        return;
    }
    /* Finalizers run on their own thread, after the collection that finds the wrapper
     * unreachable: collect, and give the thread a moment. */
    for (int tries = 0; tries < 200 && atomic_load(&closed_by_finalizer) < leaked; tries++) {
        collect();
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int closed = 0;
    for (int i = 0; i < leaked; i++)
        closed += fcntl(leaked_fds[i], F_GETFD) == -1 && errno == EBADF;
    printf("     opened %d, closed %d with file_close, dropped %d: the finalizer closed %d of those\n", NFILES,
           NFILES - leaked, leaked, atomic_load(&closed_by_finalizer));
    check(closed == leaked && atomic_load(&closed_by_finalizer) == leaked,
          "each dropped wrapper's finalizer closed its descriptor, and only those");
    printf("\n");
}

static void tour_leaks(void)
{
    section("Memory Leaks Prevention");

    tour_close_resources();

    printf("  2. Stop goroutines (threads): a worker takes work from a channel until a done channel\n"
           "     is closed (select over both, as with ctx.Done()).\n");
    work_chan = gc_make_chan(int_chan, 0);
    done_chan = gc_make_chan(int_chan, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, worker, NULL) == 0) {
        for (int i = 0; i < 20 * KEEP; i++)
            gc_send(work_chan, i); /* unbuffered: each send hands over to the worker */
        gc_close(done_chan); /* cancel() */
        void *made = NULL;
        pthread_join(th, &made);
        collect();
        long n = 0;
        for (struct node *x = atomic_load(&worker_result); x; x = x->next)
            n++;
        printf("     the worker processed %ld items, saw the done channel close and exited; the %ld\n"
               "     nodes it published survive the collection, its scratch nodes do not\n",
               (long)made, n);
        check((long)made == 20 * KEEP, "the worker took every item sent before the cancel");
        check(n == KEEP, "what a finished thread published in a global stays alive");
        atomic_store(&worker_result, NULL);
    }

    printf("\n  3. Clear slice references: data := make([]*LargeObject, 1000), 4 KiB each.\n\n");
    collect();
    gc_memstats s0 = stats();
    print_stats("before:", &s0);
    fill_data();
    collect();
    gc_memstats s1 = stats();
    print_stats("filled, after gc_collect:", &s1);
    int intact = 0;
    for (int i = 0; i < NDATA; i++)
        intact += gc_size(data.ptr[i]) >= sizeof(struct large_object) && data.ptr[i]->payload[0] == (char)i;
    clear_data();
    collect();
    gc_memstats s2 = stats();
    print_stats("cleared, after gc_collect:", &s2);
    char a[32];
    printf("\n     clearing the references let the collector take back %s\n",
           s1.heap_alloc > s2.heap_alloc ? human(s1.heap_alloc - s2.heap_alloc, a) : "nothing");
    check(intact == NDATA, "the 1000 objects stay, intact, while data[] refers to them");
    check(s2.heap_alloc < s1.heap_alloc, "heap_alloc falls once data[i] = NULL and data = NULL");

    printf("\n  Roots in malloc'd memory: a malloc'd table of %d collected pointers.\n", NTABLE);
    void **t = malloc_table();
    if (t) {
        collect();
        int kept = live_in_table(t);
        printf("     registered with gc_add_roots:   %3d of %d objects alive after gc_collect\n", kept, NTABLE);
        check(kept == NTABLE, "gc_add_roots makes malloc'd memory a root");
        gc_remove_roots(t, NTABLE * sizeof *t);
        collect();
        printf("     after gc_remove_roots:          %3d of %d alive (the collector cannot see malloc'd\n"
               "                                     memory, so objects only it refers to are freed)\n",
               live_in_table(t), NTABLE);
        free(t);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* ## Unsafe Package                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* Keeps only a pointer to arr[1] of a new [3]int. */
static NOINLINE int *middle_of_array(void)
{
    int *arr = gc_new_array(int, 3);
    arr[0] = 10;
    arr[1] = 20;
    arr[2] = 30;
    return arr + 1; /* p = unsafe.Add(p, unsafe.Sizeof(arr[0])) */
}

static void tour_unsafe(void)
{
    section("Unsafe Package");
    printf("  In C everything is unsafe.Pointer.  sizeof(int64_t) = %zu\n", sizeof(int64_t));
    int *p = middle_of_array();
    collect();
    printf("  p := arr + 1; *p = %d; after gc_collect p still holds the array: gc_base(p) = p - 1: %s\n", *p,
           gc_base(p) == (void *)(p - 1) ? "yes" : "no");
    check(*p == 20 && p[-1] == 10 && gc_base(p) == (void *)(p - 1),
          "pointer arithmetic inside an object keeps it alive");
    printf("  Hiding pointers (xor, storing them in noscan memory or in files) hides them from the\n"
           "  collector too: the object may be freed.\n");
}

/* ------------------------------------------------------------------------------------------ */
/* ## Memory Alignment                                                                         */
/* ------------------------------------------------------------------------------------------ */

struct inefficient {
    _Bool a;   /* 1 byte + 7 padding */
    int64_t b; /* 8 bytes */
    _Bool c;   /* 1 byte + 7 padding */
};

struct efficient {
    int64_t b;
    _Bool a;
    _Bool c; /* + 6 padding */
};

static void tour_alignment(void)
{
    section("Memory Alignment");
    printf("  sizeof(struct inefficient) = %zu, sizeof(struct efficient) = %zu, alignof(int64_t) = %zu\n",
           sizeof(struct inefficient), sizeof(struct efficient), alignof(int64_t));
    printf("  offsetof(struct inefficient, c) = %zu\n\n", offsetof(struct inefficient, c));

    printf("  The allocator rounds each request up to a size class (objects up to 32 KiB), larger\n"
           "  ones to whole 8 KiB pages:\n");
    const size_t sizes[] = {1, 8, 24, 100, 1000, 5000, 33000};
    int aligned = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *q = gc_alloc(sizes[i]);
        size_t want = sizes[i] >= 16 ? 16 : 1;
        while (want * 2 <= sizes[i] && want < 16)
            want *= 2;
        aligned &= ((uintptr_t)q % want) == 0;
        printf("    gc_alloc(%5zu) -> gc_size %5zu, address %% 16 = %2u\n", sizes[i], gc_size(q),
               (unsigned)((uintptr_t)q % 16));
    }
    check(aligned, "objects are aligned to 16 bytes (or their size rounded down to a power of two)");
}

/* ------------------------------------------------------------------------------------------ */
/* ## Best Practices                                                                           */
/* ------------------------------------------------------------------------------------------ */

#define ITER 1000
#define BUF 4096

/* A fresh 4 KiB buffer per iteration. */
static NOINLINE unsigned per_iteration(void)
{
    unsigned sum = 0;
    for (int i = 0; i < ITER; i++) {
        gc_buffer *buf = gc_buffer_new(); /* bytes.NewBuffer(make([]byte, 0, 4096)) */
        gc_buffer_grow(buf, BUF);
        gc_buffer_write_byte(buf, (unsigned char)i);
        sum += gc_buffer_bytes(buf)[0];
    }
    return sum;
}

/* One buffer, reset and reused (buf.Reset()). */
static NOINLINE unsigned reused(void)
{
    unsigned sum = 0;
    gc_buffer buf = {0};
    gc_buffer_grow(&buf, BUF);
    for (int i = 0; i < ITER; i++) {
        gc_buffer_reset(&buf);
        gc_buffer_write_byte(&buf, (unsigned char)i);
        sum += gc_buffer_bytes(&buf)[0];
    }
    return sum;
}

/* Growing a slice by appending (Go's growth: doubling, then 1.25x) against pre-allocating. */
static NOINLINE size_t append_grow(size_t n)
{
    int_slice s = {0}; /* var s []int */
    for (size_t i = 0; i < n; i++)
        gc_append(s, (int)i);
    return s.len;
}

static NOINLINE size_t append_prealloc(size_t n)
{
    int_slice s = gc_make_slice(int_slice, 0, n); /* make([]int, 0, expectedSize) */
    for (size_t i = 0; i < n; i++)
        gc_append(s, (int)i);
    return s.len;
}

static void tour_best_practices(void)
{
    section("Best Practices");
    char a[32], b[32];

    printf("  3. Pre-allocate slices when the size is known (100,000 ints):\n");
    gc_memstats s0 = stats();
    size_t grown = append_grow(100000);
    gc_memstats s1 = stats();
    size_t pre = append_prealloc(100000);
    gc_memstats s2 = stats();
    printf("     append, growing:   %3" PRIu64 " allocations, %s allocated\n", s1.mallocs - s0.mallocs,
           human(s1.total_alloc - s0.total_alloc, a));
    printf("     pre-allocated:     %3" PRIu64 " allocation,  %s allocated\n", s2.mallocs - s1.mallocs,
           human(s2.total_alloc - s1.total_alloc, b));
    check(grown == pre && s2.mallocs - s1.mallocs == 1 && s1.mallocs - s0.mallocs > 10,
          "appending to a pre-sized slice allocates once; growing it reallocates each time it fills");

    printf("\n  4. Reuse buffers (%d iterations with a %d-byte gc_buffer, Go's bytes.Buffer):\n", ITER, BUF);
    gc_memstats r0 = stats();
    unsigned x = per_iteration();
    gc_memstats r1 = stats();
    unsigned y = reused();
    gc_memstats r2 = stats();
    printf("     a new buffer each time:  mallocs +%-5" PRIu64 " total_alloc +%s\n", r1.mallocs - r0.mallocs,
           human(r1.total_alloc - r0.total_alloc, a));
    printf("     one buffer, reused:      mallocs +%-5" PRIu64 " total_alloc +%s\n", r2.mallocs - r1.mallocs,
           human(r2.total_alloc - r1.total_alloc, b));
    check(x == y && r1.mallocs - r0.mallocs >= ITER && r2.mallocs - r1.mallocs < ITER,
          "reusing one buffer does the same work with one allocation instead of a thousand");
    printf("     Fewer allocations mean fewer collections: the cheapest garbage is none.\n");
}

/* ------------------------------------------------------------------------------------------ */
/* ## sync.Pool for Reuse                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* New: func() interface{} { return new(bytes.Buffer) } */
static void *buffer_new(void) { return gc_buffer_new(); }

static gc_pool *buffer_pool; /* var bufferPool = sync.Pool{New: ...} */

static size_t process(const char *data, size_t n)
{
    gc_buffer *buf = gc_pool_get(buffer_pool);
    gc_buffer_write(buf, data, n); /* use buf... */
    size_t used = gc_buffer_len(buf);
    gc_buffer_reset(buf); /* the deferred Reset and Put: keeps the storage for the next user */
    gc_pool_put(buffer_pool, buf);
    return used;
}

/* The same work with a fresh buffer each time. */
static size_t process_fresh(const char *data, size_t n)
{
    gc_buffer *buf = gc_buffer_new();
    gc_buffer_write(buf, data, n);
    return gc_buffer_len(buf);
}

#define NPROCESS 100000

static void tour_pool(void)
{
    section("sync.Pool for Reuse");
    char a[32], b[32];
    char msg[200];
    memset(msg, 'x', sizeof msg);
    buffer_pool = gc_pool_new(buffer_new);

    gc_memstats f0 = stats();
    size_t sum_fresh = 0;
    for (int i = 0; i < NPROCESS; i++)
        sum_fresh += process_fresh(msg, sizeof msg);
    gc_memstats f1 = stats();
    size_t sum_pool = 0;
    for (int i = 0; i < NPROCESS; i++)
        sum_pool += process(msg, sizeof msg);
    gc_memstats f2 = stats();
    printf("  process() %d times, writing %zu bytes into a buffer:\n", NPROCESS, sizeof msg);
    printf("     a new buffer each time:  mallocs +%-7" PRIu64 " total_alloc +%s\n", f1.mallocs - f0.mallocs,
           human(f1.total_alloc - f0.total_alloc, a));
    printf("     bufferPool.Get / Put:    mallocs +%-7" PRIu64 " total_alloc +%s\n", f2.mallocs - f1.mallocs,
           human(f2.total_alloc - f1.total_alloc, b));
    check(sum_pool == sum_fresh && f2.mallocs - f1.mallocs < 100,
          "the pool hands the same buffers back: a handful of allocations instead of 200,000");

    /* The pool is a cache the collector may empty: what is put before one collection survives
     * it in the victim cache; at the second, it is dropped. */
    gc_buffer *mine = gc_pool_get(buffer_pool);
    gc_pool_put(buffer_pool, mine);
    collect();
    gc_buffer *after_one = gc_pool_get(buffer_pool);
    gc_pool_put(buffer_pool, after_one);
    collect();
    collect();
    gc_buffer *after_two = gc_pool_get(buffer_pool);
    printf("\n  a buffer put back, then one collection: Get returns %s\n",
           after_one == mine ? "the same buffer (from the victim cache)" : "another buffer");
    printf("  put back again, then two collections:   Get returns %s\n",
           after_two == mine ? "the same buffer" : "a new buffer from New (the old one was dropped)");
    check(after_one == mine && after_two != mine,
          "pooled objects survive one collection and are dropped at the second, as in Go");
    printf("  Pools suit short-lived, same-shaped objects; anything may vanish from one at any time.\n");
    mine = after_one = after_two = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* ## Memory Profiling                                                                         */
/* ------------------------------------------------------------------------------------------ */

#define CACHE_PAGES 4096 /* 16 MiB kept */
static void *page_cache[CACHE_PAGES];

/* Two allocation sites, each a function of its own: the profile names them. */
static NOINLINE __attribute__((noclone)) void fill_cache(void)
{
    for (int i = 0; i < CACHE_PAGES; i++)
        page_cache[i] = gc_alloc_noscan(4096);
}

static NOINLINE __attribute__((noclone)) void handle_requests(int n)
{
    for (int i = 0; i < n; i++) {
        char *buf = gc_alloc_noscan(1024); /* a request's buffer: garbage once it is answered */
        memset(buf, 'x', 64);
        __asm__ volatile("" : : "r"(buf) : "memory");
    }
}

/* The top sites of the legacy text form (what /debug/pprof/heap?debug=1 serves): each record
 * line "inuse_objects: inuse_bytes [alloc_objects: alloc_bytes] @ addresses" holds sampled
 * counts, followed by its frames ("#\t0x...\tfunction+0x..."); scaled as pprof scales them. */
static const char *print_text_top(int fd, int64_t rate)
{
    static char top[128];
    char buf[8192];
    FILE *f = fdopen(dup(fd), "r");
    if (!f)
        return NULL;
    rewind(f);
    unsigned long long io, ib, ao, ab;
    int shown = 0;
    while (fgets(buf, sizeof buf, f) && shown < 2) {
        if (sscanf(buf, "%llu: %llu [%llu: %llu] @", &io, &ib, &ao, &ab) != 4 || !fgets(buf, sizeof buf, f))
            continue;
        char fn[128];
        if (sscanf(buf, "#\t%*s\t%127[^+]", fn) != 1)
            continue;
        double avg = ao ? (double)ab / (double)ao : 0, scale = avg > 0 ? 1 / (1 - exp(-avg / (double)rate)) : 0;
        char a[32], b[32];
        printf("    %-16s in use %10s   allocated %10s   (%llu and %llu objects sampled)\n", fn,
               human((uint64_t)((double)ib * scale), a), human((uint64_t)((double)ab * scale), b), io, ao);
        if (!shown++)
            snprintf(top, sizeof top, "%s", fn);
    }
    fclose(f);
    return top;
}

/* import _ "net/http/pprof": the live endpoint, from libtricolor-debug.  The tour serves
 * on a free loopback port, asks itself for the text heap profile, as a browser or
 * `go tool pprof http://...` would, and stops. */
static void tour_endpoint(void)
{
#ifdef TOUR_DEBUG_ENDPOINT
    int port = gc_debug_serve("127.0.0.1:0"); /* Go: http.ListenAndServe("localhost:6060", nil) */
    check(port > 0, "gc_debug_serve serves net/http/pprof's pages on a loopback port");
    if (port <= 0)
        return;
    char head[64] = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char req[] = "GET /debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n";
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        size_t n = 0;
        for (ssize_t r; n < sizeof head - 1 && (r = read(fd, head + n, sizeof head - 1 - n)) > 0;)
            n += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    check(strncmp(head, "HTTP/1.1 200", 12) == 0, "GET /debug/pprof/heap?debug=1 answers 200, with the profile");
    printf("  While it serves: go tool pprof http://127.0.0.1:%d/debug/pprof/heap, and the live\n"
           "  dashboard at http://127.0.0.1:%d/debug/dashboard (make dashboard runs a demo).\n"
           "  TRICOLOR_DEBUG_ADDR=127.0.0.1:6060 starts it in any program linked with the library.\n",
           port, port);
    gc_debug_stop();
#else
    printf("  (built without libtricolor-debug: no live endpoint in this tour)\n");
#endif
}

static void tour_profiling(void)
{
    section("Memory Profiling");
    printf("  pprof.WriteHeapProfile is gc_write_heap_profile: one allocation per 512 KiB (Go's\n"
           "  MemProfileRate, gc_set_profile_rate) records its call stack, and the profile tells, per\n"
           "  stack, what was allocated and what of it is still in use as of the last collection.\n\n");
    fill_cache();
    handle_requests(64 * 1024); /* 64 MiB of garbage */
    collect();

    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/tricolor-tour-heap.pb.gz", dir && *dir ? dir : "/tmp");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = fd >= 0 ? gc_write_heap_profile(fd) : -1;
    if (fd >= 0)
        close(fd);
    check(rc == 0, "the heap profile is written, in pprof's format (gzipped protobuf)");
    printf("  Open it with Go's tool (Debian's golang-go; -http=:8080 for the web view):\n\n"
           "      go tool pprof -top build/examples/tour %s\n\n", path);

    char tpath[] = "/tmp/tricolor-tour-text.XXXXXX";
    int tfd = mkstemp(tpath);
    if (tfd >= 0) {
        unlink(tpath);
        int ok = gc_write_profile("heap", tfd, 1) == 0;
        check(ok, "and in Go's legacy text form, as /debug/pprof/heap?debug=1 serves it; its top sites:");
        const char *top = ok ? print_text_top(tfd, gc_set_profile_rate(-1)) : NULL;
        check(top && strcmp(top, "fill_cache") == 0, "the site holding the most memory is fill_cache");
        close(tfd);
    }
    printf("\n  The cache's 16 MiB are in use; the requests' 64 MiB were allocated and are garbage.\n"
           "  TRICOLOR_HEAPPROFILE=heap.%%p.pb.gz ./program writes one at exit, with no code change.\n");
    tour_endpoint();
    memset(page_cache, 0, sizeof page_cache);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("# Memory Management: a tour of tricolor, Go's memory management for C\n");

    tour_pointers();
    tour_when_pointers();
    tour_stack_heap();
    tour_make_new();
    tour_gc();
    tour_leaks();
    tour_pool();
    tour_profiling();
    tour_unsafe();
    tour_alignment();
    tour_best_practices();

    gc_memstats end = stats();
    printf("\n## The end\n\n");
    print_stats("final:", &end);
    char p[32];
    printf("  %u collections, %s allocated in all, pauses %.3f ms in total\n", end.num_gc,
           human(end.total_alloc, p), end.pause_total_ns / 1e6);
    printf("  Run it again as GODEBUG=gctrace=1 ./build/examples/tour to see each collection.\n");
    if (failures) {
        printf("\n%d check(s) FAILED\n", failures);
        return 1;
    }
    return 0;
}
