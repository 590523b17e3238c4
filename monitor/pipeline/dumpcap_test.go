package pipeline_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
)

// needRoot skips (or, under CI=true, fails) a test that captures on lo.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("capturing on lo with dumpcap needs root")
		}
		t.Skip("capturing on lo with dumpcap needs root; run as root to include this test")
	}
	haveTool(t, "dumpcap", "tshark")
}

// liveCapture is a dumpcap capture on lo of some TCP ports, with a marker
// port whose connections tell when the capture has seen everything before.
type liveCapture struct {
	t       testing.TB
	path    string
	cmd     *exec.Cmd
	marker  net.Listener
	probes  int
	stopped bool
}

// startCapture starts dumpcap on lo for the ports and returns once it
// captures (a probe connection to the marker port is in the file).
func startCapture(t testing.TB, ports ...int) *liveCapture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	mport := ln.Addr().(*net.TCPAddr).Port
	var f []string
	for _, p := range append(ports, mport) {
		f = append(f, fmt.Sprintf("tcp port %d", p))
	}
	c := &liveCapture{t: t, path: filepath.Join(t.TempDir(), "cap.pcapng"), marker: ln}
	// -B 64: a 64 MiB kernel buffer. Loopback carries 64 KiB GSO frames, so
	// the default 2 MiB holds ~30 of them and a loaded CI machine dropped some.
	c.cmd = exec.Command("dumpcap", "-q", "-B", "64", "-i", "lo", "-f", strings.Join(f, " or "), "-w", c.path)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("dumpcap: %v", err)
	}
	t.Cleanup(func() {
		if !c.stopped {
			c.cmd.Process.Signal(syscall.SIGINT)
			c.cmd.Wait()
		}
	})
	msgs := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			msgs <- s.Text()
		}
		close(msgs)
	}()
	deadline := time.After(20 * time.Second)
	var lines []string
wait:
	for {
		select {
		case l, ok := <-msgs:
			if !ok {
				t.Fatalf("dumpcap exited: %s", strings.Join(lines, "; "))
			}
			lines = append(lines, l)
			if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Capturing on") {
				break wait
			}
		case <-deadline:
			t.Fatalf("dumpcap did not start in 20 s: %s", strings.Join(lines, "; "))
		}
	}
	go func() {
		for range msgs {
		}
	}()
	c.probe()
	return c
}

// probe connects to the marker port and polls the file until dumpcap has
// written that connection's SYN: everything captured before it is then in
// the file too.
func (c *liveCapture) probe() {
	c.t.Helper()
	c.probes++
	mport := uint16(c.marker.Addr().(*net.TCPAddr).Port)
	before := c.syns(mport)
	deadline := time.Now().Add(20 * time.Second)
	for poll := time.Millisecond; ; poll = min(2*poll, 100*time.Millisecond) {
		if conn, err := net.Dial("tcp", c.marker.Addr().String()); err == nil {
			conn.Close()
		}
		if c.syns(mport) > before {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("dumpcap wrote no probe %d in 20 s", c.probes)
		}
		time.Sleep(poll) // polling interval for a file another process writes
	}
}

// syns counts the SYNs to port in the file so far.
func (c *liveCapture) syns(port uint16) int {
	return c.count(func(p *capture.Packet) bool {
		return p.Dst.Port() == port && p.Flags.Has(capture.SYN) && !p.Flags.Has(capture.ACK)
	})
}

// sent counts the TCP segments with payload from port in the file so far.
func (c *liveCapture) sent(port uint16) int {
	return c.count(func(p *capture.Packet) bool { return p.Src.Port() == port && len(p.Payload) > 0 })
}

// waitSent polls until the file holds more than n segments with payload
// from port: what a process was told to send is on the wire.
func (c *liveCapture) waitSent(port uint16, n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for poll := time.Millisecond; c.sent(port) <= n; poll = min(2*poll, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			c.t.Fatalf("nothing more sent from port %d in 20 s", port)
		}
		time.Sleep(poll) // polling a file another process writes
	}
}

// count counts the TCP packets in the file so far for which match is
// true (a half-written last record ends the count, not the test).
func (c *liveCapture) count(match func(*capture.Packet) bool) int {
	f, err := capture.Open(c.path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var p capture.Packet
	n := 0
	for {
		err := f.ReadInto(&p)
		if err != nil {
			return n // io.EOF, or a record dumpcap has not finished writing
		}
		if p.Proto == capture.ProtoTCP && match(&p) {
			n++
		}
	}
}

// stop waits until everything sent so far is in the file, then stops
// dumpcap with SIGINT and waits for it to close the file.
func (c *liveCapture) stop() string {
	c.t.Helper()
	c.probe()
	c.stopped = true
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Fatalf("dumpcap: %v", err)
		}
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		c.t.Fatal("dumpcap did not stop in 20 s after SIGINT")
	}
	return c.path
}
