package linkemu

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"golang.org/x/sys/unix"

	"github.com/cloudpcap/cloudpcap/lab/results"
)

// Default precision settings.
const (
	DefaultSpinWindow = 200 * time.Microsecond
	DefaultLateAfter  = 50 * time.Microsecond
)

// Config says where an emulator runs and what link it emulates.
type Config struct {
	// Netns is the network namespace (a name under /var/run/netns) that
	// holds A and B; "" means the namespace of the thread calling Start.
	Netns string
	// A and B are the two interfaces the emulator forwards between. Frames
	// read on A leave on B with Link.AtoB, and the reverse.
	A, B string
	Link Link
	// SpinWindow is how long before a due time the release thread stops
	// sleeping and busy-waits (DefaultSpinWindow when 0). Larger windows
	// cost CPU and absorb more wake-up latency.
	SpinWindow time.Duration
	// LateAfter is the release error above which a frame counts as late
	// (DefaultLateAfter when 0).
	LateAfter time.Duration
	// RealtimePriority, when 1..99, runs the emulator's threads in
	// SCHED_FIFO at that priority (less error on a busy machine; the spin
	// then holds a core). 0 keeps normal scheduling.
	RealtimePriority int
	// KeepOffloads leaves GSO/GRO/TSO of A and B as they are; by default
	// Start switches them off (see DisableOffloads).
	KeepOffloads bool
}

// Emulator forwards frames between two interfaces with an impaired link in
// each direction. It runs four goroutines, each locked to its own OS thread
// and mostly blocked in ppoll: a receive and a release loop per direction.
// They need Ps of their own for precise timing, so a process running an
// emulator should have GOMAXPROCS of at least 4 more than its other work
// (lab-linkemu sets it).
type Emulator struct {
	cfg    Config
	start  time.Time
	ab, ba *direction
	stop   eventfd
	fds    []int

	stopping atomic.Bool
	wg       sync.WaitGroup
	done     chan struct{} // closed when every loop has returned
	stopOnce sync.Once
	errMu    sync.Mutex
	err      error
}

// Start opens the interfaces and starts forwarding. The caller must Stop the
// emulator to release its sockets and threads.
func Start(cfg Config) (*Emulator, error) {
	if cfg.A == "" || cfg.B == "" {
		return nil, errors.New("linkemu: both interfaces (A and B) are required")
	}
	if cfg.A == cfg.B {
		return nil, fmt.Errorf("linkemu: A and B are both %q", cfg.A)
	}
	if err := cfg.Link.Validate(); err != nil {
		return nil, err
	}
	if cfg.SpinWindow == 0 {
		cfg.SpinWindow = DefaultSpinWindow
	}
	if cfg.LateAfter == 0 {
		cfg.LateAfter = DefaultLateAfter
	}
	if cfg.SpinWindow < 0 || cfg.SpinWindow > 100*time.Millisecond {
		return nil, fmt.Errorf("linkemu: spin window %v outside [0, 100ms]", cfg.SpinWindow)
	}
	if cfg.LateAfter < 0 {
		return nil, fmt.Errorf("linkemu: late threshold %v is negative", cfg.LateAfter)
	}
	if cfg.RealtimePriority < 0 || cfg.RealtimePriority > 99 {
		return nil, fmt.Errorf("linkemu: realtime priority %d outside 0..99", cfg.RealtimePriority)
	}
	e := &Emulator{cfg: cfg, done: make(chan struct{})}
	socks, err := e.openSockets()
	if err != nil {
		e.closeFds()
		return nil, fmt.Errorf("linkemu: %w", err)
	}
	stop, err := newEventfd()
	if err != nil {
		e.closeFds()
		return nil, fmt.Errorf("linkemu: eventfd: %w", err)
	}
	e.stop = stop
	e.fds = append(e.fds, int(stop))
	if e.ab, err = newDirection("a2b", socks.rxA, socks.txB, cfg.Link.AtoB, streamAtoB, socks.mtu, &e.cfg); err == nil {
		e.fds = append(e.fds, int(e.ab.wake))
		if e.ba, err = newDirection("b2a", socks.rxB, socks.txA, cfg.Link.BtoA, streamBtoA, socks.mtu, &e.cfg); err == nil {
			e.fds = append(e.fds, int(e.ba.wake))
		}
	}
	if err != nil {
		e.closeFds()
		return nil, fmt.Errorf("linkemu: eventfd: %w", err)
	}
	e.ab.stopping, e.ba.stopping = &e.stopping, &e.stopping
	e.start = time.Now()
	for _, d := range []*direction{e.ab, e.ba} {
		for _, loop := range []func(eventfd) error{d.receiveLoop, d.releaseLoop} {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				if err := loop(e.stop); err != nil {
					e.fail(fmt.Errorf("linkemu: %s: %w", d.name, err))
				}
			}()
		}
	}
	go func() {
		e.wg.Wait()
		close(e.done)
	}()
	return e, nil
}

// sockets are an emulator's AF_PACKET sockets, opened in its namespace.
type sockets struct {
	rxA, rxB *rxSock
	txA, txB *txSock
	mtu      int // the larger MTU of A and B, at least 1500
}

// openSockets opens the receive and send sockets of A and B inside
// cfg.Netns (they stay bound to it after the thread leaves) and records
// each descriptor in e.fds as it opens.
func (e *Emulator) openSockets() (s sockets, err error) {
	err = namespace.Run(e.cfg.Netns, func() error {
		ifA, err := net.InterfaceByName(e.cfg.A)
		if err != nil {
			return fmt.Errorf("interface A %q: %w", e.cfg.A, err)
		}
		ifB, err := net.InterfaceByName(e.cfg.B)
		if err != nil {
			return fmt.Errorf("interface B %q: %w", e.cfg.B, err)
		}
		s.mtu = max(ifA.MTU, ifB.MTU, 1500)
		if !e.cfg.KeepOffloads {
			for _, n := range []string{e.cfg.A, e.cfg.B} {
				if err := DisableOffloads(n); err != nil {
					return err
				}
			}
		}
		open := func(what string, f func() error) error {
			if err := f(); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		if err := open("A receive", func() (err error) { s.rxA, err = openRx(ifA.Index); return }); err != nil {
			return err
		}
		e.fds = append(e.fds, s.rxA.fd)
		if err := open("B receive", func() (err error) { s.rxB, err = openRx(ifB.Index); return }); err != nil {
			return err
		}
		e.fds = append(e.fds, s.rxB.fd)
		if err := open("A send", func() (err error) { s.txA, err = openTx(ifA.Index); return }); err != nil {
			return err
		}
		e.fds = append(e.fds, s.txA.fd)
		if err := open("B send", func() (err error) { s.txB, err = openTx(ifB.Index); return }); err != nil {
			return err
		}
		e.fds = append(e.fds, s.txB.fd)
		return nil
	})
	return s, err
}

// fail records the first loop error and stops the others.
func (e *Emulator) fail(err error) {
	e.errMu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.errMu.Unlock()
	e.stopping.Store(true)
	e.stop.signal()
}

// Done is closed when the emulator's loops have returned, after Stop or
// because one failed (an interface went away); Stop must still be called to
// close the sockets, and returns the error.
func (e *Emulator) Done() <-chan struct{} { return e.done }

// Stop stops forwarding, drops the frames still held, waits for the threads
// and closes the sockets. It returns the first loop error, if any; calling it
// again returns the same.
func (e *Emulator) Stop() error {
	e.stopOnce.Do(func() {
		e.stopping.Store(true)
		e.stop.signal()
		<-e.done
		e.closeFds()
	})
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.err
}

func (e *Emulator) closeFds() {
	for _, fd := range e.fds {
		unix.Close(fd)
	}
	e.fds = nil
}

// Stats returns a snapshot of the counters; it is safe to call at any time,
// also after Stop.
func (e *Emulator) Stats() results.EmulatorStats {
	s := results.EmulatorStats{
		AtoB: e.ab.c.snapshot(), BtoA: e.ba.c.snapshot(),
		A: e.cfg.A, B: e.cfg.B,
		UptimeNs:     int64(time.Since(e.start)),
		SpinWindowNs: int64(e.cfg.SpinWindow),
		LateAfterNs:  int64(e.cfg.LateAfter),
		Offloads:     "off",
	}
	if e.cfg.KeepOffloads {
		s.Offloads = "kept"
	}
	s.AtoB.Params = e.cfg.Link.AtoB.String()
	s.BtoA.Params = e.cfg.Link.BtoA.String()
	return s
}

// CommandArgs returns the arguments of "cloudpcap lab-linkemu" (after the
// subcommand name) that run an emulator with cfg in its own process, writing
// its stats to statsFile ("" for none). The lab starts that process and stops
// it with SIGTERM; SIGUSR1 makes it rewrite the stats file.
func CommandArgs(cfg Config, statsFile string) []string {
	args := []string{"--a", cfg.A, "--b", cfg.B, "--a2b", cfg.Link.AtoB.String(), "--b2a", cfg.Link.BtoA.String()}
	if cfg.Netns != "" {
		args = append(args, "--netns", cfg.Netns)
	}
	if statsFile != "" {
		args = append(args, "--stats", statsFile)
	}
	if cfg.SpinWindow != 0 {
		args = append(args, "--spin", cfg.SpinWindow.String())
	}
	if cfg.LateAfter != 0 {
		args = append(args, "--late", cfg.LateAfter.String())
	}
	if cfg.RealtimePriority != 0 {
		args = append(args, "--rt-priority", strconv.Itoa(cfg.RealtimePriority))
	}
	if cfg.KeepOffloads {
		args = append(args, "--keep-offloads")
	}
	return args
}
