package netem

import (
	"fmt"
	"os"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/vishvananda/netlink"
)

// Probe finds out what the running kernel can do by trying it: in a
// throwaway namespace cpl-probe-<pid> it creates a veth pair and adds, then
// deletes, a netem qdisc (the same options Apply sends: delay, normal jitter,
// loss, rate, seed), a tbf, an htb, an fq, an ingress qdisc with a u32
// filter whose action mirrors to the peer, and a vxlan link. The namespace
// is deleted before Probe returns. An error means the probe itself could not
// run (no root); a missing facility is a false field with its reason in
// Errors.
func Probe() (Features, error) {
	name := fmt.Sprintf("cpl-probe-%d", os.Getpid())
	var f Features
	f.Errors = map[Feature]string{}
	err := namespace.Create(name)
	if err == nil {
		err = namespace.Run(name, func() error { return probeIn(&f) })
	} else {
		err = fmt.Errorf("netem: probe: %w", err)
	}
	if derr := namespace.Delete(name); derr != nil && err == nil {
		err = fmt.Errorf("netem: probe: %w", derr)
	}
	if len(f.Errors) == 0 {
		f.Errors = nil
	}
	return f, err
}

// probeIn tries each facility in the calling thread's namespace.
func probeIn(f *Features) error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "p0"}, PeerName: "p1"}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("netem: probe veth: %w", err)
	}
	p0, err := netlink.LinkByName("p0")
	if err != nil {
		return fmt.Errorf("netem: probe veth: %w", err)
	}
	p1, err := netlink.LinkByName("p1")
	if err != nil {
		return fmt.Errorf("netem: probe veth: %w", err)
	}
	idx := p0.Attrs().Index
	note := func(x Feature, err error) bool {
		if err != nil {
			f.Errors[x] = err.Error()
			return false
		}
		return true
	}
	try := func(x Feature, q Qdisc) bool {
		if err := addQdisc(idx, q); err != nil {
			return note(x, err)
		}
		return note(x, delRoot(idx))
	}

	full := linkemu.Params{Delay: time.Millisecond, Jitter: 100 * time.Microsecond, JitterDist: linkemu.Normal,
		Loss: 0.01, Rate: 100e6, Seed: 1}
	tree, err := Tree(full, 1514)
	if err != nil {
		return err
	}
	f.Netem = try(FeatNetem, tree[0])
	tree, err = Tree(linkemu.Params{Rate: 100e6}, 1514)
	if err != nil {
		return err
	}
	f.TBF = try(FeatTBF, tree[0])

	htb := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT})
	f.HTB = note(FeatHTB, netlink.QdiscAdd(htb)) && note(FeatHTB, delRoot(idx))
	fq := netlink.NewFq(netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT})
	f.FQ = note(FeatFQ, netlink.QdiscAdd(fq)) && note(FeatFQ, delRoot(idx))

	ingress := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}
	f.Ingress = note(FeatIngress, netlink.QdiscAdd(ingress))
	if f.Ingress {
		filter := &netlink.U32{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(0xffff, 0), Priority: 1, Protocol: 3 /* ETH_P_ALL */},
			Actions: []netlink.Action{&netlink.MirredAction{
				ActionAttrs: netlink.ActionAttrs{Action: netlink.TC_ACT_PIPE}, MirredAction: netlink.TCA_EGRESS_MIRROR, Ifindex: p1.Attrs().Index}},
		}
		f.U32Mirred = note(FeatU32Mirred, netlink.FilterAdd(filter))
		_ = netlink.QdiscDel(ingress)
	} else {
		f.Errors[FeatU32Mirred] = "needs the ingress qdisc"
	}

	vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vx0"}, VxlanId: 42, Port: 4789}
	f.VXLAN = note(FeatVXLAN, netlink.LinkAdd(vx))
	return nil
}
