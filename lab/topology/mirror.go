package topology

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VXLANPort is the UDP port of mirror sessions (as AWS Traffic Mirroring).
const VXLANPort = 4789

// Mirror is one traffic-mirror session from a trader's interface to the
// monitor: every TCP packet in or out of the trader's eth0 is copied (tc
// u32 + mirred on clsact ingress and egress) into a VXLAN device whose
// packets leave over a dedicated link to the monitor — the bytes AWS
// Traffic Mirroring delivers to a mirror target. The link has a jumbo MTU so
// that full frames plus VXLAN overhead are never fragmented.
type Mirror struct {
	Trader       *Host
	TraderIface  string // "mir0" in the trader's namespace
	TraderAddr   netip.Addr
	MonitorIface string // in the monitor's namespace: capture here
	MonitorAddr  netip.Addr
	VNI          int
}

// AddMirror sets up a mirror session of trader's traffic towards monitor.
// index numbers the session (addresses 198.19.(1+index).0/24).
func (t *Topology) AddMirror(trader, monitor *Host, index, vni int) (*Mirror, error) {
	if index < 0 || index > 200 {
		return nil, fmt.Errorf("topology: mirror index %d out of range", index)
	}
	m := &Mirror{Trader: trader, TraderIface: "mir0", MonitorIface: fmt.Sprintf("x%d", index), VNI: vni,
		TraderAddr:  netip.AddrFrom4([4]byte{198, 19, byte(1 + index), 2}),
		MonitorAddr: netip.AddrFrom4([4]byte{198, 19, byte(1 + index), 1})}
	if err := vethBetween(trader.NS, m.TraderIface, monitor.NS, m.MonitorIface, 9000); err != nil {
		return nil, step("mirror link", err)
	}
	if err := addrAdd(trader.NS, m.TraderIface, netip.PrefixFrom(m.TraderAddr, 24)); err != nil {
		return nil, step("mirror address", err)
	}
	if err := addrAdd(monitor.NS, m.MonitorIface, netip.PrefixFrom(m.MonitorAddr, 24)); err != nil {
		return nil, step("mirror address", err)
	}
	// A VXLAN endpoint on the monitor side absorbs the packets (no ICMP
	// port unreachable back to the trader); the monitor captures them on
	// the link before decapsulation.
	if err := namespace.Run(monitor.NS, func() error {
		return addVXLAN(fmt.Sprintf("vxs%d", index), vni, m.MonitorAddr, m.TraderAddr)
	}); err != nil {
		return nil, step("mirror target", err)
	}
	if err := namespace.Run(trader.NS, func() error {
		if err := addVXLAN("vxm0", vni, m.TraderAddr, m.MonitorAddr); err != nil {
			return err
		}
		vx, err := netlink.LinkByName("vxm0")
		if err != nil {
			return err
		}
		eth, err := netlink.LinkByName(trader.Iface)
		if err != nil {
			return err
		}
		q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: eth.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
		if err := netlink.QdiscAdd(q); err != nil {
			return fmt.Errorf("clsact on %s: %w", trader.Iface, err)
		}
		for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
			f := &netlink.U32{
				FilterAttrs: netlink.FilterAttrs{LinkIndex: eth.Attrs().Index, Parent: parent, Priority: 1, Protocol: unix.ETH_P_IP},
				// "match ip protocol 6 0xff": the protocol byte is the second of the 32-bit word at offset 8.
				Sel: &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Nkeys: 1, Keys: []netlink.TcU32Key{{Mask: 0x00ff0000, Val: 0x00060000, Off: 8}}},
				Actions: []netlink.Action{&netlink.MirredAction{
					ActionAttrs:  netlink.ActionAttrs{Action: netlink.TC_ACT_PIPE},
					MirredAction: netlink.TCA_EGRESS_MIRROR,
					Ifindex:      vx.Attrs().Index,
				}},
			}
			if err := netlink.FilterAdd(f); err != nil {
				return fmt.Errorf("u32 mirred filter on %s: %w", trader.Iface, err)
			}
		}
		return nil
	}); err != nil {
		return nil, step("mirror session of "+trader.NS, err)
	}
	return m, nil
}

func addVXLAN(name string, vni int, local, remote netip.Addr) error {
	vx := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, MTU: 1500},
		VxlanId:   vni,
		SrcAddr:   net.IP(local.AsSlice()),
		Group:     net.IP(remote.AsSlice()),
		Port:      VXLANPort,
		Learning:  false,
	}
	if err := netlink.LinkAdd(vx); err != nil {
		return fmt.Errorf("vxlan %s: %w", name, err)
	}
	return netlink.LinkSetUp(vx)
}
