package linkemu

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// requireRoot skips (or, under CI=true, fails) a test that needs root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root (network namespaces, AF_PACKET); run the integration tests as root")
	}
	t.Skip("needs root (network namespaces, AF_PACKET)")
}

// chain is a throwaway a ⟷ emu ⟷ b topology: namespaces cpl-t<pid>-a,
// cpl-t<pid>-emu and cpl-t<pid>-b, veth a0⟷ea and eb⟷b0, addresses
// 198.18.0.1/24 (a) and 198.18.0.2/24 (b), static neighbours, IPv6 off so
// no stray frames cross the emulator, offloads off at a0 and b0.
type chain struct {
	prefix       string
	nsA, nsE, nB string
	addrA, addrB net.IP
}

var chainSeq atomic.Int32

func newChain(t *testing.T) *chain {
	t.Helper()
	requireRoot(t)
	prefix := fmt.Sprintf("cpl-t%d-", os.Getpid())
	if n := chainSeq.Add(1); n > 1 {
		prefix = fmt.Sprintf("cpl-t%d.%d-", os.Getpid(), n)
	}
	c := &chain{prefix: prefix, nsA: prefix + "a", nsE: prefix + "emu", nB: prefix + "b",
		addrA: net.IPv4(198, 18, 0, 1).To4(), addrB: net.IPv4(198, 18, 0, 2).To4()}
	t.Cleanup(func() { removeNamespaces(t, prefix) })
	for _, n := range []string{c.nsA, c.nsE, c.nB} {
		if err := newNamedNs(n); err != nil {
			t.Fatal(err)
		}
	}
	macA, _ := net.ParseMAC("02:00:c6:12:00:01")
	macB, _ := net.ParseMAC("02:00:c6:12:00:02")
	veth := func(hostNs, host string, mac net.HardwareAddr, emuPeer string) {
		t.Helper()
		emu, err := os.Open(namespace.Path(c.nsE))
		if err != nil {
			t.Fatal(err)
		}
		defer emu.Close()
		err = namespace.Run(hostNs, func() error {
			return netlink.LinkAdd(&netlink.Veth{
				LinkAttrs: netlink.LinkAttrs{Name: host, HardwareAddr: mac, MTU: 1500},
				PeerName:  emuPeer, PeerNamespace: netlink.NsFd(int(emu.Fd())),
			})
		})
		if err != nil {
			t.Fatalf("veth %s/%s: %v", hostNs, host, err)
		}
	}
	veth(c.nsA, "a0", macA, "ea")
	veth(c.nB, "b0", macB, "eb")
	host := func(ns, ifname string, addr net.IP, peer net.IP, peerMAC net.HardwareAddr) {
		t.Helper()
		err := namespace.Run(ns, func() error {
			l, err := netlink.LinkByName(ifname)
			if err != nil {
				return err
			}
			if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: addr, Mask: net.CIDRMask(24, 32)}}); err != nil {
				return err
			}
			if err := netlink.NeighAdd(&netlink.Neigh{LinkIndex: l.Attrs().Index, State: netlink.NUD_PERMANENT,
				IP: peer, HardwareAddr: peerMAC, Family: unix.AF_INET}); err != nil {
				return err
			}
			if err := DisableOffloads(ifname); err != nil {
				return err
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return err
			}
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				return err
			}
			return netlink.LinkSetUp(lo)
		})
		if err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
	}
	host(c.nsA, "a0", c.addrA, c.addrB, macB)
	host(c.nB, "b0", c.addrB, c.addrA, macA)
	err := namespace.Run(c.nsE, func() error {
		for _, n := range []string{"ea", "eb"} {
			l, err := netlink.LinkByName(n)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("emu links: %v", err)
	}
	// Frames sent before the kernel's link watch has marked a link up go
	// to the noop qdisc: wait (up to 5 s) until all four ends are up.
	for _, l := range []struct{ ns, name string }{{c.nsA, "a0"}, {c.nsE, "ea"}, {c.nsE, "eb"}, {c.nB, "b0"}} {
		waitOperUp(t, l.ns, l.name)
	}
	return c
}

func waitOperUp(t *testing.T, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var state netlink.LinkOperState
		err := namespace.Run(ns, func() error {
			l, err := netlink.LinkByName(name)
			if err == nil {
				state = l.Attrs().OperState
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if state == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s still %v after 5s", ns, name, state)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// newNamedNs creates a named network namespace with IPv6 disabled.
func newNamedNs(name string) error {
	if err := namespace.Create(name); err != nil {
		return err
	}
	return namespace.Run(name, func() error {
		for _, k := range []string{"all", "default"} {
			p := "/proc/sys/net/ipv6/conf/" + k + "/disable_ipv6"
			if err := os.WriteFile(p, []byte("1"), 0o644); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("netns %s: %w", name, err)
			}
		}
		return nil
	})
}

// removeNamespaces deletes every namespace whose name starts with prefix
// (their veths go with them) and fails the test if one remains.
func removeNamespaces(t *testing.T, prefix string) {
	t.Helper()
	for _, n := range listNamespaces(t, prefix) {
		if err := namespace.Delete(n); err != nil {
			t.Error(err)
		}
	}
	if left := listNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
	// No link of ours may leak into the test's own namespace.
	links, err := netlink.LinkList()
	if err == nil {
		for _, l := range links {
			if n := l.Attrs().Name; n == "a0" || n == "b0" || n == "ea" || n == "eb" {
				t.Errorf("link %s left in the test's namespace", n)
			}
		}
	}
}

func listNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	names, err := namespace.List(prefix)
	if err != nil {
		t.Error(err)
	}
	return names
}

// startEmu runs an emulator between ea and eb with link l until the test
// ends.
func (c *chain) startEmu(t *testing.T, l Link) *Emulator {
	t.Helper()
	return c.startEmuCfg(t, Config{Link: l})
}

// startEmuCfg runs an emulator with cfg (Netns, A and B filled in) until the
// test ends, and checks that Stop leaves no goroutine behind.
func (c *chain) startEmuCfg(t *testing.T, cfg Config) *Emulator {
	t.Helper()
	cfg.Netns, cfg.A, cfg.B = c.nsE, "ea", "eb"
	if cfg.RealtimePriority == 0 {
		cfg.RealtimePriority = rtPrio
	}
	before := runtime.NumGoroutine()
	e, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("emulator: %v", err)
		}
		select {
		case <-e.Done():
		default:
			t.Error("Done not closed after Stop")
		}
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Errorf("goroutines: %d before Start, %d after Stop", before, runtime.NumGoroutine())
				break
			}
			time.Sleep(5 * time.Millisecond) // polling with a deadline
		}
	})
	return e
}

// socketIn opens a socket in namespace ns.
func socketIn(t *testing.T, ns string, domain, typ, proto int) int {
	t.Helper()
	var fd int
	err := namespace.Run(ns, func() (err error) {
		fd, err = unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// pinger sends ICMP echo requests from a to b and measures each round trip
// from just before the send to the reply's kernel receive timestamp, so
// neither side's scheduling is in the number (b's kernel answers).
type pinger struct {
	fd  int
	dst unix.SockaddrInet4
	id  uint16
	seq uint16
	buf [1500]byte
	oob [128]byte
}

func newPinger(t *testing.T, c *chain) *pinger {
	fd := socketIn(t, c.nsA, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	p := &pinger{fd: fd, id: uint16(os.Getpid())}
	copy(p.dst.Addr[:], c.addrB)
	return p
}

// ping sends one echo request and waits up to timeout for its reply; it
// returns the RTT, or ok=false on timeout.
func (p *pinger) ping(timeout time.Duration) (rtt time.Duration, ok bool, err error) {
	p.seq++
	var msg [64]byte
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], p.id)
	binary.BigEndian.PutUint16(msg[6:], p.seq)
	binary.BigEndian.PutUint16(msg[2:], inetChecksum(msg[:]))
	tv := unix.NsecToTimeval(int64(timeout))
	if err := unix.SetsockoptTimeval(p.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, false, err
	}
	sent := time.Now().UnixNano()
	if err := unix.Sendto(p.fd, msg[:], 0, &p.dst); err != nil {
		return 0, false, err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, oobn, _, _, err := unix.Recvmsg(p.fd, p.buf[:], p.oob[:], 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		ihl := int(p.buf[0]&0xf) * 4
		if n < ihl+8 || p.buf[ihl] != 0 || binary.BigEndian.Uint16(p.buf[ihl+4:]) != p.id ||
			binary.BigEndian.Uint16(p.buf[ihl+6:]) != p.seq {
			continue // not our reply
		}
		msgs, err := unix.ParseSocketControlMessage(p.oob[:oobn])
		if err != nil {
			return 0, false, err
		}
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
				ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				return time.Duration(ts.Nano() - sent), true, nil
			}
		}
		return 0, false, fmt.Errorf("reply without SCM_TIMESTAMPNS")
	}
	return 0, false, nil
}

func inetChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// rtPrio runs the emulator's threads SCHED_FIFO in the tests: on a loaded
// machine it takes the release error tail from milliseconds to microseconds.
var rtPrio = 10
