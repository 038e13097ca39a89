//go:build ignore

// make_map.go - the Go counterpart of ../make_map.c: Go's map with uint64
// keys and values at a small (cache-resident) and a big (memory-bound) size:
// insert into a map made with no hint, lookup hit, lookup miss, delete; the
// worst single insert while a map grows to the big size; string keys
// "key<i>", insert and lookup.  Same keys, same operations, same output.
//
//	go run make_map.go common.go [small [big [strings [ops]]]]   (defaults 1000 1000000 100000 2000000)
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"
)

// nanotime: the monotonic clock (time.Since on a time with a monotonic
// reading costs one vDSO clock_gettime, as the C program's mono_ns).
var clockBase = time.Now()

func nanotime() int64 { return int64(time.Since(clockBase)) }

const valXor = 0x5bd1e995

var checksum uint64

func opLine(name string, n int, ns float64, ops float64) {
	if n >= 0 {
		name = name + "_" + strconv.Itoa(n)
	}
	fmt.Printf("OP name=%s ns=%.3f ops=%.0f\n", name, ns, ops)
}

func makeKeys(n int, seed uint64) []uint64 {
	k := make([]uint64, n)
	for i := range k {
		k[i] = rngNext(&seed)
	}
	return k
}

//go:noinline
func u64Build(keys []uint64) map[uint64]uint64 {
	m := make(map[uint64]uint64)
	for _, k := range keys {
		m[k] = k ^ valXor
	}
	return m
}

//go:noinline
func u64Lookups(m map[uint64]uint64, keys []uint64, ops int) uint64 {
	var sum uint64
	done := 0
	for done < ops {
		k := len(keys)
		if ops-done < k {
			k = ops - done
		}
		for _, key := range keys[:k] {
			if v, ok := m[key]; ok {
				sum += v + 1
			}
		}
		done += k
	}
	return sum
}

//go:noinline
func u64Deletes(m map[uint64]uint64, keys []uint64) {
	for _, k := range keys {
		delete(m, k)
	}
}

func u64Bench(n, ops int, seed uint64) {
	keys, miss := makeKeys(n, seed), makeKeys(n, seed^0xdeadbeefcafef00d)
	rounds := ops / n
	if rounds < 1 {
		rounds = 1
	}

	m := u64Build(keys) // untimed warm-up
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		m = u64Build(keys)
		checksum += uint64(len(m))
	}
	t := time.Since(t0).Nanoseconds()
	opLine("u64_insert", n, float64(t)/(float64(rounds)*float64(n)), float64(rounds)*float64(n))

	t0 = time.Now()
	hit := u64Lookups(m, keys, ops)
	t = time.Since(t0).Nanoseconds()
	opLine("u64_hit", n, float64(t)/float64(ops), float64(ops))
	t0 = time.Now()
	missed := u64Lookups(m, miss, ops)
	t = time.Since(t0).Nanoseconds()
	opLine("u64_miss", n, float64(t)/float64(ops), float64(ops))
	checksum += hit + missed
	fmt.Printf("make_map: u64 n=%d hit_sum=%d miss_sum=%d\n", n, hit, missed)

	t = 0
	for r := 0; r < rounds; r++ {
		if r > 0 {
			m = u64Build(keys)
		}
		t0 = time.Now()
		u64Deletes(m, keys)
		t += time.Since(t0).Nanoseconds()
		checksum += uint64(len(m))
	}
	opLine("u64_delete", n, float64(t)/(float64(rounds)*float64(n)), float64(rounds)*float64(n))
}

func growBench(n int, seed uint64) {
	keys := makeKeys(n, seed)
	lat := make([]uint32, n)
	m := make(map[uint64]uint64)
	for i, k := range keys {
		a := nanotime()
		m[k] = k ^ valXor
		d := nanotime() - a
		if d > 0xffffffff {
			d = 0xffffffff
		}
		lat[i] = uint32(d)
	}
	checksum += uint64(len(m))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	opLine("grow_insert_max", -1, float64(lat[n-1]), float64(n))
	opLine("grow_insert_p9999", -1, float64(lat[int(float64(n-1)*0.9999)]), float64(n))
	opLine("grow_insert_p50", -1, float64(lat[(n-1)/2]), float64(n))
}

func makeStrings(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("key%d", i)
	}
	return s
}

//go:noinline
func strBuild(keys []string) map[string]uint64 {
	m := make(map[string]uint64)
	for i, k := range keys {
		m[k] = uint64(i)
	}
	return m
}

//go:noinline
func strLookups(m map[string]uint64, keys []string, ops int) uint64 {
	var sum uint64
	done := 0
	for done < ops {
		k := len(keys)
		if ops-done < k {
			k = ops - done
		}
		for _, key := range keys[:k] {
			if v, ok := m[key]; ok {
				sum += v + 1
			}
		}
		done += k
	}
	return sum
}

func strBench(n, ops int) {
	keys, probe := makeStrings(n), makeStrings(n)
	rounds := ops / n
	if rounds < 1 {
		rounds = 1
	}
	m := strBuild(keys) // untimed warm-up
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		m = strBuild(keys)
		checksum += uint64(len(m))
	}
	t := time.Since(t0).Nanoseconds()
	opLine("str_insert", n, float64(t)/(float64(rounds)*float64(n)), float64(rounds)*float64(n))
	t0 = time.Now()
	hit := strLookups(m, probe, ops)
	t = time.Since(t0).Nanoseconds()
	opLine("str_hit", n, float64(t)/float64(ops), float64(ops))
	checksum += hit
	fmt.Printf("make_map: str n=%d hit_sum=%d\n", n, hit)
}

func main() {
	small := int(argInt(1, 1000))
	big := int(argInt(2, 1000000))
	strings := int(argInt(3, 100000))
	ops := int(argInt(4, 2000000))
	if small < 1 {
		small = 1
	}
	if big < 1 {
		big = 1
	}
	if strings < 1 {
		strings = 1
	}
	if ops < 1 {
		ops = 1
	}
	u64Bench(small, ops, 0x9E3779B97F4A7C15)
	u64Bench(big, ops, 0x2545F4914F6CDD1D)
	growBench(big, 0x853c49e6748fea9b)
	strBench(strings, ops)
	fmt.Printf("make_map: small=%d big=%d strings=%d ops=%d checksum=%d\n", small, big, strings, ops, checksum)
	benchReport(os.Stdout)
}
