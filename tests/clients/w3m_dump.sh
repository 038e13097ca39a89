#!/usr/bin/env bash
# w3m (Debian's, unchanged) renders generated HTML pages with `w3m -dump` on the system's
# libgc.so.1 (bdwgc) and on tricolor's (LD_LIBRARY_PATH=LIBDIR); the outputs must be byte for byte
# the same.  Pages (made here by awk, deterministically): a table of a few MB (bdwgc: ~3 s,
# ~400 MB), deeply nested lists, blockquotes and tables, long paragraphs with many links and
# entities (dumped with their link list), and forms.  Each page is also rendered on tricolor's
# library with GOGC=1, which collects about every time the heap grows by 1%.
# Prints wall time and peak RSS of every run (GNU time; without it python3's getrusage; without
# both, wall time only).
#
#   bash w3m_dump.sh LIBDIR WORKDIR      (ctest: clients.w3m_dump)
# Environment: W3M_DUMP_ROWS  rows of the big table (default 15000: 3 MB of HTML)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/client-lib.bash"
client_init w3m_dump "$@"
need_program w3m w3m
W3M=$(command -v w3m)
check_loads w3m

rows=${W3M_DUMP_ROWS:-15000}
pages=(table nested text forms)
opts_table=() opts_nested=() opts_text=(-o display_link_number=1) opts_forms=()
cd "$WORK"
rm -rf out && mkdir out

# --- the pages ---------------------------------------------------------------------------------
gen() {
  LC_ALL=C awk -v page="$1" -v rows="$rows" '
  function rnd(n) { seed = (seed * 69069 + 1) % 4294967296; return int(seed / 4294967296 * n) }
  function word() { return W[1 + rnd(nw)] }
  function words(n,  s, i) { s = word(); for (i = 1; i < n; i++) s = s " " word(); return s }
  function ent() { return E[1 + rnd(ne)] }
  function link(a, b, t) { return "<a href=\"http://example.org/" page "/" a "/" b ".html\">" t "</a>" }
  function ul(d, maxd, k,  i) {
    printf "<ul>\n"
    for (i = 0; i < 2; i++) printf "<li>%s %d.%d.%d %s\n", words(1 + rnd(4)), k, d, i, ent()
    if (d < maxd) ul(d + 1, maxd, k)
    printf "<li>after level %d %s</ul>\n", d, words(2)
  }
  function ol(d, maxd, k) {
    printf "<ol type=\"%s\" start=%d><li>%s\n", substr("1aAiI", d % 5 + 1, 1), d, words(3)
    if (d < maxd) { printf "<li>"; ol(d + 1, maxd, k) }
    printf "<li>%s %d</ol>\n", words(2), d
  }
  function dl(d, maxd) {
    printf "<dl><dt>term %d %s<dd>%s\n", d, word(), words(5)
    if (d < maxd) { printf "<dd>"; dl(d + 1, maxd) }
    printf "</dl>\n"
  }
  function bq(d, maxd) {
    printf "<blockquote>%s %d\n", words(6), d
    if (d < maxd) bq(d + 1, maxd)
    printf "</blockquote>\n"
  }
  function nt(d, maxd, k) {
    printf "<table border=1><tr><td>%s %d.%d</td><td>", words(2), k, d
    if (d < maxd) nt(d + 1, maxd, k); else printf "%s", words(3)
    printf "</td></tr><tr><td colspan=2>%s %s</td></tr></table>\n", words(4), ent()
  }
  BEGIN {
    seed = 20261203
    nw = split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi " \
               "omicron pi rho sigma tau upsilon phi chi psi omega garbage collector mark " \
               "sweep span heap arena pointer root stack barrier pacer sweep scavenger " \
               "w3m lisp boehm tricolor grey white black object finalizer weak link", W, " ")
    ne = split("&amp; &lt; &gt; &quot; &copy; &eacute; &uuml; &szlig; &mdash; &hellip; " \
               "&#9731; &#x263A; &#x1F600; &nbsp; &euro; &para; &sect; &times; &frac12; &aacute;", E, " ")
    printf "<html><head><title>w3m_dump %s</title></head><body>\n<h1>Page %s</h1>\n", page, page
    if (page == "table") {
      printf "<table border=1 cellpadding=1>\n<tr>"
      for (c = 0; c < 8; c++) printf "<th>col %d</th>", c
      printf "</tr>\n"
      for (r = 0; r < rows; r++) {
        printf "<tr><td align=right>%d</td><td>%s</td><td>%d.%02d</td>", r, words(1 + rnd(3)), rnd(100000), rnd(100)
        if (r % 37 == 0) printf "<td colspan=2><b>%s</b> %s</td>", words(3), ent()
        else printf "<td>%s%s</td><td>%s</td>", word(), ent(), substr("xxxxxxxxxxxxxxxxxxxxxxxx", 1, 1 + rnd(20))
        printf "<td>%s</td><td>%s</td><td>%s</td></tr>\n", link(r, rnd(1000), word()), words(1 + rnd(2)), rnd(2) ? "yes" : "<i>no</i>"
      }
      printf "</table>\n"
    } else if (page == "nested") {
      for (k = 0; k < 120; k++) {
        printf "<h2>block %d</h2>\n", k
        ul(1, 40 + k % 20, k); ol(1, 25, k); dl(1, 15); bq(1, 20); nt(1, 6 + k % 4, k)
      }
    } else if (page == "text") {
      for (p = 0; p < 2500; p++) {
        if (p % 50 == 0) {
          printf "<h2>section %d %s</h2>\n<pre>\n", p / 50, ent()
          for (l = 0; l < 15; l++) printf "%4d  %-30s %s &lt;%d&gt;\n", l, words(3), ent(), rnd(1000000)
          printf "</pre>\n"
        }
        printf "<p>"
        for (i = 0; i < 80; i++) {
          x = rnd(24)
          if (x < 3) printf "%s ", link(p, i, words(1 + rnd(3)))
          else if (x == 3) printf "%s ", ent()
          else if (x == 4) printf "<b>%s</b> ", word()
          else if (x == 5) printf "<i>%s</i> ", word()
          else if (x == 6) printf "<code>%s()</code> ", word()
          else printf "%s ", word()
        }
        printf "</p>\n"
      }
    } else if (page == "forms") {
      for (f = 0; f < 400; f++) {
        printf "<form action=\"/form/%d\" method=post>\n<h3>form %d</h3>\n", f, f
        if (f % 10 == 0) printf "<table border=1><tr><td>"
        printf "Name: <input type=text name=n%d value=\"%s %s\" size=%d><br>\n", f, words(2), ent(), 10 + rnd(30)
        printf "Password: <input type=password name=p%d value=\"secret%d\"><br>\n", f, f
        if (f % 10 == 0) printf "</td><td>"
        for (i = 0; i < 5; i++) printf "<input type=checkbox name=c%d_%d%s> %s\n", f, i, rnd(2) ? " checked" : "", word()
        printf "<br>\n"
        for (i = 0; i < 5; i++) printf "<input type=radio name=r%d value=%d%s> %s\n", f, i, i == f % 5 ? " checked" : "", word()
        if (f % 10 == 0) printf "</td></tr></table>\n"
        printf "<select name=s%d>\n", f
        for (i = 0; i < 30; i++) printf "<option value=%d%s>%s %d</option>\n", i, i == f % 30 ? " selected" : "", words(2), i
        printf "</select>\n<textarea name=t%d rows=4 cols=60>\n", f
        for (i = 0; i < 4; i++) printf "%s %s\n", words(8), ent()
        printf "</textarea>\n<input type=submit value=\"Send %d\"> <input type=reset> <input type=hidden name=h value=%d>\n</form>\n<hr>\n", f, f
      }
    }
    printf "<p>END-OF-PAGE %s</p>\n</body></html>\n", page
  }'
}

echo "w3m_dump: $W3M, measured with $MEASURE; stock $STOCK_LIB, tricolor $LIB"
for p in "${pages[@]}"; do
  gen "$p" >"$p.html"
  printf '  %-7s %8d bytes  sha256 %s\n' "$p.html" "$(wc -c <"$p.html")" "$(sha256sum <"$p.html" | cut -c1-16)"
done

# --- the library each run really maps (w3m dumps its own /proc/self/maps) -----------------------
for lib in stock tricolor; do
  got=$(run_$lib "$W3M" -dump -T text/plain /proc/self/maps 2>&1 | maps_libgc || true)
  if [ $lib = stock ]; then want=$STOCK_LIB; else want=$LIB; fi
  [ -n "$got" ] && [ "$(realpath "$got")" = "$want" ] ||
    die "w3m on $lib mapped libgc.so.1 from '${got:-nowhere}', not $want"
done
echo "w3m_dump: /proc/self/maps: w3m maps $STOCK_LIB on stock and $LIB on tricolor"

# --- render ------------------------------------------------------------------------------------
fails=()
printf '%-8s %-16s %9s %9s %10s  %s\n' page library wall "peak RSS" "out bytes" result
for p in "${pages[@]}"; do
  eval "extra=(\"\${opts_$p[@]}\")"
  cmd=("$W3M" -config /dev/null -dump -T text/html -I UTF-8 -O UTF-8 -cols 120 "${extra[@]}" "$p.html")
  for run in stock tricolor tricolor-gogc1; do
    o=out/$p.$run.out e=out/$p.$run.err
    case $run in
      stock)          measure "$o" "$e" "${STOCK[@]}" timeout -k 5 180 "${cmd[@]}" ;;
      tricolor)       measure "$o" "$e" "${TRICOLOR[@]}" timeout -k 5 180 "${cmd[@]}" ;;
      tricolor-gogc1) measure "$o" "$e" "${TRICOLOR[@]}" GOGC=1 timeout -k 5 300 "${cmd[@]}" ;;
    esac
    res=ok
    if [ "$M_RC" -ne 0 ]; then
      res="FAIL: $(rc_text "$M_RC")"
    elif [ $run = stock ]; then
      # The stock run is the reference: it must be complete.
      [ -s "$e" ] && res="stderr not empty"
      grep -q "END-OF-PAGE $p" "$o" || die "stock w3m's dump of $p.html lacks its last line (END-OF-PAGE): harness problem"
    elif ! cmp -s out/$p.stock.out "$o"; then
      res="FAIL: output differs from stock"
    elif ! cmp -s out/$p.stock.err "$e"; then
      res="FAIL: stderr differs from stock"
    fi
    printf '%-8s %-16s %8ss %9s %10d  %s\n' "$p" "$run" "$M_WALL" "$(mb "$M_RSS")" "$(wc -c <"$o")" "$res"
    [ "$res" = ok ] || [ $run = stock ] || fails+=("$p:$run")
    [ $run != stock ] || [ "$res" = ok ] || { echo "  stock stderr:"; head -n 5 "$e" | indent; }
  done
done

[ ${#fails[@]} -eq 0 ] && { echo "w3m_dump: all ${#pages[@]} pages render identically on bdwgc and on tricolor"; exit 0; }

# --- what differed ------------------------------------------------------------------------------
for f in "${fails[@]}"; do
  p=${f%%:*} run=${f#*:}
  eval "extra=(\"\${opts_$p[@]}\")"
  env=(LD_LIBRARY_PATH=$LIBDIR); [ $run = tricolor-gogc1 ] && env+=(GOGC=1)
  {
    echo "w3m_dump: FAIL: $p.html on $run (reproduce: cd $WORK && ${env[*]} $(shq "$W3M" -config /dev/null -dump -T text/html -I UTF-8 -O UTF-8 -cols 120 "${extra[@]}" "$p.html"))"
    echo "  cmp: $(cmp out/$p.stock.out out/$p.$run.out 2>&1 || true)"
    echo "  stdout: stock $(wc -l <out/$p.stock.out) lines, $run $(wc -l <out/$p.$run.out) lines; diff (first 30 lines):"
    diff -u --label stock --label "$run" out/$p.stock.out out/$p.$run.out | head -n 30 | indent || true
    if [ -s out/$p.$run.err ] || [ -s out/$p.stock.err ]; then
      echo "  stderr of $run (first 15 lines; stock's has $(wc -l <out/$p.stock.err)):"
      head -n 15 out/$p.$run.err | indent
    fi
  } >&2
done
# Is w3m itself deterministic here?  A second stock run of the first failing page.
p=${fails[0]%%:*}
eval "extra=(\"\${opts_$p[@]}\")"
run_stock "$W3M" -config /dev/null -dump -T text/html -I UTF-8 -O UTF-8 -cols 120 "${extra[@]}" "$p.html" \
  >out/$p.stock2.out 2>/dev/null || true
if cmp -s out/$p.stock.out out/$p.stock2.out; then
  echo "w3m_dump: a second stock run of $p.html gives the same output as the first: the difference is tricolor's" >&2
else
  echo "w3m_dump: note: a second stock run of $p.html differs from the first too (w3m is not deterministic here)" >&2
fi
die "${#fails[@]} run(s) differ from stock: ${fails[*]} (outputs in $WORK/out)"
