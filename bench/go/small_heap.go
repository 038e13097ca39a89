//go:build ignore

// small_heap.go - the Go counterpart of ../small_heap.c: per goroutine, a ring
// of live 32-byte records, one replaced at a random slot per iteration (the
// same random numbers), the new record pointing to the one it replaced half
// the time; the same check and output as the C version.
//
//	go run small_heap.go common.go [threads [iterations [records]]]     (defaults 2, 20000000, 16384)
package main

import (
	"fmt"
	"os"
	"sync"
)

type record struct {
	prev   *record
	serial uint64
	slot   uint64
	check  uint64
}

type result struct {
	live    uint64
	damaged int
}

func worker(index int, iterations, n int, out *result) {
	ring := make([]*record, n)
	seed := uint64(0x9E3779B97F4A7C15) * uint64(index+1)
	for it := 0; it < iterations; it++ {
		r := rngNext(&seed)
		idx := int((r >> 32) % uint64(n))
		p := &record{serial: uint64(it), slot: uint64(idx)}
		p.check = p.serial ^ p.slot ^ 0x5bd1e995
		old := ring[idx]
		if old != nil && r&1 != 0 {
			p.prev = old
			old.prev = nil
		}
		ring[idx] = p
	}
	var live uint64
	damaged := 0
	for i := range ring {
		for p := ring[i]; p != nil; p = p.prev {
			if p.check != p.serial^p.slot^0x5bd1e995 || p.slot != uint64(i) {
				damaged++
			}
			live++
		}
	}
	*out = result{live, damaged}
}

func main() {
	threads := int(argInt(1, 2))
	iterations := int(argInt(2, 20000000))
	n := int(argInt(3, 16384))
	if threads < 1 {
		threads = 1
	}
	if n < 1 {
		n = 1
	}
	results := make([]result, threads)
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			worker(i, iterations, n, &results[i])
		}(i)
	}
	wg.Wait()
	var live uint64
	damaged := 0
	for _, r := range results {
		live += r.live
		damaged += r.damaged
	}
	fmt.Printf("small_heap (go): %d threads x %d iterations, %d records each\n", threads, iterations, n)
	fmt.Printf("live records at end %d\n", live)
	if damaged != 0 {
		fmt.Printf("DAMAGED: %d records\n", damaged)
		os.Exit(1)
	}
	benchReport(os.Stdout)
}
