//go:build ignore

// common.go - what the Go benchmark programs share.  Each program is a main
// package of its own, built together with this file (run.sh:
// go build -o <exe> <program>.go common.go).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
)

// rngNext is xorshift64*, the sequence of the C programs' rng_next (shim.h),
// so both make exactly the same allocations.
func rngNext(s *uint64) uint64 {
	x := *s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*s = x
	return x * 0x2545F4914F6CDD1D
}

// benchReport writes the machine-readable line shared with the C programs.
// PauseNs is a ring of the last 256 pauses, so maxpause covers those only.
func benchReport(w io.Writer) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var maxp uint64
	for _, p := range ms.PauseNs {
		if p > maxp {
			maxp = p
		}
	}
	fmt.Fprintf(w, "BENCH collections=%d maxpause_ns=%d totalpause_ns=%d\n", ms.NumGC, maxp, ms.PauseTotalNs)
}

// argInt and argFloat: command-line argument i, or def when it is absent or
// not a number.
func argInt(i int, def int64) int64 {
	if len(os.Args) > i {
		if v, err := strconv.ParseInt(os.Args[i], 10, 64); err == nil {
			return v
		}
	}
	return def
}

func argFloat(i int, def float64) float64 {
	if len(os.Args) > i {
		if v, err := strconv.ParseFloat(os.Args[i], 64); err == nil {
			return v
		}
	}
	return def
}
