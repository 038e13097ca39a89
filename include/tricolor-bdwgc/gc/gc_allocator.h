/*
 * gc/gc_allocator.h - not provided.
 *
 * bdwgc's STL allocators (gc_allocator, traceable_allocator) come with its
 * C++ support, which tricolor's libgc does not replace; see gc_cpp.h.
 */
#error "tricolor-bdwgc does not provide gc_allocator.h: bdwgc's C++ allocators are not part of tricolor's libgc"
