#!/usr/bin/env bash
# bench/run.sh - build and run tricolor's benchmark suite against bdwgc, the C
# library's malloc, mimalloc and Go (and glib's GHashTable for the maps).  See
# bench/README.md.
#
#   bash bench/run.sh                   everything, 3 rounds
#   BENCH_QUICK=1 bash bench/run.sh     smoke run: small sizes, 1 round
#   BENCH_ONLY=gcbench bash bench/run.sh
#
# Environment:
#   BENCH_REPS=n        rounds (default 3; 1 with BENCH_QUICK=1)
#   BENCH_QUICK=1       small sizes, 1 round
#   BENCH_ONLY=name     one benchmark: binary_trees, gcbench, mt_alloc, small_heap, pause, memlimit, pool,
#                       profile, Go's make types: make_slice, make_map, make_chan, or the clients of
#                       libgc.so.1: w3m, guile, ecl (a space-separated list works too)
#   BENCH_SYSTEMS=list  systems to run, in this order (default
#                       "tricolor tricolor-stw tricolor-noprof bdwgc libgc malloc mimalloc ghash go"); absent
#                       ones are skipped.  tricolor-stw is tricolor run with GODEBUG=gcstoptheworld=1
#                       (marking with the world stopped), for the concurrent collector's cost;
#                       tricolor-noprof with GODEBUG=memprofilerate=0 (no heap profile sampling),
#                       for the profiler's cost (binary_trees only).  libgc is bdwgc's build of each
#                       benchmark (and the Debian clients w3m, guile-3.0, ecl) run on tricolor's
#                       drop-in build/bdwgc/libgc.so.1 through LD_LIBRARY_PATH.  ghash is glib's
#                       GHashTable (libglib2.0-dev), for make_map only; make_slice, make_map and
#                       make_chan run on tricolor and go (and ghash) only
#   BENCH_TIMEOUT=s     kill a run after s seconds (default 600)
#   BENCH_INSTALL=1     apt-get install -y libgc-dev libmimalloc-dev libglib2.0-dev golang-go first
#   BENCH_BT_DEPTH, BENCH_GCB_ROUNDS, BENCH_MT_ARGS ("threads iterations slots"),
#   BENCH_SMALL_ARGS ("threads iterations records"),
#   BENCH_PAUSE_ARGS ("records seconds [replacements]"),
#   BENCH_MEMLIMIT_ARGS ("live_mib garbage_mib limit_mib window_s [threshold_mib [replace_every]]"),
#   BENCH_POOL_ARGS ("iterations threads finalizers"), BENCH_PROFILE_ARGS ("sites_log2 writes"),
#   BENCH_MAKE_SLICE_ARGS ("n rounds"), BENCH_MAKE_MAP_ARGS ("small big strings ops"),
#   BENCH_MAKE_CHAN_ARGS ("roundtrips elements mpmc_elements")
#                       override the sizes
#   BENCH_TRICOLOR_LIB  the tricolor library to link (default build/libtricolor.a, or .so),
#   BENCH_TRICOLOR_INCLUDE  and the directory of its tricolor.h (default include/)
#   CC                  C compiler (default cc)
#
# Output: tables on stdout; bench/out/results.md (the same tables in Markdown
# with machine details); bench/out/raw.tsv (every run); bench/out/runs/ (each
# run's stdout, stderr and measurement); for the pause benchmark also
# bench/out/pause.tsv, bench/out/pause_hist.tsv and the plot bench/pauses.svg
# (drawn by bench/plot_pauses.py when python3 is present); for the memlimit
# benchmark bench/out/memlimit.tsv; for the pool benchmark bench/out/pool.tsv; for the profile
# benchmark bench/out/profile.tsv; for make_slice, make_map and make_chan bench/out/make.tsv
# (every measurement of every run).  GOGC/GOMEMLIMIT/GODEBUG in the
# environment reach tricolor and Go alike and are recorded in results.md.

set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT=$BENCH_DIR/out
RUNS=$OUT/runs
BIN=$OUT/bin
CC=${CC:-cc}
CFLAGS="-O2 -Wall"

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
if [ -n "$QUICK" ]; then REPS=${BENCH_REPS:-1}; else REPS=${BENCH_REPS:-3}; fi
TIMEOUT=${BENCH_TIMEOUT:-600}
ALL_BENCHES="binary_trees gcbench mt_alloc small_heap pause memlimit pool profile make_slice make_map make_chan w3m guile ecl"
BENCHES=${BENCH_ONLY:-$ALL_BENCHES}
ALL_SYSTEMS="tricolor tricolor-stw tricolor-noprof bdwgc libgc malloc mimalloc ghash go"
WANT_SYSTEMS=${BENCH_SYSTEMS:-$ALL_SYSTEMS}

if [ -n "$QUICK" ]; then
    BT_DEPTH=${BENCH_BT_DEPTH:-16}
    GCB_ROUNDS=${BENCH_GCB_ROUNDS:-1}
    MT_ARGS=${BENCH_MT_ARGS:-"4 200000 20000"}
    SMALL_ARGS=${BENCH_SMALL_ARGS:-"2 2000000 16384"}
    PAUSE_ARGS=${BENCH_PAUSE_ARGS:-"500000 3"}
    MEMLIMIT_ARGS=${BENCH_MEMLIMIT_ARGS:-"50 512 80 5"}
    POOL_ARGS=${BENCH_POOL_ARGS:-"2000000 $(nproc) 100000"}
    PROFILE_ARGS=${BENCH_PROFILE_ARGS:-"12 5"}
    MAKE_SLICE_ARGS=${BENCH_MAKE_SLICE_ARGS:-"100000 20"}
    MAKE_MAP_ARGS=${BENCH_MAKE_MAP_ARGS:-"1000 100000 10000 200000"}
    MAKE_CHAN_ARGS=${BENCH_MAKE_CHAN_ARGS:-"10000 1000000 400000"}
else
    BT_DEPTH=${BENCH_BT_DEPTH:-20}
    GCB_ROUNDS=${BENCH_GCB_ROUNDS:-10}
    MT_ARGS=${BENCH_MT_ARGS:-"4 4000000 20000"}
    SMALL_ARGS=${BENCH_SMALL_ARGS:-"2 20000000 16384"}
    PAUSE_ARGS=${BENCH_PAUSE_ARGS:-"3000000 20"}
    MEMLIMIT_ARGS=${BENCH_MEMLIMIT_ARGS:-"200 4096 300 20"}
    POOL_ARGS=${BENCH_POOL_ARGS:-"20000000 $(nproc) 1000000"}
    PROFILE_ARGS=${BENCH_PROFILE_ARGS:-"14 11"}
    MAKE_SLICE_ARGS=${BENCH_MAKE_SLICE_ARGS:-"1000000 20"}
    MAKE_MAP_ARGS=${BENCH_MAKE_MAP_ARGS:-"1000 1000000 100000 2000000"}
    MAKE_CHAN_ARGS=${BENCH_MAKE_CHAN_ARGS:-"100000 10000000 4000000"}
fi

bench_args() {
    case $1 in
    w3m | guile | ecl) ;;
    binary_trees) echo "$BT_DEPTH" ;;
    gcbench) echo "$GCB_ROUNDS" ;;
    mt_alloc) echo "$MT_ARGS" ;;
    small_heap) echo "$SMALL_ARGS" ;;
    pause) echo "$PAUSE_ARGS" ;;
    memlimit) echo "$MEMLIMIT_ARGS" ;;
    pool) echo "$POOL_ARGS" ;;
    profile) echo "$PROFILE_ARGS" ;;
    make_slice) echo "$MAKE_SLICE_ARGS" ;;
    make_map) echo "$MAKE_MAP_ARGS" ;;
    make_chan) echo "$MAKE_CHAN_ARGS" ;;
    esac
}

# The systems a benchmark runs on, in $SYSTEMS' order.  pause is about
# collector pauses: the collectors, and malloc as the no-collector baseline.
# memlimit is about a collector's memory limit and giving memory back:
# tricolor, bdwgc and Go only.  tricolor-noprof (the profiler's cost) runs
# binary_trees only; profile (the profiler itself) is tricolor's and Go's.
# Go's make types (make_slice, make_map, make_chan) are tricolor's and Go's,
# and glib's GHashTable (ghash) is for make_map only.
bench_systems() {
    local s list=
    for s in $SYSTEMS; do
        case $1:$s in
        binary_trees:tricolor-noprof) list="$list $s" ;;
        *:tricolor-noprof) ;;
        profile:tricolor | profile:go) list="$list $s" ;;
        profile:*) ;;
        pause:mimalloc) ;;
        memlimit:tricolor | memlimit:bdwgc | memlimit:libgc | memlimit:go) list="$list $s" ;;
        memlimit:*) ;;
        w3m:bdwgc | w3m:libgc | guile:bdwgc | guile:libgc | ecl:bdwgc | ecl:libgc) list="$list $s" ;;
        w3m:* | guile:* | ecl:*) ;;
        make_slice:tricolor | make_slice:go | make_map:tricolor | make_map:go | make_map:ghash | \
            make_chan:tricolor | make_chan:go) list="$list $s" ;;
        make_*:* | *:ghash) ;;
        *) list="$list $s" ;;
        esac
    done
    echo "${list# }"
}

msg() { printf '%s\n' "$*" >&2; }

for b in $BENCHES; do
    case " $ALL_BENCHES " in
    *" $b "*) ;;
    *) msg "run.sh: unknown benchmark '$b' (have: $ALL_BENCHES)"; exit 2 ;;
    esac
done
case $REPS in '' | *[!0-9]* | 0) msg "run.sh: BENCH_REPS must be a positive integer"; exit 2 ;; esac

mkdir -p "$OUT" "$RUNS" "$BIN"

# One run at a time: two runs would share bench/out/ and steal each other's CPUs.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUT/.lock"
    if ! flock -n 9; then
        msg "run.sh: another bench/run.sh is running; waiting for it to finish"
        flock 9
    fi
fi
rm -f "$RUNS"/*

# ---------------------------------------------------------------------------
# Packages (only with BENCH_INSTALL=1)
if [ "${BENCH_INSTALL:-0}" = 1 ]; then
    msg "== installing libgc-dev libmimalloc-dev libglib2.0-dev golang-go"
    apt-get install -y libgc-dev libmimalloc-dev libglib2.0-dev golang-go >&2 || msg "run.sh: apt-get install failed; continuing with what is present"
fi

# ---------------------------------------------------------------------------
# Which systems are available
have_header() { [ -f "/usr/include/$1" ] || echo "#include <$1>" | $CC -E -x c - >/dev/null 2>&1; }

TRICOLOR_LIB=
TRICOLOR_INCLUDE=${BENCH_TRICOLOR_INCLUDE:-$ROOT/include}
find_tricolor() {
    if [ -n "${BENCH_TRICOLOR_LIB:-}" ]; then
        [ -f "$BENCH_TRICOLOR_LIB" ] && TRICOLOR_LIB=$(cd "$(dirname "$BENCH_TRICOLOR_LIB")" && pwd)/$(basename "$BENCH_TRICOLOR_LIB")
    elif [ -f "$ROOT/build/libtricolor.a" ]; then
        TRICOLOR_LIB="$ROOT/build/libtricolor.a"
    elif [ -f "$ROOT/build/libtricolor.so" ]; then
        TRICOLOR_LIB="$ROOT/build/libtricolor.so"
    fi
}
find_tricolor
if [ -z "$TRICOLOR_LIB" ] && [ -z "${BENCH_TRICOLOR_LIB:-}" ] && [ ! -d "$ROOT/build" ] && [ -f "$ROOT/CMakeLists.txt" ] &&
    command -v cmake >/dev/null 2>&1 && case " $WANT_SYSTEMS " in *" tricolor "*) true ;; *) false ;; esac; then
    msg "== build/ is missing: building tricolor with cmake (Release)"
    # env -u: when make runs this script, keep its jobserver flags from the sub-build.
    if CC="$CC" cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 &&
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build "$ROOT/build" -j"$(nproc)" >>"$OUT/cmake.log" 2>&1; then
        find_tricolor
    else
        msg "run.sh: building tricolor failed (see bench/out/cmake.log)"
    fi
fi

SYSTEMS=
SKIPPED=
skip() { SKIPPED="$SKIPPED$1: $2"$'\n'; msg "-- skipping $1: $2"; }
for s in $WANT_SYSTEMS; do
    case $s in
    tricolor|tricolor-stw|tricolor-noprof)
        if [ -n "${BENCH_TRICOLOR_LIB:-}" ] && [ -z "$TRICOLOR_LIB" ]; then skip tricolor "no $BENCH_TRICOLOR_LIB (BENCH_TRICOLOR_LIB)"
        elif [ -z "$TRICOLOR_LIB" ]; then skip tricolor "no build/libtricolor.a (build the library first: make, or cmake -S . -B build && cmake --build build)"
        elif [ ! -f "$TRICOLOR_INCLUDE/tricolor.h" ]; then skip tricolor "no $TRICOLOR_INCLUDE/tricolor.h"
        else SYSTEMS="$SYSTEMS $s"; fi ;;
    bdwgc)
        if have_header gc.h; then SYSTEMS="$SYSTEMS bdwgc"; else skip bdwgc "no gc.h (apt-get install libgc-dev, or BENCH_INSTALL=1)"; fi ;;
    libgc)
        if ! have_header gc.h; then skip libgc "no gc.h (apt-get install libgc-dev, or BENCH_INSTALL=1)"
        elif [ ! -f "$ROOT/build/bdwgc/libgc.so.1" ]; then skip libgc "no build/bdwgc/libgc.so.1 (make)"
        else SYSTEMS="$SYSTEMS libgc"; fi ;;
    malloc) SYSTEMS="$SYSTEMS malloc" ;;
    mimalloc)
        if have_header mimalloc.h; then SYSTEMS="$SYSTEMS mimalloc"; else skip mimalloc "no mimalloc.h (apt-get install libmimalloc-dev, or BENCH_INSTALL=1)"; fi ;;
    ghash)
        if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists glib-2.0; then SYSTEMS="$SYSTEMS ghash"
        else skip ghash "no glib-2.0 (apt-get install libglib2.0-dev pkg-config, or BENCH_INSTALL=1)"; fi ;;
    go)
        if command -v go >/dev/null 2>&1; then SYSTEMS="$SYSTEMS go"; else skip go "no go command (apt-get install golang-go, or BENCH_INSTALL=1)"; fi ;;
    *) msg "run.sh: unknown system '$s' (have: $ALL_SYSTEMS)"; exit 2 ;;
    esac
done
SYSTEMS=${SYSTEMS# }
[ -n "$SYSTEMS" ] || { msg "run.sh: no system to benchmark"; exit 1; }

# ---------------------------------------------------------------------------
# Build
msg "== building into bench/out/bin (systems: $SYSTEMS)"
$CC -O2 -Wall -o "$BIN/measure" "$BENCH_DIR/measure.c" || { msg "run.sh: cannot build measure.c"; exit 1; }

export GOCACHE="$OUT/gocache" GOPATH="$OUT/gopath" GO111MODULE=on GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
BUILT=
# The clients of libgc.so.1, Debian's binaries: a wrapper runs the workload
# (the same on bdwgc and on tricolor's libgc: run_one sets LD_LIBRARY_PATH)
# and prints the BENCH line; measure counts the client as the wrapper's child.
client_wrapper() { # bench exe
    local prog
    case $1 in w3m) prog=w3m ;; guile) prog=guile-3.0 ;; ecl) prog=ecl ;; esac
    command -v "$prog" >/dev/null 2>&1 || { echo "no $prog (apt-get install ${prog})"; return 1; }
    case $1 in
    w3m)
        # A generated table of 30,000 rows (about 4 MB of HTML), as bdwgc.md's w3m workload.
        awk 'BEGIN { print "<html><body><table border=1>"
                     for (i = 0; i < 30000; i++) { printf "<tr>"; for (j = 0; j < 6; j++) printf "<td>%d %s</td>", i * 7 + j, substr("xxxxxxxxxxxx", 1, 1 + (i * 13 + j * 7) % 12); print "</tr>" }
                     print "</table></body></html>" }' >"$BIN/w3m_page.html"
        printf '#!/bin/sh
w3m -dump -T text/html -cols 120 %s | md5sum
echo "BENCH collections=0 maxpause_ns=0 totalpause_ns=0"
'             "$BIN/w3m_page.html" >"$2" ;;
    guile)
        printf '#!/bin/sh
guile-3.0 -c %s
echo "BENCH collections=0 maxpause_ns=0 totalpause_ns=0"
'             "'(define (mk n) (let lp ((i 0) (l (quote ()))) (if (= i n) l (lp (+ i 1) (cons (make-vector 4 i) l))))) (let lp ((k 0) (s 0)) (if (< k 100) (lp (+ k 1) (+ s (length (mk 100000)))) (begin (display s) (newline))))'" >"$2" ;;
    ecl)
        printf '%s
' '(defun mk (n) (let ((l nil)) (dotimes (i n l) (push (make-array 4 :initial-element i) l))))'             '(let ((s 0)) (dotimes (k 100) (incf s (length (mk 100000)))) (print s))' >"$BIN/ecl_work.lsp"
        printf '#!/bin/sh
ecl -norc -load %s -eval "(ext:exit)"
echo "BENCH collections=0 maxpause_ns=0 totalpause_ns=0"
'             "$BIN/ecl_work.lsp" >"$2" ;;
    esac
    chmod +x "$2"
}
build_one() { # bench system
    local b=$1 s=$2 exe=$BIN/$1_$2 log=$OUT/build_$1_$2.log
    case $s in
    tricolor|tricolor-stw|tricolor-noprof)
        local extra=
        case $TRICOLOR_LIB in *.so) extra="-Wl,-rpath,$(dirname "$TRICOLOR_LIB")" ;; *) extra="-lz" ;; esac
        # The profile benchmark compares stack walks, libunwind's among them where it is installed.
        [ "$b" = profile ] && have_header libunwind.h && extra="$extra -DHAVE_LIBUNWIND -lunwind"
        $CC $CFLAGS -DSYS_TRICOLOR -I"$TRICOLOR_INCLUDE" -o "$exe" "$BENCH_DIR/$b.c" "$TRICOLOR_LIB" $extra -pthread -ldl -lm ;;
    bdwgc | libgc)
        case $b in
        w3m | guile | ecl) client_wrapper "$b" "$exe" ;;
        *) $CC $CFLAGS -DSYS_BDWGC -o "$exe" "$BENCH_DIR/$b.c" -lgc -pthread ;;
        esac ;;
    malloc) $CC $CFLAGS -DSYS_MALLOC -o "$exe" "$BENCH_DIR/$b.c" -pthread ;;
    mimalloc) $CC $CFLAGS -DSYS_MIMALLOC -o "$exe" "$BENCH_DIR/$b.c" -lmimalloc -pthread ;;
    # glib's GHashTable over the C library's malloc: shim.h's malloc system plus the table.
    ghash) $CC $CFLAGS -DSYS_MALLOC -DBENCH_GHASH $(pkg-config --cflags glib-2.0) -o "$exe" "$BENCH_DIR/$b.c" \
        $(pkg-config --libs glib-2.0) -pthread ;;
    go) (cd "$BENCH_DIR/go" && go build -o "$exe" "$b.go" common.go) ;;
    esac >"$log" 2>&1
}
for b in $BENCHES; do
    for s in $(bench_systems "$b"); do
        rm -f "$BIN/${b}_$s"
        if build_one "$b" "$s"; then
            BUILT="$BUILT ${b}_$s"
        else
            msg "-- build of $b for $s failed (bench/out/build_${b}_$s.log):"
            sed 's/^/   /' "$OUT/build_${b}_$s.log" | head -20 >&2
        fi
    done
done

# ---------------------------------------------------------------------------
# Run: per benchmark, REPS rounds, each round going through every system in
# turn, so slow drifts of the machine hit all systems alike.
RAW=$OUT/raw.tsv
printf 'bench\tsystem\tround\tstatus\twall_ns\tcpu_us\tmaxrss_kb\tcollections\tmaxpause_ns\ttotalpause_ns\tcheck\n' >"$RAW"
# The pause benchmark's own numbers (its PAUSE line), one line per run.
PAUSE_TSV=$OUT/pause.tsv
PAUSE_FIELDS="maxgap_ns p50_ns p99_ns p999_ns gaps replacements seconds rate live_bytes gcs gc_maxpause_ns gc_totalpause_ns hist"
printf 'system\tround\t%s\n' "$(echo $PAUSE_FIELDS | tr ' ' '\t')" >"$PAUSE_TSV"
# The memlimit benchmark's numbers (its three MEMLIMIT lines), one line per
# run: column name = <phase>_<key>.
MEMLIMIT_TSV=$OUT/memlimit.tsv
MEMLIMIT_FIELDS="limit:status limit:seconds limit:build_seconds limit:cpu_s limit:gcs limit:peak_rss_kb limit:rss_kb
    limit:retained_kb limit:garbage_done_mib limit:checksum release:gc_ms release:rss_before_kb release:rss_after_gc_kb
    release:threshold_mib release:below_ms release:rss_end_kb release:rss_min_kb release:cpu_s release:retained_end_kb
    free:rebuild_seconds free:rss_before_kb free:free_ms free:rss_after_kb free:retained_after_kb
    free:rss_after_more_kb"
printf 'system\tround\t%s\n' "$(echo $MEMLIMIT_FIELDS | tr ' :' '\t_')" >"$MEMLIMIT_TSV"
# The pool benchmark's POOL line, one line per run.
POOL_TSV=$OUT/pool.tsv
POOL_FIELDS="st_fresh_ns st_pool_ns mt_fresh_ns mt_pool_ns threads fin_per_s fin_ran fin_n"
printf 'system\tround\t%s\n' "$(echo $POOL_FIELDS | tr ' ' '\t')" >"$POOL_TSV"
# The profile benchmark's PROFILE line, one line per run.
PROFILE_TSV=$OUT/profile.tsv
PROFILE_FIELDS="sample_ns write_ns write_min_ns sites bytes text_ns text_bytes
    walk_fp_fp_8_ns walk_fp_fp_32_ns frames_fp_fp_32 frames_fp_nofp_32
    walk_backtrace_fp_8_ns walk_backtrace_fp_32_ns walk_backtrace_nofp_32_ns frames_backtrace_fp_32 frames_backtrace_nofp_32
    walk_libunwind_fp_8_ns walk_libunwind_fp_32_ns walk_libunwind_nofp_32_ns frames_libunwind_fp_32 frames_libunwind_nofp_32"
printf 'system\tround\t%s\n' "$(echo $PROFILE_FIELDS | tr ' ' '\t')" >"$PROFILE_TSV"
# The make types' benchmarks (make_slice, make_map, make_chan): their OP lines,
# one line per measurement of each run.
MAKE_TSV=$OUT/make.tsv
printf 'bench\tsystem\tround\tname\tns\tops\n' >"$MAKE_TSV"

# Output lines that must be identical for every system (times and names removed):
# their md5 goes into raw.tsv's check column, and after a benchmark's rounds
# every successful run whose check differs from the most common one is marked
# "wrongoutput" (a collector that freed a live object, say).
check_text() {
    grep -v -e '^BENCH ' -e '^depth ' -e '^GCBench ' -e '^mt_alloc (' -e '^small_heap (' -e '^pause (' -e '^PAUSE' \
        -e '^memlimit (' -e '^MEMLIMIT' -e '^pool (' -e '^POOL' -e '^walk ' -e '^64-byte allocation' \
        -e '^profile of ' -e '^PROFILE' -e '^OP ' "$1" | md5sum | cut -d' ' -f1
}

field() { # key file: value of key=value in the first line carrying it
    sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" "$2" | head -1
}

mlfield() { # phase key file: value of key=value in the line "MEMLIMIT phase=<phase> ..."
    sed -n "/^MEMLIMIT phase=$1 /s/.*[ ]$2=\([^ ]*\).*/\1/p" "$3" | head -1
}

run_one() { # bench system round
    local b=$1 s=$2 r=$3 base=$RUNS/$1_$2_$3
    local exe=$BIN/${b}_$s
    local godebug=${GODEBUG-}
    [ "$s" = tricolor-stw ] && godebug=${godebug:+$godebug,}gcstoptheworld=1
    [ "$s" = tricolor-noprof ] && godebug=${godebug:+$godebug,}memprofilerate=0
    local libpath=${LD_LIBRARY_PATH-}
    [ "$s" = libgc ] && libpath=$ROOT/build/bdwgc${libpath:+:$libpath}
    GODEBUG=$godebug LD_LIBRARY_PATH=$libpath "$BIN/measure" -o "$base.m" -t "$TIMEOUT" -- "$exe" $(bench_args "$b") >"$base.out" 2>"$base.err"
    local st wall user sys rss coll maxp totp
    st=$(field status "$base.m"); wall=$(field wall_ns "$base.m")
    user=$(field user_us "$base.m"); sys=$(field sys_us "$base.m"); rss=$(field maxrss_kb "$base.m")
    coll=$(field collections "$base.out"); maxp=$(field maxpause_ns "$base.out"); totp=$(field totalpause_ns "$base.out")
    [ -n "$st" ] || st=nomeasure
    if [ "$st" = 0 ] && [ -z "$coll" ]; then st=nobenchline; fi
    if [ "$b" = pause ] && [ "$st" = 0 ] && ! grep -q '^PAUSE ' "$base.out"; then st=nopauseline; fi
    if [ "$b" = memlimit ] && [ "$st" = 0 ] && [ "$(grep -c '^MEMLIMIT phase=' "$base.out")" != 3 ]; then st=nomemlimitline; fi
    if [ "$b" = pool ] && [ "$st" = 0 ] && ! grep -q '^POOL ' "$base.out"; then st=nopoolline; fi
    if [ "$b" = profile ] && [ "$st" = 0 ] && ! grep -q '^PROFILE ' "$base.out"; then st=noprofileline; fi
    case $b in make_*) [ "$st" = 0 ] && ! grep -q '^OP ' "$base.out" && st=noopline ;; esac
    local sum=-
    [ "$st" = 0 ] && sum=$(check_text "$base.out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$s" "$r" "$st" "${wall:-0}" \
        $(( ${user:-0} + ${sys:-0} )) "${rss:-0}" "${coll:-0}" "${maxp:-0}" "${totp:-0}" "$sum" >>"$RAW"
    if [ "$b" = pause ]; then
        # The PAUSE line's fields (the measured phase only), one line per run.
        local k row="$s\t$r"
        for k in $PAUSE_FIELDS; do row="$row\t$(field "$k" "$base.out")"; done
        printf '%b\n' "$row" >>"$PAUSE_TSV"
    fi
    if [ "$b" = memlimit ]; then
        local kf row="$s\t$r"
        for kf in $MEMLIMIT_FIELDS; do row="$row\t$(mlfield "${kf%%:*}" "${kf#*:}" "$base.out")"; done
        printf '%b\n' "$row" >>"$MEMLIMIT_TSV"
    fi
    if [ "$b" = pool ]; then
        local k row="$s\t$r"
        for k in $POOL_FIELDS; do row="$row\t$(field "$k" "$base.out")"; done
        printf '%b\n' "$row" >>"$POOL_TSV"
    fi
    if [ "$b" = profile ]; then
        local k row="$s\t$r"
        for k in $PROFILE_FIELDS; do row="$row\t$(field "$k" "$base.out")"; done
        printf '%b\n' "$row" >>"$PROFILE_TSV"
    fi
    case $b in
    make_*)
        sed -n 's/^OP name=\([^ ]*\) ns=\([^ ]*\) ops=\([^ ]*\).*/\1\t\2\t\3/p' "$base.out" |
            awk -v b="$b" -v s="$s" -v r="$r" -v OFS='\t' '{ print b, s, r, $0 }' >>"$MAKE_TSV" ;;
    esac
    if [ "$st" = 0 ]; then
        awk -v b="$b" -v s="$s" -v r="$r" -v w="$wall" -v c="$(( user + sys ))" -v m="$rss" -v n="$coll" -v p="$maxp" \
            'BEGIN { printf "   %-13s round %d %-9s wall %7.2f s  cpu %7.2f s  rss %7.1f MiB  gc %5d  maxpause %8.3f ms\n", b, r, s, w/1e9, c/1e6, m/1024, n, p/1e6 }' >&2
        if [ "$b" = pause ]; then
            awk -v g="$(field maxgap_ns "$base.out")" -v q="$(field p999_ns "$base.out")" -v t="$(field rate "$base.out")" \
                -v n="$(field gcs "$base.out")" -v p="$(field gc_maxpause_ns "$base.out")" \
                'BEGIN { printf "   %32s measured: max gap %8.3f ms  p99.9 %7.3f ms  %5.2f M repl/s  gc %4d  max gc pause %8.3f ms\n", "", g/1e6, q/1e6, t/1e6, n, p/1e6 }' >&2
        fi
        if [ "$b" = pool ]; then
            sed -n 's/^pool ([^)]*): /   '"$(printf '%32s' '')"' /p' "$base.out" >&2
        fi
        if [ "$b" = profile ]; then
            sed -n 's/^\(profile of \|64-byte\)/   '"$(printf '%32s' '')"' \1/p' "$base.out" >&2
        fi
        case $b in
        make_*)
            sed -n 's/^OP name=\([^ ]*\) ns=\([^ ]*\).*/\1 \2/p' "$base.out" |
                awk '{ l = l (l == "" ? "" : ", ") sprintf("%s %.1f", $1, $2) } END { print "   " sprintf("%32s", "") " ns: " l }' >&2 ;;
        esac
        if [ "$b" = memlimit ]; then
            awk -v st="$(mlfield limit status "$base.out")" -v t="$(mlfield limit seconds "$base.out")" \
                -v n="$(mlfield limit gcs "$base.out")" -v pk="$(mlfield limit peak_rss_kb "$base.out")" \
                -v ag="$(mlfield release rss_after_gc_kb "$base.out")" -v bl="$(mlfield release below_ms "$base.out")" \
                -v th="$(mlfield release threshold_mib "$base.out")" -v en="$(mlfield release rss_end_kb "$base.out")" \
                -v fb="$(mlfield free rss_before_kb "$base.out")" -v fa="$(mlfield free rss_after_kb "$base.out")" \
                -v fm="$(mlfield free free_ms "$base.out")" \
                'BEGIN { printf "   %32s limit: %s %.2f s, %d GCs, peak %.1f MiB | release: %.1f MiB after GC, < %d MiB %s, %.1f MiB at end | free: %.1f -> %.1f MiB in %.1f ms\n",
                         "", st, t, n, pk/1024, ag/1024, th, (bl == "never") ? "never" : sprintf("after %.2f s", bl/1000), en/1024, fb/1024, fa/1024, fm }' >&2
        fi
    else
        msg "   $b round $r $s: FAILED ($st); stderr tail:"
        tail -5 "$base.err" | sed 's/^/      /' >&2
    fi
}

verify_outputs() { # bench: mark runs whose output differs from the majority's
    awk -F'\t' -v OFS='\t' -v bench="$1" '
        NR == FNR { if (FNR > 1 && $1 == bench && $4 == "0") n[$11]++; next }
        FNR == 1 { for (k in n) if (n[k] > best) { best = n[k]; ref = k } }
        FNR > 1 && $1 == bench && $4 == "0" && $11 != ref {
            $4 = "wrongoutput"
            printf "   !! %s round %s %s: output differs from the other systems (bench/out/runs/%s_%s_%s.out)\n", $1, $3, $2, $1, $2, $3 > "/dev/stderr"
        }
        { print }' "$RAW" "$RAW" >"$RAW.tmp" && mv "$RAW.tmp" "$RAW"
}

# Functions the table printers share (awk): the median of the values
# gathered under a key (cnt[key], vals[key, 1..n]), and a table's header, rows
# and notes, as text (columns of widths w[]) or Markdown (fmt == "md").
AWK_LIB='
function median(key,   n, i, j, t, a) {
    n = cnt[key]
    for (i = 1; i <= n; i++) a[i] = vals[key, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
    if (n == 0) return ""
    return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function print_header(nh, hdr, w, fmt,   h, line, sep) {
    if (fmt == "md") {
        line = "|"; sep = "|"
        for (h = 1; h <= nh; h++) { line = line " " hdr[h] " |"; sep = sep (h <= 2 ? "---|" : "---:|") }
        print line; print sep
    } else {
        line = " "; for (h = 1; h <= nh; h++) line = line sprintf(" %" w[h] "s", hdr[h]); print line
    }
}
function print_row(nh, c, w, fmt,   h, line) {
    if (fmt == "md") {
        line = "|"; for (h = 1; h <= nh; h++) line = line " " c[h] " |"; print line
    } else {
        line = " "; for (h = 1; h <= nh; h++) line = line sprintf(" %" w[h] "s", c[h]); print line
    }
}
# For tables that join raw.tsv (file 1) with the TSV of one benchmark (file 2,
# whose header names the columns: col[]): true when the line is taken here
# (a header, or raw.tsv: the status, CPU and peak RSS of each run by system and round).
function joined_line(bench,   i) {
    if (FNR == 1) {
        file++
        if (file == 2) for (i = 1; i <= NF; i++) col[$i] = i
        return 1
    }
    if (file != 1) return 0
    if ($1 == bench) {
        runs[$2]++; st[$2, $3] = $4; cpu[$2, $3] = $6; rss[$2, $3] = $7
        if ($4 != "0") fails[$2] = fails[$2] (fails[$2] == "" ? "" : ",") $4
    }
    return 1
}
# A system with no successful round: its row says FAILED.
function failed_cells(nh, c,   h) {
    for (h = 3; h <= nh; h++) c[h] = "-"
    c[3] = "FAILED"
}
# The note on the failed runs of a system, with what their status can be.
function fail_note(s, statuses) {
    return (fails[s] == "") ? "" : sprintf("%s failed runs: %s (status: exit code, sig:N, timeout, nobenchline, %s or wrongoutput)\n", s, fails[s], statuses)
}
function print_notes(notes, fmt,   n, i, nl) {
    if (notes == "") return
    n = split(notes, nl, "\n")
    if (fmt == "md") print ""
    for (i = 1; i < n; i++) print (fmt == "md" ? "- " : "  note: ") nl[i]
}
'

# table bench format(text|md): medians over the successful rounds
table() {
    awk -F'\t' -v bench="$1" -v fmt="$2" -v order="$SYSTEMS" "$AWK_LIB"'
    NR > 1 && $1 == bench {
        s = $2; runs[s]++
        if ($4 != "0") { fails[s] = fails[s] (fails[s] == "" ? "" : ",") $4; next }
        ok[s]++
        for (f = 5; f <= 10; f++) { k = s SUBSEP f; cnt[k]++; vals[k, cnt[k]] = $f }
    }
    END {
        ns = split(order, sys, " ")
        for (i = 1; i <= ns; i++) { s = sys[i]; if (ok[s]) for (f = 5; f <= 10; f++) med[s, f] = median(s SUBSEP f) }
        hdr[1] = "system"; hdr[2] = "ok/runs"; hdr[3] = "wall s"; hdr[4] = "CPU s"; hdr[5] = "peak RSS MiB"
        hdr[6] = "GCs"; hdr[7] = "max pause ms"; hdr[8] = "total pause ms"; hdr[9] = "wall / bdwgc"; hdr[10] = "RSS / bdwgc"
        nh = 10
        if (fmt == "md") {
            line = "|"; sep = "|"
            for (h = 1; h <= nh; h++) { line = line " " hdr[h] " |"; sep = sep (h <= 2 ? "---|" : "---:|") }
            print line; print sep
        } else {
            printf "  %-15s %7s %8s %8s %12s %6s %12s %14s %12s %11s\n", hdr[1], hdr[2], hdr[3], hdr[4], hdr[5], hdr[6], hdr[7], hdr[8], hdr[9], hdr[10]
        }
        for (i = 1; i <= ns; i++) {
            s = sys[i]
            if (!runs[s]) continue
            c[1] = s; c[2] = (ok[s] + 0) "/" runs[s]
            if (ok[s]) {
                c[3] = sprintf("%.2f", med[s,5] / 1e9); c[4] = sprintf("%.2f", med[s,6] / 1e6)
                c[5] = sprintf("%.1f", med[s,7] / 1024); c[6] = sprintf("%d", med[s,8])
                c[7] = sprintf("%.3f", med[s,9] / 1e6); c[8] = sprintf("%.1f", med[s,10] / 1e6)
                if (ok["bdwgc"] && med["bdwgc",5] > 0) {
                    c[9] = sprintf("%.2f", med[s,5] / med["bdwgc",5]); c[10] = sprintf("%.2f", med[s,7] / med["bdwgc",7])
                } else { c[9] = "-"; c[10] = "-" }
            } else {
                for (h = 3; h <= nh; h++) c[h] = "-"
                c[3] = "FAILED"
            }
            if (fails[s] != "") notes = notes sprintf("%s failed runs: %s\n", s, fails[s])
            if (fmt == "md") {
                line = "|"; for (h = 1; h <= nh; h++) line = line " " c[h] " |"; print line
            } else {
                printf "  %-15s %7s %8s %8s %12s %6s %12s %14s %12s %11s\n", c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]
            }
        }
        if (notes != "") {
            n = split(notes, nl, "\n")
            if (fmt == "md") print ""
            for (i = 1; i < n; i++) print (fmt == "md" ? "- " : "  note: ") nl[i] \
                " (status: exit code, sig:N, timeout, nobenchline or wrongoutput)"
        }
    }' "$RAW"
}

# pause_table format(text|md): the pause benchmark's table, medians over the
# successful rounds of the PAUSE line's numbers (measured phase) with CPU time
# and peak RSS from raw.tsv.
pause_table() {
    awk -F'\t' -v fmt="$1" -v order="$(bench_systems pause)" "$AWK_LIB"'
    function add(s, name, v,   k) { k = s SUBSEP name; cnt[k]++; vals[k, cnt[k]] = v }
    function ratio(a, b) { return (b > 0) ? sprintf("%.2f", a / b) : "-" }
    joined_line("pause") { next }
    file == 2 {
        s = $1; r = $2
        if (st[s, r] != "0") next
        ok[s]++
        add(s, "gap", $col["maxgap_ns"]); add(s, "p99", $col["p99_ns"]); add(s, "p999", $col["p999_ns"])
        add(s, "rate", $col["rate"]); add(s, "live", $col["live_bytes"]); add(s, "gcs", $col["gcs"])
        add(s, "gcmax", $col["gc_maxpause_ns"]); add(s, "cpu", cpu[s, r]); add(s, "rss", rss[s, r])
    }
    END {
        split("gap p99 p999 rate live gcs gcmax cpu rss", names, " ")
        ns = split(order, sys, " ")
        for (i = 1; i <= ns; i++) { s = sys[i]; if (ok[s]) for (f in names) med[s, names[f]] = median(s SUBSEP names[f]) }
        nh = split("system|ok/runs|max gap ms|p99 gap ms|p99.9 gap ms|M repl/s|CPU s|peak RSS MiB|live MiB|GCs|max GC pause ms|max gap / bdwgc|repl/s / bdwgc|RSS / bdwgc", hdr, "|")
        split("-9 7 10 10 12 8 7 12 8 5 15 15 14 11", w, " ")
        print_header(nh, hdr, w, fmt)
        for (i = 1; i <= ns; i++) {
            s = sys[i]
            if (!runs[s]) continue
            c[1] = s; c[2] = (ok[s] + 0) "/" runs[s]
            if (ok[s]) {
                c[3] = sprintf("%.3f", med[s,"gap"] / 1e6); c[4] = sprintf("%.3f", med[s,"p99"] / 1e6)
                c[5] = sprintf("%.3f", med[s,"p999"] / 1e6); c[6] = sprintf("%.2f", med[s,"rate"] / 1e6)
                c[7] = sprintf("%.2f", med[s,"cpu"] / 1e6); c[8] = sprintf("%.1f", med[s,"rss"] / 1024)
                c[9] = (med[s,"live"] > 0) ? sprintf("%.1f", med[s,"live"] / 1048576) : "-"
                c[10] = sprintf("%d", med[s,"gcs"]); c[11] = sprintf("%.3f", med[s,"gcmax"] / 1e6)
                if (ok["bdwgc"]) {
                    c[12] = ratio(med[s,"gap"], med["bdwgc","gap"]); c[13] = ratio(med[s,"rate"], med["bdwgc","rate"])
                    c[14] = ratio(med[s,"rss"], med["bdwgc","rss"])
                } else { c[12] = "-"; c[13] = "-"; c[14] = "-" }
            } else {
                for (h = 3; h <= nh; h++) c[h] = "-"
                c[3] = "FAILED"
            }
            if (fails[s] != "") notes = notes sprintf("%s failed runs: %s\n", s, fails[s])
            print_row(nh, c, w, fmt)
        }
        if (notes != "") {
            n = split(notes, nl, "\n")
            if (fmt == "md") print ""
            for (i = 1; i < n; i++) print (fmt == "md" ? "- " : "  note: ") nl[i] \
                " (status: exit code, sig:N, timeout, nobenchline, nopauseline or wrongoutput)"
        }
    }' "$RAW" "$PAUSE_TSV"
}

# memlimit_table format(text|md): the memlimit benchmark's table, medians over
# the successful rounds of its MEMLIMIT lines (memlimit.tsv).  The limit
# phase's time and CPU count only the rounds whose limit phase ran to its end
# (status=ok; bdwgc's hard cap can make it stop with status=oom); "never"
# (RSS did not fall below the threshold within the window) sorts above any time.
memlimit_table() {
    awk -F'\t' -v fmt="$1" -v order="$(bench_systems memlimit)" "$AWK_LIB"'
    function add(s, name, v,   k) { k = s SUBSEP name; cnt[k]++; vals[k, cnt[k]] = v }
    function mib(v) { return (v == "") ? "-" : sprintf("%.1f", v / 1024) }
    joined_line("memlimit") { next }
    file == 2 {
        s = $1; r = $2
        if (st[s, r] != "0") next
        ok[s]++
        if (threshold == "") threshold = $col["release_threshold_mib"]
        if ($col["limit_status"] == "ok") {
            limok[s]++
            add(s, "lsec", $col["limit_seconds"]); add(s, "lcpu", $col["limit_cpu_s"])
        } else {
            oom[s]++; oomat[s] = oomat[s] (oomat[s] == "" ? "" : ", ") $col["limit_garbage_done_mib"]
        }
        add(s, "gcs", $col["limit_gcs"]); add(s, "peak", $col["limit_peak_rss_kb"])
        add(s, "aftergc", $col["release_rss_after_gc_kb"])
        add(s, "below", ($col["release_below_ms"] == "never") ? 1e18 : $col["release_below_ms"])
        add(s, "end", $col["release_rss_end_kb"]); add(s, "fbefore", $col["free_rss_before_kb"])
        add(s, "fafter", $col["free_rss_after_kb"]); add(s, "fms", $col["free_free_ms"])
    }
    END {
        split("lsec lcpu gcs peak aftergc below end fbefore fafter fms", names, " ")
        ns = split(order, sys, " ")
        for (i = 1; i <= ns; i++) { s = sys[i]; if (ok[s]) for (f in names) med[s, names[f]] = median(s SUBSEP names[f]) }
        nh = split("system|ok/runs|limit s|limit CPU s|limit GCs|peak RSS MiB|RSS after GC MiB|< " threshold " MiB after s|RSS after window MiB|RSS before free MiB|RSS after free MiB|free call ms", hdr, "|")
        split("-9 7 8 11 9 12 16 17 20 19 18 12", w, " ")
        print_header(nh, hdr, w, fmt)
        for (i = 1; i <= ns; i++) {
            s = sys[i]
            if (!runs[s]) continue
            c[1] = s; c[2] = (ok[s] + 0) "/" runs[s]
            if (ok[s]) {
                if (limok[s]) { c[3] = sprintf("%.2f", med[s,"lsec"]); c[4] = sprintf("%.2f", med[s,"lcpu"]) }
                else { c[3] = "oom"; c[4] = "-" }
                c[5] = sprintf("%d", med[s,"gcs"]); c[6] = mib(med[s,"peak"]); c[7] = mib(med[s,"aftergc"])
                c[8] = (med[s,"below"] >= 1e17) ? "never" : sprintf("%.2f", med[s,"below"] / 1000)
                c[9] = mib(med[s,"end"]); c[10] = mib(med[s,"fbefore"]); c[11] = mib(med[s,"fafter"])
                c[12] = sprintf("%.1f", med[s,"fms"])
            } else {
                for (h = 3; h <= nh; h++) c[h] = "-"
                c[3] = "FAILED"
            }
            if (oom[s]) notes = notes sprintf("%s: the limit phase ran out of memory in %d of %d rounds (after %s MiB of garbage); its limit s and CPU s are from the other rounds\n", s, oom[s], ok[s], oomat[s])
            if (fails[s] != "") notes = notes sprintf("%s failed runs: %s (status: exit code, sig:N, timeout, nobenchline, nomemlimitline or wrongoutput)\n", s, fails[s])
            print_row(nh, c, w, fmt)
        }
        print_notes(notes, fmt)
    }' "$RAW" "$MEMLIMIT_TSV"
}

# pool_table format(text|md): the pool benchmark's table, medians over the
# successful rounds of its POOL lines (pool.tsv), with CPU time and peak RSS
# from raw.tsv.  "-": the system has no pool, or no finalizers.
pool_table() {
    awk -F'\t' -v fmt="$1" -v order="$(bench_systems pool)" "$AWK_LIB"'
    function add(s, name, v,   k) { if (v == "-" || v == "") return; k = s SUBSEP name; cnt[k]++; vals[k, cnt[k]] = v }
    function num(s, name, f) { return ((s SUBSEP name) in cnt) ? sprintf(f, med[s, name]) : "-" }
    joined_line("pool") { next }
    file == 2 {
        s = $1; r = $2
        if (st[s, r] != "0") next
        ok[s]++
        add(s, "sf", $col["st_fresh_ns"]); add(s, "sp", $col["st_pool_ns"]); add(s, "mf", $col["mt_fresh_ns"])
        add(s, "mp", $col["mt_pool_ns"]); add(s, "fin", $col["fin_per_s"]); add(s, "cpu", cpu[s, r]); add(s, "rss", rss[s, r])
        threads = $col["threads"]
    }
    END {
        split("sf sp mf mp fin cpu rss", names, " ")
        ns = split(order, sys, " ")
        for (i = 1; i <= ns; i++) { s = sys[i]; if (ok[s]) for (f in names) if ((s SUBSEP names[f]) in cnt) med[s, names[f]] = median(s SUBSEP names[f]) }
        nh = split("system|ok/runs|fresh ns|pool ns|pool / fresh|fresh ns, " threads " thr|pool ns, " threads " thr|pool / fresh, " threads " thr|finalizers/s|CPU s|peak RSS MiB", hdr, "|")
        split("-9 7 9 8 12 16 15 20 13 8 12", w, " ")
        print_header(nh, hdr, w, fmt)
        for (i = 1; i <= ns; i++) {
            s = sys[i]
            if (!runs[s]) continue
            c[1] = s; c[2] = (ok[s] + 0) "/" runs[s]
            if (ok[s]) {
                c[3] = num(s, "sf", "%.2f"); c[4] = num(s, "sp", "%.2f")
                c[5] = (c[4] != "-" && med[s, "sf"] > 0) ? sprintf("%.3f", med[s, "sp"] / med[s, "sf"]) : "-"
                c[6] = num(s, "mf", "%.2f"); c[7] = num(s, "mp", "%.2f")
                c[8] = (c[7] != "-" && med[s, "mf"] > 0) ? sprintf("%.3f", med[s, "mp"] / med[s, "mf"]) : "-"
                c[9] = num(s, "fin", "%.0f"); c[10] = sprintf("%.2f", med[s, "cpu"] / 1e6); c[11] = sprintf("%.1f", med[s, "rss"] / 1024)
            } else failed_cells(nh, c)
            notes = notes fail_note(s, "nopoolline")
            print_row(nh, c, w, fmt)
        }
        print_notes(notes, fmt)
    }' "$RAW" "$POOL_TSV"
}

# profile_table format(text|md): the profile benchmark's table, medians over
# the successful rounds of its PROFILE lines (profile.tsv): a sample's cost,
# the write of a profile of `sites` sites, and (tricolor) the stack walks.
profile_table() {
    awk -F'\t' -v fmt="$1" -v order="$(bench_systems profile)" "$AWK_LIB"'
    function add(s, name, v,   k) { if (v == "") return; k = s SUBSEP name; cnt[k]++; vals[k, cnt[k]] = v }
    function num(s, name, f, d) { return ((s SUBSEP name) in cnt) ? sprintf(f, med[s, name] / d) : "-" }
    joined_line("profile") { next }
    file == 2 {
        s = $1; r = $2
        if (st[s, r] != "0") next
        ok[s]++
        for (name in col) if (col[name] > 2) add(s, name, $col[name])
        sites = $col["sites"]
    }
    END {
        ns = split(order, sys, " ")
        for (i = 1; i <= ns; i++) { s = sys[i]; if (ok[s]) for (k in cnt) { split(k, kk, SUBSEP); if (kk[1] == s) med[k] = median(k) } }
        nh = split("system|ok/runs|sample ns|write ms, " sites " sites|fastest ms|gzipped KiB|text ms|text MiB|backtrace ns, 8 / 32 frames|fp ns, 8 / 32|libunwind ns, 8 / 32|frames found, 32 deep: backtrace / fp / libunwind (no frame pointers)", hdr, "|")
        split("-9 7 9 22 10 11 8 8 27 13 19 60", w, " ")
        print_header(nh, hdr, w, fmt)
        for (i = 1; i <= ns; i++) {
            s = sys[i]
            if (!runs[s]) continue
            c[1] = s; c[2] = (ok[s] + 0) "/" runs[s]
            if (ok[s]) {
                c[3] = num(s, "sample_ns", "%.0f", 1); c[4] = num(s, "write_ns", "%.2f", 1e6); c[5] = num(s, "write_min_ns", "%.2f", 1e6)
                c[6] = num(s, "bytes", "%.1f", 1024); c[7] = num(s, "text_ns", "%.1f", 1e6); c[8] = num(s, "text_bytes", "%.1f", 1048576)
                c[9] = ((s SUBSEP "walk_backtrace_fp_8_ns") in cnt) ? num(s, "walk_backtrace_fp_8_ns", "%.0f", 1) " / " num(s, "walk_backtrace_fp_32_ns", "%.0f", 1) : "-"
                c[10] = ((s SUBSEP "walk_fp_fp_8_ns") in cnt) ? num(s, "walk_fp_fp_8_ns", "%.0f", 1) " / " num(s, "walk_fp_fp_32_ns", "%.0f", 1) : "-"
                c[11] = ((s SUBSEP "walk_libunwind_fp_8_ns") in cnt) ? num(s, "walk_libunwind_fp_8_ns", "%.0f", 1) " / " num(s, "walk_libunwind_fp_32_ns", "%.0f", 1) : "-"
                c[12] = ((s SUBSEP "frames_backtrace_fp_32") in cnt) ? num(s, "frames_backtrace_fp_32", "%d", 1) " (" num(s, "frames_backtrace_nofp_32", "%d", 1) ") / " \
                        num(s, "frames_fp_fp_32", "%d", 1) " (" num(s, "frames_fp_nofp_32", "%d", 1) ") / " \
                        num(s, "frames_libunwind_fp_32", "%d", 1) " (" num(s, "frames_libunwind_nofp_32", "%d", 1) ")" : "-"
            } else failed_cells(nh, c)
            notes = notes fail_note(s, "noprofileline")
            print_row(nh, c, w, fmt)
        }
        print_notes(notes, fmt)
    }' "$RAW" "$PROFILE_TSV"
}

# make_table bench format(text|md): the make types' benchmarks (make_slice,
# make_map, make_chan): per measurement (OP line, in the programs' order),
# each system's median over its successful rounds (make.tsv) and tricolor's
# ratio to each other system (below 1: tricolor takes less time).
make_table() {
    awk -F'\t' -v bench="$1" -v fmt="$2" -v order="$(bench_systems "$1")" "$AWK_LIB"'
    function unit(n) {
        if (n ~ /^grow_/) return "ns"
        if (n ~ /^pingpong/) return "ns/round trip"
        if (n ~ /^buffered/) return "ns/element"
        if (n ~ /^(i64|s16)_/) return "ns/append"
        return "ns/op"
    }
    function num(v) { return (v >= 100000) ? sprintf("%.0f", v) : (v >= 100) ? sprintf("%.1f", v) : sprintf("%.2f", v) }
    joined_line(bench) { next }
    file == 2 {
        if ($col["bench"] != bench) next
        s = $col["system"]; r = $col["round"]
        if (st[s, r] != "0") next
        n = $col["name"]
        if (!(n in seen)) { seen[n] = 1; names[++nn] = n }
        k = s SUBSEP n; cnt[k]++; vals[k, cnt[k]] = $col["ns"]
        if (!((s, r) in okr)) { okr[s, r] = 1; ok[s]++ }
    }
    END {
        ns = split(order, sys, " ")
        nh = 0; hdr[++nh] = "measurement"; w[nh] = -21; hdr[++nh] = "unit"; w[nh] = -13
        for (i = 1; i <= ns; i++) if (runs[sys[i]]) { hdr[++nh] = sys[i] " (" (ok[sys[i]] + 0) "/" runs[sys[i]] ")"; w[nh] = 14 }
        for (i = 1; i <= ns; i++) if (runs[sys[i]] && sys[i] != "tricolor" && runs["tricolor"]) { hdr[++nh] = "tricolor / " sys[i]; w[nh] = 17 }
        print_header(nh, hdr, w, fmt)
        for (j = 1; j <= nn; j++) {
            n = names[j]; h = 0
            c[++h] = n; c[++h] = unit(n)
            for (i = 1; i <= ns; i++) {
                s = sys[i]
                if (!runs[s]) continue
                k = s SUBSEP n
                med[s] = (k in cnt) ? median(k) : ""
                c[++h] = (k in cnt) ? num(med[s]) : "-"
            }
            for (i = 1; i <= ns; i++) {
                s = sys[i]
                if (!runs[s] || s == "tricolor" || !runs["tricolor"]) continue
                c[++h] = (med["tricolor"] != "" && med[s] != "" && med[s] > 0) ? sprintf("%.2f", med["tricolor"] / med[s]) : "-"
            }
            print_row(nh, c, w, fmt)
        }
        for (i = 1; i <= ns; i++) notes = notes fail_note(sys[i], "noopline")
        print_notes(notes, fmt)
    }' "$RAW" "$MAKE_TSV"
}

# The profiler's cost on binary_trees: tricolor (the default rate) against
# tricolor-noprof (rate 0), medians of the same run's rounds.
profiling_cost() {
    awk -F'\t' "$AWK_LIB"'
    NR > 1 && $1 == "binary_trees" && $4 == "0" && ($2 == "tricolor" || $2 == "tricolor-noprof") {
        k = $2 SUBSEP "w"; cnt[k]++; vals[k, cnt[k]] = $5
        k = $2 SUBSEP "c"; cnt[k]++; vals[k, cnt[k]] = $6
    }
    END {
        if (!cnt["tricolor" SUBSEP "w"] || !cnt["tricolor-noprof" SUBSEP "w"]) exit
        w1 = median("tricolor" SUBSEP "w"); w0 = median("tricolor-noprof" SUBSEP "w")
        c1 = median("tricolor" SUBSEP "c"); c0 = median("tricolor-noprof" SUBSEP "c")
        printf "heap profiling at the default rate (512 KiB) against rate 0: wall %.2f s / %.2f s (%+.1f%%), CPU %.2f s / %.2f s (%+.1f%%)\n",
            w1 / 1e9, w0 / 1e9, (w1 / w0 - 1) * 100, c1 / 1e6, c0 / 1e6, (c1 / c0 - 1) * 100
    }' "$RAW"
}

# After the pause benchmark: the plot (bench/pauses.svg) and the histograms
# of every run (bench/out/pause_hist.tsv), by plot_pauses.py.
PLOT_NOTE=
plot_pauses() {
    if [ "$(wc -l <"$PAUSE_TSV")" -le 1 ]; then
        PLOT_NOTE="no pause run: bench/pauses.svg not drawn"
        msg "-- $PLOT_NOTE"
        return
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        PLOT_NOTE="no python3: bench/pauses.svg not drawn"
        msg "-- $PLOT_NOTE"
        return
    fi
    if python3 "$BENCH_DIR/plot_pauses.py" --runs "$RUNS" --raw "$RAW" --svg "$BENCH_DIR/pauses.svg" \
        --hist "$OUT/pause_hist.tsv" --args "$(bench_args pause)" >"$OUT/plot_pauses.log" 2>&1; then
        PLOT_NOTE="plot of the gap distributions: bench/pauses.svg (histograms of every run: bench/out/pause_hist.tsv)"
        msg "== ${PLOT_NOTE#plot of the gap distributions: }"
    else
        PLOT_NOTE="plot_pauses.py failed (bench/out/plot_pauses.log)"
        msg "-- $PLOT_NOTE:"
        tail -5 "$OUT/plot_pauses.log" | sed 's/^/   /' >&2
    fi
}

START=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
for b in $BENCHES; do
    msg "== $b $(bench_args "$b"): $REPS round(s) over: $(bench_systems "$b")"
    for r in $(seq 1 "$REPS"); do
        for s in $(bench_systems "$b"); do
            case " $BUILT " in *" ${b}_$s "*) run_one "$b" "$s" "$r" ;; esac
        done
    done
    verify_outputs "$b"
    echo
    echo "$b $(bench_args "$b") (median of $REPS round(s))"
    if [ "$b" = pause ]; then
        pause_table text
        plot_pauses
    elif [ "$b" = memlimit ]; then
        memlimit_table text
    elif [ "$b" = pool ]; then
        pool_table text
    elif [ "$b" = profile ]; then
        profile_table text
    elif case $b in make_*) true ;; *) false ;; esac; then
        table "$b" text
        make_table "$b" text
    else
        table "$b" text
        [ "$b" = binary_trees ] && profiling_cost | sed 's/^/  /'
    fi
done
ELAPSED=$(( $(date +%s) - START ))

# ---------------------------------------------------------------------------
# results.md
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
{
    echo "# tricolor benchmark results"
    echo
    echo "Generated by \`bash bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') in ${ELAPSED} s."
    echo
    echo "## Machine"
    echo
    echo "- uname: \`$(uname -a)\`"
    echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($(nproc) CPUs online)"
    echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- compiler: \`$($CC --version 2>/dev/null | head -1)\`, flags \`$CFLAGS\`"
    echo "- bdwgc: libgc-dev $(pkgver libgc-dev)"
    echo "- mimalloc: libmimalloc-dev $(pkgver libmimalloc-dev) (MI_MALLOC_VERSION $(sed -n 's/^#define MI_MALLOC_VERSION[[:space:]]*\([0-9]*\).*/\1/p' /usr/include/mimalloc.h 2>/dev/null | head -1))"
    echo "- glibc: $(ldd --version 2>/dev/null | head -1 | sed 's/^ldd //')"
    echo "- go: $(go version 2>/dev/null || echo absent)"
    if [ -n "$TRICOLOR_LIB" ] && [ -n "${BENCH_TRICOLOR_LIB:-}" ]; then
        echo "- tricolor: $TRICOLOR_LIB (BENCH_TRICOLOR_LIB, header from $TRICOLOR_INCLUDE), built $(date -u -r "$TRICOLOR_LIB" '+%Y-%m-%d %H:%M UTC')"
    elif [ -n "$TRICOLOR_LIB" ]; then
        echo "- tricolor: ${TRICOLOR_LIB#"$ROOT"/}, git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')$( [ -n "$(git -C "$ROOT" status --porcelain -- src include 2>/dev/null)" ] && echo ' + uncommitted changes'), built $(date -u -r "$TRICOLOR_LIB" '+%Y-%m-%d %H:%M UTC')"
    fi
    echo "- load average before the runs: ${LOADAVG:-unknown}"
    echo "- environment: GOGC=${GOGC:-unset} GOMEMLIMIT=${GOMEMLIMIT:-unset} GODEBUG=${GODEBUG:-unset} GOMAXPROCS=${GOMAXPROCS:-unset}"
    echo
    echo "## Settings"
    echo
    echo "- rounds: $REPS$( [ -n "$QUICK" ] && echo ' (BENCH_QUICK: smoke-test sizes, not for comparison)'), systems alternated within each round: $SYSTEMS"
    for b in $BENCHES; do echo "- $b arguments: \`$(bench_args "$b")\`"; done
    [ -n "$SKIPPED" ] && printf '%s' "$SKIPPED" | sed 's/^/- skipped /'
    echo
    echo "Each cell is the median over the successful rounds. Wall and CPU (user + sys) time and peak"
    echo "RSS come from wait4() on the process; GCs and pauses from the program itself (tricolor and"
    echo "Go: the last 256 pauses of MemStats' ring; bdwgc: every stop-the-world, timed by a"
    echo "GC_set_on_collection_event callback). Ratios are against bdwgc's medians."
    for b in $BENCHES; do
        echo
        echo "## $b \`$(bench_args "$b")\`"
        echo
        if [ "$b" = pause ]; then
            echo "Systems: $(bench_systems pause) (malloc: the baseline without a collector; it frees each"
            echo "replaced record). Measured phase only (after the setup and one forced collection): the"
            echo "program reads CLOCK_MONOTONIC every 64 replacements; a gap is the time between two readings."
            echo "max gap, p99 and p99.9 of the gaps (p99, p99.9: upper edge of a 6%-wide histogram bucket),"
            echo "millions of replacements per second, CPU s and peak RSS of the whole process, live heap"
            echo "after setup as the system counts it, GCs and the longest pause the collector reports"
            echo "during the phase. Ratios are against bdwgc's medians."
            echo
            pause_table md
            [ -n "$PLOT_NOTE" ] && { echo; echo "- $PLOT_NOTE"; }
        elif [ "$b" = memlimit ]; then
            set -- $(bench_args memlimit)
            echo "Systems: $(bench_systems memlimit). Arguments: live MiB, garbage MiB, limit MiB, window s"
            echo "[, threshold MiB (default live/2) [, replace every]]. Three phases, each timed and measured by"
            echo "the program itself (VmRSS, VmHWM from /proc/self/status):"
            echo "1. **limit**: no proportional pacing and a ${3:-?} MiB limit (tricolor and Go: GOGC=off and the"
            echo "   soft memory limit; bdwgc: GC_set_max_heap_size, a hard cap on its heap, with one retry) while"
            echo "   ${1:-?} MiB of small records stay live and ${2:-?} MiB of garbage is allocated: **limit s**, **limit"
            echo "   CPU s**, **limit GCs**, **peak RSS MiB** (VmHWM at the end of the phase: the process's peak so far);"
            echo "2. **release**: all live data dropped, default pacing again, one collection, then no call at all"
            echo "   for ${4:-?} s while VmRSS is read every 50 ms: **RSS after GC MiB** (right after the collection),"
            echo "   the time from the collection's end until RSS fell below the threshold (**never**: not within"
            echo "   the window), **RSS after window MiB**;"
            echo "3. **free**: the live data built again and dropped, then the explicit release (tricolor"
            echo "   gc_free_os_memory, Go debug.FreeOSMemory, bdwgc GC_gcollect_and_unmap): RSS before and right"
            echo "   after the call, and its duration."
            echo
            memlimit_table md
        elif [ "$b" = pool ]; then
            set -- $(bench_args pool)
            echo "Systems: $(bench_systems pool). Arguments: iterations, threads, finalizers. A 128-byte object"
            echo "(scanned kind) is got, written (first and last word) and put back, against a fresh allocation"
            echo "of the same size written the same way and dropped (malloc, mimalloc: freed): **ns per operation**"
            echo "on one thread (${1:-?} operations) and on ${2:-?} threads at once (${1:-?}/${2:-?} each; wall time over one"
            echo "thread's operations). tricolor's gc_pool and Go's sync.Pool; bdwgc, malloc and mimalloc have"
            echo "no pool (-). Then **finalizers per second**: ${3:-?} objects of 32 bytes, each with a finalizer that"
            echo "counts, dropped, and collections until all but 0.1% ran, from the first registration to the"
            echo "last call (tricolor gc_set_finalizer, Go runtime.SetFinalizer, bdwgc GC_REGISTER_FINALIZER with"
            echo "GC_invoke_finalizers after each collection). CPU s and peak RSS are the whole process's."
            echo
            pool_table md
        elif [ "$b" = profile ]; then
            set -- $(bench_args profile)
            echo "Systems: $(bench_systems profile). Arguments: sites_log2, writes. **sample ns**: what a sampled"
            echo "64-byte allocation 8 frames down costs over an unsampled one (every allocation sampled, rate 1,"
            echo "against rate 0). **write**: a heap profile of 2^${1:-?} sampled sites (distinct call stacks, one"
            echo "object each) written ${2:-?} times to /dev/null (tricolor gc_write_heap_profile, Go"
            echo "pprof.WriteHeapProfile): the median and the fastest, its gzipped size, and the legacy text"
            echo "form (debug=1) once. tricolor only: a stack walk from 8 and 32 frames down, by frame pointers,"
            echo "glibc's backtrace (what tricolor uses) and libunwind's unw_backtrace; and the frames each"
            echo "found from 32 deep, through functions with frame pointers and (in brackets) without."
            echo
            profile_table md
        elif case $b in make_*) true ;; *) false ;; esac; then
            set -- $(bench_args "$b")
            case $b in
            make_slice)
                echo "Systems: $(bench_systems make_slice). Arguments: n, rounds. ns per append: n appends one at"
                echo "a time, a new slice each round, ${2:-?} rounds of ${1:-?}: int64s (noscan) and 16-byte structs"
                echo "{pointer, int64} (scanned), onto a nil slice and onto make(..., 0, n) (the make timed too)." ;;
            make_map)
                echo "Systems: $(bench_systems make_map) (ghash: glib's GHashTable over malloc, no collector; uint64"
                echo "keys and values stored in the pointers, g_direct_hash; strings: g_str_hash, the caller's strings)."
                echo "Arguments: small, big, strings, ops. uint64 keys (random) and values at ${1:-?} and ${2:-?} entries:"
                echo "insert into a map made with no hint (a new map per round), lookup hit, lookup miss, delete,"
                echo "about ${4:-?} operations each (ns/op); grow_insert_*: each insert timed alone while a map with no"
                echo "hint grows to ${2:-?} entries (clock included): the longest, p99.99, median; string keys \"key<i>\","
                echo "${3:-?} of them: insert (tricolor copies each key), lookup through other copies of the strings." ;;
            make_chan)
                echo "Systems: $(bench_systems make_chan) (tricolor: threads; Go: goroutines, default GOMAXPROCS)."
                echo "Arguments: roundtrips, elements, mpmc_elements. int64 values: unbuffered ping-pong between two"
                echo "threads, ns per round trip (${1:-?}); capacity-128 channel from one producer to one consumer,"
                echo "ns per element (${2:-?}); the same from 4 producers to 4 consumers (${3:-?})." ;;
            esac
            echo "The first table is the whole process (wall, CPU, peak RSS, GCs, pauses); the second each"
            echo "measurement's median, and tricolor's median over each other system's (below 1: tricolor faster)."
            echo
            table "$b" md
            echo
            make_table "$b" md
        else
            table "$b" md
            [ "$b" = binary_trees ] && { c=$(profiling_cost); [ -n "$c" ] && { echo; echo "- $c"; }; }
        fi
    done
} >"$OUT/results.md"

echo
echo "Results written to ${OUT#"$ROOT"/}/results.md (raw runs: ${OUT#"$ROOT"/}/raw.tsv); $ELAPSED s."
