//go:build ignore

// gcbench.go - the Go counterpart of ../gcbench.c: a GCBench-style program
// (after the shape of Boehm's GCBench, written anew).
//
//	go run gcbench.go common.go [rounds]     (default 10)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const (
	kStretchTreeDepth   = 18
	kLongLivedTreeDepth = 16
	kArraySize          = 500000
	kMinTreeDepth       = 4
	kMaxTreeDepth       = 16
)

type Node struct {
	left, right *Node
	i, j        int32
}

func treeSize(depth int) int { return (1 << uint(depth+1)) - 1 }

func numIters(depth int) int { return 2 * treeSize(kStretchTreeDepth) / treeSize(depth) }

// populate builds the children of n down to depth, top-down.
func populate(depth int, n *Node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &Node{}
	n.right = &Node{}
	populate(depth, n.left)
	populate(depth, n.right)
}

// makeTree builds a tree of the given depth, bottom-up.
func makeTree(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	l := makeTree(depth - 1)
	r := makeTree(depth - 1)
	return &Node{left: l, right: r}
}

func countNodes(n *Node) int {
	if n == nil {
		return 0
	}
	return 1 + countNodes(n.left) + countNodes(n.right)
}

var sink *Node // keeps the compiler from dropping the temporary trees

func timeConstruction(depth int) {
	iters := numIters(depth)
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		t := &Node{}
		populate(depth, t)
		sink = t
	}
	t1 := time.Now()
	for i := 0; i < iters; i++ {
		sink = makeTree(depth)
	}
	t2 := time.Now()
	sink = nil
	fmt.Printf("depth %2d: %6d trees top-down %6.0f ms, bottom-up %6.0f ms\n", depth, iters,
		float64(t1.Sub(t0).Microseconds())/1e3, float64(t2.Sub(t1).Microseconds())/1e3)
}

func main() {
	rounds := 10
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	if rounds < 1 {
		rounds = 1
	}
	fmt.Printf("GCBench (go): stretch depth %d, long-lived depth %d, array %d doubles, depths %d..%d, %d rounds\n",
		kStretchTreeDepth, kLongLivedTreeDepth, kArraySize, kMinTreeDepth, kMaxTreeDepth, rounds)

	sink = makeTree(kStretchTreeDepth)
	sink = nil

	longLived := &Node{}
	populate(kLongLivedTreeDepth, longLived)

	array := make([]float64, kArraySize)
	for i := range array {
		array[i] = 1.0 / float64(i+1)
	}

	for r := 0; r < rounds; r++ {
		for d := kMinTreeDepth; d <= kMaxTreeDepth; d += 2 {
			timeConstruction(d)
		}
	}

	n := countNodes(longLived)
	ok := n == treeSize(kLongLivedTreeDepth)
	for i := range array {
		if array[i] != 1.0/float64(i+1) {
			ok = false
		}
	}
	state := "intact"
	if !ok {
		state = "DAMAGED"
	}
	fmt.Printf("long-lived tree: %d nodes, array %s\n", n, state)
	if !ok {
		os.Exit(1)
	}
	runtime.KeepAlive(array)
	benchReport(os.Stdout)
}
