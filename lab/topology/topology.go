// Package topology builds and removes the lab's network: one network
// namespace per host (each exchange, each trader group, the monitor), a
// router namespace that joins them, veth links addressed in 198.18.0.0/15
// (the RFC 2544 benchmarking range), and, where a link is impaired, a middle
// namespace that holds the link emulator's two interfaces.
//
// Every namespace is named cpl-<runid>-<role>; all links live inside lab
// namespaces, so deleting the namespaces removes every link. Clean removes
// what a crashed run left, by that prefix.
//
//	exchange i   cpl-ID-ex-NAME  eth0 198.18.i.2/24   ─┐
//	trader j     cpl-ID-tr-NAME  eth0 198.18.(64+j).2/24 ─┤ (via cpl-ID-emu-ROLE when impaired)
//	monitor      cpl-ID-mon      eth0 198.19.0.2/24   ─┤
//	router       cpl-ID-net      e<i>, t<j>, m0 at .1 ─┘
//
// Namespace work goes through lab/namespace (a locked thread, entered and
// restored).
package topology

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/vishvananda/netlink"
)

// Prefix starts the name of everything the lab creates.
const Prefix = "cpl-"

// NewRunID returns a short random run ID (8 hex digits).
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Kind of host.
type Kind uint8

const (
	Exchange Kind = iota
	Trader
	Monitor
)

// HostSpec asks for one host.
type HostSpec struct {
	Kind     Kind
	Name     string // scenario name (exchange or trader); "" for the monitor
	Impaired bool   // put a middle namespace on its link for the userspace emulator
}

// Spec is the whole topology.
type Spec struct {
	RunID string
	Hosts []HostSpec
	MTU   int // default 1500
}

// Host is a built host.
type Host struct {
	HostSpec
	NS      string     // namespace name
	Iface   string     // its interface ("eth0")
	Addr    netip.Addr // its address
	Gateway netip.Addr // the router's address on its link
	// The link to the router. With a middle namespace (Impaired), the
	// emulator forwards between EmuA (host side) and EmuB (router side).
	EmuNS      string
	EmuA, EmuB string
	// RouterIface is the router's end of this host's link.
	RouterIface string
}

// Topology is a built lab network.
type Topology struct {
	RunID  string
	Router string // router namespace
	Hosts  []*Host
	made   []string // namespaces created, in order
}

// NSName returns the namespace name of a role in a run.
func NSName(runID, role string) string { return Prefix + runID + "-" + role }

// Addresses: exchange i at 198.18.i.2, trader j at 198.18.(64+j).2, the
// monitor at 198.19.0.2; the router holds .1 of each /24.
func hostPrefix(k Kind, i int) netip.Prefix {
	switch k {
	case Exchange:
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), 2}), 24)
	case Trader:
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(64 + i), 2}), 24)
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i), 2}), 24)
}

func gateway(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	a[3] = 1
	return netip.AddrFrom4(a)
}

// LabNet is the whole lab range; hosts route it via their gateway.
var LabNet = netip.MustParsePrefix("198.18.0.0/15")

// StepError says which step of building the network failed.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return "topology: " + e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

func step(s string, err error) error {
	if err == nil {
		return nil
	}
	return &StepError{Step: s, Err: err}
}

// CheckPrivileges returns an error that says how to fix it when the process
// cannot create namespaces (not root / no CAP_SYS_ADMIN and CAP_NET_ADMIN).
func CheckPrivileges() error {
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces, veth, tc): run as root, e.g. sudo make bench")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("the kernel has no network namespaces (%v)", err)
	}
	return nil
}

func (t *Topology) addNS(name string) error {
	if err := namespace.Create(name); err != nil {
		return step("create namespace", err)
	}
	t.made = append(t.made, name)
	return step("bring up lo in "+name, namespace.Run(name, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}))
}

// vethBetween creates a veth pair with one end (nameA) in nsA and the other
// (nameB) in nsB, both up, offloads off so captures show real segments.
func vethBetween(nsA, nameA, nsB, nameB string, mtu int) error {
	peer, err := os.Open(namespace.Path(nsB))
	if err != nil {
		return fmt.Errorf("veth %s/%s - %s/%s: %w", nsA, nameA, nsB, nameB, err)
	}
	defer peer.Close()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: nameA, MTU: mtu},
		PeerName:      nameB,
		PeerNamespace: netlink.NsFd(int(peer.Fd())),
	}
	if err := namespace.Run(nsA, func() error { return netlink.LinkAdd(v) }); err != nil {
		return fmt.Errorf("veth %s/%s - %s/%s: %w", nsA, nameA, nsB, nameB, err)
	}
	for _, x := range []struct{ ns, name string }{{nsA, nameA}, {nsB, nameB}} {
		if err := namespace.Run(x.ns, func() error {
			l, err := netlink.LinkByName(x.name)
			if err != nil {
				return err
			}
			if err := linkemu.DisableOffloads(x.name); err != nil {
				return err
			}
			return netlink.LinkSetUp(l)
		}); err != nil {
			return fmt.Errorf("%s/%s: %w", x.ns, x.name, err)
		}
	}
	return nil
}

func addrAdd(ns, iface string, p netip.Prefix) error {
	return namespace.Run(ns, func() error {
		l, err := netlink.LinkByName(iface)
		if err != nil {
			return err
		}
		return netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}})
	})
}

func writeSysctl(path, val string) error {
	return os.WriteFile(path, []byte(val), 0o644)
}

// Build creates the topology. On error, what was made is removed.
func Build(spec Spec) (_ *Topology, err error) {
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	if spec.RunID == "" || strings.ContainsAny(spec.RunID, "-/ ") {
		return nil, fmt.Errorf("topology: bad run ID %q", spec.RunID)
	}
	mtu := spec.MTU
	if mtu == 0 {
		mtu = 1500
	}
	t := &Topology{RunID: spec.RunID, Router: NSName(spec.RunID, "net")}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
		}
	}()
	if err := t.addNS(t.Router); err != nil {
		return nil, err
	}
	if err := namespace.Run(t.Router, func() error {
		return errors.Join(
			writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"),
			writeSysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0"),
		)
	}); err != nil {
		return nil, step("enable forwarding in "+t.Router, err)
	}
	counts := map[Kind]int{}
	for _, hs := range spec.Hosts {
		h, err := t.addHost(hs, counts[hs.Kind], mtu)
		if err != nil {
			return nil, err
		}
		counts[hs.Kind]++
		t.Hosts = append(t.Hosts, h)
	}
	return t, nil
}

// addHost makes host hs, the i-th of its kind: its namespace, its link to
// the router (through a middle namespace when impaired), addresses and the
// route to the lab range.
func (t *Topology) addHost(hs HostSpec, i, mtu int) (*Host, error) {
	var role, rif string
	switch hs.Kind {
	case Exchange:
		role, rif = "ex-"+hs.Name, fmt.Sprintf("e%d", i)
	case Trader:
		role, rif = "tr-"+hs.Name, fmt.Sprintf("t%d", i)
	default:
		role, rif = "mon", fmt.Sprintf("m%d", i)
		if i > 0 {
			role = fmt.Sprintf("mon%d", i)
		}
	}
	p := hostPrefix(hs.Kind, i)
	h := &Host{HostSpec: hs, NS: NSName(t.RunID, role), Iface: "eth0", Addr: p.Addr(), Gateway: gateway(p), RouterIface: rif}
	if err := t.addNS(h.NS); err != nil {
		return nil, err
	}
	if hs.Impaired {
		h.EmuNS, h.EmuA, h.EmuB = NSName(t.RunID, "emu-"+role), "a", "b"
		if err := t.addNS(h.EmuNS); err != nil {
			return nil, err
		}
		if err := vethBetween(h.NS, h.Iface, h.EmuNS, h.EmuA, mtu); err != nil {
			return nil, step("link "+role, err)
		}
		if err := vethBetween(h.EmuNS, h.EmuB, t.Router, rif, mtu); err != nil {
			return nil, step("link "+role, err)
		}
	} else if err := vethBetween(h.NS, h.Iface, t.Router, rif, mtu); err != nil {
		return nil, step("link "+role, err)
	}
	if err := addrAdd(h.NS, h.Iface, p); err != nil {
		return nil, step("address "+role, err)
	}
	if err := addrAdd(t.Router, rif, netip.PrefixFrom(h.Gateway, 24)); err != nil {
		return nil, step("router address for "+role, err)
	}
	if err := namespace.Run(h.NS, func() error {
		l, err := netlink.LinkByName(h.Iface)
		if err != nil {
			return err
		}
		dst := &net.IPNet{IP: LabNet.Addr().AsSlice(), Mask: net.CIDRMask(LabNet.Bits(), 32)}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: dst, Gw: h.Gateway.AsSlice()})
	}); err != nil {
		return nil, step("route in "+role, err)
	}
	return h, nil
}

// Host returns the host of a kind and name ("" for the monitor).
func (t *Topology) Host(k Kind, name string) *Host {
	for _, h := range t.Hosts {
		if h.Kind == k && h.Name == name {
			return h
		}
	}
	return nil
}

// Namespaces lists the namespaces this topology made.
func (t *Topology) Namespaces() []string { return append([]string(nil), t.made...) }

// Close deletes every namespace the topology made (and so every link in
// them). Processes still inside are killed first.
func (t *Topology) Close() error {
	var errs []error
	for i := len(t.made) - 1; i >= 0; i-- {
		if err := removeNS(t.made[i]); err != nil {
			errs = append(errs, err)
		}
	}
	t.made = nil
	return errors.Join(errs...)
}

// netlinkLinkByName is netlink.LinkByName (for tests in the calling thread's namespace).
var netlinkLinkByName = netlink.LinkByName
