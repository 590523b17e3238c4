package linkemu

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// frame is one held frame: its bytes (virtio_net_hdr first) in a buffer
// owned by the direction's pool, its due time and arrival order.
type frame struct {
	due  int64
	seq  uint64
	wire int
	buf  []byte
}

// direction moves frames from one interface to the other: a receive loop
// admits them through the shaper into a heap ordered by due time, and a
// release loop on its own OS thread writes each at its due time.
type direction struct {
	name string
	rx   *rxSock
	tx   *txSock
	sh   *shaper
	c    *counters
	cfg  *Config

	mu    sync.Mutex
	heap  []*frame // min-heap on (due, seq)
	small []*frame // free frames with MTU-sized buffers
	large []*frame // free frames with maxFrame-sized buffers
	seq   uint64
	// sleepUntil is the time the release loop sleeps until (MaxInt64:
	// nothing held; 0: awake). The receive loop wakes it when a frame due
	// earlier arrives. Guarded by mu.
	sleepUntil int64
	// headDue is the heap's earliest due time, read by the release loop
	// while it spins.
	headDue atomic.Int64
	wake    eventfd
	// stopping is the emulator's stop flag, checked by both loops between
	// frames so a flood or a long queue cannot hold Stop up.
	stopping *atomic.Bool

	smallSize int
}

const maxLargeFree = 64

func newDirection(name string, rx *rxSock, tx *txSock, p Params, stream uint64, mtu int, cfg *Config) (*direction, error) {
	wake, err := newEventfd()
	if err != nil {
		return nil, err
	}
	d := &direction{
		name: name, rx: rx, tx: tx, sh: newShaper(p, stream), c: newCounters(), cfg: cfg,
		wake: wake, smallSize: vnetHdrLen + 14 + 8 + mtu, sleepUntil: math.MaxInt64,
		stopping: new(atomic.Bool),
	}
	d.headDue.Store(math.MaxInt64)
	limit := p.QueueLimit()
	d.heap = make([]*frame, 0, limit)
	prealloc := min(limit, 4096)
	d.small = make([]*frame, 0, limit)
	for range prealloc {
		d.small = append(d.small, &frame{buf: make([]byte, d.smallSize)})
	}
	d.large = make([]*frame, 0, maxLargeFree)
	return d, nil
}

// getFrame returns a free frame whose buffer holds n bytes; mu is held.
func (d *direction) getFrame(n int) *frame {
	if n <= d.smallSize {
		if k := len(d.small); k > 0 {
			f := d.small[k-1]
			d.small = d.small[:k-1]
			return f
		}
		return &frame{buf: make([]byte, d.smallSize)}
	}
	if k := len(d.large); k > 0 {
		f := d.large[k-1]
		d.large = d.large[:k-1]
		return f
	}
	return &frame{buf: make([]byte, maxFrame)}
}

// putFrame returns f to its free list; mu is held.
func (d *direction) putFrame(f *frame) {
	if cap(f.buf) == d.smallSize {
		d.small = append(d.small, f)
	} else if len(d.large) < maxLargeFree {
		d.large = append(d.large, f)
	}
}

func less(a, b *frame) bool { return a.due < b.due || a.due == b.due && a.seq < b.seq }

func (d *direction) push(f *frame) {
	h := append(d.heap, f)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	d.heap = h
	d.headDue.Store(h[0].due)
}

func (d *direction) pop() *frame {
	h := d.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = nil
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && less(h[r], h[l]) {
			m = r
		}
		if !less(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	d.heap = h
	if n > 0 {
		d.headDue.Store(h[0].due)
	} else {
		d.headDue.Store(math.MaxInt64)
	}
	return top
}

// receiveLoop reads frames until stop is signalled or the socket fails.
func (d *direction) receiveLoop(stop eventfd) error {
	// Never unlocked: the thread's scheduling policy and timer slack are
	// changed, so the runtime discards it when the loop returns.
	runtime.LockOSThread()
	// One above the release threads, so a spinning release thread cannot
	// keep frames from being received.
	if p := d.cfg.RealtimePriority; p > 0 {
		setThreadPriority(min(p+1, 99))
	}
	fds := []unix.PollFd{{Fd: int32(d.rx.fd), Events: unix.POLLIN}, {Fd: int32(stop), Events: unix.POLLIN}}
	for {
		mask, err := wait(fds, -1)
		if err != nil {
			return err
		}
		if mask&2 != 0 {
			return nil
		}
		for {
			n, ts, err := d.rx.recv()
			if err == unix.EAGAIN || err == unix.EINTR {
				break
			}
			if err != nil {
				return err
			}
			if n == 0 {
				continue // our own write, seen on the way out
			}
			d.admit(n, ts)
			if d.stopping.Load() {
				return nil
			}
		}
		// PACKET_STATISTICS counts since the last read: keep the sum.
		if drops := d.rx.kernelDrops(); drops != 0 {
			d.c.kernelDrops.Add(drops)
		}
	}
}

// admit runs one received frame (n bytes in rx.buf) through the shaper and
// queues it.
func (d *direction) admit(n int, ts int64) {
	d.c.received.Add(1)
	if n > len(d.rx.buf) || n <= vnetHdrLen {
		d.c.dropOversize.Add(1)
		return
	}
	now := time.Now().UnixNano()
	// A timestamp from the future, or older than a second, is not a
	// receive time on our clock (a delivery time set by a sender's pacing,
	// or a stepped clock): use the clock instead.
	if ts == 0 || ts > now+int64(time.Millisecond) || ts < now-int64(time.Second) {
		d.c.clockFallback.Add(1)
		ts = now
	}
	d.c.recordReceive(now - ts)
	wire, gso := wireLen(d.rx.buf[:n])
	if gso {
		d.c.gso.Add(1)
	}
	d.mu.Lock()
	due, v := d.sh.admit(ts, wire, len(d.heap))
	switch v {
	case dropLoss:
		d.mu.Unlock()
		d.c.dropLoss.Add(1)
		return
	case dropQueue:
		d.mu.Unlock()
		d.c.dropQueue.Add(1)
		return
	}
	f := d.getFrame(n)
	f.buf = f.buf[:cap(f.buf)]
	copy(f.buf, d.rx.buf[:n])
	f.buf = f.buf[:n]
	f.due, f.wire = due, wire
	d.seq++
	f.seq = d.seq
	d.push(f)
	wake := due < d.sleepUntil
	if wake {
		d.sleepUntil = 0
	}
	d.mu.Unlock()
	if wake {
		d.wake.signal()
	}
}

// releaseLoop writes each held frame at its due time: it sleeps (ppoll,
// timer slack 1 ns) until SpinWindow before the earliest due time and
// busy-waits the rest, on a locked OS thread.
func (d *direction) releaseLoop(stop eventfd) error {
	// Never unlocked: the thread's scheduling policy and timer slack are
	// changed, so the runtime discards it when the loop returns.
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	setThreadPriority(d.cfg.RealtimePriority)
	spin := int64(d.cfg.SpinWindow)
	late := int64(d.cfg.LateAfter)
	fds := []unix.PollFd{{Fd: int32(d.wake), Events: unix.POLLIN}, {Fd: int32(stop), Events: unix.POLLIN}}
	for !d.stopping.Load() {
		d.mu.Lock()
		head := d.headDue.Load()
		now := time.Now().UnixNano()
		if head-now > spin {
			sleep := time.Duration(-1)
			if head != math.MaxInt64 {
				sleep = time.Duration(head - spin - now)
			}
			d.sleepUntil = head - spin
			d.mu.Unlock()
			mask, err := wait(fds, sleep)
			if err != nil {
				return err
			}
			if mask&2 != 0 {
				return nil
			}
			if mask&1 != 0 {
				d.wake.drain()
			}
			d.mu.Lock()
			d.sleepUntil = 0
			d.mu.Unlock()
			continue
		}
		d.sleepUntil = 0
		d.mu.Unlock()
		for now < head && !d.stopping.Load() {
			now = time.Now().UnixNano()
			head = d.headDue.Load() // an earlier frame may arrive (Reorder)
		}
		d.mu.Lock()
		if len(d.heap) == 0 || d.heap[0].due > now {
			d.mu.Unlock()
			continue
		}
		f := d.pop()
		d.mu.Unlock()
		rel := time.Now().UnixNano()
		err := d.tx.send(f.buf)
		if err != nil {
			d.c.sendErr.Add(1)
		} else {
			d.c.forwarded.Add(1)
			d.c.bytes.Add(uint64(f.wire))
			e := rel - f.due
			d.c.recordError(e)
			if e > late {
				d.c.late.Add(1)
			}
		}
		d.mu.Lock()
		d.putFrame(f)
		d.mu.Unlock()
	}
	return nil
}

// setThreadPriority puts the calling thread in SCHED_FIFO at prio (1..99);
// 0 leaves it alone. Failure (no CAP_SYS_NICE) is ignored: the emulator
// still works, with more release error under load.
func setThreadPriority(prio int) {
	if prio <= 0 {
		return
	}
	_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}, 0)
}

// SetProcessRealtime puts every thread of the calling process in SCHED_FIFO
// at priority prio (1..99; use one below Config.RealtimePriority); threads
// the Go runtime starts later inherit it. It is for a process that does
// nothing but emulate (lab-linkemu): a locked goroutine that the runtime
// preempts (every 10 ms of running) is resumed by another runtime thread,
// and on a loaded machine a normal-priority one may wait milliseconds for a
// CPU. It needs CAP_SYS_NICE.
func SetProcessRealtime(prio int) error {
	if prio < 1 || prio > 99 {
		return fmt.Errorf("linkemu: realtime priority %d outside 1..99", prio)
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("linkemu: listing threads: %w", err)
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && err != unix.ESRCH {
			return fmt.Errorf("linkemu: SCHED_FIFO for thread %d: %w (needs CAP_SYS_NICE)", tid, err)
		}
	}
	return nil
}
