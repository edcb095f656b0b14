package testkit

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// heapObjects is the runtime metric of the heap's objects, live and not yet
// swept: it reads without stopping the world.
const heapObjects = "/memory/classes/heap/objects:bytes"

// HeapNow returns the bytes of the heap's objects, after a garbage
// collection.
func HeapNow() uint64 {
	runtime.GC()
	return readHeap()
}

func readHeap() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// PeakHeap samples the bytes of the heap's objects every millisecond until
// the returned func is called, which returns the highest value seen.
func PeakHeap() (stop func() uint64) {
	var high uint64
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			high = max(high, readHeap())
			select {
			case <-tick.C:
			case <-done:
				return
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-ended
		return high
	}
}

// WaitGoroutines waits until there are no more goroutines than baseline, or
// for d, and returns how many more there are.
func WaitGoroutines(baseline int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine() - baseline
		if n <= 0 || time.Now().After(deadline) {
			return max(n, 0)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
