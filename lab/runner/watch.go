package runner

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
	"github.com/cloudpcap/cloudpcap/lab/liveview"
	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/supervisor"
	"github.com/cloudpcap/cloudpcap/lab/topology"
	"github.com/cloudpcap/cloudpcap/monitor/live"
)

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
				err := namespace.Run(h.NS, func() error {
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
		s.Repetition, s.Left.Seconds(), float64(ticks-pticks)/sec, float64(orders-porders)/sec, units.FormatMicros(feed[1]), units.FormatMicros(feed[2]), units.FormatMicros(t2t[1]), units.FormatMicros(t2t[2]))
	if o.Progress {
		fmt.Fprintf(o.Out, "\r%-110s", line)
	} else {
		fmt.Fprintln(o.Out, line)
	}
}
