//go:build ignore

// mt_alloc.go - the Go counterpart of ../mt_alloc.c, with goroutines for
// threads: each keeps a ring of live objects and replaces a random slot per
// iteration (same random numbers, sizes and "live bytes" as the C version).
//
//	go run mt_alloc.go common.go [threads [iterations [slots]]]     (defaults 4, 4000000, 20000)
//
// Small objects (16..512 B) are []*byte, so the collector scans them as the C
// collectors scan theirs; large ones (4..64 KiB) are []byte, pointer-free.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"unsafe"
)

const (
	kSmallMin   = 16
	kSmallSteps = 63
	kLargeMin   = 4096
	kLargeSteps = 61
	kLargeOneIn = 512
)

var marker byte // what small objects point at

type result struct {
	allocs, bytes, live uint64
}

func worker(index int, iterations, slots int, out *result) {
	ring := make([]unsafe.Pointer, slots)
	sizes := make([]uint32, slots)
	seed := uint64(0x9E3779B97F4A7C15) * uint64(index+1)
	var bytes uint64
	for it := 0; it < iterations; it++ {
		r := rngNext(&seed)
		idx := int((r >> 32) % uint64(slots))
		var sz uint64
		if r&(kLargeOneIn-1) == 0 {
			sz = kLargeMin + ((r>>9)%kLargeSteps)*1024
			b := make([]byte, sz)
			b[0] = byte(sz)
			b[sz-1] = 1
			ring[idx] = unsafe.Pointer(&b[0])
		} else {
			sz = kSmallMin + ((r>>9)%kSmallSteps)*8
			s := make([]*byte, sz/8)
			s[0] = &marker
			s[len(s)-1] = &marker
			ring[idx] = unsafe.Pointer(&s[0])
		}
		sizes[idx] = uint32(sz)
		bytes += sz
	}
	var live uint64
	for i := range ring {
		if ring[i] != nil {
			live += uint64(sizes[i])
		}
	}
	*out = result{uint64(iterations), bytes, live}
}

func arg(i, def int) int {
	if len(os.Args) > i {
		if v, err := strconv.Atoi(os.Args[i]); err == nil {
			return v
		}
	}
	return def
}

func main() {
	threads := arg(1, 4)
	iterations := arg(2, 4000000)
	slots := arg(3, 20000)
	if threads < 1 {
		threads = 1
	}
	if slots < 1 {
		slots = 1
	}
	results := make([]result, threads)
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			worker(i, iterations, slots, &results[i])
		}(i)
	}
	wg.Wait()
	var total result
	for _, r := range results {
		total.allocs += r.allocs
		total.bytes += r.bytes
		total.live += r.live
	}
	fmt.Printf("mt_alloc (go): %d threads x %d iterations, %d slots each\n", threads, iterations, slots)
	fmt.Printf("allocated %d objects, %d MiB; live bytes at end %d\n", total.allocs, total.bytes>>20, total.live)
	benchReport(os.Stdout)
}
