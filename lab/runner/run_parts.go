package runner

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/liveview"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/supervisor"
	"github.com/cloudpcap/cloudpcap/lab/topology"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/live"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"golang.org/x/sys/unix"
)

func hasMode(sc *scenario.Scenario, m string) bool {
	for _, x := range sc.Capture.Modes {
		if x == m {
			return true
		}
	}
	return false
}

func indexOf(topo *topology.Topology, h *topology.Host) int {
	i := 0
	for _, x := range topo.Hosts {
		if x == h {
			return i
		}
		if x.Kind == h.Kind {
			i++
		}
	}
	return -1
}

// frameSize is the capture's snap length: whole frames unless the scenario
// sets one (rounded up as TPACKET_V3 frames must be).
func frameSize(sc *scenario.Scenario) int {
	if sc.Capture.Snaplen.N > 0 {
		return roundFrame(int(sc.Capture.Snaplen.N))
	}
	return 1 << 17
}

// roundFrame rounds a snap length plus room for TPACKET's header up to a
// power of two, so that frames divide the ring's blocks.
func roundFrame(n int) int {
	f := 256
	for f < n+128 {
		f <<= 1
	}
	return f
}

func sortedParamKeys(m map[string]scenario.Value) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// feedFlags turns the scenario's feed section into `cloudpcap feed` flags.
func feedFlags(f scenario.Feed) []string {
	var a []string
	if f.Rate > 0 {
		a = append(a, "--rate", strconv.FormatFloat(f.Rate, 'g', -1, 64))
	}
	if f.Pattern != "" {
		a = append(a, "--pattern", f.Pattern)
	}
	if f.TLS != "" {
		a = append(a, "--tls", f.TLS)
	}
	if f.Cipher != "" {
		a = append(a, "--cipher", f.Cipher)
	}
	if f.Deflate {
		a = append(a, "--deflate")
	}
	if f.NoContextTakeover {
		a = append(a, "--deflate-no-context-takeover")
	}
	if f.Queue > 0 {
		a = append(a, "--queue", strconv.Itoa(f.Queue))
	}
	if f.SlowPolicy != "" {
		a = append(a, "--slow-policy", f.SlowPolicy)
	}
	if f.Replay != "" {
		a = append(a, "--replay", f.Replay)
	}
	if f.Speed > 0 {
		a = append(a, "--speed", strconv.FormatFloat(f.Speed, 'g', -1, 64))
	}
	return append(a, f.Extra...)
}

// orderFlags turns the scenario's orderapi section into `cloudpcap orderapi` flags.
func orderFlags(o scenario.OrderAPI) []string {
	var a []string
	if o.AckDelay != "" {
		a = append(a, "--ack-delay", o.AckDelay)
	}
	if o.RejectRate.F > 0 {
		a = append(a, "--reject-rate", strconv.FormatFloat(o.RejectRate.F, 'g', -1, 64))
	}
	if o.RateLimit > 0 {
		a = append(a, "--rate-limit", strconv.FormatFloat(o.RateLimit, 'g', -1, 64))
	}
	if o.TLS != "" {
		a = append(a, "--tls", o.TLS)
	}
	if o.Cipher != "" {
		a = append(a, "--cipher", o.Cipher)
	}
	return append(a, o.Extra...)
}

// streamName is the feed's stream for a symbol in a format (see package feed).
func streamName(format, sym string) string {
	switch format {
	case "binance":
		return strings.ToLower(sym) + "@trade"
	case "coinbase":
		return sym + "@ticker"
	}
	return strings.ToLower(sym) + "@tick"
}

// feedURL is the URL a trader subscribes to on an exchange's feed: every
// symbol's main stream by path, or the trader's own stream list.
func feedURL(sc *scenario.Scenario, topo *topology.Topology, exchange string, t scenario.Trader) string {
	var e scenario.Exchange
	for _, x := range sc.Exchanges {
		if x.Name == exchange {
			e = x
		}
	}
	streams := t.Streams
	if len(streams) == 0 {
		for _, s := range e.Feed.Symbols {
			streams = append(streams, streamName(e.Feed.Format, s))
		}
	}
	h := topo.Host(topology.Exchange, exchange)
	u := fmt.Sprintf("wss://%s:%d/ws/%s", h.Addr, FeedPort, strings.Join(streams, "/"))
	if e.Feed.Format == "binance" && e.Feed.TimeUnit != "ms" {
		u += "?timeUnit=MICROSECOND"
	}
	return u
}

// profileFor picks the monitor's profile: the exchanges' format when they
// all share one, else auto.
func profileFor(sc *scenario.Scenario) *profile.Profile {
	name := sc.Exchanges[0].Feed.Format
	for _, e := range sc.Exchanges[1:] {
		if e.Feed.Format != name {
			name = "auto"
		}
	}
	p, err := profile.ByName(name)
	if err != nil {
		p, _ = profile.ByName("auto")
	}
	return p
}

// labelsFor names groups by the scenario's exchange and trader names.
func labelsFor(sc *scenario.Scenario, topo *topology.Topology) correlate.Labels {
	ex := map[netip.Addr]string{}
	tr := map[netip.Addr]string{}
	for _, h := range topo.Hosts {
		switch h.Kind {
		case topology.Exchange:
			ex[h.Addr] = h.Name
		case topology.Trader:
			tr[h.Addr] = h.Name
		}
	}
	return correlate.Labels{
		Exchange: func(c stream.ConnKey) string { return ex[c.Server.Addr()] },
		Trader:   func(a netip.Addr) string { return tr[a] },
	}
}

// checkReach dials every exchange port a trader will use from the trader's
// namespace: it proves the links (and emulators) forward before measuring.
func checkReach(ctx context.Context, sc *scenario.Scenario, topo *topology.Topology) error {
	for _, t := range sc.Traders {
		h := topo.Host(topology.Trader, t.Name)
		targets := map[string]bool{}
		for _, fe := range t.Feeds {
			targets[fmt.Sprintf("%s:%d", topo.Host(topology.Exchange, fe).Addr, FeedPort)] = true
		}
		targets[fmt.Sprintf("%s:%d", topo.Host(topology.Exchange, t.Orders).Addr, OrderPort)] = true
		for addr := range targets {
			deadline := time.Now().Add(10 * time.Second)
			for {
				err := topology.InNS(h.NS, func() error {
					c, err := net.DialTimeout("tcp", addr, time.Second)
					if err == nil {
						c.Close()
					}
					return err
				})
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("trader %s cannot reach %s through the lab network: %v", t.Name, addr, err)
				}
				time.Sleep(20 * time.Millisecond) // polling connectivity with a deadline
			}
		}
	}
	return nil
}

// watch waits until every trader has finished its --duration, printing
// progress, and fails as soon as any component dies or ctx is cancelled.
func watch(ctx context.Context, o Options, sc *scenario.Scenario, rep int, mon *live.Monitor, procs, traders []*supervisor.Proc) error {
	died := make(chan *supervisor.Proc, len(procs))
	for _, p := range procs {
		go func(p *supervisor.Proc) {
			<-p.Done()
			died <- p
		}(p)
	}
	isTrader := map[*supervisor.Proc]bool{}
	for _, t := range traders {
		isTrader[t] = true
	}
	start := time.Now()
	limit := sc.Duration.D + 30*time.Second
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	left := len(traders)
	var last []live.PointSnapshot
	lastAt := start
	for left > 0 {
		select {
		case <-ctx.Done():
			if o.Progress {
				fmt.Fprintln(o.Out)
			}
			return ctx.Err()
		case p := <-died:
			if err := p.Err(); err != nil {
				if o.Progress {
					fmt.Fprintln(o.Out)
				}
				return err
			}
			if !isTrader[p] {
				return fmt.Errorf("%s exited during the run", p.Name())
			}
			left--
		case now := <-tick.C:
			snap := mon.Snapshot()
			s := liveview.Snapshot{Scenario: sc.Name, Repetition: rep, Elapsed: now.Sub(start), Left: max(0, sc.Duration.D-now.Sub(start)), Points: snap}
			if o.OnSnapshot != nil {
				o.OnSnapshot(s)
			}
			progress(o, s, last, now.Sub(lastAt))
			last, lastAt = snap, now
			if now.Sub(start) > limit {
				return fmt.Errorf("traders still running %s after the scenario's duration", limit-sc.Duration.D)
			}
		}
	}
	if o.Progress {
		fmt.Fprintln(o.Out)
	}
	return nil
}

func progress(o Options, s liveview.Snapshot, prev []live.PointSnapshot, dt time.Duration) {
	var ticks, orders, pticks, porders int64
	var feed, t2t [4]int64 // rolling: count, p50, p99, max of the last second
	for i, p := range s.Points {
		ticks += p.Counts.Ticks
		orders += p.Counts.Orders
		if i < len(prev) {
			pticks += prev[i].Counts.Ticks
			porders += prev[i].Counts.Orders
		}
		// The busiest local point speaks for the run (mirror points repeat it).
		if !strings.HasPrefix(p.Name, "mirror:") || feed[0] == 0 {
			if p.WinFeed[0] > feed[0] {
				feed = p.WinFeed
			}
			if p.WinT2T[0] > t2t[0] {
				t2t = p.WinT2T
			}
		}
	}
	sec := dt.Seconds()
	if sec <= 0 {
		sec = 1
	}
	line := fmt.Sprintf("rep %d  %3.0fs left  ticks/s %6.0f  orders/s %5.0f  feed p50/p99 %s/%s  t2t p50/p99 %s/%s",
		s.Repetition, s.Left.Seconds(), float64(ticks-pticks)/sec, float64(orders-porders)/sec, us(feed[1]), us(feed[2]), us(t2t[1]), us(t2t[2]))
	if o.Progress {
		fmt.Fprintf(o.Out, "\r%-110s", line)
	} else {
		fmt.Fprintln(o.Out, line)
	}
}

func us(ns int64) string { return strconv.FormatFloat(float64(ns)/1e3, 'f', 0, 64) + "us" }

func newEnv(sc *scenario.Scenario, mech mechanism, start time.Time) *results.Env {
	e := &results.Env{Scenario: sc.Name, GoVersion: runtime.Version(), Cores: runtime.NumCPU(), Mechanism: mech.Name(), Modes: sc.Capture.Modes, Start: start}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		e.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				e.Revision = s.Value
			}
		}
	}
	return e
}
