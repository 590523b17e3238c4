package netem

import (
	"errors"
	"fmt"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// End is one end of a veth pair: an interface in a network namespace
// (a name under /run/netns; "" for the caller's own).
type End struct {
	Netns string
	Iface string
}

func (e End) String() string {
	if e.Netns == "" {
		return e.Iface
	}
	return e.Netns + "/" + e.Iface
}

// Apply installs link l on a veth pair: l.AtoB on a's egress, l.BtoA on b's
// egress, so each direction is impaired once, where it leaves. An end whose
// Params are zero gets its default qdisc back. On failure nothing is left
// installed on either end.
func Apply(a, b End, l linkemu.Link) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("netem: %w", err)
	}
	if err := ApplyEnd(a, l.AtoB); err != nil {
		return err
	}
	if err := ApplyEnd(b, l.BtoA); err != nil {
		_ = Clear(a)
		return err
	}
	return nil
}

// ApplyEnd replaces the egress qdiscs of one interface with Tree(p). A
// kernel without the qdisc gets an error naming the module to load.
func ApplyEnd(e End, p linkemu.Params) error {
	return namespace.Run(e.Netns, func() error {
		link, err := netlink.LinkByName(e.Iface)
		if err != nil {
			return fmt.Errorf("netem: %s: %w", e, err)
		}
		mtu := link.Attrs().MTU
		if mtu <= 0 {
			mtu = 1500
		}
		tree, err := Tree(p, mtu+14)
		if err != nil {
			return fmt.Errorf("netem: %s: %w", e, err)
		}
		idx := link.Attrs().Index
		if err := delRoot(idx); err != nil {
			return fmt.Errorf("netem: %s: removing the old root qdisc: %w", e, err)
		}
		for _, q := range tree {
			if err := addQdisc(idx, q); err != nil {
				_ = delRoot(idx)
				return fmt.Errorf("netem: %s: adding %s: %w", e, q.Kind, explain(q.Kind, err))
			}
		}
		return nil
	})
}

// Clear gives an interface its default egress qdisc back.
func Clear(e End) error {
	return namespace.Run(e.Netns, func() error {
		link, err := netlink.LinkByName(e.Iface)
		if err != nil {
			return fmt.Errorf("netem: %s: %w", e, err)
		}
		if err := delRoot(link.Attrs().Index); err != nil {
			return fmt.Errorf("netem: %s: %w", e, err)
		}
		return nil
	})
}

// explain adds the module to load when the kernel does not know a qdisc.
func explain(kind string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%w: the kernel has no sch_%s (modprobe sch_%s)", err, kind, kind)
	}
	return err
}

// addQdisc sends RTM_NEWQDISC for q on the interface with index idx, in the
// calling thread's namespace.
func addQdisc(idx int, q Qdisc) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(idx), Handle: q.Handle, Parent: q.Parent})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated(q.Kind)))
	req.AddData(nl.NewRtAttr(nl.TCA_OPTIONS, q.Options))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// delRoot deletes the root qdisc; an interface that has only its default
// one is fine.
func delRoot(idx int) error {
	req := nl.NewNetlinkRequest(unix.RTM_DELQDISC, unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(idx), Parent: tcHRoot})
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
		return nil
	}
	return err
}
