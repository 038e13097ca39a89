//go:build ignore

// profile.go - Go's side of bench/profile.c: a sampled allocation's cost, and
// writing a heap profile of 2^sites_log2 sites (distinct stacks, one object
// each, at MemProfileRate 1) with pprof.WriteHeapProfile, the median of
// `writes` writes.
//
//	profile [sites_log2 [writes]]
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
)

var sink []byte
var siteObjects [][]byte
var next int

//go:noinline
func allocAtDepth(d, n int) {
	if d > 0 {
		allocAtDepth(d-1, n)
		return
	}
	for i := 0; i < n; i++ {
		sink = make([]byte, 64)
	}
}

func allocNs(rate, n int) float64 {
	runtime.MemProfileRate = rate
	runtime.GC()
	t0 := time.Now()
	allocAtDepth(8, n)
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	runtime.MemProfileRate = 0
	return ns
}

//go:noinline
func goLeft(depth int, bits uint) int { return branch(depth, bits) + 1 }

//go:noinline
func goRight(depth int, bits uint) int { return branch(depth, bits) + 2 }

//go:noinline
func branch(depth int, bits uint) int {
	if depth == 0 {
		siteObjects[next] = make([]byte, 48)
		next++
		return 0
	}
	if bits&1 != 0 {
		return goLeft(depth-1, bits>>1)
	}
	return goRight(depth-1, bits>>1)
}

func main() {
	log2 := int(argInt(1, 14))
	writes := int(argInt(2, 11))
	n := 2000000
	off, on := allocNs(0, n), allocNs(1, n/4)
	fmt.Printf("64-byte allocation 8 frames down: %.1f ns at rate 0, %.1f ns at rate 1 (every one sampled): %.0f ns per sample\n", off, on, on-off)
	sites := 1 << log2
	siteObjects = make([][]byte, sites)
	runtime.MemProfileRate = 1
	for b := 0; b < sites; b++ {
		branch(log2, uint(b))
	}
	runtime.MemProfileRate = 0
	runtime.GC()
	t := make([]int64, writes)
	for i := range t {
		t0 := time.Now()
		if err := pprof.WriteHeapProfile(io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		t[i] = time.Since(t0).Nanoseconds()
	}
	sort.Slice(t, func(i, j int) bool { return t[i] < t[j] })
	var buf bytes.Buffer
	pprof.WriteHeapProfile(&buf)
	var text strings.Builder
	t0 := time.Now()
	pprof.Lookup("heap").WriteTo(&text, 1)
	textNs := time.Since(t0).Nanoseconds()
	fmt.Printf("profile of %d sites: written in %.2f ms (median of %d; fastest %.2f, slowest %.2f), %d bytes gzipped; text form %.2f ms, %d bytes\n",
		sites, float64(t[writes/2])/1e6, writes, float64(t[0])/1e6, float64(t[writes-1])/1e6, buf.Len(), float64(textNs)/1e6, text.Len())
	fmt.Printf("PROFILE alloc_ns=%.1f alloc_sampled_ns=%.1f sample_ns=%.1f write_ns=%d write_min_ns=%d sites=%d bytes=%d text_ns=%d text_bytes=%d\n",
		off, on, on-off, t[writes/2], t[0], sites, buf.Len(), textNs, text.Len())
	runtime.KeepAlive(siteObjects)
	benchReport(os.Stdout)
}
