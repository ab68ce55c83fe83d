// go-scale N: Go's side of cogo-scale (runtime/demo/scale_main.cpp): parks N
// goroutines on channels (one per 1,000 goroutines, closed to wake them),
// prints the same JSON line and exits 0 only if all N finished.
//
//	cd loadtest/baselines/go-runtime
//	GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o /tmp/go-scale ./scale
//	GOMAXPROCS=2 /tmp/go-scale 1000000
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func statusKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			if len(fs) > 0 {
				v, _ := strconv.ParseInt(fs[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-scale N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: go-scale N")
		os.Exit(2)
	}
	groups := (n + 999) / 1000
	gates := make([]chan int, groups)
	for i := range gates {
		gates[i] = make(chan int)
	}
	var parked, finished sync.WaitGroup
	var count int64
	var mu sync.Mutex
	parked.Add(n)
	finished.Add(n)

	runtime.GC()
	rss0, pte0 := statusKiB("VmRSS"), statusKiB("VmPTE")
	t0 := time.Now()
	for i := 0; i < n; i++ {
		gate := gates[i/1000]
		go func() {
			parked.Done()
			<-gate
			mu.Lock()
			count++
			mu.Unlock()
			finished.Done()
		}()
	}
	parked.Wait()
	t1 := time.Now()
	time.Sleep(200 * time.Millisecond)
	rss1, pte1 := statusKiB("VmRSS"), statusKiB("VmPTE")

	t2 := time.Now()
	for _, g := range gates {
		close(g)
	}
	finished.Wait()
	t3 := time.Now()

	per := float64((rss1+pte1)-(rss0+pte0)) / float64(n)
	fmt.Printf("{\"goroutines\": %d, \"gomaxprocs\": %d, \"rss_kib\": %d, \"pte_kib\": %d, "+
		"\"kib_per_goroutine\": %.2f, \"spawn_ns_per_goroutine\": %.0f, \"wake_ns_per_goroutine\": %.0f}\n",
		n, runtime.GOMAXPROCS(0), rss1, pte1, per,
		float64(t1.Sub(t0).Nanoseconds())/float64(n), float64(t3.Sub(t2).Nanoseconds())/float64(n))
	if count != int64(n) {
		os.Exit(1)
	}
}
