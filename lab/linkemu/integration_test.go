package linkemu

import (
	"encoding/binary"
	"io"
	"math"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIntegrationEmulator builds a ⟷ emu ⟷ b, runs the emulator in-process
// in emu with a different link per subtest, and checks what a and b see
// against the link model.
func TestIntegrationEmulator(t *testing.T) {
	requireRoot(t)
	// The emulator's four locked threads need Ps of their own.
	old := runtime.GOMAXPROCS(runtime.NumCPU() + 6)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
	c := newChain(t)

	t.Run("Connectivity", func(t *testing.T) {
		e := c.startEmu(t, Link{})
		p := newPinger(t, c)
		if _, ok, err := p.ping(2 * time.Second); err != nil || !ok {
			logStats(t, e.Stats())
			t.Fatalf("ping a→b through the emulator: ok=%v err=%v", ok, err)
		}
		// TCP: connect from a to a listener in b and echo 64 KiB.
		lfd := socketIn(t, c.nB, unix.AF_INET, unix.SOCK_STREAM, 0)
		tcpEcho(t, c, lfd)
		st := e.Stats()
		logStats(t, st)
		if st.AtoB.Forwarded == 0 || st.BtoA.Forwarded == 0 {
			t.Errorf("nothing forwarded: %+v", st)
		}
		if st.AtoB.GSOFrames != 0 {
			t.Errorf("GSO frames arrived although offloads are off at a0: %d", st.AtoB.GSOFrames)
		}
	})

	t.Run("Delay", func(t *testing.T) {
		e := c.startEmu(t, Symmetric(Params{Delay: 2 * time.Millisecond}))
		rtts := pingN(t, newPinger(t, c), 200)
		p50 := percentile(rtts, 50)
		t.Logf("delay 2ms each way: RTT min %v p50 %v p90 %v p99 %v max %v", rtts[0], p50, percentile(rtts, 90), percentile(rtts, 99), rtts[len(rtts)-1])
		st := e.Stats()
		logStats(t, st)
		// 4 ms of emulated delay plus the path's own few µs; the
		// emulator never releases early.
		if rtts[0] < 4*time.Millisecond {
			t.Errorf("min RTT %v below the 4ms the link adds", rtts[0])
		}
		if p50 > 4*time.Millisecond+300*time.Microsecond {
			t.Errorf("p50 RTT %v, want within 4ms + 300µs", p50)
		}
	})
}

func logStats(t *testing.T, st Stats) {
	t.Helper()
	for _, d := range []struct {
		name string
		s    DirStats
	}{{"a2b", st.AtoB}, {"b2a", st.BtoA}} {
		e := d.s.ReleaseError
		t.Logf("%s [%s]: received %d forwarded %d lost %d queue-dropped %d late %d; release error p50 %v p90 %v p99 %v max %v (n=%d)",
			d.name, d.s.Params, d.s.Received, d.s.Forwarded, d.s.DroppedLoss, d.s.DroppedQueue, d.s.Late,
			time.Duration(e.P50Ns), time.Duration(e.P90Ns), time.Duration(e.P99Ns), time.Duration(e.MaxNs), e.Count)
	}
}

// pingN pings n times, one at a time, and returns the sorted RTTs.
func pingN(t *testing.T, p *pinger, n int) []time.Duration {
	t.Helper()
	rtts := make([]time.Duration, 0, n)
	for range n {
		rtt, ok, err := p.ping(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("ping %d lost on a link without loss", p.seq)
		}
		rtts = append(rtts, rtt)
	}
	slices.Sort(rtts)
	return rtts
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func meanSD(xs []time.Duration) (mean, sd float64) {
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)-1))
}

// tcpEcho listens on lfd (in b), connects from a, sends 64 KiB and checks
// that it comes back intact.
func tcpEcho(t *testing.T, c *chain, lfd int) {
	t.Helper()
	sa := &unix.SockaddrInet4{Port: 7}
	copy(sa.Addr[:], c.addrB)
	if err := unix.Bind(lfd, sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		nfd, _, err := unix.Accept(lfd)
		if err != nil {
			done <- err
			return
		}
		f := fileConn(nfd)
		defer f.Close()
		_, err = io.Copy(f, f)
		done <- err
	}()
	cfd := socketIn(t, c.nsA, unix.AF_INET, unix.SOCK_STREAM, 0)
	if err := unix.Connect(cfd, sa); err != nil {
		t.Fatalf("TCP connect a→b: %v", err)
	}
	conn := fileConn(cfd)
	msg := make([]byte, 64<<10)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go func() { conn.Write(msg); unix.Shutdown(cfd, unix.SHUT_WR) }()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("TCP read: %v", err)
	}
	if !slices.Equal(got, msg) {
		t.Fatalf("TCP echo: got %d bytes, want the %d sent", len(got), len(msg))
	}
	if err := <-done; err != nil {
		t.Fatalf("TCP echo server: %v", err)
	}
}

// fileConn wraps a connected stream socket fd for io (blocking reads and
// writes on the fd itself).
type fdConn int

func fileConn(fd int) fdConn { return fdConn(fd) }

func (f fdConn) Read(b []byte) (int, error) {
	n, err := unix.Read(int(f), b)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (f fdConn) Write(b []byte) (int, error) {
	total := 0
	for total < len(b) {
		n, err := unix.Write(int(f), b[total:])
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func (f fdConn) Close() error { return unix.Close(int(f)) }

var _ = binary.BigEndian
var _ = net.IPv4len
