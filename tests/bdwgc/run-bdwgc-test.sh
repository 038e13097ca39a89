#!/usr/bin/env bash
# Build one of bdwgc 8.2.2's own tests (gc-8.2.2/tests/) against a libgc.so.1 - tricolor's
# drop-in build/bdwgc/libgc.so.1 when run by ctest - run it, and judge its outcome the way
# bdwgc's harness does (exit status 0), plus the output that shows the test really did its job.
#
#   run-bdwgc-test.sh TEST LIBFILE LIBDIR WORKDIR
#     TEST     gctest huge_test realloc_test smash_test middle threadkey_test initsecondarythread
#              subthread_create staticrootstest leak_test thread_leak_test
#              (also gctest_cfg: test.c with the feature macros of Debian's libgc build - gcj,
#              thread suspension, parallel mark; gctest_dbg: the same with -DGC_DEBUG)
#     LIBFILE  the libgc.so.1 to test (ctest: $<TARGET_FILE:tricolor_bdwgc>); the programs are
#              linked to this file and must load it at run time, which ldd checks
#     LIBDIR   its directory (RUNPATH and LD_LIBRARY_PATH of the programs)
#     WORKDIR  where the programs are built and run (ctest: a subdirectory per test of the build
#              tree); test.out / test.err / build.log are left there
#
# bdwgc's sources are not in this tree: Debian's libgc 1:8.2.2 source package is fetched once with
# `apt-get source --download-only` (deb-src lines derived from the system's deb lines, in an apt
# state directory of its own: the system's apt configuration and caches are not touched) into a
# cache directory, under flock, so that parallel ctest jobs fetch it once.  If it cannot be
# fetched (no network, no apt, ...) the test is skipped: exit 77, with the reason.
#
# Environment:
#   TRICOLOR_BDWGC_SRC   the cache directory (default ${TMPDIR:-/tmp}/tricolor-bdwgc-src); a
#                        libgc_8.2.2.orig.tar.gz put there by hand is used without apt
#   TRICOLOR_BDWGC_LIB   test this libgc.so.1 instead of LIBFILE (and its directory instead of
#                        LIBDIR): `TRICOLOR_BDWGC_LIB=/usr/lib/x86_64-linux-gnu/libgc.so.1 ctest -L bdwgc`
#                        checks the harness itself against the stock library
#   BDWGC_TEST_TIMEOUT   seconds the test program may run (default 280); ctest's own TIMEOUT is
#                        a little longer
#   CC                   the C compiler (default cc)
set -u

VERSION=8.2.2
ORIG=libgc_${VERSION}.orig.tar.gz
# sha256 of upstream's gc-8.2.2.tar.gz, which is Debian's orig tarball (the .dsc lists it).
ORIG_SHA256=f30107bcb062e0920a790ffffa56d9512348546859364c23a14be264b38836a0

SKIP=77
. "$(dirname "${BASH_SOURCE[0]}")/../gdb-stacks.bash"
die() { echo "bdwgc: FAIL: $*" >&2; exit 1; }
skip() { echo "bdwgc: SKIP: $*" >&2; exit $SKIP; }

[ $# -eq 4 ] || die "usage: $0 TEST LIBFILE LIBDIR WORKDIR"
test=$1 lib=$2 libdir=$3 work=$4
if [ -n "${TRICOLOR_BDWGC_LIB:-}" ]; then
  lib=$TRICOLOR_BDWGC_LIB libdir=$(dirname "$TRICOLOR_BDWGC_LIB")
  echo "bdwgc: TRICOLOR_BDWGC_LIB: testing $lib"
fi
CC=${CC:-cc}
timeout_s=${BDWGC_TEST_TIMEOUT:-280}
[ -f "$lib" ] || die "no library $lib (build the tricolor_bdwgc target)"
lib=$(realpath "$lib") libdir=$(realpath "$libdir")

# --- fetch bdwgc's sources (once, shared by all tests; flock for parallel ctest jobs) ------------
cache=${TRICOLOR_BDWGC_SRC:-${TMPDIR:-/tmp}/tricolor-bdwgc-src}
src=$cache/gc-$VERSION
ready=$src/.tricolor-complete

# Run in $(...): on failure it prints the reason on stdout and returns non-zero; apt's and tar's
# output go to the log.
fetch() {
  local log=$1 tmp a parts f
  tmp=$(mktemp -d "$cache/fetch.XXXXXX") || { echo "cannot create a directory in $cache"; return 1; }
  trap 'rm -rf "$tmp"' RETURN
  sha_ok() { echo "$ORIG_SHA256  $cache/$ORIG" | sha256sum -c --status 2>/dev/null; }
  [ -f "$cache/$ORIG" ] && ! sha_ok && rm -f "$cache/$ORIG"  # a broken earlier download
  if [ ! -f "$cache/$ORIG" ]; then
    command -v apt-get >/dev/null || { echo "apt-get not found: cannot fetch Debian's libgc source"; return 1; }
    # deb-src entries for the system's deb entries (deb822 .sources and one-line .list files).
    a=$cache/apt parts=$cache/apt/parts
    rm -rf "$parts"; mkdir -p "$parts" "$a/lists/partial" "$a/cache/archives/partial" || return 1
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" > "$parts/$(basename "$f")"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && sed -n 's/^[[:space:]]*deb\(-src\)\{0,1\}[[:space:]]/deb-src /p' "$f" \
                     > "$parts/$(basename "$f" .list).list"
    done
    ls "$parts"/* >/dev/null 2>&1 || { echo "no apt sources in /etc/apt to derive deb-src entries from"; return 1; }
    local o=(-o "Dir::Etc::SourceParts=$parts" -o Dir::Etc::SourceList=/dev/null
             -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache"
             -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o Acquire::Retries=1 -q)
    echo "== apt-get update (deb-src only, state in $a)" >>"$log"
    apt-get "${o[@]}" update >>"$log" 2>&1 || { echo "apt-get update failed (network? see above)"; return 1; }
    echo "== apt-get source --download-only libgc" >>"$log"
    if ! (cd "$tmp" && apt-get "${o[@]}" source --download-only libgc) >>"$log" 2>&1; then
      # apt-get update exits 0 when it could fetch no index at all.
      if grep -q '^[WE]: Failed to fetch' "$log"; then
        echo "apt-get update could not fetch the deb-src indices (no network? see above)"
      else
        echo "apt-get source --download-only libgc failed (see above)"
      fi
      return 1
    fi
    [ -f "$tmp/$ORIG" ] || { echo "apt-get source fetched no $ORIG: $(ls "$tmp" | tr '\n' ' ')(not bdwgc $VERSION)"; return 1; }
    mv -f "$tmp"/libgc_* "$cache/" || return 1
    rm -rf "$a"  # the indices (20 MB) are not needed again
  fi
  sha_ok ||
    { echo "$cache/$ORIG: sha256 is not that of bdwgc $VERSION's tarball"; return 1; }
  tar --no-same-owner -xzf "$cache/$ORIG" -C "$tmp" >>"$log" 2>&1 && [ -f "$tmp/gc-$VERSION/tests/test.c" ] ||
    { echo "cannot unpack $cache/$ORIG"; return 1; }
  rm -rf "$src" && mv "$tmp/gc-$VERSION" "$src" && touch "$ready"
}

if [ ! -f "$ready" ]; then
  mkdir -p "$cache" 2>/dev/null || skip "cannot create the source cache $cache"
  command -v flock >/dev/null || skip "flock not found (util-linux): cannot fetch bdwgc's sources safely"
  exec 9>>"$cache/.lock" || skip "cannot write $cache/.lock (a cache of another user? set TRICOLOR_BDWGC_SRC)"
  flock -w 120 9 || skip "timed out waiting for another job's fetch of bdwgc's sources ($cache/.lock)"
  if [ ! -f "$ready" ]; then
    echo "bdwgc: fetching libgc $VERSION's source package into $cache"
    flog=$cache/fetch.log; : >"$flog"
    why=$(fetch "$flog")
    if [ $? -ne 0 ] || [ ! -f "$ready" ]; then
      sed 's/^/  | /' "$flog" | tail -n 25 >&2
      skip "cannot fetch bdwgc $VERSION's sources: ${why:-unknown reason}"
    fi
  fi
  exec 9>&-
fi

# --- build ---------------------------------------------------------------------------------------
mkdir -p "$work" || die "cannot create $work"
cd "$work" || die "cannot cd to $work"
rm -f ./"$test" ./*.so test.out test.err hang.txt build.log core core.*
S=$src/tests
# bdwgc's headers; GC_BUILTIN_ATOMIC as in Debian's build (configure --with-libatomic-ops=none),
# so that private/gc_atomic_ops.h needs no <atomic_ops.h> (libatomic-ops-dev).
CFLAGS=(-O2 -I "$src/include" -DGC_THREADS -DGC_BUILTIN_ATOMIC)
# Linked to the library file itself, not -L DIR -lgc: ld would silently take the system's
# libgc.so when DIR has no libgc.so link.  The RUNPATH and LD_LIBRARY_PATH below load it.
LIBS=("$lib" -Wl,-rpath,"$libdir" -lpthread)
# Debian's config.h for libgc1 (its configure's feature macros, minus GC_DLL).
CFG=(-DPARALLEL_MARK -DTHREAD_LOCAL_ALLOC -DHANDLE_FORK -DGC_ENABLE_SUSPEND_THREAD -DGC_GCJ_SUPPORT
     -DJAVA_FINALIZATION -DENABLE_DISCLAIM -DGC_ATOMIC_UNCOLLECTABLE -DUSE_MMAP -DUSE_MUNMAP
     -DMUNMAP_THRESHOLD=6 -DALL_INTERIOR_POINTERS -DNO_EXECUTE_PERMISSION -DHAVE_DL_ITERATE_PHDR
     -DHAVE_DLADDR -D_REENTRANT)
bcc() { echo "+ $CC $*" >>build.log; "$CC" "$@" >>build.log 2>&1; }
case $test in
  gctest)     bcc "${CFLAGS[@]}" "$S/test.c" -o gctest "${LIBS[@]}" ;;
  gctest_cfg) bcc "${CFLAGS[@]}" "${CFG[@]}" "$S/test.c" -o gctest_cfg "${LIBS[@]}" ;;
  gctest_dbg) bcc "${CFLAGS[@]}" "${CFG[@]}" -DGC_DEBUG "$S/test.c" -o gctest_dbg "${LIBS[@]}" ;;
  smash_test) bcc "${CFLAGS[@]}" -DGC_DEBUG "$S/smash_test.c" -o smash_test "${LIBS[@]}" ;;
  huge_test|realloc_test|middle|threadkey_test|initsecondarythread|subthread_create|leak_test|thread_leak_test)
              bcc "${CFLAGS[@]}" "$S/$test.c" -o "$test" "${LIBS[@]}" ;;
  staticrootstest)
    # Two shared libraries with roots in their data (libtool's -no-undefined: --no-undefined),
    # found through RUNPATH $ORIGIN.  Both sources define GC_DEBUG themselves.
    bcc "${CFLAGS[@]}" -DGC_DEBUG -fPIC -shared "$S/staticrootslib.c" -o libstaticrootslib_test.so \
       -Wl,--no-undefined "${LIBS[@]}" &&
    bcc "${CFLAGS[@]}" -DGC_DEBUG -DSTATICROOTSLIB2 -fPIC -shared "$S/staticrootslib.c" \
       -o libstaticrootslib2_test.so -Wl,--no-undefined "${LIBS[@]}" &&
    bcc "${CFLAGS[@]}" -DGC_DEBUG -DSTATICROOTSLIB2 "$S/staticrootstest.c" -o staticrootstest \
       -L. -lstaticrootslib_test -lstaticrootslib2_test -Wl,-rpath,'$ORIGIN' "${LIBS[@]}" ;;
  *) die "unknown test '$test'" ;;
esac
if [ $? -ne 0 ]; then
  # Undefined references first: the symbols the library does not export yet.
  undef=$(grep -o "undefined reference to \`[^']*'" build.log | sort -u | sed "s/.*\`//; s/'$//")
  if [ -n "$undef" ]; then
    echo "bdwgc: FAIL: $test does not link to $lib; symbols it lacks ($(echo "$undef" | wc -l)):" >&2
    echo "$undef" | sed 's/^/  /' >&2
  fi
  echo "bdwgc: build log ($work/build.log):" >&2
  grep -v 'undefined reference' build.log | head -n 40 >&2
  die "cannot build $test"
fi

# --- check that the program loads LIBFILE, not the system's libgc.so.1 ---------------------------
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# The program must need libgc.so.1; a helper library may not (libstaticrootslib2_test.so calls
# no GC_ function, and --as-needed drops it).
for f in ./"$test" ./*.so; do
  [ -e "$f" ] || continue
  got=$(ldd "$f" 2>&1 | awk '$1 == "libgc.so.1" { print $3 }')
  [ -z "$got" ] && [ "$f" != ./"$test" ] && continue
  [ -n "$got" ] && [ "$(realpath "$got" 2>/dev/null)" = "$lib" ] || {
    ldd "$f" >&2
    die "$f loads libgc.so.1 from '${got:-nowhere}', not $lib"
  }
done
echo "bdwgc: $test built; loads $lib"

# --- run -----------------------------------------------------------------------------------------
ulimit -c 0 2>/dev/null
start=$(date +%s.%N)
# A run past its time is a hang: every thread's stack of each of its processes goes to hang.txt
# (gdb -p, if installed) and into the failure report, then SIGKILL (a process whose world is
# stopped for good sits in the stop signal's handler, with SIGTERM blocked).
# The test runs in a process group of its own (setsid), so that the children it forks (gctest
# does) are found and killed with it.
group() { # the processes of process group $1
  local d stat fields
  for d in /proc/[0-9]*; do
    stat=$(cat "$d/stat" 2>/dev/null) || continue
    read -r -a fields <<<"${stat##*) }" # state ppid pgrp ...
    [ "${fields[2]:-}" = "$1" ] && echo "${d#/proc/}"
  done
}
setsid ./"$test" >test.out 2>test.err </dev/null &
pid=$!
deadline=$((SECONDS + timeout_s))
while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
  # shellcheck disable=SC2046
  gdb_stacks hang.txt $(group "$pid")
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=124
else
  wait "$pid"
  rc=$?
fi
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')

problems=()
case $rc in
  0) ;;
  124) problems+=("timed out after ${timeout_s}s: a hang (every thread's stack below)") ;;
  *) if [ $rc -gt 128 ]; then problems+=("exit status $rc (signal $((rc - 128)): $(kill -l $((rc - 128)) 2>/dev/null))")
     else problems+=("exit status $rc"); fi ;;
esac
# The lines of SRC that call an allocator, as a regex alternation: "12|19".
alloc_lines() { grep -n "$2" "$S/$1" | cut -d: -f1 | paste -sd'|'; }
case $test in
  gctest*)
    grep -q '^Collector appears to work$' test.out || problems+=("stdout lacks 'Collector appears to work'") ;;
  smash_test)
    # GC_check_heap_block: found 1 smashed heap objects:
    #  ADDR in or near object at ADDR (.../smash_test.c:26, sz= 40)
    grep -qi 'smashed' test.err || problems+=("stderr reports no smashed object")
    l=$(alloc_lines smash_test.c 'GC_MALLOC(')
    grep -Eq "smash_test\.c:($l)\b" test.err ||
      problems+=("stderr does not name the smashed object's allocation site smash_test.c:$l") ;;
  leak_test|thread_leak_test)
    # Found 1 leaked objects:
    # ADDR (.../leak_test.c:19, sz= 4, NORMAL)
    grep -Eq 'Found [1-9][0-9]* leaked objects' test.err ||
      problems+=("stderr has no 'Found N leaked objects' line")
    l=$(alloc_lines "$test.c" 'malloc(')
    grep -Eq "$test\.c:($l)\b" test.err ||
      problems+=("stderr names no leaked object's allocation site $test.c:$l") ;;
esac

show() {  # the first and last lines of an output file
  local f=$1 n
  n=$(wc -l <"$f")
  [ "$n" -eq 0 ] && { echo "  ($f is empty)"; return; }
  echo "  --- $f ($n lines) ---"
  if [ "$n" -le 60 ]; then sed 's/^/  /' "$f"
  else head -n 40 "$f" | sed 's/^/  /'; echo "  ... ($((n - 50)) lines) ..."; tail -n 10 "$f" | sed 's/^/  /'; fi
}
if [ ${#problems[@]} -eq 0 ]; then
  echo "bdwgc: $test passed (${secs}s)"
  show test.out; show test.err
  exit 0
fi
{
  echo "bdwgc: FAIL: $test on $lib (${secs}s):"
  printf '  - %s\n' "${problems[@]}"
  show test.out; show test.err
  if [ -f hang.txt ]; then
    echo "  --- every thread's stack at the time limit (hang.txt) ---"
    grep -v '^\[New LWP\|^\[Thread debugging\|^Using host libthread_db' hang.txt | sed 's/^/  /'
  fi
} >&2
exit 1
