# Sourced by tests/bdwgc/run-bdwgc-test.sh and tests/clients/client-runs.bash: what a hung test
# leaves for its report.
#   gdb_stacks FILE PID...   every thread's stack of each process to FILE (gdb -p), or a line
#                            saying gdb is not installed

gdb_stacks() { # FILE PID...
  local file=$1 p
  shift
  : >"$file"
  for p in "$@"; do
    echo "=== process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null))" >>"$file"
    if command -v gdb >/dev/null 2>&1; then
      timeout -s KILL 60 gdb -q -batch -p "$p" -ex 'set pagination off' -ex 'info threads' \
        -ex 'thread apply all bt 25' >>"$file" 2>&1 </dev/null || true
    else
      echo "(gdb is not installed: no stacks)" >>"$file"
    fi
  done
}
