// Package live runs the monitor on live captures: one analysis pipeline per
// capture point (the trader's interface, a mirror session), the trader's
// growing key log tailed into a shared key store (records that arrive before
// their key wait and are decrypted when it appears), every frame recorded to
// a pcapng file with the key log embedded, and summaries at the end.
//
// Each point is read by its own goroutine; a point's pipeline is touched
// only under that point's lock, so Snapshot may be called from any
// goroutine while the capture runs.
package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// Point is one capture point.
type Point struct {
	Name   string        // "local:t1", "mirror"
	Source *capture.Live // opened by the caller (in the namespace it captures)
	Iface  int           // interface index in the pcapng Writer
	Events io.Writer     // events.jsonl of this point; nil for none
}

// Config sets up a Monitor.
type Config struct {
	Points   []Point
	KeyLogs  []string        // NSS key log files to tail (they may not exist yet)
	Writer   *capture.Writer // record every frame here (optional)
	Pipeline pipeline.Config // template for each point (Keys and Events are set per point)
	// KeyPoll is how often the key logs are read (default 5 ms).
	KeyPoll time.Duration
}

type point struct {
	Point
	mu          sync.Mutex
	pl          *pipeline.Pipeline
	ev          *event.Writer
	flushEvents bool
	err         error
	gen         uint64
	empty       atomic.Uint64 // reads that found the capture empty
	ended       atomic.Bool   // the reader returned (end of capture or error)
}

// Monitor is a running live analysis.
type Monitor struct {
	cfg    Config
	keys   *keyring.Store
	points []*point
	wg     sync.WaitGroup
	cancel context.CancelFunc
	kerr   error
	kwg    sync.WaitGroup
}

// Start begins capturing and analysing.
func Start(ctx context.Context, cfg Config) (*Monitor, error) {
	if len(cfg.Points) == 0 {
		return nil, errors.New("live: no capture point")
	}
	if cfg.KeyPoll == 0 {
		cfg.KeyPoll = 5 * time.Millisecond
	}
	m := &Monitor{cfg: cfg, keys: keyring.NewStore()}
	// Points that write to the same file share one sink, which writes whole
	// lines under its lock (separate buffers on one file interleaved
	// mid-line whenever two traders' points flushed).
	sinks := map[io.Writer]*event.Writer{}
	for _, p := range cfg.Points {
		pc := cfg.Pipeline
		pc.Keys = m.keys
		pt := &point{Point: p}
		if p.Events != nil {
			if sinks[p.Events] == nil {
				sinks[p.Events] = event.NewWriter(p.Events, pc.Payloads)
				pt.flushEvents = true // the first point of a sink flushes it at Stop
			}
			pt.ev = sinks[p.Events]
			pc.Events = pt.ev
		}
		pl, err := pipeline.New(pc)
		if err != nil {
			return nil, err
		}
		pt.pl = pl
		m.points = append(m.points, pt)
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.kwg.Add(1)
	go m.followKeys(ctx)
	for _, pt := range m.points {
		m.wg.Add(1)
		go m.read(pt)
	}
	return m, nil
}

// followKeys loads new key log lines into the store and the pcapng file.
func (m *Monitor) followKeys(ctx context.Context) {
	defer m.kwg.Done()
	type file struct {
		path string
		tail *keyring.Tail
		off  int64
	}
	var files []*file
	for _, p := range m.cfg.KeyLogs {
		files = append(files, &file{path: p, tail: keyring.NewTail(p, m.keys)})
	}
	var all []byte // every complete line of every key log, for the pcapng file
	poll := func() {
		for _, f := range files {
			if _, _, err := f.tail.Poll(); err != nil && m.kerr == nil {
				m.kerr = fmt.Errorf("live: key log %s: %w", f.path, err)
			}
			if m.cfg.Writer == nil {
				continue
			}
			b, err := os.ReadFile(f.path)
			if err != nil || int64(len(b)) <= f.off {
				continue
			}
			add := b[f.off:]
			end := len(add)
			for end > 0 && add[end-1] != '\n' {
				end--
			}
			all = append(all, add[:end]...)
			f.off += int64(end)
		}
		if m.cfg.Writer != nil && len(all) > 0 {
			_ = m.cfg.Writer.WriteKeyLog(all)
		}
	}
	t := time.NewTicker(m.cfg.KeyPoll)
	defer t.Stop()
	for {
		poll()
		select {
		case <-ctx.Done():
			poll()
			return
		case <-t.C:
		}
	}
}

func (m *Monitor) read(pt *point) {
	defer m.wg.Done()
	defer pt.ended.Store(true)
	defer func() {
		// A decoder bug must not take the lab down without its teardown:
		// the point ends, marked, and the run is kept as partial.
		if v := recover(); v != nil {
			pt.mu.TryLock() // held when the panic came from inside the pipeline
			pt.err = fmt.Errorf("live: %s: internal error while decoding: %v", pt.Name, v)
			pt.mu.Unlock()
		}
	}()
	var pkt capture.Packet
	for {
		err := pt.Source.ReadInto(&pkt)
		if err == capture.ErrNoPacket {
			pt.empty.Add(1)
			pt.mu.Lock()
			if g := m.keys.Generation(); g != pt.gen {
				pt.gen = g
				pt.pl.KeysChanged()
			}
			// Kernel timestamps are wall-clock time: a quiet capture still
			// skips acknowledged holes and closes idle connections.
			pt.pl.FlushIdle(time.Now().UnixNano())
			pt.mu.Unlock()
			continue
		}
		if err != nil {
			if err != io.EOF {
				pt.mu.Lock()
				pt.err = err
				pt.mu.Unlock()
			}
			return
		}
		if w := m.cfg.Writer; w != nil {
			if werr := w.WritePacket(pt.Iface, pkt.TS, pkt.Data, pkt.OrigLen); werr != nil && pt.err == nil {
				pt.mu.Lock()
				pt.err = fmt.Errorf("live: recording %s: %w", pt.Name, werr)
				pt.mu.Unlock()
			}
		}
		pt.mu.Lock()
		if g := m.keys.Generation(); g != pt.gen {
			pt.gen = g
			pt.pl.KeysChanged()
		}
		pt.pl.Packet(&pkt)
		pt.mu.Unlock()
	}
}

// PointSnapshot is a point's state while the capture runs.
type PointSnapshot struct {
	Name   string           `json:"name"`
	Drops  uint64           `json:"kernel_drops"`
	Counts correlate.Counts `json:"counts"`
	// Cumulative p50 and p99 in ns since the start.
	Feed [2]int64 `json:"feed"`
	T2T  [2]int64 `json:"t2t"`
	Ack  [2]int64 `json:"ack"`
	// Window: samples since the previous Snapshot: count, p50, p99, max.
	WinFeed [4]int64 `json:"win_feed"`
	WinT2T  [4]int64 `json:"win_t2t"`
	WinAck  [4]int64 `json:"win_ack"`
}

// Snapshot returns every point's counts and percentiles, cumulative and
// over the window since the previous Snapshot (call it from one goroutine
// at a steady interval for rolling percentiles).
func (m *Monitor) Snapshot() []PointSnapshot {
	out := make([]PointSnapshot, 0, len(m.points))
	for _, pt := range m.points {
		pt.mu.Lock()
		c := pt.pl.Correlator()
		tot := c.Total()
		q := func(h *latency.Histogram) [2]int64 { return [2]int64{h.Quantile(0.5), h.Quantile(0.99)} }
		s := PointSnapshot{Name: pt.Name, Counts: c.Counts(), Feed: q(tot.Feed), T2T: q(tot.T2T), Ack: q(tot.Ack)}
		win := c.TakeWindow()
		pt.mu.Unlock()
		w := func(h *latency.Histogram) [4]int64 {
			if h.Count() == 0 {
				return [4]int64{}
			}
			return [4]int64{h.Count(), h.Quantile(0.5), h.Quantile(0.99), h.Quantile(1)}
		}
		s.WinFeed, s.WinT2T, s.WinAck = w(win.Feed), w(win.T2T), w(win.Ack)
		s.Drops = pt.Source.Drops()
		out = append(out, s)
	}
	return out
}

// Drain waits until the kernel has handed over every frame already
// captured: until each point's reader has twice found its capture empty
// since the call (the second wait starts after the call and outlasts the
// capture's block timeout), or max has passed, or ctx ends. Call it when the
// traffic has stopped, before Stop; it reports whether every point drained.
func (m *Monitor) Drain(ctx context.Context, max time.Duration) bool {
	start := make([]uint64, len(m.points))
	for i, pt := range m.points {
		start[i] = pt.empty.Load()
	}
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		drained := true
		for i, pt := range m.points {
			if pt.empty.Load() < start[i]+2 && !pt.ended.Load() {
				drained = false
			}
		}
		if drained {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
}

// Result is one point's outcome.
type Result struct {
	Name    string
	Summary *pipeline.Summary
	Err     error // the capture failed part-way (the summary is partial)
}

// Stop closes the captures, finishes the analyses and returns one summary
// per point, in the order of Config.Points.
func (m *Monitor) Stop() ([]Result, error) {
	for _, pt := range m.points {
		pt.Source.Close()
	}
	m.wg.Wait()
	m.cancel()
	m.kwg.Wait()
	var out []Result
	var errs []error
	for _, pt := range m.points {
		pt.pl.Finish()
		st := pt.Source.Stats()
		sum, err := pt.pl.Summary(st, []string{pt.Name}, pt.Source.Warnings())
		if err != nil {
			return nil, err
		}
		if pt.err != nil {
			sum.Partial, sum.Reason = true, pt.err.Error()
		}
		if pt.ev != nil && pt.flushEvents {
			if err := pt.ev.Flush(); err != nil {
				errs = append(errs, fmt.Errorf("live: events of %s: %w", pt.Name, err))
			}
		}
		if err := pt.pl.Err(); err != nil {
			errs = append(errs, fmt.Errorf("live: events of %s: %w", pt.Name, err))
		}
		out = append(out, Result{Name: pt.Name, Summary: sum, Err: pt.err})
	}
	if m.kerr != nil {
		errs = append(errs, m.kerr)
	}
	return out, errors.Join(errs...)
}

// Keys returns the key store (its Stats say how many secrets were loaded).
func (m *Monitor) Keys() *keyring.Store { return m.keys }
