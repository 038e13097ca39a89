# Sourced by guile_alloc.sh, guile_threads.sh and poke.sh, after client-lib.bash (its name does
# not end in .sh, so it is not a test).  Runs of one workload on both libraries, each with a time
# limit, their outputs compared, every failure recorded without stopping the script:
#
#   runs_init                        after client_init / need_program / check_loads
#   guile_init NAME LIBDIR WORKDIR   all of those for a Guile script (GUILE, W: see below)
#   run_one stock|tricolor TAG CMD...  CMD in WORK; stdout, stderr to TAG.LIB.out / .err; 0, or
#                                    1 with the failure recorded (exit status, signal, hang)
#   run_cmp WHAT FILE1 FILE2         the same bytes (lines matching $CMP_FILTER, a grep -e
#                                    pattern, left out: the ones that vary, range-checked by the
#                                    workload itself), or the failure recorded
#   run_both TAG CMD...              run_one on stock, then RUNS_REPEAT times on tricolor, each
#                                    stdout compared with stock's; 1 if anything failed
#   runs_finish                      the table of wall time and peak RSS; exit 0, or 1 with the
#                                    list of failures, each with the command that repeats it
#
# Environment:
#   CLIENT_TIMEOUT   seconds one run may take (default 120).  A run still going then is a hang:
#                    every thread's stack goes to TAG.LIB.hang (gdb -p, if gdb is installed) and
#                    it is killed with SIGKILL (a process whose world is stopped for good is
#                    parked in the stop signal's handler, with SIGTERM blocked)
#   CLIENT_REPEAT    tricolor runs of each workload (the default is the script's, usually 1): a
#                    crash that shows one run in five is worth repeating
#   CLIENT_TRICOLOR_ENV  VAR=VALUE words added to the tricolor runs' environment (GOGC=10, say;
#                    client_init clears the collectors' variables otherwise)

. "$(dirname "${BASH_SOURCE[0]}")/../gdb-stacks.bash"

# Guile's scripts: client_init, guile-3.0 mapping LIBDIR's libgc.so.1, runs_init; then GUILE (the
# program) and W (WORK), Guile's cache in W, no auto-compilation, an earlier run's outputs removed.
guile_init() { # NAME LIBDIR WORKDIR
  client_init "$@"
  need_program guile-3.0 guile-3.0
  check_loads guile-3.0
  runs_init
  GUILE=$(command -v guile-3.0)
  W=$WORK
  export XDG_CACHE_HOME=$W/cache GUILE_AUTO_COMPILE=0
  rm -rf "$W/cache" "$W"/*.go "$W"/*.go.* "$W"/*.out "$W"/*.err "$W"/*.time "$W"/*.cmp "$W"/*.hang
}

runs_init() {
  CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-120}
  RUNS_REPEAT=${CLIENT_REPEAT:-${RUNS_REPEAT:-1}}
  RUNS_FAILURES=()
  RUNS_ROWS=()
  # shellcheck disable=SC2206
  RUNS_TRICOLOR=("${TRICOLOR[@]}" ${CLIENT_TRICOLOR_ENV:-})
  RUNS_TIME=()
  if [ -x /usr/bin/time ] && /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
    RUNS_TIME=(/usr/bin/time -f '%e %M')
  else
    note "no GNU time (apt-get install time): wall time only, no peak RSS"
  fi
  [ -z "${CLIENT_TRICOLOR_ENV:-}" ] || note "tricolor runs with $CLIENT_TRICOLOR_ENV"
}

runs_fail() { # MESSAGE
  RUNS_FAILURES+=("$1")
  echo "$C_NAME: FAIL: $1" >&2
}

# The first child process of PID, from /proc (no procps needed).
_child_of() { # PID
  local d stat fields
  for d in /proc/[0-9]*; do
    stat=$(cat "$d/stat" 2>/dev/null) || continue
    read -r -a fields <<<"${stat##*) }" # state ppid ...
    if [ "${fields[1]:-}" = "$1" ]; then
      echo "${d#/proc/}"
      return 0
    fi
  done
}

# A run past its time: every thread's stack of the program (the innermost process under PID) to
# FILE, then SIGKILL to it and to PID.
_hang() { # PID FILE
  local pid=$1 file=$2 p kid leaf=$1
  while kid=$(_child_of "$leaf") && [ -n "$kid" ]; do
    leaf=$kid
  done
  gdb_stacks "$file" "$leaf"
  for p in $leaf $pid; do
    kill -KILL "$p" 2>/dev/null || true
  done
}

run_one() { # stock|tricolor TAG CMD...
  local lib=$1 tag=$2
  shift 2
  local base=$WORK/$tag.$lib rc=0 hung=0 wall rss t0 pre
  if [ "$lib" = tricolor ]; then pre=("${RUNS_TRICOLOR[@]}"); else pre=("${STOCK[@]}"); fi
  rm -f "$base.out" "$base.err" "$base.time" "$base.hang"
  local timecmd=()
  [ ${#RUNS_TIME[@]} -eq 0 ] || timecmd=("${RUNS_TIME[@]}" -o "$base.time")
  t0=$EPOCHREALTIME
  (cd "$WORK" && exec "${pre[@]}" "${timecmd[@]}" "$@") >"$base.out" 2>"$base.err" </dev/null &
  local pid=$! deadline=$((SECONDS + CLIENT_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    _hang "$pid" "$base.hang"
    rc=137 hung=1
    wait "$pid" 2>/dev/null || true
  else
    wait "$pid" || rc=$?
  fi
  wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  rss=n/a
  if [ -s "$base.time" ]; then
    # On a signal GNU time writes "Command terminated by signal N" first.
    read -r wall rss < <(tail -n 1 "$base.time") || true
  fi
  RUNS_ROWS+=("$(printf '%-24s %-9s %8s s %7s  rc=%s' "$tag" "$lib" "$wall" "$(mb "$rss")" "$rc")")
  [ "$rc" -ne 0 ] || return 0
  local what
  what=$(rc_text "$rc")
  [ "$hung" -eq 0 ] || what="still running after ${CLIENT_TIMEOUT}s: a hang (every thread's stack: $base.hang)"
  runs_fail "$tag on $lib: $what
    repeat: cd $WORK && $(shq "${pre[@]}" "$@")
    stderr ($base.err), last lines:
$(tail -n 15 "$base.err" | indent)"
  return 1
}

run_cmp() { # WHAT STOCK_FILE TRICOLOR_FILE
  local what=$1 s=$2 t=$3
  if [ -n "${CMP_FILTER:-}" ]; then
    grep -v -e "$CMP_FILTER" "$s" >"$s.cmp" || true
    grep -v -e "$CMP_FILTER" "$t" >"$t.cmp" || true
    s=$s.cmp t=$t.cmp
  fi
  if [ ! -s "$s" ]; then
    runs_fail "$what: stock's output is empty: nothing to compare with ($s)"
    return 1
  fi
  if ! cmp -s "$s" "$t"; then
    runs_fail "$what: not the same on stock and on tricolor's libgc.so.1 (diff $s $t):
$(diff "$s" "$t" | head -n 20 | indent)"
    return 1
  fi
}

run_both() { # TAG CMD...
  local tag=$1 r t ok=0
  shift
  run_one stock "$tag" "$@" || return 1
  for ((r = 1; r <= RUNS_REPEAT; r++)); do
    t=$tag
    [ "$r" -eq 1 ] || t=$tag.r$r
    if run_one tricolor "$t" "$@"; then
      run_cmp "$t" "$WORK/$tag.stock.out" "$WORK/$t.tricolor.out" || ok=1
    else
      ok=1
    fi
  done
  return $ok
}

runs_finish() {
  echo
  note "wall time and peak RSS (stock: $STOCK_LIB; tricolor: $LIB)"
  printf '  %s\n' "${RUNS_ROWS[@]}"
  echo
  if [ ${#RUNS_FAILURES[@]} -gt 0 ]; then
    echo "$C_NAME: FAILED: ${#RUNS_FAILURES[@]} problem(s):" >&2
    local f
    for f in "${RUNS_FAILURES[@]}"; do
      echo "  - $f" >&2
    done
    exit 1
  fi
  note "PASS"
  exit 0
}
