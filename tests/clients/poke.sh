#!/usr/bin/env bash
# clients.poke: GNU poke 2.4 (libpoke.so.0 imports GC_malloc, GC_malloc_uncollectable,
# GC_realloc, GC_free, GC_strdup, GC_add_roots, GC_remove_roots, GC_register_finalizer_no_order,
# GC_gcollect, GC_init: a different part of the ABI than Guile's kinds and mark procedures) on
# the system's libgc.so.1 and on tricolor's.  A pickle run with `poke -q --quiet -L`:
#   - the elf pickle over a copy of libpoke.so: sections, every dynamic symbol and its name;
#   - 3000 records written to a memory IO space, read back as an array, rewritten;
#   - strings built with format and concatenation, arrays grown by +=, 2000 closures, 5000
#     exceptions raised and caught, a 20000-element array;
# and poke's compiler on every pickle poke ships (loaded one after the other).  The outputs
# must be identical byte for byte.
#   bash poke.sh LIBDIR WORKDIR     (LIBDIR holds tricolor's libgc.so.1)
# See client-runs.bash for CLIENT_TIMEOUT, CLIENT_REPEAT and CLIENT_TRICOLOR_ENV.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/client-lib.bash"
. "$(dirname "${BASH_SOURCE[0]}")/client-runs.bash"
client_init poke "$@"
need_program poke poke
check_loads poke
runs_init
POKE=$(command -v poke)
LIBPOKE=$(ldd "$POKE" | awk '$1 ~ /^libpoke\.so/ { print $3 }')
[ -n "$LIBPOKE" ] || die "$POKE does not link libpoke.so (ldd $POKE)"
W=$WORK
rm -f "$W"/*.out "$W"/*.err "$W"/*.time "$W"/*.cmp "$W"/*.hang
cp "$(realpath "$LIBPOKE")" "$W/sample.so"

cat >"$W/workload.pk" <<'EOF'
/* Deterministic GNU poke workload: ELF parsing, a memory IO space of records, strings, arrays,
   closures and exceptions.  All output must be identical between libgc builds.  */
load elf;

fun mix = (uint<64> a, uint<64> b) uint<64>: { return (a * 1000003 + b) % 1000000007; }
fun strsum = (string s) uint<64>:
{
  var h = 0UL;
  for (c in s) h = mix (h, c);
  return h;
}

/* 1. ELF: a copy of libpoke.so, its sections and dynamic symbols.  */
var fd = open ("sample.so");
var elf = Elf64_File @ fd : 0#B;
printf "elf class %u8d machine %u16d sections %u16d\n",
       elf.ehdr.e_ident.ei_class, elf.ehdr.e_machine, elf.ehdr.e_shnum;
var secnames = "";
for (s in elf.shdr)
  secnames = secnames + elf.get_section_name (s.sh_name) + ",";
printf "section names %s\n", secnames;
var dynsym = elf.get_sections_by_type (SHT_DYNSYM)[0];
var syms = Elf64_Sym[dynsym.sh_size] @ fd : dynsym.sh_offset;
var nsyms = 0UL;
var nfuncs = 0UL;
var namesum = 0UL;
var valsum = 0UL;
var allnames = "";
for (sym in syms)
{
  var name = elf.get_symbol_name (dynsym, sym.st_name);
  nsyms = nsyms + 1;
  if (sym.st_info.st_type == STT_FUNC)
    nfuncs = nfuncs + 1;
  namesum = mix (namesum, strsum (name));
  valsum = (valsum + sym.st_value/1#B) % 1000000007;
  if (name'length > 0 && name[0] == 'p')
    allnames = allnames + name + " ";
}
printf "dynsym %u64d funcs %u64d names %u64d values %u64d p-names %u64d %u64d\n",
       nsyms, nfuncs, namesum, valsum, allnames'length, strsum (allnames);
close (fd);

/* 2. Records in a memory IO space: write, read back, rewrite.  */
type Rec = struct { uint<32> id; int<64> val; uint<8>[4] tag; };
var mem = open ("*records*");
var N = 3000;
for (var i = 0; i < N; i++)
  Rec @ mem : (i * 16)#B = Rec { id = i, val = i * i - 7 * i, tag = [i as uint<8>, 1UB, 2UB, 3UB] };
var recs = Rec[N] @ mem : 0#B;
var rsum = 0UL;
for (r in recs)
  rsum = mix (rsum, r.id + (r.val as uint<64>) + r.tag[0]);
printf "records %i32d sum %u64d size %v\n", N, rsum, recs'size;
for (var i = 0; i < N; i += 3)
  recs[i].val = -recs[i].val;
var rsum2 = 0UL;
for (r in Rec[N] @ mem : 0#B)
  rsum2 = mix (rsum2, r.val as uint<64>);
printf "rewritten sum %u64d\n", rsum2;
close (mem);

/* 3. Garbage: strings, arrays, closures, exceptions in loops.  */
var total = 0UL;
for (var round = 0; round < 20; round++)
{
  var parts = string[] ();
  for (var i = 0; i < 500; i++)
    parts += [format ("%i32d:%i32x", i * round, i)];
  var joined = "";
  for (p in parts[0:200])
    joined = joined + p + ";";
  total = mix (total, strsum (joined) + parts'length);
}
printf "strings %u64d\n", total;

type Adder = (int<64>)int<64>;
fun make_adder = (int<64> n) Adder:
{
  return lambda (int<64> x) int<64>: { return x + n; };
}
var adders = Adder[] ();
for (var i = 0; i < 2000; i++)
  adders += [make_adder (i)];
var asum = 0L;
for (f in adders)
  asum = asum + f (1);
printf "closures %i64d\n", asum;

var caught = 0;
for (var i = 0; i < 5000; i++)
{
  try
  {
    if (i % 3 == 0)
      raise Exception { code = EC_generic, msg = format ("boom %i32d", i) };
    var a = [1, 2, 3];
    a[i % 5] = 0;  /* out of bounds for i % 5 >= 3 */
  }
  catch (Exception e)
  {
    caught = caught + 1;
  }
}
printf "exceptions %i32d\n", caught;

var vals = int<32>[20000] ();
for (var i = 0; i < 20000; i++)
  vals[i] = i * 7 % 1009;
var bsum = 0L;
for (x in vals) bsum = bsum + x;
printf "array %u64d sum %i64d\n", vals'length, bsum;
printf "done\n";
EOF

if run_both workload "$POKE" -q --quiet -L workload.pk; then
  [ "$(tail -n 1 "$W/workload.stock.out")" = done ] || runs_fail "workload: stock did not finish ($W/workload.stock.out)"
fi

# The compiler: every pickle that poke ships and that loads on stock (id3v2.pk of poke 2.4
# does not), loaded one after the other in one session.
PICKLES=/usr/share/poke/pickles
if [ -d "$PICKLES" ]; then
  {
    for f in "$PICKLES"/*.pk; do
      n=$(basename "$f" .pk)
      case $n in pktest) continue ;; esac   # a test framework
      printf 'load "%s.pk";\nprintf "loaded %s\\n";\n' "$n" "$n" >"$W/one.pk"
      if (cd "$W" && env -u LD_LIBRARY_PATH timeout 60 "$POKE" -q --quiet -L one.pk) >/dev/null 2>&1 </dev/null; then
        cat "$W/one.pk"
      else
        echo "poke: note: $n.pk does not load on stock either: left out" >&2
      fi
    done
    echo 'printf "done\n";'
  } >"$W/pickles.pk"
  if run_both pickles "$POKE" -q --quiet -L pickles.pk; then
    [ "$(tail -n 1 "$W/pickles.stock.out")" = done ] || runs_fail "pickles: stock did not finish ($W/pickles.stock.out)"
  fi
else
  echo "poke: note: no $PICKLES: the compiler workload is not run"
fi
runs_finish
