#!/usr/bin/env bash
# install-smoke.sh BUILD_DIR SOURCE_DIR WORK_DIR [CC]
#
# Installs the build in BUILD_DIR under WORK_DIR/prefix, checks the layout of shared/API.md, then
# builds and runs examples/consumer/hello.c against the installed copy three ways: pkg-config with
# the shared library, pkg-config flags with the static library, and find_package(tricolor) in CMake
# (tricolor::tricolor and tricolor::tricolor_static); and hello_debug.c with pkg-config
# tricolor-debug and with tricolor::tricolor_debug.  Registered with ctest as install_smoke.
set -euo pipefail
build=$1 src=$2 work=$3 cc=${4:-${CC:-cc}} cmake=${CMAKE:-cmake}
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

step() { printf '== %s\n' "$*"; }

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/tricolor.h lib/libtricolor.a lib/libtricolor.so lib/libtricolor.so.0 \
         lib/libtricolor.so.0.1.0 lib/pkgconfig/tricolor.pc \
         lib/cmake/tricolor/tricolorConfig.cmake lib/cmake/tricolor/tricolorConfigVersion.cmake \
         lib/cmake/tricolor/tricolorTargets.cmake \
         lib/tricolor-bdwgc/libgc.so.1 include/tricolor-bdwgc/gc.h include/tricolor-bdwgc/gc/gc.h \
         include/tricolor-bdwgc/gc/gc_mark.h lib/pkgconfig/tricolor-bdwgc.pc \
         lib/libtricolor-debug.so lib/libtricolor-debug.so.0 lib/pkgconfig/tricolor-debug.pc; do
    [ -e "$prefix/$f" ] || { echo "install_smoke: $prefix/$f is missing" >&2; exit 1; }
done

if command -v pkg-config >/dev/null 2>&1; then
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    cflags=$(pkg-config --cflags tricolor)
    libs=$(pkg-config --libs tricolor)
    step "pkg-config: $cflags $libs"
    # shellcheck disable=SC2086
    "$cc" $cflags "$src/examples/consumer/hello.c" -o "$work/hello-pc" $libs
    LD_LIBRARY_PATH=$prefix/lib "$work/hello-pc"

    step "pkg-config, static library"
    # shellcheck disable=SC2086
    "$cc" $cflags "$src/examples/consumer/hello.c" -o "$work/hello-pc-static" \
        "$prefix/lib/libtricolor.a" $(pkg-config --static --libs-only-other tricolor) \
        $(pkg-config --static --libs-only-l tricolor | sed 's/-ltricolor//')
    "$work/hello-pc-static"

    # The drop-in libgc: a bdwgc program built from source with its headers
    # and pkg-config file runs on the installed libgc.so.1 (the .pc's rpath).
    cflags=$(pkg-config --cflags tricolor-bdwgc)
    libs=$(pkg-config --libs tricolor-bdwgc)
    step "pkg-config tricolor-bdwgc: $cflags $libs"
    # shellcheck disable=SC2086
    "$cc" $cflags -DGC_THREADS "$src/examples/consumer/hello_bdwgc.c" -o "$work/hello-bdwgc" $libs
    # (ldd's output in a variable first: grep -q leaves the pipe early, and
    # under pipefail ldd's SIGPIPE failed the check now and then)
    deps=$(ldd "$work/hello-bdwgc")
    case "$deps" in
    *"$prefix/lib/tricolor-bdwgc/libgc.so.1"*) ;;
    *) echo "install_smoke: hello-bdwgc does not load the installed libgc.so.1:" >&2; echo "$deps" >&2; exit 1 ;;
    esac
    "$work/hello-bdwgc"

    # The debug endpoint, as its .pc file says to build it.
    cflags=$(pkg-config --cflags tricolor-debug)
    libs=$(pkg-config --libs tricolor-debug)
    step "pkg-config tricolor-debug: $cflags $libs"
    # shellcheck disable=SC2086
    "$cc" $cflags "$src/examples/consumer/hello_debug.c" -o "$work/hello-debug" $libs
    LD_LIBRARY_PATH=$prefix/lib "$work/hello-debug"
    pc_ok=1
else
    echo "install_smoke: pkg-config not found (sudo apt-get install pkg-config); skipping its checks"
    pc_ok=0
fi

step "find_package(tricolor)"
"$cmake" -S "$src/examples/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release >"$work/consumer-configure.log" \
    || { cat "$work/consumer-configure.log"; exit 1; }
"$cmake" --build "$work/consumer" >"$work/consumer-build.log" \
    || { cat "$work/consumer-build.log"; exit 1; }
"$work/consumer/hello"
"$work/consumer/hello_static"
if [ -f "$prefix/lib/libtricolor-debug.so" ]; then
    [ -x "$work/consumer/hello_debug" ] || { echo "install_smoke: find_package gave no tricolor::tricolor_debug" >&2; exit 1; }
    "$work/consumer/hello_debug"
fi

if [ "$pc_ok" = 0 ]; then exit 77; fi
echo "install_smoke: ok"
