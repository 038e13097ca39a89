#!/usr/bin/env bash
# w3m's own test suite (tests/run_tests of Debian's w3m source: 12 HTML files rendered with
# `w3m -dump`, each diffed against its .expected) run with the installed /usr/bin/w3m on the
# system's libgc.so.1 (bdwgc), then on tricolor's (LD_LIBRARY_PATH=LIBDIR), then on tricolor's
# with GOGC=1.  Every test must pass on tricolor's library, and the stock run must pass the same
# set (12 of 12 with w3m 0.5.3+git20230121-2).
#
# The source is fetched once into ${TRICOLOR_CLIENT_SRC:-${TMPDIR:-/tmp}/tricolor-client-src}
# (see client-lib.bash; skipped, 77, if it cannot be); its tests/ is copied into WORKDIR, where
# run_tests is pointed at the installed w3m instead of ../w3m and made to name each test's result.
#
#   bash w3m_suite.sh LIBDIR WORKDIR      (ctest: clients.w3m_suite)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/client-lib.bash"
client_init w3m_suite "$@"
need_program w3m w3m
W3M=$(command -v w3m)
check_loads w3m
fetch_source w3m
[ -f "$SRC/tests/run_tests" ] || die "$SRC/tests/run_tests not found"

# --- a copy of tests/ per run, with run_tests adjusted -------------------------------------------
prepare() {  # DIR
  rm -rf "$1" && cp -r "$SRC/tests" "$1" && chmod -R u+w "$1"
  local r=$1/run_tests
  # w3m="../w3m  ->  w3m="/usr/bin/w3m ; and a line per test: "RESULT PASS|FAIL NAME".
  sed -i -e 's|^w3m="\.\./w3m$|w3m="'"$W3M"'|' \
         -e 's|^\([[:space:]]*\)pass="`expr 1 + "$pass"`"$|&\n\1echo "RESULT PASS $i"|' \
         -e 's|^\([[:space:]]*\)fail="`expr 1 + "$fail"`"$|&\n\1echo "RESULT FAIL $i"|' "$r"
  grep -qx "w3m=\"$W3M" "$r" && [ "$(grep -c 'echo "RESULT' "$r")" -eq 2 ] || {
    indent "$SRC/tests/run_tests" >&2
    die "run_tests (above) is not the one this script knows how to adjust (w3m=\"../w3m, pass=/fail= lines)"
  }
}

ntests=$(ls "$SRC"/tests/*.html | wc -l)
[ "$ntests" -gt 0 ] || die "no tests in $SRC/tests"
runs=(stock tricolor tricolor-gogc1)
declare -A PASSED
printf '%-16s %7s %9s  %s\n' library wall "peak RSS" result
for run in "${runs[@]}"; do
  d=$WORK/$run
  prepare "$d"
  case $run in
    stock)          pre=("${STOCK[@]}") ;;
    tricolor)       pre=("${TRICOLOR[@]}") ;;
    tricolor-gogc1) pre=("${TRICOLOR[@]}" GOGC=1) ;;
  esac
  (cd "$d" && measure "$WORK/$run.out" "$WORK/$run.err" "${pre[@]}" timeout -k 5 120 sh run_tests; echo "$M_RC $M_WALL $M_RSS" >"$WORK/$run.m")
  read -r rc wall rss <"$WORK/$run.m"
  pass=$(awk '$1 == "RESULT" && $2 == "PASS" { print $3 }' "$WORK/$run.out" | sort | paste -sd' ')
  fail=$(awk '$1 == "RESULT" && $2 == "FAIL" { print $3 }' "$WORK/$run.out" | sort | paste -sd' ')
  np=$(echo $pass | wc -w) nf=$(echo $fail | wc -w)
  PASSED[$run]=$pass
  total=$(awk '/^TOTAL:/ { print $2 }' "$WORK/$run.out")
  res="$np of $ntests passed${fail:+; FAILED: $fail}"
  [ "$rc" -eq 0 ] || [ "$nf" -gt 0 ] || res="$res; $(rc_text "$rc")"
  [ "${total:-x}" = $((np + nf)) ] || res="$res; run_tests said TOTAL ${total:-(nothing)}"
  printf '%-16s %6ss %9s  %s\n' "$run" "$wall" "$(mb "$rss")" "$res"
  if [ "$np" -ne "$ntests" ]; then
    {
      echo "  --- $run: run_tests' output (diffs against .expected, first 60 lines) ---"
      grep -v '^RESULT ' "$WORK/$run.out" | head -n 60 | indent || true
      # Its stderr is run_tests' set -x trace (+ lines); anything else is w3m's or sh's.
      if grep -qv '^+\|^$' "$WORK/$run.err"; then
        echo "  --- $run: stderr, without run_tests' set -x trace (last 20 lines) ---"
        grep -v '^+\|^$' "$WORK/$run.err" | tail -n 20 | indent || true
      fi
      for t in $fail; do
        env_=""; [ $run = stock ] || env_="LD_LIBRARY_PATH=$LIBDIR "; [ $run = tricolor-gogc1 ] && env_="${env_}GOGC=1 "
        echo "  reproduce $t: cd $d && ${env_}sh run_tests  (or: ${env_}$W3M -config /dev/null -o ignore_null_img_alt=false -I utf-8 -O utf-8 -T text/html \$(grep -v '^#' ${t%.html}.opts 2>/dev/null) < $t | diff -u - ${t%.html}.expected)"
      done
    } >&2
  fi
done

bad=()
for run in tricolor tricolor-gogc1; do
  [ "$(echo ${PASSED[$run]} | wc -w)" -eq "$ntests" ] || bad+=("$run passes $(echo ${PASSED[$run]} | wc -w) of $ntests tests")
done
[ "${PASSED[stock]}" = "${PASSED[tricolor]}" ] ||
  bad+=("pass sets differ: stock {${PASSED[stock]}} tricolor {${PASSED[tricolor]}}")
[ "$(echo ${PASSED[stock]} | wc -w)" -eq "$ntests" ] ||
  bad+=("the stock run does not pass all $ntests tests itself (environment? see above)")
[ ${#bad[@]} -eq 0 ] || die "$(printf '%s; ' "${bad[@]}")outputs in $WORK"
echo "w3m_suite: all $ntests tests pass on bdwgc and on tricolor (default and GOGC=1)"
