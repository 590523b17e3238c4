// Package runner runs a scenario end to end: it builds the lab network,
// starts the exchanges (feed and order API), the monitor and the traders in
// their namespaces, measures for the scenario's duration (warmup excluded),
// stops everything in order, and writes the results folder (package
// lab/results names its files and owns their formats).
//
// Everything it creates carries the run ID and is removed on success,
// failure and Ctrl-C (ctx); a failed run keeps what it measured, marked
// partial.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/liveview"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/supervisor"
	"github.com/cloudpcap/cloudpcap/lab/topology"
	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/live"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// Ports the exchanges listen on inside their namespaces.
const (
	FeedPort  = 8443
	OrderPort = 9443
)

// Options control a run.
type Options struct {
	Binary   string   // the cloudpcap binary components run as (default: this executable)
	Results  string   // results root (default results.DefaultRoot)
	Sets     []string // --set overrides
	Out      io.Writer
	Progress bool             // redraw a progress line (a terminal); else plain log lines
	Checks   []scenario.Check // extra scenario validation (strategies, patterns)
	Version  string           // cloudpcap's version, recorded in env.json
	// OnSnapshot, when set, receives live monitor snapshots once a second.
	OnSnapshot func(liveview.Snapshot)
}

// Result is what a run produced.
type Result struct {
	Dir     string
	Summary *pipeline.Summary // local capture (or mirror when only mirroring)
	Mirror  *pipeline.Summary
	Env     *results.Env
}

// Run runs the scenario file at path.
func Run(ctx context.Context, path string, o Options) (*Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Results == "" {
		o.Results = results.DefaultRoot
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Binary = exe
	}
	f, err := scenario.Load(path)
	if err != nil {
		return nil, err
	}
	for _, s := range o.Sets {
		if err := f.Set(s); err != nil {
			return nil, err
		}
	}
	if err := f.Validate(o.Checks...); err != nil {
		return nil, err
	}
	sc := &f.Scenario
	if err := topology.CheckPrivileges(); err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	mech, err := chooseMechanism(sc)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}

	start := time.Now().UTC()
	dir := results.RunDir(o.Results, sc.Name, start)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	resolved, err := f.Resolved()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, results.ScenarioFile), resolved, 0o644); err != nil {
		return nil, err
	}
	env := newEnv(sc, mech, start)
	if o.Version != "" && env.Revision == "" {
		env.Revision = o.Version
	}
	res := &Result{Dir: dir, Env: env}
	fmt.Fprintf(o.Out, "run %s: %d repetition(s) of %s, link mechanism %s, results in %s\n", sc.Name, sc.Repeat, sc.Duration.D, mech.Name(), dir)

	var locals, mirrors []*pipeline.Summary
	var runErr error
	for r := 1; r <= sc.Repeat; r++ {
		repDir := dir
		if sc.Repeat > 1 {
			repDir = filepath.Join(dir, results.RepDir(r))
		}
		rep, err := runOnce(ctx, sc, o, mech, repDir, r)
		if rep != nil && sc.Repeat > 1 {
			if rep.local != nil {
				_ = results.WriteSummary(filepath.Join(repDir, results.SummaryFile), rep.local)
			}
			if rep.mirror != nil {
				_ = results.WriteSummary(filepath.Join(repDir, results.MirrorSummaryFile), rep.mirror)
			}
		}
		if rep != nil {
			env.Repetitions = append(env.Repetitions, rep.env)
			if rep.local != nil {
				locals = append(locals, rep.local)
			}
			if rep.mirror != nil {
				mirrors = append(mirrors, rep.mirror)
			}
		}
		if err != nil {
			runErr = fmt.Errorf("repetition %d: %w", r, err)
			break
		}
	}
	env.End = time.Now().UTC()
	env.Status = results.StatusOK
	if runErr != nil {
		env.Status = results.StatusFailed(runErr)
		if errors.Is(runErr, context.Canceled) {
			env.Status = results.StatusInterrupted
		}
	}
	res.Summary, err = combine(locals, runErr)
	if err != nil {
		return res, err
	}
	if len(mirrors) > 0 {
		if res.Mirror, err = combine(mirrors, runErr); err != nil {
			return res, err
		}
	}
	if res.Summary != nil {
		if err := results.WriteSummary(filepath.Join(dir, results.SummaryFile), res.Summary); err != nil {
			return res, err
		}
	}
	if res.Mirror != nil {
		if err := results.WriteSummary(filepath.Join(dir, results.MirrorSummaryFile), res.Mirror); err != nil {
			return res, err
		}
	}
	if err := results.WriteEnv(filepath.Join(dir, results.EnvFile), env); err != nil {
		return res, err
	}
	return res, runErr
}

// combine merges repetitions; with more than one, each is kept in
// "repetitions" too.
func combine(parts []*pipeline.Summary, runErr error) (*pipeline.Summary, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	var s *pipeline.Summary
	if len(parts) == 1 {
		s = parts[0]
	} else {
		var err error
		if s, err = pipeline.Merge(parts...); err != nil {
			return nil, err
		}
		for _, p := range parts {
			q := *p
			q.Connections = nil // kept in each rep-N folder's summary
			s.Repetitions = append(s.Repetitions, q)
		}
		s.Connections = nil
	}
	if runErr != nil {
		s.Partial = true
		if s.Reason == "" {
			s.Reason = runErr.Error()
		}
	}
	return s, nil
}

type repResult struct {
	local, mirror *pipeline.Summary
	env           results.RepEnv
}

// runOnce runs one repetition in its own network (new run ID).
func runOnce(ctx context.Context, sc *scenario.Scenario, o Options, mech mechanism, dir string, rep int) (_ *repResult, err error) {
	for _, d := range []string{dir, filepath.Join(dir, results.LogsDir), filepath.Join(dir, results.AppDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, results.KeysDir), 0o700); err != nil {
		return nil, err
	}
	runID := topology.NewRunID()
	out := &repResult{env: results.RepEnv{Repetition: rep, RunID: runID, Start: time.Now().UTC()}}
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Out, "[%s] "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
	}
	logf("repetition %d: run ID %s: building the lab network", rep, runID)

	mirroring := hasMode(sc, "mirror")
	local := hasMode(sc, "local")
	spec := topology.Spec{RunID: runID}
	for _, e := range sc.Exchanges {
		spec.Hosts = append(spec.Hosts, topology.HostSpec{Kind: topology.Exchange, Name: e.Name, Impaired: mech.needsMiddle(e.Link)})
	}
	for _, t := range sc.Traders {
		spec.Hosts = append(spec.Hosts, topology.HostSpec{Kind: topology.Trader, Name: t.Name, Impaired: mech.needsMiddle(t.Link)})
	}
	if mirroring {
		spec.Hosts = append(spec.Hosts, topology.HostSpec{Kind: topology.Monitor})
	}
	topo, err := topology.Build(spec)
	if err != nil {
		return out, err
	}
	var procs []*supervisor.Proc
	var stopOnce sync.Once
	teardown := func() {
		stopOnce.Do(func() {
			for i := len(procs) - 1; i >= 0; i-- {
				_ = procs[i].Stop(3 * time.Second)
			}
			if cerr := topo.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		})
	}
	defer teardown()

	// Impaired links.
	for i, h := range topo.Hosts {
		var l scenario.Link
		switch h.Kind {
		case topology.Exchange:
			l = sc.Exchanges[indexOf(topo, h)].Link
		case topology.Trader:
			l = sc.Traders[indexOf(topo, h)].Link
		default:
			continue
		}
		p, err := mech.apply(ctx, applyArgs{o: o, topo: topo, host: h, link: l, seed: uint64(sc.Seed) + uint64(i)*1000 + uint64(rep), dir: dir, runID: runID})
		if err != nil {
			return out, fmt.Errorf("link of %s: %w", h.NS, err)
		}
		if p != nil {
			procs = append(procs, p)
			out.env.Emulators = append(out.env.Emulators, results.EmulatorRef{Host: h.NS, Stats: results.LinkemuStatsFile(filepath.Base(h.NS))})
		}
	}

	// Exchanges.
	for i, e := range sc.Exchanges {
		h := topo.Host(topology.Exchange, e.Name)
		feedArgs := append([]string{"feed", "--listen", fmt.Sprintf("%s:%d", h.Addr, FeedPort), "--format", e.Feed.Format,
			"--symbols", strings.Join(e.Feed.Symbols, ","), "--seed", strconv.FormatInt(sc.Seed+int64(i)*7919+int64(rep), 10)}, feedFlags(e.Feed)...)
		fp, err := supervisor.Start(supervisor.Spec{Name: "feed-" + e.Name, NS: h.NS, Binary: o.Binary, Args: feedArgs, LogPath: filepath.Join(dir, results.LogFile("feed-"+e.Name)), RunID: runID})
		if err != nil {
			return out, err
		}
		procs = append(procs, fp)
		oargs := append([]string{"orderapi", "--listen", fmt.Sprintf("%s:%d", h.Addr, OrderPort), "--seed", strconv.FormatInt(sc.Seed+int64(i)*104729+int64(rep), 10)}, orderFlags(e.OrderAPI)...)
		op, err := supervisor.Start(supervisor.Spec{Name: "orderapi-" + e.Name, NS: h.NS, Binary: o.Binary, Args: oargs, LogPath: filepath.Join(dir, results.LogFile("orderapi-"+e.Name)), RunID: runID})
		if err != nil {
			return out, err
		}
		procs = append(procs, op)
		if err := fp.WaitReady(ctx, fmt.Sprintf("%s:%d", h.Addr, FeedPort), 15*time.Second); err != nil {
			return out, err
		}
		if err := op.WaitReady(ctx, fmt.Sprintf("%s:%d", h.Addr, OrderPort), 15*time.Second); err != nil {
			return out, err
		}
	}
	if err := checkReach(ctx, sc, topo); err != nil {
		return out, err
	}
	logf("exchanges up: %d, reachable from every trader", len(sc.Exchanges))

	// Monitor: local capture in each trader's namespace, mirror sessions.
	var points []live.Point
	monOwns := false // until live.Start succeeds, the sources are ours to close
	defer func() {
		if !monOwns {
			for _, p := range points {
				p.Source.Close()
			}
		}
	}()
	var ifaces []string
	var keylogs []string
	evFiles := map[string]*os.File{}
	defer func() {
		for _, f := range evFiles {
			f.Close()
		}
	}()
	openEvents := func(name string) (io.Writer, error) {
		if !*sc.Capture.Events {
			return nil, nil
		}
		if f := evFiles[name]; f != nil {
			return f, nil
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		evFiles[name] = f
		return f, nil
	}
	var mirrorPoints []string
	monHost := topo.Host(topology.Monitor, "")
	for j, t := range sc.Traders {
		h := topo.Host(topology.Trader, t.Name)
		keylogs = append(keylogs, filepath.Join(dir, results.KeyLogFile(t.Name)))
		if local {
			var src *capture.Live
			if err := topology.InNS(h.NS, func() error {
				var err error
				src, err = capture.OpenLive(capture.LiveConfig{Iface: h.Iface, Name: t.Name + "/" + h.Iface, FrameSize: frameSize(sc), Filter: capture.Filter{TCPPorts: []uint16{FeedPort, OrderPort}}})
				return err
			}); err != nil {
				return out, fmt.Errorf("local capture in %s: %w", h.NS, err)
			}
			w, err := openEvents(results.EventsFile)
			if err != nil {
				return out, err
			}
			points = append(points, live.Point{Name: "local:" + t.Name, Source: src, Iface: len(ifaces), Events: w})
			ifaces = append(ifaces, t.Name+"/"+h.Iface)
		}
		if mirroring {
			m, err := topo.AddMirror(h, monHost, j, sc.Capture.Mirror.VNI)
			if err != nil {
				return out, err
			}
			var src *capture.Live
			snap := frameSize(sc)
			if tr := sc.Capture.Mirror.Truncate.N; tr > 0 {
				// AWS truncates the mirrored packet; here the monitor's
				// socket cuts the frame: outer headers (50) + the truncation.
				snap = int(tr) + 50
			}
			if err := topology.InNS(monHost.NS, func() error {
				var err error
				src, err = capture.OpenLive(capture.LiveConfig{Iface: m.MonitorIface, Name: "mirror/" + t.Name, FrameSize: roundFrame(snap), Filter: capture.Filter{VXLANPort: topology.VXLANPort}})
				return err
			}); err != nil {
				return out, fmt.Errorf("mirror capture in %s: %w", monHost.NS, err)
			}
			w, err := openEvents(results.MirrorEventsFile)
			if err != nil {
				return out, err
			}
			points = append(points, live.Point{Name: "mirror:" + t.Name, Source: src, Iface: len(ifaces), Events: w})
			mirrorPoints = append(mirrorPoints, "mirror:"+t.Name)
			ifaces = append(ifaces, "mirror/"+t.Name)
		}
	}
	capPath := filepath.Join(dir, results.CaptureFile)
	writer, err := capture.NewWriter(capPath, ifaces)
	if err != nil {
		return out, err
	}
	// The warmup is measured in wire time from now: the traders start next.
	warmupEnd := time.Now().Add(sc.Warmup.D).UnixNano()
	labels := labelsFor(sc, topo)
	mon, err := live.Start(ctx, live.Config{Points: points, KeyLogs: keylogs, Writer: writer,
		Pipeline: pipeline.Config{Profile: profileFor(sc), Payloads: sc.Capture.Payloads, Correlate: correlate.Config{Labels: labels, WarmupEnd: warmupEnd}}})
	if err != nil {
		writer.Close()
		return out, err
	}
	monOwns = true
	monStopped := false
	var pointResults []live.Result
	stopMonitor := func() error {
		if monStopped {
			return nil
		}
		monStopped = true
		var err error
		pointResults, err = mon.Stop()
		return errors.Join(err, writer.Close())
	}
	defer func() {
		if !monStopped {
			if serr := stopMonitor(); serr != nil {
				err = errors.Join(err, serr)
			}
			// An early return (a trader that would not start, ...) still
			// keeps what the monitor measured.
			if out.local == nil && len(pointResults) > 0 {
				out.local, out.mirror, _ = summaries(pointResults, mirrorPoints, dir)
			}
		}
	}()

	// Traders.
	var traders []*supervisor.Proc
	for _, t := range sc.Traders {
		h := topo.Host(topology.Trader, t.Name)
		args := []string{"trader", "--insecure", "--strategy", t.Strategy, "--clients", strconv.Itoa(t.Clients),
			"--keylog", filepath.Join(dir, results.KeyLogFile(t.Name)), "--timestamps", filepath.Join(dir, results.StampsFile(t.Name)),
			"--stats", filepath.Join(dir, results.TraderStatsFile(t.Name)), "--duration", sc.Duration.D.String(), "--id-prefix", t.Name + "-"}
		for _, fe := range t.Feeds {
			args = append(args, "--feed", feedURL(sc, topo, fe, t))
		}
		oh := topo.Host(topology.Exchange, t.Orders)
		args = append(args, "--orders", fmt.Sprintf("https://%s:%d", oh.Addr, OrderPort))
		for _, k := range sortedParamKeys(t.Params) {
			args = append(args, "--param", k+"="+string(t.Params[k]))
		}
		args = append(args, t.Extra...)
		p, err := supervisor.Start(supervisor.Spec{Name: "trader-" + t.Name, NS: h.NS, Binary: o.Binary, Args: args, LogPath: filepath.Join(dir, results.LogFile("trader-"+t.Name)), RunID: runID})
		if err != nil {
			return out, err
		}
		procs = append(procs, p)
		traders = append(traders, p)
	}
	logf("traders started: %d; measuring for %s (warmup %s)", len(traders), sc.Duration.D, sc.Warmup.D)

	// Measure: wait for the traders' --duration, watching for crashes.
	werr := watch(ctx, o, sc, rep, mon, procs, traders)
	if werr == nil {
		// Drain: the traders are done; the last acks are already on the
		// wire, give the capture's block timeout time to hand them over.
		time.Sleep(100 * time.Millisecond) // bounded settle for the capture ring, not synchronisation
	}
	serr := stopMonitor()
	out.env.End = time.Now().UTC()
	out.local, out.mirror, err = summaries(pointResults, mirrorPoints, dir)
	for _, r := range pointResults {
		out.env.Points = append(out.env.Points, results.PointEnv{Name: r.Name, Drops: r.Summary.Capture.Drops, Packets: r.Summary.Capture.Packets})
	}
	teardown()
	mech.collect(dir, &out.env)
	return out, errors.Join(werr, serr, err)
}

// summaries splits the points' results into the local and the mirror
// summary (each merged over traders) and writes per-point files.
func summaries(results []live.Result, mirrorPoints []string, dir string) (local, mirror *pipeline.Summary, err error) {
	var ls, ms []*pipeline.Summary
	isMirror := map[string]bool{}
	for _, n := range mirrorPoints {
		isMirror[n] = true
	}
	for _, r := range results {
		if isMirror[r.Name] {
			ms = append(ms, r.Summary)
		} else {
			ls = append(ls, r.Summary)
		}
	}
	if len(ls) > 0 {
		if local, err = pipeline.Merge(ls...); err != nil {
			return nil, nil, err
		}
	}
	if len(ms) > 0 {
		if mirror, err = pipeline.Merge(ms...); err != nil {
			return nil, nil, err
		}
	}
	// Every point reads one shared key store: its counts are the store's,
	// not a sum over points.
	for _, s := range []*pipeline.Summary{local, mirror} {
		if s != nil && len(results) > 0 {
			s.Decode.KeyLog = results[0].Summary.Decode.KeyLog
		}
	}
	if local == nil {
		local, mirror = mirror, nil
	}
	return local, mirror, nil
}
