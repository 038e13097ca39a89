//go:build ignore

// make_slice.go - the Go counterpart of ../make_slice.c: append throughput,
// int64s and 16-byte structs {pointer, int64}, onto a nil slice and onto
// make(..., 0, n), n appends per round, `rounds` rounds.
//
//	go run make_slice.go common.go [n [rounds]]     (defaults 1000000 20)
package main

import (
	"fmt"
	"os"
	"time"
)

type s16 struct {
	p *int64
	v int64
}

var marker int64
var sink uint64

//go:noinline
func i64Round(n int, presized bool) uint64 {
	var s []int64
	if presized {
		s = make([]int64, 0, n)
	}
	for i := 0; i < n; i++ {
		s = append(s, int64(i))
	}
	return uint64(len(s)) + uint64(s[len(s)-1])
}

//go:noinline
func s16Round(n int, presized bool) uint64 {
	var s []s16
	if presized {
		s = make([]s16, 0, n)
	}
	for i := 0; i < n; i++ {
		s = append(s, s16{&marker, int64(i)})
	}
	var b uint64
	if s[0].p == &marker {
		b = 1
	}
	return uint64(len(s)) + uint64(s[len(s)-1].v) + b
}

var checksum uint64

func round(n int, s16kind, presized bool) uint64 {
	if s16kind {
		return s16Round(n, presized)
	}
	return i64Round(n, presized)
}

func measure(name string, n, rounds int, s16kind, presized bool) {
	sink = round(n, s16kind, presized) // untimed: the heap grows to its working size
	t0 := time.Now()
	var sum uint64
	for r := 0; r < rounds; r++ {
		sum += round(n, s16kind, presized)
	}
	t := time.Since(t0)
	checksum += sum
	ops := float64(n) * float64(rounds)
	fmt.Printf("OP name=%s ns=%.3f ops=%.0f\n", name, float64(t.Nanoseconds())/ops, ops)
}

func main() {
	n := int(argInt(1, 1000000))
	rounds := int(argInt(2, 20))
	if n < 1 {
		n = 1
	}
	if rounds < 1 {
		rounds = 1
	}
	measure("i64_nil", n, rounds, false, false)
	measure("i64_presized", n, rounds, false, true)
	measure("s16_nil", n, rounds, true, false)
	measure("s16_presized", n, rounds, true, true)
	fmt.Printf("make_slice: n=%d rounds=%d checksum=%d\n", n, rounds, checksum)
	benchReport(os.Stdout)
}
