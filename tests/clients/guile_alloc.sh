#!/usr/bin/env bash
# clients.guile_alloc: Guile 3.0 (libguile-3.0.so.1: custom kinds, mark procedures, typed and
# many-object allocation) on the system's libgc.so.1 and on tricolor's: workloads with one
# Guile thread running at a time, whose outputs must be byte-identical:
#   alloc           bdwgc.md's 2 s workload: 100 lists of 100000 small vectors, "10000000"
#                   (on tricolor also with GOGC=10: alloc-gogc10)
#   compile-srfi1   Guile's compiler on srfi-1.scm (the .go written must be the same bytes)
#   compile-*       the compiler on each workload below, same check
#   bignums         bignums, rationals, strings, symbols (a weak set), bytevectors: atomic data
#   vectors         vectors of vectors (large objects), hash tables of 300000, closures, trees
#   deep            deep non-tail recursion (1000000 frames) with values held only on the VM
#                   stack, which libguile's thread mark procedure marks; dynamic-wind, call/cc
#                   re-entered, escapes, prompts
#   vm-stacks       100 threads one after the other (never two at once), each growing a fresh
#                   VM stack to 50000 frames
# The last four run compiled (with Guile's JIT) and deep and vm-stacks interpreted too.
# A running guile's /proc/self/maps must show the library meant (maps).  Wall time and peak RSS
# of each run are printed at the end.
#   bash guile_alloc.sh LIBDIR WORKDIR     (LIBDIR holds tricolor's libgc.so.1)
# See client-runs.bash for CLIENT_TIMEOUT, CLIENT_REPEAT and CLIENT_TRICOLOR_ENV.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/client-lib.bash"
. "$(dirname "${BASH_SOURCE[0]}")/client-runs.bash"
guile_init guile_alloc "$@"

# The library the running guile really mapped, from its /proc/self/maps.
cat >"$W/maps.scm" <<'EOF'
(use-modules (ice-9 rdelim))
(call-with-input-file "/proc/self/maps"
  (lambda (p)
    (let lp ((seen '()))
      (let ((l (read-line p)))
        (cond ((eof-object? l) #t)
              ((and (string-contains l "/libgc.so") (string-index l #\/))
               => (lambda (i)
                    (let ((path (substring l i)))
                      (unless (member path seen) (display path) (newline))
                      (lp (cons path seen)))))
              (else (lp seen)))))))
EOF
for lib in stock tricolor; do
  run_one "$lib" maps "$GUILE" --no-auto-compile -s maps.scm || runs_finish
  want=$LIB
  [ "$lib" = tricolor ] || want=$STOCK_LIB
  got=$(realpath "$(head -n 1 "$W/maps.$lib.out")")
  if [ "$got" != "$want" ] || [ "$(wc -l <"$W/maps.$lib.out")" -ne 1 ]; then
    die "a running guile on $lib mapped $(tr '\n' ' ' <"$W/maps.$lib.out"), not $want"
  fi
  note "a running guile on $lib maps $got (/proc/self/maps)"
done

COMPILE='(use-modules (system base compile)) (compile-file (cadr (command-line)) #:output-file (caddr (command-line)))'

# 1. bdwgc.md's workload.
ALLOC='(define (mk n) (let lp ((i 0) (l (quote ()))) (if (= i n) l (lp (+ i 1) (cons (make-vector 4 i) l))))) (let lp ((k 0) (s 0)) (if (< k 100) (lp (+ k 1) (+ s (length (mk 100000)))) (begin (display s) (newline))))'
if run_both alloc "$GUILE" --no-auto-compile -c "$ALLOC"; then
  [ "$(cat "$W/alloc.stock.out")" = 10000000 ] || runs_fail "alloc: stock printed '$(cat "$W/alloc.stock.out")', not 10000000"
fi
# The same with GOGC=10 on tricolor: a collection about every time the heap grows by 10%.
RUNS_TRICOLOR=("${TRICOLOR[@]}" GOGC=10)
run_one tricolor alloc-gogc10 "$GUILE" --no-auto-compile -c "$ALLOC" &&
  run_cmp alloc-gogc10 "$W/alloc.stock.out" "$W/alloc-gogc10.tricolor.out" || true
RUNS_TRICOLOR=("${TRICOLOR[@]}" ${CLIENT_TRICOLOR_ENV:-})

# 2. The compiler on Guile's own srfi-1.scm.
SRFI1=/usr/share/guile/3.0/srfi/srfi-1.scm
if [ -e "$SRFI1" ]; then
  run_one stock compile-srfi1 "$GUILE" --no-auto-compile -c "$COMPILE" "$SRFI1" srfi-1.go.stock &&
    run_one tricolor compile-srfi1 "$GUILE" --no-auto-compile -c "$COMPILE" "$SRFI1" srfi-1.go.tricolor &&
    run_cmp compile-srfi1 "$W/srfi-1.go.stock" "$W/srfi-1.go.tricolor" || true
else
  note "$SRFI1 is missing: compile-srfi1 not run"
fi

cat >"$W/bignums.scm" <<'EOF'
;; Bignums, strings, symbols, bytevectors: pointer-free data (GC_malloc_atomic paths).
(use-modules (rnrs bytevectors))
(define (say . xs) (for-each display xs) (newline) (force-output))
(define (fact n) (let lp ((i 1) (a 1)) (if (> i n) a (lp (+ i 1) (* a i)))))
(define (digit-sum s) (let lp ((i 0) (a 0)) (if (= i (string-length s)) a
                        (lp (+ i 1) (+ a (- (char->integer (string-ref s i)) 48))))))
(define (str-check s) ; position-weighted checksum of a string
  (let lp ((i 0) (a 0)) (if (= i (string-length s)) a
    (lp (+ i 1) (modulo (+ (* a 31) (char->integer (string-ref s i))) 1000000007)))))
;; 1. factorials: big bignums, converted to decimal strings, kept in a list
(define facts (map (lambda (n) (fact (* n 100))) (iota 30 1)))
(gc)
(say "fact digits " (apply + (map (lambda (f) (string-length (number->string f))) facts)))
(say "fact 3000 digit sum " (digit-sum (number->string (list-ref facts 29))))
(say "fact mod " (modulo (apply + facts) 1000000007))
;; 2. fibonacci bignums, many short-lived intermediate bignums
(define (fib n) (let lp ((i 0) (a 0) (b 1)) (if (= i n) a (lp (+ i 1) b (+ a b)))))
(say "fib 30000 mod " (modulo (fib 30000) 998244353) " bits " (integer-length (fib 30000)))
(say "exact rationals " (let lp ((i 1) (s 0)) (if (> i 2000) (numerator (modulo (numerator s) 1000000007)) (lp (+ i 1) (+ s (/ 1 i))))))
;; 3. strings: string-append growth, number->string, substring, string ports
(define big (let lp ((i 0) (acc "")) (if (= i 3000) acc (lp (+ i 1) (string-append acc (number->string (* i i)) ",")))))
(gc)
(say "big string " (string-length big) " check " (str-check big))
(define strs (map (lambda (i) (string-append "item-" (number->string i 16) "-" (make-string (modulo i 50) #\x))) (iota 200000)))
(gc)
(say "strings " (length strs) " total " (apply + (map string-length strs)) " check " (modulo (apply + (map str-check strs)) 1000000007))
(define joined (call-with-output-string (lambda (p) (for-each (lambda (s) (write s p) (newline p)) strs))))
(set! strs #f)
(gc)
(say "joined " (string-length joined) " check " (str-check joined))
(define back (call-with-input-string joined (lambda (p) (let lp ((n 0) (x (read p))) (if (eof-object? x) n (lp (+ n (string-length x)) (read p)))))))
(say "read back " back)
;; 4. wide strings (UCS-4 storage) and string operations
(define ws (list->string (map (lambda (i) (integer->char (+ #x3b1 (modulo i 25)))) (iota 100000))))
(say "wide " (string-length ws) " check " (str-check (string-upcase ws)) " " (str-check (string-reverse ws)))
;; 5. symbols: the symbol table is a weak set; drop and re-intern
(define (syms n) (map (lambda (i) (string->symbol (string-append "sym-" (number->string i)))) (iota n)))
(define kept (syms 50000))
(let lp ((k 0)) (when (< k 5) (syms 50000) (gc) (lp (+ k 1))))
(say "symbols " (length kept) " eq " (length (filter (lambda (p) (eq? (car p) (cdr p))) (map cons kept (syms 50000))))
     " check " (modulo (apply + (map (lambda (s) (str-check (symbol->string s))) kept)) 1000000007))
;; 6. bytevectors, small and large (pointer-free, some multi-MB)
(define bvs (map (lambda (i) (let ((b (make-bytevector (* 1024 (+ 1 (modulo i 64))) (modulo i 256)))) b)) (iota 2000)))
(define huge (make-bytevector (* 32 1024 1024) 7))
(gc)
(bytevector-u8-set! huge 12345 1)
(say "bytevectors " (length bvs) " bytes " (apply + (map bytevector-length bvs))
     " sum " (apply + (map (lambda (b) (* (bytevector-length b) (bytevector-u8-ref b 0))) bvs))
     " huge " (let lp ((i 0) (s 0)) (if (= i (bytevector-length huge)) s (lp (+ i 4096) (+ s (bytevector-u8-ref huge i))))))
(say "flonums " (let lp ((i 0) (s 0.0)) (if (= i 1000000) (inexact->exact (round (* s 1000))) (lp (+ i 1) (+ s (sqrt (exact->inexact i)))))))
(say "done")
EOF

cat >"$W/vectors.scm" <<'EOF'
;; Large objects (vectors of vectors), hash tables with many entries, closures, records.
(use-modules (srfi srfi-1) (srfi srfi-9) (ice-9 match))
(define (say . xs) (for-each display xs) (newline) (force-output))
(define (mix a b) (modulo (+ (* a 1000003) b) 1000000007))
;; 1. vectors of vectors: 300 vectors of 20000 slots (160 KB each: large objects), each slot a
;; pair or a small vector, refilled several times with (gc) in between
(define vv (make-vector 300 #f))
(let fill ((round 0))
  (when (< round 4)
    (let lp ((i 0))
      (when (< i 300)
        (let ((v (make-vector 20000 #f)))
          (let lp2 ((j 0))
            (when (< j 20000)
              (vector-set! v j (if (even? j) (cons i j) (vector round i j)))
              (lp2 (+ j 1))))
          (vector-set! vv i v))
        (lp (+ i 1))))
    (gc)
    (fill (+ round 1))))
(define (slot-check x)
  (if (pair? x) (+ (car x) (cdr x)) (+ (vector-ref x 0) (vector-ref x 1) (vector-ref x 2))))
(define (vec-fold f a v) (let lp ((j 0) (a a)) (if (= j (vector-length v)) a (lp (+ j 1) (f (vector-ref v j) a)))))
(say "vv check " (vec-fold (lambda (v a) (vec-fold (lambda (x a) (mix a (slot-check x))) a v)) 0 vv))
(set! vv #f)
;; one 16 MB vector of boxed values
(define one (make-vector 2000000 #f))
(let lp ((i 0)) (when (< i 2000000) (vector-set! one i (list i (* i 2))) (lp (+ i 1))))
(gc)
(say "big vector " (let lp ((i 0) (a 0)) (if (= i 2000000) a (lp (+ i 1) (mix a (apply + (vector-ref one i)))))))
(set! one #f)
;; 2. hash tables: 300000 entries, integer and string keys, deletions, growth and shrinking
(define ht (make-hash-table))
(define st (make-hash-table))
(let lp ((i 0))
  (when (< i 300000)
    (hashv-set! ht i (cons i (number->string i)))
    (hash-set! st (number->string i 7) (list i))
    (lp (+ i 1))))
(gc)
(let lp ((i 0)) (when (< i 300000) (when (zero? (modulo i 3)) (hashv-remove! ht i) (hash-remove! st (number->string i 7))) (lp (+ i 1))))
(gc)
(say "hash counts " (hash-count (const #t) ht) " " (hash-count (const #t) st))
(say "hash check "
     (let lp ((i 0) (a 0))
       (if (= i 300000) a
           (let ((e (hashv-ref ht i)) (s (hash-ref st (number->string i 7))))
             (lp (+ i 1)
                 (cond ((zero? (modulo i 3)) (if (or e s) -1 a))
                       ((and e s (= (car e) i) (string=? (cdr e) (number->string i)) (= (car s) i)) (mix a i))
                       (else (error "lost hash entry" i))))))))
(say "hash fold " (hash-fold (lambda (k v a) (mix a (car v))) 0 ht))
;; 3. closures: 200000 closures over fresh state, called through a vector and a list
(define (make-counter start step) (let ((n start)) (lambda () (set! n (+ n step)) n)))
(define cs (list-tabulate 200000 (lambda (i) (make-counter i (+ 1 (modulo i 7))))))
(gc)
(let lp ((k 0)) (when (< k 3) (for-each (lambda (c) (c)) cs) (gc) (lp (+ k 1))))
(say "closures " (fold (lambda (c a) (mix a (c))) 0 cs))
(define composed (fold (lambda (i f) (lambda (x) (f (+ x i)))) (lambda (x) x) (iota 10000)))
(gc)
(say "composed " (composed 0))
;; 4. records: binary trees (GCBench-like), many built and dropped, one kept
(define-record-type node (make-node l r v) node? (l node-l) (r node-r) (v node-v))
(define (tree d v) (if (= d 0) (make-node #f #f v) (make-node (tree (- d 1) (* 2 v)) (tree (- d 1) (+ 1 (* 2 v))) v)))
(define (tsum t) (if t (+ (node-v t) (tsum (node-l t)) (tsum (node-r t))) 0))
(define keep (tree 18 1))
(let lp ((k 0) (a 0)) (if (< k 40) (lp (+ k 1) (+ a (tsum (tree 12 k)))) (say "temp trees " a)))
(gc)
(say "kept tree " (tsum keep))
;; 5. sorting and association lists
(define rs (seed->random-state 12345))
(define nums (list-tabulate 200000 (lambda (i) (random 1000000 rs))))
(define sorted (sort nums <))
(say "sorted " (length sorted) " " (car sorted) " " (last sorted) " " (fold mix 0 sorted))
(define al (map (lambda (n) (cons n (number->string n))) (take nums 2000)))
(say "assoc " (fold (lambda (n a) (mix a (string-length (cdr (assv n al))))) 0 (reverse (take nums 2000))))
(say "match " (let lp ((l (iota 100000)) (a 0)) (match l (() a) ((x y . rest) (lp rest (mix a (* x y)))) ((x) (mix a x)))))
(say "done")
EOF

cat >"$W/deep.scm" <<'EOF'
;; Deep recursion: values live only on Guile's VM stack (marked by libguile's mark procedure for
;; the thread) while collections run; the stack grows (and is reallocated) under the collector.
(use-modules (ice-9 control))
(define (say . xs) (for-each display xs) (newline) (force-output))
(define (mix a b) (modulo (+ (* a 1000003) b) 1000000007))
;; 1. non-tail recursion N deep: each frame holds a fresh vector and string in locals only;
;; garbage on the way down forces collections mid-recursion; (gc) at the bottom; the list is
;; built on the way back from the frames' values.
(define junk #f)
(define (build n)
  (if (= n 0)
      (begin (gc) '())
      (let ((v (make-vector 3 n)) (s (number->string n)))
        (set! junk (make-vector 20 n))     ; garbage
        (let ((rest (build (- n 1))))
          (if (not (and (= (vector-ref v 0) n) (= (vector-ref v 2) n) (string=? s (number->string n))))
              (error "frame value damaged at depth" n))
          (cons (+ (vector-ref v 1) (string-length s)) rest)))))
(for-each (lambda (n)
            (let ((l (build n)))
              (say "build " n " length " (length l) " sum " (apply + l))))
          '(1000 100000 100000 1000000))
;; 2. mutual recursion with a growing list argument and a closure per frame
(define (down n acc)
  (if (= n 0)
      (begin (gc) (acc 0))
      (let ((f (lambda (x) (+ x n))))
        (+ 1 (down (- n 1) (lambda (x) (f (acc x))))))))
(say "closures deep " (down 50000 (lambda (x) x)))
;; 3. dynamic-wind nested 20000 deep, with (gc) inside and after
(define winds 0)
(define unwinds 0)
(define (dw n)
  (if (= n 0)
      (begin (gc) 0)
      (let ((box (list n)))
        (dynamic-wind
          (lambda () (set! winds (+ winds 1)))
          (lambda () (+ (car box) (dw (- n 1))))
          (lambda () (set! unwinds (+ unwinds 1)))))))
(say "dynamic-wind " (dw 20000) " " winds " " unwinds)
;; 4. call/cc: capture a continuation 10000 frames deep (a copy of the VM stack in the heap),
;; return, allocate and collect, re-enter it several times
(define (deep-capture n store)
  (if (= n 0)
      (begin (call/cc (lambda (k) (store k))) 0)
      (let ((v (vector n (number->string n))))
        (let ((r (deep-capture (- n 1) store)))
          (+ r (vector-ref v 0) (string-length (vector-ref v 1)))))))
(define (callcc-test)
  (let ((k #f) (count 0) (results '()))
    (let ((r (deep-capture 10000 (lambda (c) (set! k c)))))
      (set! results (cons r results))
      (set! count (+ count 1))
      (make-list 100000 count)            ; garbage between re-entries
      (gc)
      (if (< count 8) (k #f))
      results)))
(say "call/cc " (callcc-test))
;; 5. escapes: call/cc and an exception from 50000 deep, after (gc) at the bottom
(say "escape " (call/cc (lambda (k) (let lp ((n 50000)) (if (= n 0) (begin (gc) (k 'out)) (cons n (lp (- n 1))))))))
(say "raise " (with-exception-handler (lambda (e) (list 'caught (car e)))
                (lambda () (let lp ((n 50000)) (if (= n 0) (begin (gc) (raise-exception (list n))) (+ n (lp (- n 1))))))
                #:unwind? #t))
;; 6. delimited continuations: a generator that suspends 2000 frames deep, resumed 500 times
(define (make-gen)
  (define tag (make-prompt-tag))
  (define (walk n) (if (= n 0) 0 (let ((x (list n))) (+ (car x) (walk (- n 1)) (abort-to-prompt tag n)))))
  (let ((k #f))
    (lambda ()
      (call-with-prompt tag
        (lambda () (if k (k 1) (walk 2000)))
        (lambda (cont v) (set! k cont) v)))))
(define g (make-gen))
(say "generator " (let lp ((i 0) (a 0)) (if (= i 500) a (begin (when (zero? (modulo i 100)) (gc)) (lp (+ i 1) (mix a (g)))))))
;; 7. deep recursion through map/apply (C and Scheme frames interleaved)
(define (nest n) (if (= n 0) '() (list (nest (- n 1)))))
(define (depth x) (if (null? x) 0 (+ 1 (apply max (map depth x)))))
(define t (nest 30000))
(gc)
(say "nest depth " (depth t))
(say "done")
EOF

cat >"$W/vm-stacks.scm" <<'EOF'
;; Fresh VM stacks: 100 threads, one after the other (the main thread waits in join-thread, so
;; only one thread runs Scheme at a time), each growing its new one-page VM stack to 50000
;; frames (about ten reallocations) while it allocates: each frame's vector lives only on the
;; VM stack until the recursion returns.
(use-modules (ice-9 threads))
(define (say . xs) (for-each display xs) (newline) (force-output))
(define (build n)
  (if (= n 0)
      '()
      (let ((v (make-vector 3 n)))
        (let ((r (build (- n 1))))
          (unless (and (eqv? (vector-ref v 0) n) (eqv? (vector-ref v 2) n))
            (error "VM stack value damaged at depth" n))
          (cons (vector-ref v 1) r)))))
(define (sum l) (let lp ((l l) (s 0)) (if (null? l) s (lp (cdr l) (+ s (car l))))))
(let lp ((i 0) (acc 0))
  (if (< i 100)
      (lp (+ i 1) (+ acc (join-thread (call-with-new-thread (lambda () (when (zero? (modulo i 10)) (gc)) (sum (build 50000)))))))
      (say "vm-stacks " i " threads, sum " acc)))
(say "done")
EOF

# 3. Each workload: compiled on both (same .go bytes), then the compiled code run on both; deep
# and vm-stacks also interpreted (Guile's evaluator: more frames and garbage per Scheme call).
for w in bignums vectors deep vm-stacks; do
  run_one stock "compile-$w" "$GUILE" --no-auto-compile -c "$COMPILE" "$w.scm" "$w.go.stock" || continue
  if run_one tricolor "compile-$w" "$GUILE" --no-auto-compile -c "$COMPILE" "$w.scm" "$w.go.tricolor"; then
    run_cmp "compile-$w" "$W/$w.go.stock" "$W/$w.go.tricolor" || true
  fi
  cp "$W/$w.go.stock" "$W/$w.go"
  if run_both "$w" "$GUILE" --no-auto-compile -c "(load-compiled \"$W/$w.go\")"; then
    [ "$(tail -n 1 "$W/$w.stock.out")" = done ] || runs_fail "$w: stock did not finish ($W/$w.stock.out)"
  fi
done
for w in deep vm-stacks; do
  run_both "$w-interpreted" "$GUILE" --no-auto-compile -s "$w.scm" || true
done

runs_finish
