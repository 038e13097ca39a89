#!/usr/bin/env bash
# cross_aarch64.sh - build the library and part of the suite for aarch64 and run it under
# qemu-user.  It runs the tests that qemu-user can host: not those that fork from a
# multi-threaded process (qemu's own vCPU bookkeeping aborts in the child) and not those that
# re-execute /proc/self/exe (which is qemu itself): the abort cases of test_badinput,
# test_pacing and test_gctrace.  test_writetrack's subtests fork only from processes that never
# started the library (single-threaded), so they run here: userfaultfd is missing under qemu, so
# this is the mprotect backend (the default falls back to it) and its SIGSEGV handling.
#
# Usage: cross_aarch64.sh SOURCE_DIR WORK_DIR.  Exit 77 (skipped) when the cross compiler or
# qemu-aarch64 is missing: Debian packages gcc-aarch64-linux-gnu, libc6-dev-arm64-cross,
# qemu-user.
set -euo pipefail
src=$1
work=$2
cc=aarch64-linux-gnu-gcc
if ! command -v "$cc" >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    echo "skipped: needs $cc and qemu-aarch64 (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
    exit 77
fi
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
rm -rf "$work" && mkdir -p "$work/obj"
for f in "$src"/src/*.c; do
    "$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -fvisibility=hidden -fPIC -DTRICOLOR_NO_ZLIB -I"$src/include" \
        -c "$f" -o "$work/obj/$(basename "$f" .c).o" &
done
wait
aarch64-linux-gnu-ar rcs "$work/libtricolor.a" "$work"/obj/*.o

# test binary, then its subtests (test_profile: not those that fork or re-execute, nor go's)
suite=(
    "test_alloc classes sizes reuse_zero calloc"
    "test_realloc grow_shrink kind edge"
    "test_noscan noscan"
    "test_roots_threads control thread_stack registered unregister registers thread_tls until_exit"
    "test_reclaim objects cycles free"
    "test_memstats exact by_size counters threads free_os"
    "test_threads concurrent churn"
    "test_badinput queries overflow"
    "test_finalize once reachable referents resurrect order large replace einval cycles cleanup cleanup_stop fin_cleanup free weak weak_many keep_alive thread concurrent"
    "test_pool basic victim steal many threads many_threads counters dropped"
    "test_profile before_gc exact as_of_gc free sampling threads text mappings nofp badfd many_sites"
    "test_slice make append growth sub at copy_clear noscan liveness empty_noscan_kind sub_end_kind"
    "test_buffer write read grow large pool"
    "test_map int_keys raw_api string_keys iter_once iter_delete iter_insert iter_mixed gc_values threads"
    "test_chan buffered buffered_block unbuffered close_recv close_drain timeout select_random select_block select_wakeup mpmc select_threads done"
    "test_writetrack none default mprotect mprotect_unprotect mprotect_race mprotect_fork mprotect_read mprotect_segv mprotect_chain mprotect_partial mprotect_maxmap"
)
fail=0 n=0
for entry in "${suite[@]}"; do
    set -- $entry
    t=$1
    shift
    extra=()
    if [ "$t" = test_profile ]; then
        # No zlib for aarch64 here: the library writes stored gzip, the test reads it.
        "$cc" -O2 -fomit-frame-pointer -I"$src/include" -c "$src/tests/profile_nofp.c" -o "$work/profile_nofp.o"
        extra=(-g -DTC_NO_ZLIB "$work/profile_nofp.o")
    fi
    "$cc" -O2 -I"$src/include" -I"$src/tests" "${extra[@]}" "$src/tests/$t.c" "$work/libtricolor.a" -lpthread -ldl -lm \
        -o "$work/$t"
    for sub in "$@"; do
        n=$((n + 1))
        if (cd "$work" && TRICOLOR_THREADS_SECONDS=2 TRICOLOR_FINALIZE_ROUNDS=20000 timeout 300 qemu-aarch64 "./$t" "$sub"); then :; else
            echo "FAIL aarch64 $t $sub"
            fail=$((fail + 1))
        fi
    done
done
echo "aarch64 under qemu: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
