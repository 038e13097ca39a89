/*
 * gc.h - the same as <gc/gc.h>, tricolor's bdwgc API, for programs that
 * include <gc.h> (as Debian's libgc-dev allows).
 */
#include "gc/gc.h"
