// Package schedstat reads how long the kernel has kept this process's
// threads runnable but off a CPU: the run-queue wait of each thread in
// /proc/self/task/*/schedstat.
//
// Timing tests use it to tell the machine's lateness from the code's: on a
// loaded machine a runnable thread can wait hundreds of milliseconds for a
// CPU, and whatever it was about to do is that much late. A chain of events
// (a timer firing, the goroutine it wakes, the write that goroutine makes)
// is delayed by the kernel at most by the sum of its threads' run-queue
// waits over the interval, so a bound raised by the wait measured across the
// interval holds on a loaded machine and is unchanged on a quiet one.
//
// A thread that exits takes its wait with it: Since counts the threads that
// live at both ends of an interval and those started within it, not those
// that ended within it. Snapshots are plain maps owned by the caller; the
// package keeps no state.
package schedstat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Waits is a snapshot of the run-queue wait of each live thread of this
// process since the thread started, by thread id.
type Waits map[int]time.Duration

// Read takes a snapshot. It fails where the kernel has no schedstat
// (CONFIG_SCHED_INFO) or /proc is not mounted.
func Read() (Waits, error) {
	paths, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("schedstat: no /proc/self/task/*/schedstat (needs Linux with CONFIG_SCHED_INFO)")
	}
	w := make(Waits, len(paths))
	for _, p := range paths {
		tid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			return nil, fmt.Errorf("schedstat: %s: not a thread id", p)
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			continue // the thread has exited since the glob
		}
		if err != nil {
			return nil, fmt.Errorf("schedstat: %w", err)
		}
		// "<ns on CPU> <ns waiting on a run queue> <timeslices>"
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return nil, fmt.Errorf("schedstat: %s: %q is not schedstat", p, b)
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("schedstat: %s: %w", p, err)
		}
		w[tid] = time.Duration(ns)
	}
	return w, nil
}

// Since returns how long threads waited for a CPU between the snapshot
// prev and w (taken later): each thread's growth, all of the wait of a
// thread that started in between (or whose id was reused), nothing of one
// that exited.
func (w Waits) Since(prev Waits) time.Duration {
	var sum time.Duration
	for tid, now := range w {
		if before, ok := prev[tid]; ok && before <= now {
			sum += now - before
		} else {
			sum += now
		}
	}
	return sum
}
