package schedstat

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestSince: more busy threads than CPUs must wait for one.
func TestSince(t *testing.T) {
	w0, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	n := 2 * runtime.NumCPU()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { // with GOMAXPROCS n, each on a thread of its own
			for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
			}
		})
	}
	wg.Wait()
	w1, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	waited := w1.Since(w0)
	t.Logf("%d threads busy for 200 ms on %d CPUs waited %v", n, runtime.NumCPU(), waited)
	// n threads busy for 200 ms on n/2 CPUs wait about n × 100 ms
	// together; a tenth of one thread's share is a safe floor.
	if waited < 10*time.Millisecond {
		t.Errorf("run-queue wait grew by %v, want at least 10 ms", waited)
	}
}

// TestSinceCounts: growth of threads alive at both ends, all of a new
// thread's wait (also under a reused id), nothing of an exited one.
func TestSinceCounts(t *testing.T) {
	prev := Waits{1: 5, 2: 7, 3: 9, 5: 40}
	now := Waits{1: 8, 2: 7, 4: 11, 3: 2} // 5 exited; 3 exited and its id was reused
	if got, want := now.Since(prev), time.Duration(3+0+11+2); got != want {
		t.Errorf("Since = %v, want %v", got, want)
	}
}
