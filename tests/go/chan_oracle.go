// chan_oracle.go - the Go side of test_chan's oracle subtest.
//
// A deterministic, single-threaded channel scenario: buffered channels filling
// up, len and cap, close then drain with ok flags, non-blocking sends and
// receives on full, empty, closed and nil channels, selects with a default
// where at most one case can proceed, zero values of several element types,
// and a pseudo-random walk of operations.  Each step prints one trace line;
// test_chan.c's oracle_c() does the same steps through tricolor's channels and
// the test compares the two traces line for line.  Keep the two in step.
package main

import "fmt"

type rec struct {
	A int
	B float64
	S [3]byte
	P *int
}

func trysend(c chan int, v int) bool {
	select {
	case c <- v:
		return true
	default:
		return false
	}
}

// v, ok, and whether a value (or a closed channel's zero) was received.
func tryrecv(c chan int) (int, bool, bool) {
	select {
	case v, ok := <-c:
		return v, ok, true
	default:
		return -1, false, false
	}
}

func trysendTr(name string, c chan int, v int) {
	ok := trysend(c, v)
	fmt.Printf("%s trysend %d %t len=%d\n", name, v, ok, len(c))
}

func tryrecvTr(name string, c chan int) {
	v, ok, got := tryrecv(c)
	fmt.Printf("%s tryrecv got=%t v=%d ok=%t len=%d\n", name, got, v, got && ok, len(c))
}

func recvTr(name string, c chan int) {
	v, ok := <-c
	fmt.Printf("%s recv v=%d ok=%t len=%d\n", name, v, ok, len(c))
}

func lencap(name string, c chan int) {
	fmt.Printf("%s len=%d cap=%d\n", name, len(c), cap(c))
}

func sel(step string, e, f, n chan int) {
	v, sv, chosen, ok := -1, 99, -1, false
	select {
	case v, ok = <-e:
		chosen = 0
	case f <- sv:
		chosen = 1
	case v, ok = <-n:
		chosen = 2
	case n <- sv:
		chosen = 3
	default:
	}
	fmt.Printf("select %s chosen=%d v=%d ok=%t lene=%d lenf=%d\n", step, chosen, v, ok, len(e), len(f))
}

func main() {
	b := make(chan int, 3)
	lencap("b", b)
	for i := 1; i <= 4; i++ {
		trysendTr("b", b, i*10)
	}
	tryrecvTr("b", b)
	trysendTr("b", b, 50)
	trysendTr("b", b, 60)
	for i := 0; i < 3; i++ {
		recvTr("b", b)
	}
	tryrecvTr("b", b)
	lencap("b", b)
	trysendTr("b", b, 70)
	trysendTr("b", b, 80)
	close(b)
	lencap("b", b)
	for i := 0; i < 4; i++ {
		recvTr("b", b)
	}
	tryrecvTr("b", b)
	tryrecvTr("b", b)
	lencap("b", b)

	u := make(chan int)
	lencap("u", u)
	trysendTr("u", u, 1)
	tryrecvTr("u", u)
	close(u)
	recvTr("u", u)
	tryrecvTr("u", u)
	lencap("u", u)

	var n chan int
	lencap("n", n)
	trysendTr("n", n, 1)
	tryrecvTr("n", n)

	e := make(chan int, 2)
	f := make(chan int, 1)
	f <- 5
	sel("none", e, f, n)
	e <- 7
	sel("e-ready", e, f, n)
	recvTr("f", f)
	sel("f-room", e, f, n)
	recvTr("f", f)
	sel("f-room-again", e, f, n)
	sel("none-again", e, f, n)
	close(e)
	sel("e-closed", e, f, n)
	sel("e-closed-again", e, f, n)

	rc := make(chan rec, 2)
	x := 3
	rc <- rec{1, 2.5, [3]byte{'a', 'b', 'c'}, &x}
	fmt.Printf("rec len=%d cap=%d\n", len(rc), cap(rc))
	close(rc)
	for i := 0; i < 2; i++ {
		r, ok := <-rc
		fmt.Printf("rec A=%d B=%g S=%d,%d,%d Pnil=%t ok=%t\n", r.A, r.B, r.S[0], r.S[1], r.S[2], r.P == nil, ok)
	}
	fc := make(chan float64, 1)
	close(fc)
	fv, fok := <-fc
	fmt.Printf("float v=%g ok=%t\n", fv, fok)
	pc := make(chan *int)
	close(pc)
	pv, pok := <-pc
	fmt.Printf("ptr nil=%t ok=%t\n", pv == nil, pok)

	s := make(chan struct{}, 2)
	for i := 0; i < 3; i++ {
		sent := false
		select {
		case s <- struct{}{}:
			sent = true
		default:
		}
		fmt.Printf("sig trysend %t len=%d cap=%d\n", sent, len(s), cap(s))
	}
	close(s)
	for i := 0; i < 3; i++ {
		_, ok := <-s
		fmt.Printf("sig recv ok=%t len=%d\n", ok, len(s))
	}

	g := make(chan int, 2)
	h := make(chan int, 1)
	for i := 0; i < 3; i++ {
		v, chosen := -1, -1
		select {
		case g <- 100 + i:
			chosen = 0
		case v = <-h:
			chosen = 1
		default:
		}
		fmt.Printf("mixed chosen=%d v=%d leng=%d lenh=%d\n", chosen, v, len(g), len(h))
	}
	h <- 8
	for i := 0; i < 2; i++ {
		v, chosen := -1, -1
		select {
		case g <- 200 + i:
			chosen = 0
		case v = <-h:
			chosen = 1
		default:
		}
		fmt.Printf("mixed2 chosen=%d v=%d leng=%d lenh=%d\n", chosen, v, len(g), len(h))
	}

	cu := make(chan int)
	close(cu)
	select {
	case v, ok := <-cu:
		fmt.Printf("closed-unbuf chosen=0 v=%d ok=%t\n", v, ok)
	case g <- 1:
		fmt.Printf("closed-unbuf chosen=1\n")
	}

	w := make(chan int, 5)
	var seed uint32 = 12345
	next := 0
	closed := false
	for i := 0; i < 300; i++ {
		seed = seed*1103515245 + 12345
		r := (seed >> 16) % 4
		if !closed && i >= 200 && len(w) >= 3 {
			close(w)
			closed = true
			fmt.Printf("walk close len=%d\n", len(w))
		}
		if r <= 1 && !closed {
			ok := trysend(w, next)
			fmt.Printf("walk %d trysend %d %t len=%d\n", i, next, ok, len(w))
			next++
		} else if r <= 2 {
			v, ok, got := tryrecv(w)
			fmt.Printf("walk %d tryrecv got=%t v=%d ok=%t len=%d\n", i, got, v, got && ok, len(w))
		} else if len(w) > 0 || closed {
			v, ok := <-w
			fmt.Printf("walk %d recv v=%d ok=%t len=%d\n", i, v, ok, len(w))
		} else {
			w <- next
			next++
			fmt.Printf("walk %d send len=%d\n", i, len(w))
		}
	}
	fmt.Println("end")
}
