/*
 * test_roots_threads.c - roots in threads other than the one collecting.
 *
 *   control          another thread keeps only hidden addresses on its stack:
 *                    the objects are reclaimed
 *   thread_stack     a blocked thread's stack holds the only pointers: they
 *                    survive main's collections; cleared, they die
 *   registered       a thread that never allocates registers itself
 *                   (gc_register_thread, twice) and holds, on its stack, the only
 *                    pointers to objects main allocated: they survive
 *   unregister       after gc_unregister_thread the thread's stack is no root
 *   registers        a thread spinning in a loop keeps 8 pointers only in
 *                    registers (4 caller-saved, 4 callee-saved), none in memory,
 *                    while main collects: all 8 survive with their bytes intact;
 *                    the same loop holding hidden values: the objects die
 *   vector_registers the same with 4 pointers only in vector registers, the
 *                    thread's handlers running on its own stack, then on a
 *                    signal stack of its own (the stop's signal frame is there)
 *   thread_tls       __thread variables (.tbss, .tdata) of another thread
 *   until_exit       objects reachable only from a thread's stack live while it
 *                    is blocked and die once it has exited
 */
#include "roots_common.h"

#include <errno.h>
#include <signal.h>

__thread void *volatile t_bss_slots[RT_N];
__thread void *volatile t_data_slots[RT_N + 1] = {(void *)1};

struct job {
    rt_set set;
    tc_event ready, cont, cleared, leave;
    int mode;
    int failed_register;
};

static void job_init(struct job *j, int mode)
{
    memset(&j->set, 0, sizeof j->set);
    j->mode = mode;
    tc_event_init(&j->ready);
    tc_event_init(&j->cont);
    tc_event_init(&j->cleared);
    tc_event_init(&j->leave);
}

static void job_destroy(struct job *j)
{
    tc_event_destroy(&j->ready);
    tc_event_destroy(&j->cont);
    tc_event_destroy(&j->cleared);
    tc_event_destroy(&j->leave);
}

/* ------------------------------------------------------------------------ */

enum { M_STACK, M_HIDDEN, M_REGISTERED, M_UNREGISTER, M_TLS_BSS, M_TLS_DATA, M_UNTIL_EXIT };

TC_NOINLINE static void unhide_into(const rt_set *s, void *volatile *slots)
{
    for (int i = 0; i < s->n; i++)
        slots[i] = tc_unhide(s->hid[i]);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    void *volatile slots_stack[RT_N];
    void *volatile *slots = slots_stack;
    if (j->mode == M_TLS_BSS)
        slots = t_bss_slots;
    if (j->mode == M_TLS_DATA)
        slots = t_data_slots + 1;

    switch (j->mode) {
    case M_HIDDEN:
        rt_populate_hidden(&j->set, RT_N, RT_SIZE, 1100);
        break;
    case M_REGISTERED:
    case M_UNREGISTER:
        /* main allocated the objects: this thread never allocates */
        if (gc_register_thread() != 0 || gc_register_thread() != 0)
            j->failed_register = 1;
        unhide_into(&j->set, slots);
        if (j->mode == M_UNREGISTER)
            gc_unregister_thread();
        break;
    default:
        rt_populate(&j->set, slots, RT_N, RT_SIZE, 0, 1200 + (uint32_t)j->mode * 10);
        break;
    }
    tc_clear_stack();
    tc_event_post(&j->ready);
    tc_event_wait(&j->cont); /* main collects */
    if (j->mode == M_HIDDEN || j->mode == M_UNREGISTER)
        return NULL;
    rt_verify(&j->set, slots, "objects held by a blocked thread");
    if (j->mode == M_UNTIL_EXIT)
        return NULL; /* exits with the pointers still on its stack */
    for (int i = 0; i < RT_N; i++)
        slots[i] = NULL;
    tc_clear_stack();
    tc_event_post(&j->cleared);
    tc_event_wait(&j->leave);
    return NULL;
}

static void run_job(int mode, const char *what)
{
    static struct job j;
    job_init(&j, mode);
    if (mode == M_REGISTERED || mode == M_UNREGISTER)
        rt_populate_hidden(&j.set, RT_N, RT_SIZE, 1300);
    pthread_t t = tc_thread(worker, &j);
    tc_event_wait(&j.ready);
    TC_CHECK(!j.failed_register, "gc_register_thread() in a thread that never allocated did not return 0");
    int dead;
    switch (mode) {
    case M_HIDDEN:
    case M_UNREGISTER:
        tc_collect_clean();
        dead = rt_count_dead(&j.set);
        TC_CHECK(dead >= RT_N - RT_SLACK, "%s: only %d of %d objects were reclaimed", what, dead, RT_N);
        tc_event_post(&j.cont);
        tc_join(t);
        break;
    case M_UNTIL_EXIT:
        tc_collect_churn(RT_SIZE, 8 * RT_N, 4);
        tc_event_post(&j.cont); /* the thread checks its objects, then exits */
        tc_join(t);
        tc_collect_clean();
        dead = rt_count_dead(&j.set);
        TC_CHECK(dead >= RT_N - RT_SLACK, "%s: after the thread exited only %d of %d objects died", what, dead,
                 RT_N);
        break;
    default:
        tc_collect_churn(RT_SIZE, 8 * RT_N, 4);
        tc_event_post(&j.cont); /* the thread checks its objects */
        tc_event_wait(&j.cleared);
        tc_collect_clean();
        dead = rt_count_dead(&j.set);
        TC_CHECK(dead >= RT_N - RT_SLACK, "%s: after the thread cleared its root only %d of %d objects died", what,
                 dead, RT_N);
        tc_event_post(&j.leave);
        tc_join(t);
        break;
    }
    job_destroy(&j);
}

static void test_control(void) { run_job(M_HIDDEN, "hidden addresses on another thread's stack"); }
static void test_thread_stack(void) { run_job(M_STACK, "blocked thread's stack"); }
static void test_registered(void) { run_job(M_REGISTERED, "stack of a registered thread that never allocates"); }
static void test_unregister(void) { run_job(M_UNREGISTER, "stack of a thread after gc_unregister_thread"); }
static void test_until_exit(void) { run_job(M_UNTIL_EXIT, "stack of a thread that exited"); }

static void test_thread_tls(void)
{
    run_job(M_TLS_BSS, "another thread's .tbss");
    run_job(M_TLS_DATA, "another thread's .tdata");
}

/* ------------------------------------------------------------------------ */

#define NREG 8
static volatile int reg_ready, reg_stop;
static uintptr_t reg_vals[NREG]; /* hidden addresses in, and out */
static uintptr_t reg_key;        /* TC_KEY: registers hold pointers; 0: hidden values */
static int reg_register_failed;

/* Load vals[i] ^ key into registers, say so, spin until *stop, store back. */
TC_NOINLINE static void hold_in_registers(uintptr_t *vals, volatile int *ready, volatile int *stop, uintptr_t key)
{
#if defined(__x86_64__)
    __asm__ volatile("movq 0(%[v]), %%r8\n\t"
                     "xorq %[k], %%r8\n\t"
                     "movq 8(%[v]), %%r9\n\t"
                     "xorq %[k], %%r9\n\t"
                     "movq 16(%[v]), %%r10\n\t"
                     "xorq %[k], %%r10\n\t"
                     "movq 24(%[v]), %%r11\n\t"
                     "xorq %[k], %%r11\n\t"
                     "movq 32(%[v]), %%r12\n\t"
                     "xorq %[k], %%r12\n\t"
                     "movq 40(%[v]), %%r13\n\t"
                     "xorq %[k], %%r13\n\t"
                     "movq 48(%[v]), %%r14\n\t"
                     "xorq %[k], %%r14\n\t"
                     "movq 56(%[v]), %%r15\n\t"
                     "xorq %[k], %%r15\n\t"
                     "movl $1, (%[r])\n\t"
                     "1:\n\t"
                     "pause\n\t"
                     "cmpl $0, (%[s])\n\t"
                     "je 1b\n\t"
                     "xorq %[k], %%r8\n\t"
                     "movq %%r8, 0(%[v])\n\t"
                     "xorq %[k], %%r9\n\t"
                     "movq %%r9, 8(%[v])\n\t"
                     "xorq %[k], %%r10\n\t"
                     "movq %%r10, 16(%[v])\n\t"
                     "xorq %[k], %%r11\n\t"
                     "movq %%r11, 24(%[v])\n\t"
                     "xorq %[k], %%r12\n\t"
                     "movq %%r12, 32(%[v])\n\t"
                     "xorq %[k], %%r13\n\t"
                     "movq %%r13, 40(%[v])\n\t"
                     "xorq %[k], %%r14\n\t"
                     "movq %%r14, 48(%[v])\n\t"
                     "xorq %[k], %%r15\n\t"
                     "movq %%r15, 56(%[v])\n\t"
                     :
                     : [v] "r"(vals), [r] "r"(ready), [s] "r"(stop), [k] "r"(key)
                     : "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory", "cc");
#elif defined(__aarch64__)
    __asm__ volatile("ldr x9, [%[v], #0]\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "ldr x10, [%[v], #8]\n\t"
                     "eor x10, x10, %[k]\n\t"
                     "ldr x11, [%[v], #16]\n\t"
                     "eor x11, x11, %[k]\n\t"
                     "ldr x12, [%[v], #24]\n\t"
                     "eor x12, x12, %[k]\n\t"
                     "ldr x19, [%[v], #32]\n\t"
                     "eor x19, x19, %[k]\n\t"
                     "ldr x20, [%[v], #40]\n\t"
                     "eor x20, x20, %[k]\n\t"
                     "ldr x21, [%[v], #48]\n\t"
                     "eor x21, x21, %[k]\n\t"
                     "ldr x22, [%[v], #56]\n\t"
                     "eor x22, x22, %[k]\n\t"
                     "mov w16, #1\n\t"
                     "str w16, [%[r]]\n\t"
                     "1:\n\t"
                     "yield\n\t"
                     "ldr w16, [%[s]]\n\t"
                     "cbz w16, 1b\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "str x9, [%[v], #0]\n\t"
                     "eor x10, x10, %[k]\n\t"
                     "str x10, [%[v], #8]\n\t"
                     "eor x11, x11, %[k]\n\t"
                     "str x11, [%[v], #16]\n\t"
                     "eor x12, x12, %[k]\n\t"
                     "str x12, [%[v], #24]\n\t"
                     "eor x19, x19, %[k]\n\t"
                     "str x19, [%[v], #32]\n\t"
                     "eor x20, x20, %[k]\n\t"
                     "str x20, [%[v], #40]\n\t"
                     "eor x21, x21, %[k]\n\t"
                     "str x21, [%[v], #48]\n\t"
                     "eor x22, x22, %[k]\n\t"
                     "str x22, [%[v], #56]\n\t"
                     :
                     : [v] "r"(vals), [r] "r"(ready), [s] "r"(stop), [k] "r"(key)
                     : "x9", "x10", "x11", "x12", "x16", "x19", "x20", "x21", "x22", "memory", "cc");
#else
    (void)vals;
    (void)key;
    *ready = 1;
    while (!*stop)
        ;
#endif
}

/* The same with 4 values in vector registers (x86-64 xmm8-xmm11, aarch64
 * v16-v19, all caller-saved): no general register keeps a copy. */
#define NVEC 4
TC_NOINLINE static void hold_in_vectors(uintptr_t *vals, volatile int *ready, volatile int *stop, uintptr_t key)
{
#if defined(__x86_64__)
    __asm__ volatile("movq 0(%[v]), %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, %%xmm8\n\t"
                     "movq 8(%[v]), %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, %%xmm9\n\t"
                     "movq 16(%[v]), %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, %%xmm10\n\t"
                     "movq 24(%[v]), %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, %%xmm11\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "movl $1, (%[r])\n\t"
                     "1:\n\t"
                     "pause\n\t"
                     "cmpl $0, (%[s])\n\t"
                     "je 1b\n\t"
                     "movq %%xmm8, %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, 0(%[v])\n\t"
                     "movq %%xmm9, %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, 8(%[v])\n\t"
                     "movq %%xmm10, %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, 16(%[v])\n\t"
                     "movq %%xmm11, %%rax\n\t"
                     "xorq %[k], %%rax\n\t"
                     "movq %%rax, 24(%[v])\n\t"
                     :
                     : [v] "r"(vals), [r] "r"(ready), [s] "r"(stop), [k] "r"(key)
                     : "rax", "xmm8", "xmm9", "xmm10", "xmm11", "memory", "cc");
#elif defined(__aarch64__)
    __asm__ volatile("ldr x9, [%[v], #0]\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "fmov d16, x9\n\t"
                     "ldr x9, [%[v], #8]\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "fmov d17, x9\n\t"
                     "ldr x9, [%[v], #16]\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "fmov d18, x9\n\t"
                     "ldr x9, [%[v], #24]\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "fmov d19, x9\n\t"
                     "mov x9, #0\n\t"
                     "mov w16, #1\n\t"
                     "str w16, [%[r]]\n\t"
                     "1:\n\t"
                     "yield\n\t"
                     "ldr w16, [%[s]]\n\t"
                     "cbz w16, 1b\n\t"
                     "fmov x9, d16\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "str x9, [%[v], #0]\n\t"
                     "fmov x9, d17\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "str x9, [%[v], #8]\n\t"
                     "fmov x9, d18\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "str x9, [%[v], #16]\n\t"
                     "fmov x9, d19\n\t"
                     "eor x9, x9, %[k]\n\t"
                     "str x9, [%[v], #24]\n\t"
                     :
                     : [v] "r"(vals), [r] "r"(ready), [s] "r"(stop), [k] "r"(key)
                     : "x9", "x16", "v16", "v17", "v18", "v19", "memory", "cc");
#else
    (void)vals;
    (void)key;
    *ready = 1;
    while (!*stop)
        ;
#endif
}

static void (*reg_hold)(uintptr_t *vals, volatile int *ready, volatile int *stop, uintptr_t key);
static int reg_altstack; /* the thread runs its signal handlers on a signal stack of its own */

static void *reg_thread(void *arg)
{
    (void)arg;
    stack_t ss = {.ss_sp = reg_altstack ? malloc(1 << 16) : NULL, .ss_size = 1 << 16};
    if (reg_altstack && (!ss.ss_sp || sigaltstack(&ss, NULL) != 0))
        TC_FAIL("sigaltstack: %s", strerror(errno));
    if (gc_register_thread() != 0)
        reg_register_failed = 1;
    reg_hold(reg_vals, &reg_ready, &reg_stop, reg_key);
    if (reg_altstack) {
        ss.ss_flags = SS_DISABLE;
        sigaltstack(&ss, NULL);
        free(ss.ss_sp);
    }
    return NULL;
}

static rt_set reg_set;

/* nreg values held by hold in a spinning thread (on a signal stack of its
 * own when altstack), while main collects. */
static void run_registers(void (*hold)(uintptr_t *, volatile int *, volatile int *, uintptr_t), int nreg, int altstack,
                          const char *kind)
{
#if !defined(__x86_64__) && !defined(__aarch64__)
    printf("     registers: no register test for this architecture\n");
    exit(77);
#endif
    reg_hold = hold;
    reg_altstack = altstack;
    for (int control = 1; control >= 0; control--) {
        rt_populate_hidden(&reg_set, nreg, RT_SIZE, control ? 1400 : 1500);
        memcpy(reg_vals, reg_set.hid, sizeof reg_vals);
        reg_key = control ? 0 : TC_KEY;
        reg_ready = 0;
        reg_stop = 0;
        pthread_t t = tc_thread(reg_thread, NULL);
        while (!reg_ready)
            tc_sleep_ms(1);
        TC_CHECK(!reg_register_failed, "gc_register_thread() failed in the spinning thread");
        if (control) {
            tc_collect_clean();
            int dead = rt_count_dead(&reg_set);
            reg_stop = 1;
            tc_join(t);
            TC_CHECK(dead >= nreg - 2, "control: only %d of %d objects known to a thread only as hidden values in "
                                       "%s were reclaimed",
                     dead, nreg, kind);
        } else {
            for (int r = 0; r < 6; r++) {
                tc_churn(RT_SIZE, 4000);
                tc_collect_clean();
            }
            reg_stop = 1;
            tc_join(t);
            for (int i = 0; i < nreg; i++)
                TC_CHECK(reg_vals[i] == reg_set.hid[i], "register %d came back as %#lx", i,
                         (unsigned long)reg_vals[i]);
            int lost = 0;
            for (int i = 0; i < nreg; i++) {
                char *p = tc_unhide(reg_set.hid[i]);
                if (gc_base(p) != p || tc_pattern_diff(p, RT_SIZE, 1500 + (uint32_t)i) >= 0) {
                    fprintf(stderr, "object %d held only in %s of a running thread was freed\n", i, kind);
                    lost++;
                }
            }
            TC_CHECK(lost == 0, "%d of %d objects held only in %s of a running thread were freed", lost, nreg,
                     kind);
        }
    }
}

static void test_registers(void)
{
    run_registers(hold_in_registers, NREG, 0, "general registers (4 caller-saved, 4 callee-saved)");
}

/* Stopped on a signal stack, the thread's vector registers are saved in
 * the signal frame there, not on its stack. */
static void test_vector_registers(void)
{
    run_registers(hold_in_vectors, NVEC, 0, "vector registers");
    run_registers(hold_in_vectors, NVEC, 1, "vector registers, its handlers on a signal stack");
}

int main(int argc, char **argv)
{
    static const tc_subtest tests[] = {
        {"control", test_control},       {"thread_stack", test_thread_stack},
        {"registered", test_registered}, {"unregister", test_unregister},
        {"registers", test_registers},   {"thread_tls", test_thread_tls},
        {"until_exit", test_until_exit}, {"vector_registers", test_vector_registers},
    };
    return tc_main(argc, argv, tests, TC_NTESTS(tests));
}
