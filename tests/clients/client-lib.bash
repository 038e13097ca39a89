# Sourced by the scripts of tests/clients/ (its name does not end in .sh, so it is not a test).
#
#   client_init NAME LIBDIR WORKDIR      prefix of messages; checks LIBDIR/libgc.so.1; sets LIB
#                                        (its real path), LIBDIR and WORK (created, absolute)
#   need_program PROG PKG                exit 77 unless PROG is on PATH (Debian package PKG)
#   check_loads PROG                     LIBDIR/libgc.so.1 is what PROG loads with LIBDIR in
#                                        LD_LIBRARY_PATH (ldd), and the system's without it
#   run_stock/run_tricolor CMD...        CMD without LD_LIBRARY_PATH / with LD_LIBRARY_PATH=LIBDIR
#                                        ("${STOCK[@]}" / "${TRICOLOR[@]}": the same as commands)
#   measure OUT ERR CMD...               run CMD (an executable; stdin /dev/null, stdout to OUT, stderr to ERR;
#                                        its children count in the peak RSS); sets M_RC, M_WALL
#                                        (seconds) and M_RSS (peak RSS in KB, or "n/a")
#   shq ARGS...                          ARGS quoted for a command line to copy and paste
#   fetch_source BINPKG                  Debian's source of the installed BINPKG, unpacked once into
#                                        the cache; sets SRC to its tree (read-only for the tests)
#
# The source cache is ${TRICOLOR_CLIENT_SRC:-${TMPDIR:-/tmp}/tricolor-client-src}: each package's
# orig tarball is fetched with `apt-get source --download-only` (deb-src entries derived from the
# system's deb entries, in an apt state directory of its own: the system's apt configuration and
# caches are not touched), under flock so that parallel ctest jobs fetch it once, and checked
# against the sha256 its .dsc gives.  A tarball put there by hand (PKG_UPVER.orig.tar.*, with or
# without its .dsc) is used without apt.  If nothing can be fetched the test is skipped (77).

SKIP=77
C_NAME=client
die() { echo "$C_NAME: FAIL: $*" >&2; exit 1; }
skip() { echo "$C_NAME: SKIP: $*" >&2; exit $SKIP; }
note() { echo "$C_NAME: $*"; }

client_init() {
  C_NAME=$1
  [ $# -eq 3 ] || die "usage: bash $C_NAME.sh LIBDIR WORKDIR"
  [ -e "$2/libgc.so.1" ] || die "no $2/libgc.so.1 (build tricolor's libgc.so.1: make -j2)"
  LIBDIR=$(realpath "$2")
  LIB=$(realpath "$LIBDIR/libgc.so.1")
  mkdir -p "$3" || die "cannot create $3"
  WORK=$(realpath "$3")
  TRICOLOR=(env -u LD_PRELOAD LD_LIBRARY_PATH="$LIBDIR")
  ulimit -c 0 2>/dev/null || true
  # The programs' own configuration (~/.w3m, ~/.eclrc, ...) stays out of the comparison.
  mkdir -p "$WORK/home"
  export HOME=$WORK/home
  export LC_ALL=C.UTF-8
  unset GC_PRINT_STATS GC_DONT_GC GC_MAXIMUM_HEAP_SIZE GC_FREE_SPACE_DIVISOR GC_FIND_LEAK \
        GC_INITIAL_HEAP_SIZE GC_MARKERS GOGC GOMEMLIMIT GODEBUG
}

need_program() {
  command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (apt-get install $2)"
}

# Prefixes of a command (real executables, so that measure can time them).
STOCK=(env -u LD_LIBRARY_PATH -u LD_PRELOAD)
run_stock() { "${STOCK[@]}" "$@"; }
run_tricolor() { "${TRICOLOR[@]}" "$@"; }

# The libgc.so.1 that ldd resolves for PROG (or for the libraries it needs).
_ldd_libgc() { "$@" 2>&1 | awk '$1 == "libgc.so.1" && !n++ { print $3 }'; }

check_loads() {
  local prog got
  prog=$(command -v "$1") || die "$1 not found"
  got=$(_ldd_libgc run_tricolor ldd "$prog")
  [ -n "$got" ] && [ "$(realpath "$got" 2>/dev/null)" = "$LIB" ] || {
    run_tricolor ldd "$prog" | indent >&2
    die "with LD_LIBRARY_PATH=$LIBDIR, $prog loads libgc.so.1 from '${got:-nowhere}', not $LIB"
  }
  got=$(_ldd_libgc run_stock ldd "$prog")
  [ -n "$got" ] && [ "$(realpath "$got" 2>/dev/null)" != "$LIB" ] || {
    run_stock ldd "$prog" | indent >&2
    die "without LD_LIBRARY_PATH, $prog loads libgc.so.1 from '${got:-nowhere}' (expected the system's bdwgc)"
  }
  STOCK_LIB=$(realpath "$got")
  note "ldd: $prog loads $STOCK_LIB (stock) and, with LD_LIBRARY_PATH=$LIBDIR, $LIB"
}

# The /proc/PID/maps lines of a running program, given on stdin: the libgc.so.1 it mapped.
maps_libgc() { awk '$NF ~ /\/libgc\.so\.1/ && !n++ { print $NF }'; }

# --- measuring -----------------------------------------------------------------------------------
if [ -x /usr/bin/time ] && /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
  MEASURE=gnu-time
elif command -v python3 >/dev/null 2>&1; then
  MEASURE=python3
else
  MEASURE=bash
fi

measure() {
  local out=$1 err=$2 tf; shift 2
  tf=$(mktemp "$WORK/.time.XXXXXX")
  M_RC=0
  case $MEASURE in
    gnu-time)
      /usr/bin/time -f '%e %M' -o "$tf" "$@" </dev/null >"$out" 2>"$err" || M_RC=$?
      # On a signal GNU time writes "Command terminated by signal N" first.
      read -r M_WALL M_RSS < <(tail -n 1 "$tf") || true ;;
    python3)
      python3 -c '
import os, resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[2], "wb") as o, open(sys.argv[3], "wb") as e:
    rc = subprocess.call(sys.argv[4:], stdout=o, stderr=e)
w = time.monotonic() - t
with open(sys.argv[1], "w") as f:
    f.write("%.2f %d\n" % (w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc if rc >= 0 else 128 - rc)' "$tf" "$out" "$err" "$@" </dev/null || M_RC=$?
      read -r M_WALL M_RSS < <(tail -n 1 "$tf") || true ;;
    bash)
      local t0=$EPOCHREALTIME
      "$@" </dev/null >"$out" 2>"$err" || M_RC=$?
      M_WALL=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
      M_RSS=n/a ;;
  esac
  rm -f "$tf"
  : "${M_WALL:=?}" "${M_RSS:=n/a}"
}

# Its arguments quoted for a shell command line to copy: 'a b' 'it'\''s' (plain words as they are).
shq() {
  local a out=()
  for a; do
    if [[ $a =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
  done
  echo "${out[*]}"
}

# Lines of a program's output, marked (a last line without a newline gets one).
indent() { awk '{ print "  | " $0 }' "$@"; }

# "123 MB" from KB, for printing
mb() { case $1 in ''|n/a|*[!0-9]*) echo "n/a" ;; *) awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }' ;; esac; }

rc_text() {
  local rc=$1
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "timed out (rc $rc)"
  elif [ "$rc" -gt 128 ]; then echo "rc $rc: killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null))"
  else echo "rc $rc"; fi
}

# --- Debian sources ------------------------------------------------------------------------------
CACHE=${TRICOLOR_CLIENT_SRC:-${TMPDIR:-/tmp}/tricolor-client-src}

# Run in $(...): prints the reason for a failure on stdout; apt's and tar's output go to LOG.
_fetch_unpacked() {
  local bin=$1 srcpkg=$2 ver=$3 upver=$4 dest=$5 log=$6
  local tmp orig dsc want got a parts f
  tmp=$(mktemp -d "$CACHE/fetch.XXXXXX") || { echo "cannot create a directory in $CACHE"; return 1; }
  trap 'rm -rf "$tmp"' RETURN
  dsc=$CACHE/${srcpkg}_${ver#*:}.dsc
  orig=$(ls "$CACHE/${srcpkg}_${upver}".orig.tar.* 2>/dev/null | head -n 1)
  # The sha256 that the .dsc gives for an orig tarball (empty without a .dsc).
  dsc_sha() { [ -f "$dsc" ] && awk -v f="$(basename "$1")" '/^Checksums-Sha256:/ { s = 1; next }
              /^[^ ]/ { s = 0 } s && $3 == f { print $1 }' "$dsc"; }
  if [ -n "$orig" ]; then
    want=$(dsc_sha "$orig")
    if [ -n "$want" ] && [ "$(sha256sum <"$orig" | cut -d' ' -f1)" != "$want" ]; then
      echo "== $orig: sha256 is not the one in $dsc: fetching it again" >>"$log"
      rm -f "$orig"; orig=
    fi
  fi
  if [ -z "$orig" ]; then
    command -v apt-get >/dev/null || { echo "apt-get not found: cannot fetch Debian's $srcpkg source"; return 1; }
    a=$CACHE/apt parts=$CACHE/apt/parts
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
    # The version of the installed binary; its Debian diff is not needed (and may be missing
    # from a mirror, which makes apt-get fail after it fetched the .dsc and the orig tarball).
    echo "== apt-get source --download-only $bin=$ver" >>"$log"
    (cd "$tmp" && apt-get "${o[@]}" source --download-only "$bin=$ver") >>"$log" 2>&1 || true
    orig=$(ls "$tmp/${srcpkg}_${upver}".orig.tar.* 2>/dev/null | head -n 1)
    if [ -z "$orig" ]; then
      if grep -q '^[WE]: Failed to fetch.*Sources' "$log"; then
        echo "apt-get update could not fetch the deb-src indices (no network? see above)"
      else
        echo "apt-get source fetched no ${srcpkg}_${upver}.orig.tar.* for $bin $ver (see above)"
      fi
      return 1
    fi
    [ -f "$tmp/$(basename "$dsc")" ] && mv -f "$tmp/$(basename "$dsc")" "$dsc"
    want=$(dsc_sha "$orig")
    [ -n "$want" ] || { echo "no .dsc with the sha256 of $(basename "$orig")"; return 1; }
    got=$(sha256sum <"$orig" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "$(basename "$orig"): sha256 $got, its .dsc says $want"; return 1; }
    mv -f "$orig" "$CACHE/" || return 1
    orig=$CACHE/$(basename "$orig")
    rm -rf "$a"  # the indices (10 MB) are not needed again
  fi
  mkdir "$tmp/x" && tar --no-same-owner -xf "$orig" -C "$tmp/x" >>"$log" 2>&1 ||
    { echo "cannot unpack $orig"; return 1; }
  f=$(ls -d "$tmp"/x/*/ 2>/dev/null)
  [ "$(echo "$f" | wc -l)" -eq 1 ] && [ -d "$f" ] || { echo "$orig has no single top directory"; return 1; }
  rm -rf "$dest" && mv "$f" "$dest" && touch "$dest/.tricolor-complete"
}

fetch_source() {
  local bin=$1 srcpkg ver upver dest why flog
  srcpkg=$(dpkg-query -W -f='${source:Package}' "$bin" 2>/dev/null) &&
  ver=$(dpkg-query -W -f='${source:Version}' "$bin" 2>/dev/null) && [ -n "$ver" ] ||
    skip "cannot tell the source package of $bin (dpkg-query)"
  upver=${ver#*:}; upver=${upver%-*}
  dest=$CACHE/${srcpkg}_${ver#*:}
  if [ ! -f "$dest/.tricolor-complete" ]; then
    mkdir -p "$CACHE" 2>/dev/null || skip "cannot create the source cache $CACHE"
    command -v flock >/dev/null || skip "flock not found (util-linux): cannot fetch $srcpkg's source safely"
    exec 9>>"$CACHE/.lock" || skip "cannot write $CACHE/.lock (a cache of another user? set TRICOLOR_CLIENT_SRC)"
    flock -w 300 9 || skip "timed out waiting for another job's fetch ($CACHE/.lock)"
    if [ ! -f "$dest/.tricolor-complete" ]; then
      note "fetching $srcpkg $ver's source package into $CACHE"
      flog=$CACHE/fetch-$srcpkg.log; : >"$flog"
      if ! why=$(_fetch_unpacked "$bin" "$srcpkg" "$ver" "$upver" "$dest" "$flog") ||
         [ ! -f "$dest/.tricolor-complete" ]; then
        indent "$flog" | tail -n 25 >&2
        exec 9>&-
        skip "cannot fetch $srcpkg $ver's source: ${why:-unknown reason}"
      fi
    fi
    exec 9>&-
  fi
  SRC=$dest
  note "sources: $SRC"
}
