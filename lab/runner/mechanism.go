package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
	"github.com/cloudpcap/cloudpcap/lab/netem"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/supervisor"
	"github.com/cloudpcap/cloudpcap/lab/topology"
)

// A mechanism impairs links: the kernel's netem where it exists, else the
// lab's userspace emulator in a middle namespace. CLOUDPCAP_LINK=linkemu
// forces the emulator (to compare both on a kernel that has netem).
type mechanism interface {
	Name() string
	// needsMiddle says whether a link needs a middle namespace.
	needsMiddle(l scenario.Link) bool
	// apply impairs a host's link; it may return a process to supervise.
	apply(ctx context.Context, a applyArgs) (*supervisor.Proc, error)
	// collect adds what the mechanism measured to the repetition's record.
	collect(dir string, env *results.RepEnv)
}

type applyArgs struct {
	o     Options
	topo  *topology.Topology
	host  *topology.Host
	link  scenario.Link
	seed  uint64
	dir   string
	runID string
}

func chooseMechanism(sc *scenario.Scenario) (mechanism, error) {
	f, err := netem.Probe()
	if err != nil {
		return nil, fmt.Errorf("probing the kernel's traffic control: %w", err)
	}
	var need []netem.Feature
	if hasMode(sc, "mirror") {
		need = append(need, netem.FeatU32Mirred, netem.FeatVXLAN)
	}
	if err := f.Require(need...); err != nil {
		return nil, fmt.Errorf("mirror capture: %w", err)
	}
	if f.Netem && os.Getenv("CLOUDPCAP_LINK") != "linkemu" {
		return netemMech{f}, nil
	}
	return userspace{f}, nil
}

// params converts one direction of a scenario link.
func params(l scenario.Link, up bool, seed uint64) linkemu.Params {
	d := l.Direction(up)
	p := linkemu.Params{Delay: d.Delay.D, Jitter: d.Jitter.D, Loss: d.Loss.F, Rate: d.Rate.BPS, Queue: d.Queue, Reorder: d.Reorder, Seed: seed}
	if d.JitterDist == "normal" {
		p.JitterDist = linkemu.Normal
	}
	return p
}

// hostLink is the link of a host as the host→router (A→B) and router→host
// directions: from an exchange, A→B is "down" (market data); from a trader
// it is "up" (orders).
func hostLink(h *topology.Host, l scenario.Link, seed uint64) linkemu.Link {
	hostToRouterIsUp := h.Kind == topology.Trader
	return linkemu.Link{AtoB: params(l, hostToRouterIsUp, seed), BtoA: params(l, !hostToRouterIsUp, seed+1)}
}

func impaired(l scenario.Link) bool {
	return !l.Direction(true).Zero() || !l.Direction(false).Zero()
}

// rtPriority runs the emulator's release threads SCHED_FIFO: on a busy
// 2-core machine it cuts the emulator's p99 release error from ~0.6 ms to
// ~11 us (measured by lab/linkemu's tests).
const rtPriority = 10

// userspace runs `cloudpcap lab-linkemu` in each impaired link's middle namespace.
type userspace struct{ f netem.Features }

func (userspace) Name() string                            { return "linkemu (userspace emulator: this kernel has no sch_netem)" }
func (userspace) needsMiddle(l scenario.Link) bool        { return impaired(l) }
func (userspace) collect(dir string, env *results.RepEnv) { results.ReadEmulatorStats(dir, env) }
func (userspace) apply(ctx context.Context, a applyArgs) (*supervisor.Proc, error) {
	h := a.host
	if h.EmuNS == "" {
		return nil, nil
	}
	l := hostLink(h, a.link, a.seed)
	if err := os.MkdirAll(filepath.Join(a.dir, results.LinkemuDir), 0o755); err != nil {
		return nil, err
	}
	stats := filepath.Join(a.dir, results.LinkemuStatsFile(filepath.Base(h.NS)))
	p, err := supervisor.Start(supervisor.Spec{
		Name: "linkemu-" + filepath.Base(h.NS), NS: h.EmuNS, Binary: a.o.Binary,
		Args:    append([]string{"lab-linkemu"}, linkemu.CommandArgs(linkemu.Config{A: h.EmuA, B: h.EmuB, Link: l, RealtimePriority: rtPriority}, stats)...),
		LogPath: filepath.Join(a.dir, results.LogFile("linkemu-"+filepath.Base(h.NS))), RunID: a.runID,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// netemMech installs netem (and tbf) qdiscs on both ends of the link.
type netemMech struct{ f netem.Features }

func (netemMech) Name() string                    { return "netem (kernel)" }
func (netemMech) needsMiddle(scenario.Link) bool  { return false }
func (netemMech) collect(string, *results.RepEnv) {}
func (netemMech) apply(_ context.Context, a applyArgs) (*supervisor.Proc, error) {
	if !impaired(a.link) {
		return nil, nil
	}
	h := a.host
	l := hostLink(h, a.link, a.seed)
	return nil, netem.Apply(netem.End{Netns: h.NS, Iface: h.Iface}, netem.End{Netns: a.topo.Router, Iface: h.RouterIface}, l)
}
