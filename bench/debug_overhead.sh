#!/usr/bin/env bash
# debug_overhead.sh - what the debug endpoint costs the program it serves.
#
#   bash bench/debug_overhead.sh [rounds]        (default 5; needs `make` first)
#
# Runs bench/pause.c (a 300 MB pointer-rich live heap churned at random for 10 s, its own clock
# watching for gaps) on tricolor in four ways, alternated in each round:
#   off       no endpoint
#   idle      TRICOLOR_DEBUG_ADDR set (libtricolor-debug preloaded), no one asking
#   dash1s    a client polling /debug/dashboard/samples every second (a dashboard's default)
#   dash250   the same every 250 ms
#   vars1s    a client reading /debug/vars (expvar, a stop of the world) every second
# and prints the medians of replacements per second (throughput), the largest gap the program saw
# (its longest hold-up), its 99.9th percentile and the longest collector pause, and the ratios of
# throughput and largest gap to `off`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
build=$root/build
out=$root/bench/out/debug_overhead
mkdir -p "$out"
lib=$build/libtricolor.so
dbg=$build/libtricolor-debug.so
[ -f "$lib" ] && [ -f "$dbg" ] || { echo "build first: make" >&2; exit 1; }
exe=$out/pause
cc -O2 -DSYS_TRICOLOR -I"$root/include" -o "$exe" "$root/bench/pause.c" "$lib" -Wl,-rpath,"$build" -pthread -lm

port=16399
poll() { # poll PATH INTERVAL: GET it every INTERVAL seconds until killed
    while :; do curl -s -o /dev/null "http://127.0.0.1:$port$1" || true; sleep "$2"; done
}
run() { # run MODE ROUND
    local mode=$1 r=$2 env=() poller=
    if [ "$mode" != off ]; then
        env=(TRICOLOR_DEBUG_ADDR=127.0.0.1:$port LD_PRELOAD=$dbg)
    fi
    case $mode in
    dash1s) poll /debug/dashboard/samples 1 & poller=$! ;;
    dash250) poll /debug/dashboard/samples 0.25 & poller=$! ;;
    vars1s) poll /debug/vars 1 & poller=$! ;;
    esac
    env "${env[@]}" "$exe" 3000000 10 >"$out/$mode.$r.txt" 2>&1
    [ -n "$poller" ] && { kill "$poller"; wait "$poller" 2>/dev/null || true; }
    return 0
}
modes="off idle dash1s dash250 vars1s"
for r in $(seq "$rounds"); do
    for m in $modes; do run "$m" "$r"; done
done

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -r); $(date -u +%F)"
echo
echo "| mode | replacements/s (M) | max gap (ms) | p99.9 gap (ms) | longest GC pause (ms) | throughput vs off | max gap vs off |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for m in $modes; do
    cat "$out/$m".*.txt | awk -v m="$m" '
    function median(a, n,   i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    /^PAUSE / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n++; gap[n] = v["maxgap_ns"] / 1e6; p999[n] = v["p999_ns"] / 1e6
        rate[n] = v["rate"] / 1e6; gcmax[n] = v["gc_maxpause_ns"] / 1e6
    }
    END { printf "%s\t%.3f\t%.2f\t%.3f\t%.3f\n", m, median(rate, n), median(gap, n), median(p999, n), median(gcmax, n) }'
done | awk -F'\t' 'NR == 1 { r0 = $2; g0 = $3 }
    { printf "| %s | %.3f | %.2f | %.3f | %.3f | %.2f | %.2f |\n", $1, $2, $3, $4, $5, $2 / r0, $3 / g0 }'
