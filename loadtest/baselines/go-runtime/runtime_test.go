// Go's runtime figures beside bench/runtime_bench.cpp: the same shapes, so the
// ratios in bench/RESULTS.md compare like with like.
//
//	cd loadtest/baselines/go-runtime
//	GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
//	  go test -run '^$' -bench . -cpu 1,2 -count 3 -benchtime 2s
//
// -cpu sets GOMAXPROCS per run (the "-N" suffix of each benchmark name).
// ns/op is per goroutine (Spawn), per round trip (PingPong), per lock
// acquisition (Mutex*).
package goruntime

import (
	"runtime"
	"sync"
	"testing"
)

const spawnBatch = 1000

// BenchmarkSpawnWaitGroup: `go f()` + wg.Done(), in batches of 1,000 waited
// for with wg.Wait() (cogo: BM_GoroutineSpawn/batch:1000).
func BenchmarkSpawnWaitGroup(b *testing.B) {
	var wg sync.WaitGroup
	for done := 0; done < b.N; done += spawnBatch {
		n := spawnBatch
		if b.N-done < n {
			n = b.N - done
		}
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
}

// BenchmarkChanPingPong: one op = a send on ping received by the partner and
// its reply on pong received back, unbuffered (cogo: BM_ChanPingPong).
func BenchmarkChanPingPong(b *testing.B) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ping <- v
		v = <-pong
	}
	b.StopTimer()
	close(ping)
	<-pong
}

const locksPerWorker = 10000

func mutexContended(b *testing.B, workers int) {
	var mu sync.Mutex
	counter := 0
	var wg sync.WaitGroup
	per := b.N/workers + 1
	b.ResetTimer()
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
}

// BenchmarkMutexContended4: 4 goroutines taking one sync.Mutex around a tiny
// critical section (cogo: BM_MutexContended/workers:4).
func BenchmarkMutexContended4(b *testing.B) { mutexContended(b, 4) }

// BenchmarkMutexContended2: the same with 2 goroutines.
func BenchmarkMutexContended2(b *testing.B) { mutexContended(b, 2) }

// BenchmarkMutexHandoff2: 2 goroutines each hold the lock across
// runtime.Gosched(), so each acquisition waits for the other's unlock
// (cogo: BM_MutexHandoff/workers:2).
func BenchmarkMutexHandoff2(b *testing.B) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	const workers = 2
	per := b.N/workers + 1
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < per; i++ {
				mu.Lock()
				runtime.Gosched()
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
}

// BenchmarkGosched: one runtime.Gosched() with one other runnable goroutine
// (cogo: BM_Yield).
func BenchmarkGosched(b *testing.B) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				close(done)
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.Gosched()
	}
	b.StopTimer()
	close(stop)
	<-done
}
