// go-idle: Go's side of BM_IdleRuntime (bench/runtime_bench.cpp): 1,000
// goroutines parked on a channel, nothing to do for 5 s; prints the process's
// CPU time over that window as a percentage of one core (getrusage).
//
//	cd loadtest/baselines/go-runtime
//	GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o /tmp/go-idle ./idle
//	GOMAXPROCS=2 /tmp/go-idle
package main

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

func main() {
	const parked = 1000
	gate := make(chan int)
	var wg sync.WaitGroup
	wg.Add(parked)
	for i := 0; i < parked; i++ {
		go func() {
			<-gate
			wg.Done()
		}()
	}
	time.Sleep(100 * time.Millisecond)
	c0, t0 := cpuSeconds(), time.Now()
	time.Sleep(5 * time.Second)
	cpu, wall := cpuSeconds()-c0, time.Since(t0).Seconds()
	close(gate)
	wg.Wait()
	fmt.Printf("{\"gomaxprocs\": %d, \"cpu_ms\": %.3f, \"cpu_pct_of_core\": %.3f}\n",
		runtime.GOMAXPROCS(0), cpu*1000, 100*cpu/wall)
}
