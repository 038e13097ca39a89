/*
 * libroot.c - a small shared library whose globals and __thread variables are
 * the only roots of objects in test_roots (linked at start-up, as
 * libtcroot_linked.so) and test_roots_dlopen (loaded with dlopen, as tcroot.so).
 * It does not use tricolor itself.
 */
#define LIBROOT_N 64

/* bss */
void *volatile libroot_bss[LIBROOT_N];
/* data: the non-zero first entry keeps the array out of .bss */
void *volatile libroot_data[LIBROOT_N + 1] = {(void *)1};
/* TLS: .tbss and .tdata */
__thread void *volatile libroot_tls[LIBROOT_N];
__thread void *volatile libroot_tls_data[LIBROOT_N + 1] = {(void *)1};

int libroot_nslots(void) { return LIBROOT_N; }
void *volatile *libroot_bss_slots(void) { return libroot_bss; }
void *volatile *libroot_data_slots(void) { return libroot_data + 1; }
/* The calling thread's copies. */
void *volatile *libroot_tls_slots(void) { return libroot_tls; }
void *volatile *libroot_tls_data_slots(void) { return libroot_tls_data + 1; }

/* A setter, as a program would use one. */
void libroot_set(int i, void *p) { libroot_bss[i] = p; }
void *libroot_get(int i) { return libroot_bss[i]; }
