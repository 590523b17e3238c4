package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/topology"
	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/live"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// mirrorOverhead is what a mirrored frame carries before the original
// frame: outer Ethernet, IPv4, UDP and VXLAN headers.
const mirrorOverhead = 50

// startCapture opens a capture point at each trader's interface (local)
// and at the monitor's end of each trader's mirror session, and starts the
// live monitor on them, recording every frame to capture.pcapng. It is
// all or nothing: on an error it closes what it opened.
func (r *repetition) startCapture(ctx context.Context) (err error) {
	var points []live.Point
	defer func() {
		if err != nil {
			for _, p := range points {
				p.Source.Close()
			}
		}
	}()
	events := map[string]io.Writer{}
	var ifaces []string
	add := func(name, ns, iface, eventsFile string, lc capture.LiveConfig) error {
		src, err := openLive(ns, lc)
		if err != nil {
			return fmt.Errorf("%s capture in %s: %w", name, ns, err)
		}
		points = append(points, live.Point{Name: name, Source: src, Iface: len(ifaces)})
		ifaces = append(ifaces, iface)
		w, err := r.eventsFile(events, eventsFile)
		points[len(points)-1].Events = w
		return err
	}
	if err := r.addPoints(add); err != nil {
		return err
	}
	writer, err := capture.NewWriter(filepath.Join(r.dir, results.CaptureFile), ifaces)
	if err != nil {
		return err
	}
	// The warmup is measured in wire time from now: the traders start next.
	warmupEnd := time.Now().Add(r.sc.Warmup.D).UnixNano()
	mon, err := live.Start(ctx, live.Config{Points: points, KeyLogs: r.keyLogs(), Writer: writer,
		Pipeline: pipeline.Config{Profile: profileFor(r.sc), Payloads: r.sc.Capture.Payloads,
			Correlate: correlate.Config{Labels: labelsFor(r.topo), WarmupEnd: warmupEnd}}})
	if err != nil {
		writer.Close()
		return err
	}
	r.mon = mon
	r.undo.push("the monitor", func() error {
		var err error
		r.results, err = mon.Stop()
		return errors.Join(err, writer.Close())
	})
	return nil
}

type addPoint func(name, ns, iface, eventsFile string, lc capture.LiveConfig) error

// addPoints adds the scenario's capture points, a trader at a time.
func (r *repetition) addPoints(add addPoint) error {
	mon := r.topo.Host(topology.Monitor, "")
	for j, t := range r.sc.Traders {
		h := r.topo.Host(topology.Trader, t.Name)
		if hasMode(r.sc, "local") {
			lc := capture.LiveConfig{Iface: h.Iface, Name: t.Name + "/" + h.Iface, FrameSize: frameSize(r.sc), Filter: capture.Filter{TCPPorts: []uint16{FeedPort, OrderPort}}}
			if err := add("local:"+t.Name, h.NS, t.Name+"/"+h.Iface, results.EventsFile, lc); err != nil {
				return err
			}
		}
		if !hasMode(r.sc, "mirror") {
			continue
		}
		m, err := r.topo.AddMirror(h, mon, j, r.sc.Capture.Mirror.VNI)
		if err != nil {
			return err
		}
		snap := frameSize(r.sc)
		if tr := r.sc.Capture.Mirror.Truncate.N; tr > 0 {
			// AWS truncates the mirrored packet; here the monitor's socket
			// cuts the frame: outer headers + the truncation.
			snap = int(tr) + mirrorOverhead
		}
		lc := capture.LiveConfig{Iface: m.MonitorIface, Name: "mirror/" + t.Name, FrameSize: roundFrame(snap), Filter: capture.Filter{VXLANPort: topology.VXLANPort}}
		if err := add("mirror:"+t.Name, mon.NS, "mirror/"+t.Name, results.MirrorEventsFile, lc); err != nil {
			return err
		}
		r.mirrors = append(r.mirrors, "mirror:"+t.Name)
	}
	return nil
}

// openLive opens an AF_PACKET capture inside namespace ns: the socket
// belongs to the namespace it was created in.
func openLive(ns string, lc capture.LiveConfig) (*capture.Live, error) {
	var src *capture.Live
	err := namespace.Run(ns, func() error {
		var err error
		src, err = capture.OpenLive(lc)
		return err
	})
	return src, err
}

// eventsFile opens (once per name) the events file that points write to;
// nil when the scenario records no events. The file closes after the
// monitor has stopped.
func (r *repetition) eventsFile(open map[string]io.Writer, name string) (io.Writer, error) {
	if !*r.sc.Capture.Events {
		return nil, nil
	}
	if w := open[name]; w != nil {
		return w, nil
	}
	f, err := os.Create(filepath.Join(r.dir, name))
	if err != nil {
		return nil, err
	}
	open[name] = f
	r.undo.push(name, func() error { f.Close(); return nil })
	return f, nil
}

func (r *repetition) keyLogs() []string {
	var k []string
	for _, t := range r.sc.Traders {
		k = append(k, r.keyLog(t))
	}
	return k
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
func labelsFor(topo *topology.Topology) correlate.Labels {
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

// summaries splits the points' results into the local and the mirror
// summary (each merged over traders).
func summaries(results []live.Result, mirrorPoints []string) (local, mirror *pipeline.Summary, err error) {
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
