/*
 * finalize.c - bdwgc's finalizers and disappearing links over tricolor's.
 *
 * Finalizers: each registration is a record {fn, client data}, a collected
 * object handed to gc_set_finalizer as its arg (so tricolor keeps the client
 * data alive while it is set), and a table from object to record gives the
 * old finalizer back, as bdwgc's calls return it.  Ordered finalizers are
 * tricolor's (Go's order: what a finalizable object points to is kept, so
 * cycles through one are never collected); ignore_self ones the same but for
 * the object's pointers to itself; no_order and unreachable ones are
 * unordered (finalizer_set): cycles are collected, and the referents are
 * kept from the moment the object is found unreachable.  tricolor's
 * finalizer thread puts each call in a queue (collected nodes from a global:
 * kept); by default the program's threads run them at their next allocation
 * or GC_gcollect (layer_run_finalizers), with finalize-on-demand only
 * GC_invoke_finalizers does, and the notifier is called.
 *
 * Disappearing links: a table from the link's address to the hidden object;
 * at mark termination, with the world stopped (layer_links_done), a link
 * whose object was not marked is set to NULL, and one that lives in a dead
 * object is dropped: a short link as soon as marking from the roots is done,
 * a long one at the end, and not while its object's finalizer has yet to
 * run.  The tables' locks are allocator-section locks (a stopped
 * thread never holds one, so the hook can take them) and their memory is
 * sys_map'd: nothing under them calls malloc.
 */
#include "layer.h"

/* ---- finalizers ----------------------------------------------------------------- */

struct fin {
    GC_finalization_proc fn;
    void *cd;
};

struct fin_node {
    struct fin_node *next;
    void *obj;
    struct fin *rec;
};

static struct table fins = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fin_node *queue_head, **queue_tail = &queue_head; /* a global: the nodes are kept */
#define queue_len layer_fin_queued

static void fin_forget(void *obj, struct fin *rec)
{
    gc_thread_t *t = section_lock(&fins.lock);
    long i = table_find(&fins, (uintptr_t)obj);
    if (i >= 0 && (!rec || fins.vals[i] == (uintptr_t)rec))
        table_del(&fins, i);
    section_unlock(&fins.lock, t);
}

/* On tricolor's finalizer thread: queue it for a program thread. */
static void fin_run(void *obj, void *arg)
{
    struct fin *rec = arg;
    fin_forget(obj, rec);
    struct fin_node *n = gc_alloc(sizeof *n);
    if (!n) {
        rec->fn(obj, rec->cd); /* no memory for the queue: run it now */
        return;
    }
    n->obj = obj;
    n->rec = rec;
    pthread_mutex_lock(&queue_lock);
    *queue_tail = n;
    queue_tail = &n->next;
    atomic_fetch_add(&queue_len, 1);
    pthread_mutex_unlock(&queue_lock);
    GC_finalizer_notifier_proc notify = GC_finalizer_notifier;
    if (GC_finalize_on_demand && notify)
        notify();
}

_Atomic long layer_fin_queued;

/* Not on demand: the program's threads run them, as bdwgc runs them in the
 * thread that allocates or collects (programs count on it: ECL runs a Lisp
 * finalizer only on a Lisp thread).  Not inside a finalizer. */
void layer_run_finalizers(void)
{
    static __thread bool running;
    if (GC_finalize_on_demand || running)
        return;
    running = true;
    GC_invoke_finalizers();
    running = false;
}

static void register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn, void **ocd,
                               int flags)
{
    layer_init();
    obj = gc_base(obj);
    struct fin *rec = NULL;
    if (fn && obj) {
        rec = gc_alloc(sizeof *rec);
        if (!rec)
            return;
        rec->fn = fn;
        rec->cd = cd;
    }
    struct fin *old = NULL;
    if (obj) {
        gc_thread_t *t = section_lock(&fins.lock);
        long i = table_find(&fins, (uintptr_t)obj);
        if (i >= 0) {
            old = (struct fin *)fins.vals[i];
            table_del(&fins, i);
        }
        if (rec && !table_put(&fins, (uintptr_t)obj, (uintptr_t)rec))
            rec = NULL;
        section_unlock(&fins.lock, t);
    }
    if (ofn)
        *ofn = old ? old->fn : NULL;
    if (ocd)
        *ocd = old ? old->cd : NULL;
    if (!obj)
        return;
    if (rec)
        finalizer_set(obj, fin_run, rec, flags);
    else if (!fn)
        gc_set_finalizer(obj, NULL, NULL);
}

BDWGC_API void GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                     void **ocd)
{
    register_finalizer(obj, fn, cd, ofn, ocd, 0);
}

BDWGC_API void GC_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn, void *cd,
                                                 GC_finalization_proc *ofn, void **ocd)
{
    register_finalizer(obj, fn, cd, ofn, ocd, FIN_IGNORE_SELF);
}

BDWGC_API void GC_register_finalizer_no_order(void *obj, GC_finalization_proc fn, void *cd,
                                              GC_finalization_proc *ofn, void **ocd)
{
    register_finalizer(obj, fn, cd, ofn, ocd, FIN_UNORDERED);
}

BDWGC_API void GC_register_finalizer_unreachable(void *obj, GC_finalization_proc fn, void *cd,
                                                 GC_finalization_proc *ofn, void **ocd)
{
    register_finalizer(obj, fn, cd, ofn, ocd, FIN_UNORDERED);
}

/* GC_free drops an object's finalizer unrun: forget it here too. */
void layer_free_hook(void *obj)
{
    if (fins.live)
        fin_forget(obj, NULL);
}

BDWGC_API int GC_invoke_finalizers(void)
{
    int n = 0;
    for (;;) {
        pthread_mutex_lock(&queue_lock);
        struct fin_node *f = queue_head;
        if (f) {
            queue_head = f->next;
            if (!queue_head)
                queue_tail = &queue_head;
            atomic_fetch_sub(&queue_len, 1);
        }
        pthread_mutex_unlock(&queue_lock);
        if (!f)
            return n;
        f->rec->fn(f->obj, f->rec->cd);
        n++;
    }
}

BDWGC_API int GC_should_invoke_finalizers(void) { return atomic_load(&queue_len) > 0; }

BDWGC_API void GC_finalize_all(void)
{
    GC_gcollect();
    GC_invoke_finalizers();
}

BDWGC_API void GC_set_finalizer_notifier(GC_finalizer_notifier_proc f) { GC_finalizer_notifier = f; }
BDWGC_API GC_finalizer_notifier_proc GC_get_finalizer_notifier(void) { return GC_finalizer_notifier; }

typedef void (*GC_await_finalize_proc)(void *);
static GC_await_finalize_proc await_proc;
BDWGC_API void GC_set_await_finalize_proc(GC_await_finalize_proc f) { await_proc = f; }
BDWGC_API GC_await_finalize_proc GC_get_await_finalize_proc(void) { return await_proc; }

typedef int (*GC_toggleref_func)(void *);
static GC_toggleref_func toggleref;
BDWGC_API void GC_set_toggleref_func(GC_toggleref_func f) { toggleref = f; }
BDWGC_API GC_toggleref_func GC_get_toggleref_func(void) { return toggleref; }
BDWGC_API int GC_toggleref_add(void *obj, int strong)
{
    (void)obj;
    (void)strong;
    return GC_SUCCESS;
}

/* ---- disappearing links ------------------------------------------------------------- */

static struct table links[2] = {{.lock = PTHREAD_MUTEX_INITIALIZER}, {.lock = PTHREAD_MUTEX_INITIALIZER}};

static int link_register(int which, void **link, const void *obj)
{
    layer_init();
    if (((uintptr_t)link & (sizeof(void *) - 1)) != 0)
        tc_fatal("GC_register_%s_link: link %p is not aligned", which ? "long" : "disappearing", (void *)link);
    struct table *t = &links[which];
    gc_thread_t *th = section_lock(&t->lock);
    int r = GC_SUCCESS;
    if (table_find(t, (uintptr_t)link) >= 0)
        r = GC_DUPLICATE;
    else if (!table_put(t, (uintptr_t)link, ~(uintptr_t)obj))
        r = 2; /* GC_NO_MEMORY */
    section_unlock(&t->lock, th);
    return r;
}

static int link_unregister(int which, void **link)
{
    struct table *t = &links[which];
    gc_thread_t *th = section_lock(&t->lock);
    long i = table_find(t, (uintptr_t)link);
    if (i >= 0)
        table_del(t, i);
    section_unlock(&t->lock, th);
    return i >= 0;
}

static int link_move(int which, void **link, void **new_link)
{
    struct table *t = &links[which];
    gc_thread_t *th = section_lock(&t->lock);
    int r = GC_SUCCESS;
    long i = table_find(t, (uintptr_t)link);
    if (i < 0) {
        r = GC_NOT_FOUND;
    } else if (link != new_link) {
        if (table_find(t, (uintptr_t)new_link) >= 0) {
            r = GC_DUPLICATE;
        } else {
            uintptr_t v = t->vals[i];
            table_del(t, i);
            table_put(t, (uintptr_t)new_link, v); /* (a slot was just freed: no growth) */
        }
    }
    section_unlock(&t->lock, th);
    return r;
}

BDWGC_API int GC_general_register_disappearing_link(void **link, const void *obj) { return link_register(0, link, obj); }
/* bdwgc's older call: the link disappears with the object holding it. */
BDWGC_API int GC_register_disappearing_link(void **link) { return link_register(0, link, gc_base(link)); }
BDWGC_API int GC_unregister_disappearing_link(void **link) { return link_unregister(0, link); }
BDWGC_API int GC_move_disappearing_link(void **link, void **new_link) { return link_move(0, link, new_link); }
BDWGC_API int GC_register_long_link(void **link, const void *obj) { return link_register(1, link, obj); }
BDWGC_API int GC_unregister_long_link(void **link) { return link_unregister(1, link); }
BDWGC_API int GC_move_long_link(void **link, void **new_link) { return link_move(1, link, new_link); }

/* Is the object holding p live after this mark?  Not in the heap: yes. */
static bool survives(uintptr_t p)
{
    span_t *s = span_of(p);
    if (!s)
        return true;
    return mark_object_marked(s, span_obj_index(s, p));
}

/* which 0: the short links, once marking from the roots is done (before
 * unordered finalizers keep their objects' referents); 1: the long ones,
 * at the end of marking. */
void layer_links_done(int which)
{
    struct table *t = &links[which];
    if (!t->live)
        return;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->cap; i++) {
        uintptr_t link = t->keys[i];
        if (link <= 1)
            continue;
        if (!survives(link)) { /* the link itself is in a dead object */
            table_del(t, (long)i);
            continue;
        }
        uintptr_t obj = ~t->vals[i];
        if (survives(obj))
            continue;
        if (which == 1) {
            /* A long link outlives its object's finalization. */
            pthread_mutex_lock(&fins.lock);
            bool pending = table_find(&fins, obj) >= 0;
            pthread_mutex_unlock(&fins.lock);
            if (pending)
                continue;
        }
        *(void **)link = NULL;
        table_del(t, (long)i);
    }
    pthread_mutex_unlock(&t->lock);
}

void layer_finalize_init(void) {}

/* fork (config.c): a link table's lock is taken before fins's, as in
 * layer_links_done. */
void layer_finalize_locks(bool take)
{
    pthread_mutex_t *const l[] = {&links[0].lock, &links[1].lock, &fins.lock, &queue_lock};
    layer_lock_list(l, sizeof l / sizeof l[0], take);
}
