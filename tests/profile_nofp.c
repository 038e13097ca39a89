/*
 * profile_nofp.c - allocation sites built without frame pointers
 * (-fomit-frame-pointer -O2, set in CMakeLists.txt): the heap profile's stacks
 * must still name every frame (test_profile nofp).
 */
#include <tricolor.h>

void *nofp_top(int n);

/* Work after each call keeps the compiler from turning it into a jump. */
__attribute__((noinline)) static void *nofp_leaf(int n)
{
    void *p = gc_alloc((size_t)n);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

__attribute__((noinline)) static void *nofp_mid(int n)
{
    void *p = nofp_leaf(n + 8);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

__attribute__((noinline)) void *nofp_top(int n)
{
    void *p = nofp_mid(n + 8);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}
