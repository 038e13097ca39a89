#!/usr/bin/env bash
# run.sh BUILD_DIR: the dashboard in a real browser (ctest debug.browser).
#
# Starts BUILD_DIR/examples/dashboard on a free port, then dashboard.mjs (node, driving headless
# Chromium) against its page, polling every 250 ms; the screenshot goes to BUILD_DIR/dashboard.png.
# Builds nothing.  Exits with node's status; fails (does not skip) without node or chromium.
set -u

build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
demo=$build/examples/dashboard
chromium=${CHROMIUM:-/usr/bin/chromium}

fail() { echo "FAIL  $*" >&2; exit 1; }

command -v node >/dev/null || fail "node not found: this test needs Node.js >= 18 (apt-get install nodejs)"
[ -x "$chromium" ] || fail "no chromium at $chromium: this test needs it (apt-get install chromium, or set CHROMIUM=)"
[ -x "$demo" ] || fail "no $demo: build the dashboard target first"

out=$(mktemp -d "${TMPDIR:-/tmp}/tricolor-browser.XXXXXX")
GODEBUG=gctrace=0 "$demo" 127.0.0.1:0 --seconds 60 >"$out/stdout" 2>"$out/stderr" &
pid=$!
stop_demo() {
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$out"
}
trap stop_demo EXIT

# Its one line: "dashboard: http://127.0.0.1:PORT/debug/dashboard" (10 s at most).
url=
for _ in $(seq 100); do
    url=$(sed -n 's|^dashboard: \(http://.*\)$|\1|p' "$out/stdout" | head -n 1)
    [ -n "$url" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        echo "FAIL  $demo exited ($?) before printing its URL; its stderr:" >&2
        cat "$out/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
[ -n "$url" ] || fail "$demo printed no 'dashboard: http://...' line within 10 s"
echo "demo: $url (pid $pid)"

node "$here/dashboard.mjs" "$url?interval=250" "$build/dashboard.png"
status=$?

if ! kill -0 "$pid" 2>/dev/null; then
    echo "note  the demo exited during the test; its stderr:" >&2
    cat "$out/stderr" >&2
    [ "$status" -eq 0 ] && status=1
fi
exit "$status"
