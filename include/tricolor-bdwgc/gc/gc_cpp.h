/*
 * gc/gc_cpp.h - not provided.
 *
 * tricolor's libgc replaces bdwgc's libgc.so.1 only: there is no libgccpp
 * (bdwgc's C++ operator new and delete, class gc, gc_cleanup), so a C++
 * program that needs them builds against bdwgc's own headers and libraries.
 * C++ code may use gc.h and the other C headers directly.
 */
#error "tricolor-bdwgc does not provide gc_cpp.h: bdwgc's C++ interface (libgccpp) is not part of tricolor's libgc"
