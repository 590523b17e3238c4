package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/supervisor"
	"github.com/cloudpcap/cloudpcap/lab/topology"
	"github.com/cloudpcap/cloudpcap/monitor/live"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// Seeds. Every random source of a repetition comes from the scenario's seed
// by one rule, seed + index×stride + repetition, where index is the host's
// position (a link: among the topology's hosts; a feed or an order API:
// among the exchanges) and each kind of source has its own stride, so that
// no two sources of a run share a seed and the same seed gives the same run.
const (
	linkSeedStride  = 1000
	feedSeedStride  = 7919
	orderSeedStride = 104729
)

// repetition is one repetition of a scenario in a lab network of its own
// (a new run ID). run takes its steps in order, each pushing its undo on
// one stack: topology → links → servers → capture → traders → measure,
// then stop (unwind the stack) → collect.
type repetition struct {
	sc   *scenario.Scenario
	o    Options
	mech mechanism
	dir  string // the repetition's folder (the run's when it does not repeat)
	n    int    // 1-based
	env  results.RepEnv
	undo undoStack

	topo    *topology.Topology
	procs   []*supervisor.Proc // every component, in start order
	traders []*supervisor.Proc
	mirrors []string // names of the mirror capture points
	mon     *live.Monitor
	results []live.Result // the monitor's, once stopped

	local, mirror *pipeline.Summary
}

// runRepetition runs repetition n of sc with its files in dir. The
// repetition it returns holds what was measured even when err is not nil.
func runRepetition(ctx context.Context, sc *scenario.Scenario, o Options, mech mechanism, dir string, n int) (*repetition, error) {
	r := &repetition{sc: sc, o: o, mech: mech, dir: dir, n: n,
		env: results.RepEnv{Repetition: n, RunID: topology.NewRunID(), Start: time.Now().UTC()}}
	steps := []func(context.Context) error{r.makeFolders, r.buildTopology, r.impairLinks, r.startServers, r.startCapture, r.startTraders, r.measure}
	var err error
	for _, step := range steps {
		if err = step(ctx); err != nil {
			break
		}
	}
	err = errors.Join(err, r.undo.unwind())
	return r, errors.Join(err, r.collect())
}

func (r *repetition) seed(stride, index int) int64 {
	return r.sc.Seed + int64(index)*int64(stride) + int64(r.n)
}

func (r *repetition) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Out, "[%s] "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
}

func (r *repetition) makeFolders(context.Context) error {
	for _, d := range []string{r.dir, filepath.Join(r.dir, results.LogsDir), filepath.Join(r.dir, results.AppDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(r.dir, results.KeysDir), 0o700)
}

// keyLog is the NSS key log a trader writes and the monitor tails.
func (r *repetition) keyLog(t scenario.Trader) string {
	return filepath.Join(r.dir, results.KeyLogFile(t.Name))
}

func (r *repetition) buildTopology(context.Context) error {
	r.logf("repetition %d: run ID %s: building the lab network", r.n, r.env.RunID)
	spec := topology.Spec{RunID: r.env.RunID}
	for _, e := range r.sc.Exchanges {
		spec.Hosts = append(spec.Hosts, topology.HostSpec{Kind: topology.Exchange, Name: e.Name, Impaired: r.mech.needsMiddle(e.Link)})
	}
	for _, t := range r.sc.Traders {
		spec.Hosts = append(spec.Hosts, topology.HostSpec{Kind: topology.Trader, Name: t.Name, Impaired: r.mech.needsMiddle(t.Link)})
	}
	if hasMode(r.sc, "mirror") {
		spec.Hosts = append(spec.Hosts, topology.HostSpec{Kind: topology.Monitor})
	}
	topo, err := topology.Build(spec)
	if err != nil {
		return err
	}
	r.topo = topo
	r.undo.push("the lab network", topo.Close)
	return nil
}

// linkOf is the scenario's link of a host; false for hosts without one
// (the monitor).
func (r *repetition) linkOf(h *topology.Host) (scenario.Link, bool) {
	switch h.Kind {
	case topology.Exchange:
		for _, e := range r.sc.Exchanges {
			if e.Name == h.Name {
				return e.Link, true
			}
		}
	case topology.Trader:
		for _, t := range r.sc.Traders {
			if t.Name == h.Name {
				return t.Link, true
			}
		}
	}
	return scenario.Link{}, false
}

func (r *repetition) impairLinks(ctx context.Context) error {
	for i, h := range r.topo.Hosts {
		l, ok := r.linkOf(h)
		if !ok {
			continue
		}
		p, err := r.mech.apply(ctx, applyArgs{o: r.o, topo: r.topo, host: h, link: l, seed: uint64(r.seed(linkSeedStride, i)), dir: r.dir, runID: r.env.RunID})
		if err != nil {
			return fmt.Errorf("link of %s: %w", h.NS, err)
		}
		if p != nil {
			r.supervise(p)
			r.env.Emulators = append(r.env.Emulators, results.EmulatorRef{Host: h.NS, Stats: results.LinkemuStatsFile(filepath.Base(h.NS))})
		}
	}
	return nil
}

// supervise records a started component and pushes its stop.
func (r *repetition) supervise(p *supervisor.Proc) {
	r.procs = append(r.procs, p)
	r.undo.push(p.Name(), func() error {
		_ = p.Stop(3 * time.Second) // how it ended was judged while it ran
		return nil
	})
}

// start starts one of our subcommands as a component in namespace ns.
func (r *repetition) start(name, ns string, args []string) (*supervisor.Proc, error) {
	p, err := supervisor.Start(supervisor.Spec{Name: name, NS: ns, Binary: r.o.Binary, Args: args,
		LogPath: filepath.Join(r.dir, results.LogFile(name)), RunID: r.env.RunID})
	if err != nil {
		return nil, err
	}
	r.supervise(p)
	return p, nil
}

// startServers starts each exchange's feed and order API, waits until they
// listen and until every trader's namespace reaches them.
func (r *repetition) startServers(ctx context.Context) error {
	for i, e := range r.sc.Exchanges {
		h := r.topo.Host(topology.Exchange, e.Name)
		feedAddr, orderAddr := fmt.Sprintf("%s:%d", h.Addr, FeedPort), fmt.Sprintf("%s:%d", h.Addr, OrderPort)
		fp, err := r.start("feed-"+e.Name, h.NS, append([]string{"feed", "--listen", feedAddr, "--format", e.Feed.Format,
			"--symbols", strings.Join(e.Feed.Symbols, ","), "--seed", strconv.FormatInt(r.seed(feedSeedStride, i), 10)}, feedFlags(e.Feed)...))
		if err != nil {
			return err
		}
		op, err := r.start("orderapi-"+e.Name, h.NS, append([]string{"orderapi", "--listen", orderAddr,
			"--seed", strconv.FormatInt(r.seed(orderSeedStride, i), 10)}, orderFlags(e.OrderAPI)...))
		if err != nil {
			return err
		}
		if err := fp.WaitReady(ctx, feedAddr, 15*time.Second); err != nil {
			return err
		}
		if err := op.WaitReady(ctx, orderAddr, 15*time.Second); err != nil {
			return err
		}
	}
	if err := checkReach(ctx, r.sc, r.topo); err != nil {
		return err
	}
	r.logf("exchanges up: %d, reachable from every trader", len(r.sc.Exchanges))
	return nil
}

func (r *repetition) startTraders(context.Context) error {
	for _, t := range r.sc.Traders {
		h := r.topo.Host(topology.Trader, t.Name)
		p, err := r.start("trader-"+t.Name, h.NS, r.traderArgs(t))
		if err != nil {
			return err
		}
		r.traders = append(r.traders, p)
	}
	r.logf("traders started: %d; measuring for %s (warmup %s)", len(r.traders), r.sc.Duration.D, r.sc.Warmup.D)
	return nil
}

// measure waits for the traders' --duration, watching for crashes, then
// until the capture has handed over the last frames already on the wire.
func (r *repetition) measure(ctx context.Context) error {
	if err := watch(ctx, r.o, r.sc, r.n, r.mon, r.procs, r.traders); err != nil {
		return err
	}
	r.mon.Drain(ctx, time.Second)
	return nil
}

// collect turns what the stopped monitor and emulators measured into the
// repetition's summaries and record.
func (r *repetition) collect() error {
	r.env.End = time.Now().UTC()
	var err error
	r.local, r.mirror, err = summaries(r.results, r.mirrors)
	for _, res := range r.results {
		r.env.Points = append(r.env.Points, results.PointEnv{Name: res.Name, Drops: res.Summary.Capture.Drops, Packets: res.Summary.Capture.Packets})
	}
	r.mech.collect(r.dir, &r.env)
	return err
}
