//go:build ignore

// pool.go - the Go counterpart of ../pool.c: sync.Pool's Get + Put against a
// fresh allocation of the same size (128 bytes, holding pointers as the C
// programs' scanned objects may), on one goroutine and on several, and
// runtime.SetFinalizer's throughput.
//
//	go run pool.go common.go [iterations [threads [finalizers]]]   (defaults 20000000, CPUs, 1000000)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const objWords = 128 / 8

type obj [objWords]*uint64

var sink uint64
var marker uint64
var escape *obj // fresh objects are stored here, so they are heap objects

//go:noinline
func freshLoop(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		p := new(obj)
		p[0] = &marker
		p[objWords-1] = &marker
		s += uint64(i)
		escape = p
	}
	return s
}

var pool = sync.Pool{New: func() any { return new(obj) }}

//go:noinline
func poolLoop(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		p := pool.Get().(*obj)
		p[0] = &marker
		p[objWords-1] = &marker
		s += uint64(i)
		pool.Put(p)
	}
	return s
}

func timed(fn func(int) uint64, n, t int) float64 {
	runtime.GC() // each phase starts from a collected heap, no cycle under way
	if t == 1 {
		fn(n / 20)
		t0 := time.Now()
		atomic.AddUint64(&sink, fn(n))
		return float64(time.Since(t0).Nanoseconds()) / float64(n)
	}
	var start, done sync.WaitGroup
	start.Add(1)
	done.Add(t)
	for i := 0; i < t; i++ {
		go func() {
			start.Wait()
			atomic.AddUint64(&sink, fn(n))
			done.Done()
		}()
	}
	t0 := time.Now()
	start.Done()
	done.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

type small struct{ a, b, c, d uint64 }

var finRan int64

//go:noinline
func finMake(n int) {
	for i := 0; i < n; i++ {
		p := &small{a: uint64(i)}
		runtime.SetFinalizer(p, func(*small) { atomic.AddInt64(&finRan, 1) })
	}
}

func finRate(n int) (float64, int64) {
	t0 := time.Now()
	finMake(n)
	want := int64(n - n/1000)
	runtime.GC()
	last := time.Now()
	seen := int64(-1)
	for atomic.LoadInt64(&finRan) < want && time.Since(t0) < 60*time.Second {
		r := atomic.LoadInt64(&finRan)
		if r != seen {
			seen = r
			last = time.Now()
		} else if time.Since(last) > 20*time.Millisecond {
			runtime.GC()
			last = time.Now()
		}
		runtime.Gosched()
	}
	ran := atomic.LoadInt64(&finRan)
	return float64(ran) / time.Since(t0).Seconds(), ran
}

func main() {
	iterations, threads, nfin := 20000000, runtime.NumCPU(), 1000000
	if len(os.Args) > 1 {
		iterations, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		threads, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		nfin, _ = strconv.Atoi(os.Args[3])
	}
	fmt.Printf("pool: iterations=%d threads=%d finalizers=%d object=%d bytes\n", iterations, threads, nfin, 128)
	stFresh := timed(freshLoop, iterations, 1)
	mtFresh := timed(freshLoop, iterations/threads, threads)
	stPool := timed(poolLoop, iterations, 1)
	mtPool := timed(poolLoop, iterations/threads, threads)
	rate, ran := finRate(nfin)
	fmt.Printf("pool (go): fresh %.2f ns, pool %.2f ns on one thread; fresh %.2f ns, pool %.2f ns on %d threads; "+
		"%.0f finalizers/s (%d of %d ran)\n", stFresh, stPool, mtFresh, mtPool, threads, rate, ran, nfin)
	fmt.Printf("POOL st_fresh_ns=%.2f st_pool_ns=%.2f mt_fresh_ns=%.2f mt_pool_ns=%.2f threads=%d fin_per_s=%.0f "+
		"fin_ran=%d fin_n=%d\n", stFresh, stPool, mtFresh, mtPool, threads, rate, ran, nfin)
	benchReport(os.Stdout)
}
