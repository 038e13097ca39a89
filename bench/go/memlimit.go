//go:build ignore

// memlimit.go - the Go counterpart of ../memlimit.c: does the collector keep
// to a memory limit, and does it give memory back to the OS?  Same
// arguments, records, random numbers, phases and output lines as the C
// version (see memlimit.c).
//
//	go run memlimit.go common.go [live_mib [garbage_mib [limit_mib [window_s [threshold_mib [replace_every]]]]]]
//	(defaults 200 4096 300 20 live_mib/2 16)
//
// Limit phase: debug.SetGCPercent(-1), debug.SetMemoryLimit(limit).  Release
// phase: drop the live data, debug.SetMemoryLimit(math.MaxInt64),
// debug.SetGCPercent(100), runtime.GC(), then only watch VmRSS.  Free phase:
// build the live data again, drop it, debug.FreeOSMemory().
//
// Records come in four sizes (56, 120, 184, 248 bytes: a header and 5, 13,
// 21 or 29 words of payload, by key % 4), so they are four types; the table
// holds a pointer to the header, the first field, which keeps the whole
// object alive.  VmRSS is read with pread(2) on a descriptor kept open, into
// a buffer allocated once, so watching does not allocate.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	ringSize  = 256
	sampleMs  = 50
	slotBytes = 184
	rngSeed   = 0x2545F4914F6CDD1D
	keyMul    = 0x9E3779B97F4A7C15
)

type recHdr struct {
	child *child
	key   uint64
}

type child struct {
	parent *recHdr
	key    uint64
	check  uint64 // ^key
}

type rec0 struct {
	recHdr
	p [5]uint64
}
type rec1 struct {
	recHdr
	p [13]uint64
}
type rec2 struct {
	recHdr
	p [21]uint64
}
type rec3 struct {
	recHdr
	p [29]uint64
}

// Sizes checked at compile time: a negative array length fails.
var _ [unsafe.Sizeof(rec0{}) - 56]byte
var _ [56 - unsafe.Sizeof(rec0{})]byte
var _ [unsafe.Sizeof(rec3{}) - 248]byte
var _ [248 - unsafe.Sizeof(rec3{})]byte
var _ [unsafe.Sizeof(child{}) - 24]byte
var _ [24 - unsafe.Sizeof(child{})]byte

var (
	table []*recHdr
	ring  [ringSize]unsafe.Pointer
)

func recordWords(key uint64) int { return 5 + 8*int(key&3) }
func keyHash(key uint64) uint64  { return key * keyMul }

// payload returns the record's payload words, which follow the header.
func payload(h *recHdr) []uint64 {
	n := recordWords(h.key)
	return unsafe.Slice((*uint64)(unsafe.Add(unsafe.Pointer(h), unsafe.Sizeof(recHdr{}))), n)
}

func newRecord(key uint64) *recHdr {
	var h *recHdr
	switch key & 3 {
	case 0:
		h = &new(rec0).recHdr
	case 1:
		h = &new(rec1).recHdr
	case 2:
		h = &new(rec2).recHdr
	default:
		h = &new(rec3).recHdr
	}
	h.key = key
	p := payload(h)
	for i := range p {
		p[i] = key * uint64(i+3)
	}
	h.child = &child{parent: h, key: key, check: ^key}
	return h
}

func recordOK(h *recHdr) bool {
	if h == nil || h.child == nil {
		return false
	}
	c := h.child
	if c.parent != h || c.key != h.key || c.check != ^h.key {
		return false
	}
	for i, v := range payload(h) {
		if v != h.key*uint64(i+3) {
			return false
		}
	}
	return true
}

//go:noinline
func buildLive(n int64) uint64 {
	table = make([]*recHdr, n)
	var sum uint64
	for i := range table {
		table[i] = newRecord(uint64(i) + 1)
		sum += keyHash(uint64(i) + 1)
	}
	return sum
}

//go:noinline
func checkLive() (damaged int64, sum uint64) {
	for _, h := range table {
		if !recordOK(h) {
			damaged++
		} else {
			sum += keyHash(h.key)
		}
	}
	return
}

func garbageSize(r uint64) int {
	u, v := r%100, r>>8
	switch {
	case u < 80:
		return 16 + 8*int(v%31)
	case u < 95:
		return 256 + 64*int(v%61)
	default:
		return 4096 + 512*int(v%57)
	}
}

type churn struct {
	doneBytes, objects, replacements uint64
}

//go:noinline
func makeGarbage(garbageBytes uint64, replaceEvery int64, sum *uint64) churn {
	var ch churn
	seed := uint64(rngSeed)
	n := uint64(len(table))
	nextKey := n + 1
	for ch.doneBytes < garbageBytes {
		r := rngNext(&seed)
		size := garbageSize(r)
		if (r>>40)&3 == 0 {
			// Scanned: pointers into the live set, one per 4 KiB and one at the end.
			r2 := rngNext(&seed)
			a, b := table[(r2>>16)%n], table[(r2>>40)%n]
			pp := make([]*recHdr, size/8)
			for i := 0; i < len(pp); i += 512 {
				pp[i] = a
			}
			pp[len(pp)-1] = b
			ring[ch.objects%ringSize] = unsafe.Pointer(&pp[0])
		} else {
			bp := make([]byte, size)
			for i := 0; i < size; i += 4096 {
				bp[i] = byte(r)
			}
			bp[size-1] = byte(r >> 8)
			ring[ch.objects%ringSize] = unsafe.Pointer(&bp[0])
		}
		ch.objects++
		ch.doneBytes += uint64(size)
		if replaceEvery > 0 && ch.objects%uint64(replaceEvery) == 0 {
			r3 := rngNext(&seed)
			idx := (r3 >> 16) % n
			*sum -= keyHash(table[idx].key)
			*sum += keyHash(nextKey)
			table[idx] = newRecord(nextKey)
			nextKey++
			ch.replacements++
		}
	}
	return ch
}

func dropLive() {
	table = nil
	for i := range ring {
		ring[i] = nil
	}
}

// VmRSS and VmHWM in kB from /proc/self/status; 0 when unreadable.
var (
	statusFd  = -1
	statusBuf = make([]byte, 8192)
)

func parseKB(buf []byte, key string) uint64 {
	i := bytes.Index(buf, []byte(key))
	if i < 0 {
		return 0
	}
	var v uint64
	for _, c := range buf[i+len(key):] {
		if c >= '0' && c <= '9' {
			v = v*10 + uint64(c-'0')
		} else if c != ' ' && c != '\t' {
			break
		}
	}
	return v
}

var keyRSS, keyHWM = "VmRSS:", "VmHWM:"

func readRSS() (rss, hwm uint64) {
	if statusFd < 0 {
		fd, err := syscall.Open("/proc/self/status", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return 0, 0
		}
		statusFd = fd
	}
	var n int
	var err error
	for {
		n, err = syscall.Pread(statusFd, statusBuf[:len(statusBuf)-1], 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil || n <= 0 {
		return 0, 0
	}
	return parseKB(statusBuf[:n], keyRSS), parseKB(statusBuf[:n], keyHWM)
}

func rssNow() uint64 {
	r, _ := readRSS()
	return r
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func retained() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.Sys > ms.HeapReleased {
		return ms.Sys - ms.HeapReleased
	}
	return 0
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func main() {
	liveMiB := argInt(1, 200)
	garbageMiB := argInt(2, 4096)
	limitMiB := argInt(3, 300)
	windowS := argFloat(4, 20)
	thresholdMiB := argInt(5, liveMiB/2)
	replaceEvery := argInt(6, 16)
	if liveMiB < 1 || garbageMiB < 0 || limitMiB < 1 || windowS < 0 || thresholdMiB < 1 || replaceEvery < 0 {
		fmt.Fprintln(os.Stderr, "memlimit: bad arguments")
		os.Exit(2)
	}
	records := int64((uint64(liveMiB) << 20) / slotBytes)
	garbageBytes := uint64(garbageMiB) << 20
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()

	fmt.Fprintf(out, "memlimit: %d records of 56-248 B, each with a 24 B child (%d MiB nominal with the table); "+
		"%d MiB of garbage in objects of 16 B-32 KiB; a record replaced every %d; limit %d MiB; "+
		"release window %.1f s, threshold %d MiB\n",
		records, liveMiB, garbageMiB, replaceEvery, limitMiB, windowS, thresholdMiB)
	out.Flush()

	// 1. Limit phase.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(limitMiB << 20)
	gc0 := numGC()
	cpu0 := cpuSeconds()
	t0 := time.Now()
	sum := buildLive(records)
	tBuilt := time.Now()
	ch := makeGarbage(garbageBytes, replaceEvery, &sum)
	t1 := time.Now()
	cpu1 := cpuSeconds()
	gcs := numGC() - gc0
	rss1, hwm1 := readRSS()
	retained1 := retained()

	damaged, check := checkLive()
	if damaged != 0 || check != sum {
		out.Flush()
		fmt.Fprintf(os.Stderr, "memlimit: limit phase: %d of %d records damaged (checksum %016x, expected %016x)\n",
			damaged, records, check, sum)
		os.Exit(1)
	}
	fmt.Fprintln(out, "memlimit check: limit-phase live data intact")
	fmt.Fprintf(out, "memlimit (go): limit phase %.2f s (build %.2f s), %d collections, peak RSS %.1f MiB, RSS %.1f MiB, "+
		"retained %.1f MiB, %d replacements\n",
		t1.Sub(t0).Seconds(), tBuilt.Sub(t0).Seconds(), gcs, float64(hwm1)/1024, float64(rss1)/1024,
		float64(retained1)/1048576, ch.replacements)
	fmt.Fprintf(out, "MEMLIMIT phase=limit status=ok live_mib=%d garbage_mib=%d limit_mib=%d records=%d built=%d "+
		"replacements=%d garbage_done_mib=%.1f seconds=%.3f build_seconds=%.3f cpu_s=%.2f gcs=%d "+
		"peak_rss_kb=%d rss_kb=%d retained_kb=%d checksum=%016x\n",
		liveMiB, garbageMiB, limitMiB, records, records, ch.replacements, float64(ch.doneBytes)/1048576,
		t1.Sub(t0).Seconds(), tBuilt.Sub(t0).Seconds(), cpu1-cpu0, gcs, hwm1, rss1, retained1/1024, sum)
	out.Flush()

	// 2. Release phase: drop everything, default pacing, one collection,
	// then only watch.
	dropLive()
	debug.SetMemoryLimit(math.MaxInt64)
	debug.SetGCPercent(100)
	rssBefore := rssNow()
	cpu2 := cpuSeconds()
	g0 := time.Now()
	runtime.GC()
	g1 := time.Now()
	thresholdKB := uint64(thresholdMiB) * 1024
	window := time.Duration(windowS * 1e9)
	nmax := int(window/(sampleMs*time.Millisecond)) + 1
	sampleMsv := make([]uint32, 0, nmax)
	sampleKB := make([]uint32, 0, nmax)
	belowMs := int64(-1)
	var rssMin, rssEnd, rssAfterGC uint64 = math.MaxUint64, 0, 0
	for k := 0; ; k++ {
		due := g1.Add(time.Duration(k) * sampleMs * time.Millisecond)
		if due.Sub(g1) > window {
			break
		}
		if k > 0 {
			time.Sleep(time.Until(due))
		}
		r := rssNow()
		msNow := uint32(time.Since(g1) / time.Millisecond)
		if k == 0 {
			rssAfterGC = r
		}
		if len(sampleKB) < nmax {
			sampleMsv = append(sampleMsv, msNow)
			sampleKB = append(sampleKB, uint32(r))
		}
		if belowMs < 0 && r < thresholdKB {
			belowMs = int64(msNow)
		}
		if r < rssMin {
			rssMin = r
		}
		rssEnd = r
	}
	cpu3 := cpuSeconds()
	retained2 := retained()
	below, belowUnit := "never", ""
	if belowMs >= 0 {
		below, belowUnit = strconv.FormatInt(belowMs, 10), " ms"
	}
	fmt.Fprintf(out, "memlimit (go): release: collection %.1f ms, RSS %.1f MiB before it, %.1f MiB after; below %d MiB: %s%s; "+
		"after %.1f s %.1f MiB (min %.1f MiB), retained %.1f MiB\n",
		ms(g1.Sub(g0)), float64(rssBefore)/1024, float64(rssAfterGC)/1024, thresholdMiB, below, belowUnit,
		windowS, float64(rssEnd)/1024, float64(rssMin)/1024, float64(retained2)/1048576)
	fmt.Fprintf(out, "MEMLIMIT phase=release gc_ms=%.3f rss_before_kb=%d rss_after_gc_kb=%d threshold_mib=%d below_ms=%s "+
		"window_s=%.1f rss_end_kb=%d rss_min_kb=%d cpu_s=%.2f retained_end_kb=%d\n",
		ms(g1.Sub(g0)), rssBefore, rssAfterGC, thresholdMiB, below, windowS, rssEnd, rssMin, cpu3-cpu2, retained2/1024)
	fmt.Fprint(out, "MEMLIMITRSS ")
	for i := range sampleKB {
		if i > 0 {
			fmt.Fprint(out, ",")
		}
		fmt.Fprintf(out, "%d:%d", sampleMsv[i], sampleKB[i])
	}
	fmt.Fprintln(out)
	out.Flush()

	// 3. Free phase: the live set again, dropped, then the explicit release.
	f0 := time.Now()
	sum3 := buildLive(records)
	f1 := time.Now()
	damaged, check = checkLive()
	if damaged != 0 || check != sum3 {
		out.Flush()
		fmt.Fprintf(os.Stderr, "memlimit: free phase: %d of %d records damaged\n", damaged, records)
		os.Exit(1)
	}
	fmt.Fprintln(out, "memlimit check: rebuilt live data intact")
	dropLive()
	rssPre := rssNow()
	r0 := time.Now()
	debug.FreeOSMemory()
	r1 := time.Now()
	rssPost := rssNow()
	retained3 := retained()
	more := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		debug.FreeOSMemory()
		more = append(more, strconv.FormatUint(rssNow(), 10))
	}
	fmt.Fprintf(out, "memlimit (go): free: rebuild %.2f s, RSS %.1f MiB before debug.FreeOSMemory, "+
		"%.1f MiB after; the call took %.1f ms; retained %.1f MiB; RSS after 3 more calls: %s kB\n",
		f1.Sub(f0).Seconds(), float64(rssPre)/1024, float64(rssPost)/1024, ms(r1.Sub(r0)),
		float64(retained3)/1048576, strings.Join(more, ","))
	fmt.Fprintf(out, "MEMLIMIT phase=free rebuild_seconds=%.3f rss_before_kb=%d free_ms=%.3f "+
		"rss_after_kb=%d retained_after_kb=%d rss_after_more_kb=%s\n",
		f1.Sub(f0).Seconds(), rssPre, ms(r1.Sub(r0)), rssPost, retained3/1024, strings.Join(more, ","))
	benchReport(out)
}
