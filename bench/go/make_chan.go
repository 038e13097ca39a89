//go:build ignore

// make_chan.go - the Go counterpart of ../make_chan.c: unbuffered ping-pong
// between two goroutines (ns per round trip), and a capacity-128 channel from
// one producer to one consumer and from 4 producers to 4 consumers (ns per
// element); int64 values, the default GOMAXPROCS.
//
//	go run make_chan.go common.go [roundtrips [elements [mpmc_elements]]]   (defaults 100000 10000000 4000000)
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const (
	chanCap = 128
	warm    = 1000
	nProd   = 4
	nCons   = 4
)

func opLine(name string, t time.Duration, ops int) {
	fmt.Printf("OP name=%s ns=%.3f ops=%d\n", name, float64(t.Nanoseconds())/float64(ops), ops)
}

func pingpong(n int) {
	ping, pong := make(chan int64), make(chan int64)
	done := make(chan struct{})
	go func() {
		for i := 0; i < n+warm; i++ {
			v := <-ping
			pong <- v + 1
		}
		close(done)
	}()
	var sum int64
	for i := 0; i < warm; i++ {
		ping <- int64(i)
		sum += <-pong
	}
	sum = 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- int64(i)
		sum += <-pong
	}
	t := time.Since(t0)
	<-done
	opLine("pingpong_unbuffered", t, n)
	fmt.Printf("make_chan: pingpong n=%d sum=%d\n", n, sum)
}

func consume(c chan int64) (sum, count int64) {
	for {
		v, ok := <-c
		if !ok {
			return
		}
		sum += v
		count++
	}
}

func produce(c chan int64, first, n int64) {
	for i := int64(0); i < n; i++ {
		c <- first + i
	}
}

func buffered1p1c(n int) {
	c := make(chan int64, chanCap)
	t0 := time.Now()
	go func() {
		produce(c, 0, int64(n))
		close(c)
	}()
	sum, count := consume(c)
	t := time.Since(t0)
	opLine("buffered_1p1c", t, n)
	fmt.Printf("make_chan: 1p1c n=%d sum=%d count=%d\n", n, sum, count)
}

func bufferedMPMC(n int) {
	c := make(chan int64, chanCap)
	each := int64(n / nProd)
	var sums, counts [nCons]int64
	var wp, wc sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < nCons; i++ {
		wc.Add(1)
		go func(i int) {
			sums[i], counts[i] = consume(c)
			wc.Done()
		}(i)
	}
	for i := 0; i < nProd; i++ {
		wp.Add(1)
		go func(i int) {
			produce(c, int64(i)*each, each)
			wp.Done()
		}(i)
	}
	wp.Wait()
	close(c)
	wc.Wait()
	t := time.Since(t0)
	var sum, count int64
	for i := 0; i < nCons; i++ {
		sum += sums[i]
		count += counts[i]
	}
	opLine("buffered_4p4c", t, int(each*nProd))
	fmt.Printf("make_chan: 4p4c n=%d sum=%d count=%d\n", each*nProd, sum, count)
}

func main() {
	rt := int(argInt(1, 100000))
	n := int(argInt(2, 10000000))
	mpmc := int(argInt(3, 4000000))
	if rt < 1 {
		rt = 1
	}
	if n < 1 {
		n = 1
	}
	if mpmc < nProd {
		mpmc = nProd
	}
	pingpong(rt)
	buffered1p1c(n)
	bufferedMPMC(mpmc)
	benchReport(os.Stdout)
}
