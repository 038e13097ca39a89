//go:build ignore

// pause.go - the Go counterpart of ../pause.c: a table of records (64 B,
// each with a 32 B child) replaced at random while the program measures the
// gaps between its own clock readings.  Same arguments, random numbers,
// histograms and output lines as the C version (see pause.c).
//
//	go run pause.go common.go [records [seconds [replacements]]]     (defaults 3000000, 20, 0)
//
// The collector's own pauses come from runtime.MemStats (PauseNs: the
// stop-the-world time of each collection, a ring of the last 256) and, for
// information, from runtime/metrics' /gc/pauses:seconds histogram, which
// counts each stop-the-world separately (two per collection).
package main

import (
	"bufio"
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"runtime/metrics"
	"time"
	"unsafe"
)

const (
	checkEvery  = 64
	subBits     = 4
	sub         = 1 << subBits
	fineBuckets = 64 * sub
	pauseMetric = "/gc/pauses:seconds"
	xorConstant = 0x5555555555555555
	defaultRecs = 3000000
	defaultSecs = 20.0
	rngSeed     = 0x2545F4914F6CDD1D
)

type record struct {
	child   *child
	key     uint64
	payload [6]uint64
}

type child struct {
	parent  *record
	key     uint64
	payload [2]uint64
}

// Both sizes are checked at compile time: a negative array length fails.
var _ [unsafe.Sizeof(record{}) - 64]byte
var _ [64 - unsafe.Sizeof(record{})]byte
var _ [unsafe.Sizeof(child{}) - 32]byte
var _ [32 - unsafe.Sizeof(child{})]byte

var coarseUs = []uint64{50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000}

var fine [fineBuckets]uint64
var coarse [15]uint64

func fineIndex(v uint64) int {
	if v < sub {
		return int(v)
	}
	e := 63 - bits.LeadingZeros64(v)
	idx := (e-subBits+1)*sub + int((v>>(e-subBits))&(sub-1))
	if idx >= fineBuckets {
		idx = fineBuckets - 1
	}
	return idx
}

func fineLo(idx int) uint64 {
	if idx < sub {
		return uint64(idx)
	}
	e, m := idx/sub-1+subBits, idx%sub
	return uint64(sub+m) << (e - subBits)
}

func fineHi(idx int) uint64 {
	if idx < sub {
		return uint64(idx) + 1
	}
	return fineLo(idx + 1)
}

func recordGap(gap uint64) {
	fine[fineIndex(gap)]++
	c := 0
	for c < len(coarseUs) && gap >= coarseUs[c]*1000 {
		c++
	}
	coarse[c]++
}

func quantile(n uint64, q float64, max uint64) uint64 {
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var cum uint64
	for i := range fine {
		cum += fine[i]
		if cum >= rank {
			if hi := fineHi(i); hi < max {
				return hi
			}
			return max
		}
	}
	return max
}

func newRecord(key uint64) *record {
	r := &record{key: key}
	for i := range r.payload {
		r.payload[i] = key * uint64(i+3)
	}
	c := &child{parent: r, key: key}
	c.payload[0] = ^key
	c.payload[1] = key ^ xorConstant
	r.child = c
	return r
}

func recordOK(r *record) bool {
	if r == nil || r.child == nil {
		return false
	}
	c := r.child
	if c.parent != r || c.key != r.key || c.payload[0] != ^r.key || c.payload[1] != r.key^xorConstant {
		return false
	}
	for i := range r.payload {
		if r.payload[i] != r.key*uint64(i+3) {
			return false
		}
	}
	return true
}

func readPauseHist() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: pauseMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

func main() {
	records := argInt(1, defaultRecs)
	seconds := argFloat(2, defaultSecs)
	maxRepl := argInt(3, 0)
	if records < 1 {
		records = 1
	}
	if seconds <= 0 && maxRepl <= 0 {
		fmt.Fprintln(os.Stderr, "pause: give a duration or a number of replacements")
		os.Exit(2)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()

	table := make([]*record, records)
	for i := range table {
		table[i] = newRecord(uint64(i) + 1)
	}
	fmt.Fprintf(out, "pause table: %d records of %d B, each with a child of %d B (%.1f MiB with the table)\n",
		records, unsafe.Sizeof(record{}), unsafe.Sizeof(child{}),
		float64(records)*float64(unsafe.Sizeof(record{})+unsafe.Sizeof(child{})+8)/1048576.0)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	live := ms.HeapAlloc
	fmt.Fprintf(out, "pause (go): live heap after setup %.1f MiB as the system counts it; objects of %d and %d B\n",
		float64(live)/1048576.0, unsafe.Sizeof(record{}), unsafe.Sizeof(child{}))
	out.Flush()

	// Measured phase.
	seed := uint64(rngSeed)
	nextKey := uint64(records) + 1
	limit := uint64(math.MaxUint64)
	if seconds > 0 {
		limit = uint64(seconds * 1e9)
	}
	replLimit := uint64(math.MaxUint64)
	if maxRepl > 0 {
		replLimit = uint64(maxRepl)
	}
	var repl, gaps, maxGap uint64
	n := uint64(records)

	runtime.ReadMemStats(&ms)
	markNumGC, markPauseTotal := ms.NumGC, ms.PauseTotalNs
	histStart := readPauseHist()

	t0 := time.Now()
	var prev, now uint64 // nanoseconds since t0 (monotonic clock)
	for {
		for k := 0; k < checkEvery && repl < replLimit; k++ {
			r := rngNext(&seed)
			idx := (r >> 16) % n
			table[idx] = newRecord(nextKey)
			nextKey++
			repl++
		}
		now = uint64(time.Since(t0))
		gap := now - prev
		prev = now
		recordGap(gap)
		gaps++
		if gap > maxGap {
			maxGap = gap
		}
		if now >= limit || repl >= replLimit {
			break
		}
	}
	elapsed := now

	runtime.ReadMemStats(&ms)
	histEnd := readPauseHist()
	gcs := ms.NumGC - markNumGC
	gcTotal := ms.PauseTotalNs - markPauseTotal
	var gcPauses []uint64
	first := markNumGC + 1
	if ms.NumGC >= 256 && first < ms.NumGC-255 {
		first = ms.NumGC - 255
	}
	var gcMax uint64
	for k := first; k <= ms.NumGC && k != 0; k++ {
		p := ms.PauseNs[(k-1)%256]
		gcPauses = append(gcPauses, p)
		if p > gcMax {
			gcMax = p
		}
	}
	// Individual stop-the-world pauses of the phase, from runtime/metrics.
	var stwCount uint64
	stwMax := 0.0
	if histStart != nil && histEnd != nil && len(histStart.Counts) == len(histEnd.Counts) {
		for i := range histEnd.Counts {
			d := histEnd.Counts[i] - histStart.Counts[i]
			if d > 0 {
				stwCount += d
				stwMax = histEnd.Buckets[i+1]
			}
		}
	}

	damaged := 0
	for _, r := range table {
		if !recordOK(r) {
			damaged++
		}
	}
	if damaged > 0 {
		out.Flush()
		fmt.Fprintf(os.Stderr, "pause: %d of %d records damaged\n", damaged, records)
		os.Exit(1)
	}
	fmt.Fprintf(out, "pause table: all %d records intact\n", records)

	secs := float64(elapsed) / 1e9
	rate := 0.0
	if secs > 0 {
		rate = float64(repl) / secs
	}
	p50, p99, p999 := quantile(gaps, 0.50, maxGap), quantile(gaps, 0.99, maxGap), quantile(gaps, 0.999, maxGap)
	fmt.Fprintf(out, "pause (go): %d replacements in %.2f s (%.2f M/s); %d gaps: max %.3f ms, p99 %.3f ms, "+
		"p99.9 %.3f ms; %d collections, longest collector pause %.3f ms; /gc/pauses:seconds: %d stop-the-worlds, "+
		"longest below %.3f ms\n",
		repl, secs, rate/1e6, gaps, float64(maxGap)/1e6, float64(p99)/1e6, float64(p999)/1e6, gcs,
		float64(gcMax)/1e6, stwCount, stwMax*1e3)
	fmt.Fprintf(out, "PAUSE maxgap_ns=%d p50_ns=%d p99_ns=%d p999_ns=%d gaps=%d replacements=%d "+
		"seconds=%.3f rate=%.0f live_bytes=%d gcs=%d gc_maxpause_ns=%d gc_totalpause_ns=%d hist=",
		maxGap, p50, p99, p999, gaps, repl, secs, rate, live, gcs, gcMax, gcTotal)
	for c := range coarse {
		if c < len(coarseUs) {
			fmt.Fprintf(out, "%d:%d,", coarseUs[c], coarse[c])
		} else {
			fmt.Fprintf(out, "inf:%d\n", coarse[c])
		}
	}
	fmt.Fprint(out, "PAUSEGC ")
	for i, p := range gcPauses {
		if i > 0 {
			fmt.Fprint(out, ",")
		}
		fmt.Fprint(out, p)
	}
	fmt.Fprint(out, "\nPAUSEHIST ")
	sep := ""
	for i := range fine {
		if fine[i] != 0 {
			fmt.Fprintf(out, "%s%d:%d:%d", sep, fineLo(i), fineHi(i), fine[i])
			sep = ","
		}
	}
	fmt.Fprintln(out)
	runtime.KeepAlive(table)
	benchReport(out)
}
