package linkemu

import (
	"encoding/binary"
	"math"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

const ms = int64(time.Millisecond)

func TestShaperDelayAndOrder(t *testing.T) {
	s := newShaper(Params{Delay: 2 * time.Millisecond}, streamAtoB)
	for i, rx := range []int64{0, 10, 10, 5000} {
		due, v := s.admit(rx, 100, 0)
		if v != forward || due != rx+2*ms {
			t.Fatalf("frame %d: due %d %v, want %d forward", i, due, v, rx+2*ms)
		}
	}
}

func TestShaperJitterWithoutReorderKeepsOrder(t *testing.T) {
	p := Params{Delay: time.Millisecond, Jitter: 900 * time.Microsecond, Seed: 5}
	s := newShaper(p, streamAtoB)
	var last int64
	lo, hi := int64(math.MaxInt64), int64(0)
	for i := range 10000 {
		rx := int64(i) * 10_000 // 10µs apart: jitter would reorder
		due, _ := s.admit(rx, 100, 0)
		if due < last {
			t.Fatalf("frame %d due %d before previous %d", i, due, last)
		}
		last = due
		lo, hi = min(lo, due-rx), max(hi, due-rx)
	}
	if lo < ms-900_000 {
		t.Errorf("delay %d below Delay-Jitter", lo)
	}
	if hi <= ms {
		t.Errorf("max delay %d: jitter never raised it", hi)
	}

	p.Reorder = true
	s = newShaper(p, streamAtoB)
	inversions := 0
	last = 0
	for i := range 10000 {
		due, _ := s.admit(int64(i)*10_000, 100, 0)
		if due < last {
			inversions++
		}
		last = due
		if d := due - int64(i)*10_000; d < ms-900_000 || d > ms+900_000 {
			t.Fatalf("uniform jitter delay %d outside Delay ± Jitter", d)
		}
	}
	if inversions == 0 {
		t.Error("Reorder with 900µs jitter at 10µs spacing reordered nothing")
	}
}

func TestShaperNormalJitterMoments(t *testing.T) {
	p := Params{Delay: 5 * time.Millisecond, Jitter: 200 * time.Microsecond, JitterDist: Normal, Reorder: true, Seed: 11}
	s := newShaper(p, streamBtoA)
	const n = 20000
	var sum, sq float64
	for i := range n {
		due, _ := s.admit(int64(i)*ms, 100, 0)
		d := float64(due - int64(i)*ms)
		sum += d
		sq += d * d
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean-5e6) > 5e3 || math.Abs(sd-200e3) > 8e3 {
		t.Fatalf("normal jitter: mean %.0f sd %.0f, want 5e6 and 2e5", mean, sd)
	}
}

func TestShaperRate(t *testing.T) {
	// 1000-byte frames at 8 Mbit/s take 1 ms each; a burst of 5 at t=0
	// leaves at 1, 2, 3, 4, 5 ms (+ 1 ms delay).
	s := newShaper(Params{Rate: 8e6, Delay: time.Millisecond, Queue: 3}, streamAtoB)
	for i := range 5 {
		due, v := s.admit(0, 1000, min(i, 2))
		if v != forward || due != int64(i+1)*ms+ms {
			t.Fatalf("frame %d: due %d %v, want %d", i, due, v, int64(i+1)*ms+ms)
		}
	}
	if _, v := s.admit(0, 1000, 3); v != dropQueue {
		t.Fatalf("frame to a full queue: %v, want dropQueue", v)
	}
	// After the queue drains, the serialiser starts from the arrival.
	due, _ := s.admit(100*ms, 1000, 0)
	if due != 100*ms+ms+ms {
		t.Fatalf("idle link: due %d, want %d", due, 102*ms)
	}
}

func TestShaperLossIsSeeded(t *testing.T) {
	run := func(seed uint64) (lost int, pattern uint64) {
		s := newShaper(Params{Loss: 0.25, Seed: seed}, streamAtoB)
		for i := range 10000 {
			if _, v := s.admit(int64(i), 100, 0); v == dropLoss {
				lost++
				if i < 64 {
					pattern |= 1 << i
				}
			}
		}
		return
	}
	l1, p1 := run(1)
	l2, p2 := run(1)
	l3, p3 := run(2)
	if l1 != l2 || p1 != p2 {
		t.Fatal("same seed, different losses")
	}
	if p1 == p3 {
		t.Fatal("different seeds, same loss pattern")
	}
	// Binomial(10000, 0.25): sd ≈ 43.
	if math.Abs(float64(l1)-2500) > 4*43 || math.Abs(float64(l3)-2500) > 4*43 {
		t.Fatalf("lost %d and %d of 10000, want 2500 ± 172", l1, l3)
	}
	// The directions of one seed draw different streams.
	a, b := newShaper(Params{Loss: 0.5, Seed: 1}, streamAtoB), newShaper(Params{Loss: 0.5, Seed: 1}, streamBtoA)
	same := 0
	for i := range 64 {
		_, va := a.admit(int64(i), 1, 0)
		_, vb := b.admit(int64(i), 1, 0)
		if va == vb {
			same++
		}
	}
	if same == 64 {
		t.Fatal("A→B and B→A drew the same losses")
	}
}

func TestShaperAdmitAllocs(t *testing.T) {
	s := newShaper(Params{Delay: time.Millisecond, Jitter: time.Microsecond, JitterDist: Normal, Loss: 0.1, Rate: 1e9}, streamAtoB)
	var rx int64
	if n := testing.AllocsPerRun(1000, func() { rx += 1000; s.admit(rx, 1500, 0) }); n != 0 {
		t.Fatalf("admit allocates %v times per frame", n)
	}
}

func TestWireLen(t *testing.T) {
	plain := make([]byte, vnetHdrLen+1514)
	if n, gso := wireLen(plain); n != 1514 || gso {
		t.Fatalf("plain frame: %d %v", n, gso)
	}
	// A TCPv4 GSO frame: 66 bytes of headers, 3 segments of 1448 bytes.
	super := make([]byte, vnetHdrLen+66+3*1448)
	super[1] = 1 // VIRTIO_NET_HDR_GSO_TCPV4
	binary.LittleEndian.PutUint16(super[2:], 66)
	binary.LittleEndian.PutUint16(super[4:], 1448)
	if n, gso := wireLen(super); n != 3*(66+1448) || !gso {
		t.Fatalf("GSO frame: %d %v, want %d true", n, gso, 3*(66+1448))
	}
	if n, _ := wireLen(make([]byte, 3)); n != 0 {
		t.Fatalf("runt: %d", n)
	}
}

func TestHeapOrder(t *testing.T) {
	d := &direction{}
	d.headDue.Store(math.MaxInt64)
	dues := []int64{50, 10, 30, 10, 70, 20, 60, 40}
	for i, due := range dues {
		d.push(&frame{due: due, seq: uint64(i)})
	}
	var got []int64
	var seqs []uint64
	for len(d.heap) > 0 {
		f := d.pop()
		got = append(got, f.due)
		seqs = append(seqs, f.seq)
	}
	want := []int64{10, 10, 20, 30, 40, 50, 60, 70}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pop order %v, want %v", got, want)
		}
	}
	if seqs[0] != 1 || seqs[1] != 3 {
		t.Fatalf("equal due times not in arrival order: %v", seqs)
	}
	if d.headDue.Load() != math.MaxInt64 {
		t.Fatal("empty heap does not reset headDue")
	}
}

// TestDirectionPoolAndAllocs runs frames of both sizes through admit, pop
// and putFrame (no sockets): buffers go back to the list of their size, and
// the steady state allocates nothing.
func TestDirectionPoolAndAllocs(t *testing.T) {
	cfg := &Config{}
	rx := &rxSock{buf: make([]byte, maxFrame)}
	d, err := newDirection("a2b", rx, nil, Params{Queue: 8}, streamAtoB, 1500, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unixClose(int(d.wake)) })
	cycle := func(n int) {
		d.admit(n, time.Now().UnixNano())
		d.mu.Lock()
		f := d.pop()
		if len(f.buf) != n {
			t.Fatalf("held frame of %d bytes, want %d", len(f.buf), n)
		}
		d.putFrame(f)
		d.mu.Unlock()
	}
	small := len(d.small)
	for _, n := range []int{100, 1500, 9000, 60000, 64, d.smallSize, d.smallSize + 1} {
		cycle(n)
	}
	if len(d.small) != small || len(d.large) != 1 {
		t.Fatalf("free lists: %d small (want %d), %d large (want 1)", len(d.small), small, len(d.large))
	}
	for _, f := range d.small {
		if cap(f.buf) != d.smallSize {
			t.Fatalf("a %d-byte buffer in the small list", cap(f.buf))
		}
	}
	if n := testing.AllocsPerRun(1000, func() { cycle(1000); cycle(20000) }); n != 0 {
		t.Fatalf("admit/release cycle allocates %v times", n)
	}
	st := d.c.snapshot()
	if st.DroppedOversize != 0 || st.Received == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func unixClose(fd int) { _ = syscall.Close(fd) }

// TestRxSockTimestamp parses SCM_TIMESTAMPNS from a control buffer laid out
// as the kernel does (after another cmsg), without allocating; recv and
// kernelDrops on a closed descriptor fail without allocating either.
func TestRxSockTimestamp(t *testing.T) {
	r := &rxSock{fd: -1, buf: make([]byte, 64)}
	put := func(off int, level, typ int32, data []byte) int {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&r.oob[off]))
		h.Len = uint64(syscall.SizeofCmsghdr + len(data))
		h.Level, h.Type = level, typ
		copy(r.oob[off+syscall.SizeofCmsghdr:], data)
		return off + (int(h.Len)+7)&^7
	}
	ts := syscall.NsecToTimespec(1_700_000_000_123_456_789)
	tsBytes := unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts))
	end := put(0, syscall.SOL_PACKET, 8 /* PACKET_AUXDATA */, make([]byte, 20))
	end = put(end, syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, tsBytes)
	r.msg.SetControllen(end)
	if got := r.timestamp(); got != 1_700_000_000_123_456_789 {
		t.Fatalf("timestamp %d", got)
	}
	r.msg.SetControllen(10) // truncated: no timestamp, no panic
	if got := r.timestamp(); got != 0 {
		t.Fatalf("truncated control data gave %d", got)
	}
	r.msg.SetControllen(end)
	if n := testing.AllocsPerRun(100, func() { r.timestamp(); r.recv(); r.kernelDrops() }); n != 0 {
		t.Fatalf("receive path allocates %v times", n)
	}
}
