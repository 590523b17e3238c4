package netem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
	"github.com/cloudpcap/cloudpcap/lab/namespace"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root (network namespaces, qdiscs); run the integration tests as root")
	}
	t.Skip("needs root (network namespaces, qdiscs)")
}

// probe runs Probe once per test binary.
var probe = sync.OnceValues(Probe)

func TestIntegrationProbe(t *testing.T) {
	requireRoot(t)
	f, err := probe()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel features: %s; links impaired by %s; errors: %v", f, f.LinkMechanism(), f.Errors)
	if left := listNamespaces(t, fmt.Sprintf("cpl-probe-%d", os.Getpid())); len(left) > 0 {
		t.Errorf("probe left namespaces behind: %v", left)
	}
	for x := range f.Errors {
		if f.Has(x) {
			t.Errorf("%s both present and failed: %s", x, f.Errors[x])
		}
	}
	// The probe's answer must agree with what Apply then meets.
	if !f.TBF {
		t.Log("no tbf: the rate-limit test below skips")
	}
}

// pair is a throwaway veth pair a0 (198.18.1.1, namespace cpl-t<pid>-na)
// ⟷ b0 (198.18.1.2, cpl-t<pid>-nb).
type pair struct {
	nsA, nsB string
	a, b     End
	addrB    [4]byte
}

func newPair(t *testing.T) *pair {
	t.Helper()
	prefix := fmt.Sprintf("cpl-t%d-n", os.Getpid())
	p := &pair{nsA: prefix + "a", nsB: prefix + "b", addrB: [4]byte{198, 18, 1, 2}}
	p.a, p.b = End{p.nsA, "a0"}, End{p.nsB, "b0"}
	t.Cleanup(func() {
		for _, n := range listNamespaces(t, prefix) {
			if err := namespace.Delete(n); err != nil {
				t.Error(err)
			}
		}
		if left := listNamespaces(t, prefix); len(left) > 0 {
			t.Errorf("namespaces left behind: %v", left)
		}
	})
	for _, n := range []string{p.nsA, p.nsB} {
		if err := namespace.Create(n); err != nil {
			t.Fatal(err)
		}
		if err := namespace.Run(n, func() error {
			return os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("1"), 0o644)
		}); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	nsB, err := os.Open(namespace.Path(p.nsB))
	if err != nil {
		t.Fatal(err)
	}
	defer nsB.Close()
	macA, _ := net.ParseMAC("02:00:c6:12:01:01")
	macB, _ := net.ParseMAC("02:00:c6:12:01:02")
	err = namespace.Run(p.nsA, func() error {
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "a0", HardwareAddr: macA},
			PeerName: "b0", PeerHardwareAddr: macB, PeerNamespace: netlink.NsFd(int(nsB.Fd()))})
	})
	if err != nil {
		t.Fatalf("veth: %v", err)
	}
	setup := func(ns, ifname string, addr, peer net.IP, peerMAC net.HardwareAddr) {
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
			if err := linkemu.DisableOffloads(ifname); err != nil {
				return err
			}
			return netlink.LinkSetUp(l)
		})
		if err != nil {
			t.Fatalf("%s/%s: %v", ns, ifname, err)
		}
	}
	ipA, ipB := net.IPv4(198, 18, 1, 1).To4(), net.IPv4(198, 18, 1, 2).To4()
	setup(p.nsA, "a0", ipA, ipB, macB)
	setup(p.nsB, "b0", ipB, ipA, macA)
	for _, e := range []End{p.a, p.b} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			var up bool
			if err := namespace.Run(e.Netns, func() error {
				l, err := netlink.LinkByName(e.Iface)
				up = err == nil && l.Attrs().OperState == netlink.OperUp
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if up {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not up after 5s", e)
			}
			time.Sleep(10 * time.Millisecond) // polling with a deadline
		}
	}
	return p
}

func listNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	names, err := namespace.List(prefix)
	if err != nil {
		t.Error(err)
	}
	return names
}

func socketIn(t *testing.T, ns string, typ int) int {
	t.Helper()
	var fd int
	err := namespace.Run(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// rootQdisc returns the kind of the root qdisc of an end.
func rootQdisc(t *testing.T, e End) string {
	t.Helper()
	var kind string
	err := namespace.Run(e.Netns, func() error {
		l, err := netlink.LinkByName(e.Iface)
		if err != nil {
			return err
		}
		qs, err := netlink.QdiscList(l)
		if err != nil {
			return err
		}
		for _, q := range qs {
			if q.Attrs().Parent == netlink.HANDLE_ROOT {
				kind = q.Type()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return kind
}

// TestIntegrationTBF limits a veth end to 20 Mbit/s with Apply (tbf alone,
// which this kernel has even without netem) and measures UDP throughput at
// the far end.
func TestIntegrationTBF(t *testing.T) {
	requireRoot(t)
	f, err := probe()
	if err != nil {
		t.Fatal(err)
	}
	if !f.TBF {
		t.Skipf("kernel has no tbf: %s", f.Errors[FeatTBF])
	}
	p := newPair(t)
	const rate = 20_000_000
	if err := Apply(p.a, p.b, linkemu.Link{AtoB: linkemu.Params{Rate: rate, Queue: 300}}); err != nil {
		t.Fatal(err)
	}
	if k := rootQdisc(t, p.a); k != "tbf" {
		t.Fatalf("a0 root qdisc %q, want tbf", k)
	}
	if k := rootQdisc(t, p.b); k == "tbf" || k == "netem" {
		t.Fatalf("b0 root qdisc %q, want the default (B→A is unimpaired)", k)
	}

	// Sink in b with kernel receive timestamps.
	rfd := socketIn(t, p.nsB, unix.SOCK_DGRAM)
	_ = unix.SetsockoptInt(rfd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	if err := unix.SetsockoptInt(rfd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	_ = unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	sa := &unix.SockaddrInet4{Port: 9001, Addr: p.addrB}
	if err := unix.Bind(rfd, sa); err != nil {
		t.Fatal(err)
	}
	var ts []int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf, oob := make([]byte, 2048), make([]byte, 128)
		for {
			_, oobn, _, _, err := unix.Recvmsg(rfd, buf, oob, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return // the 200 ms receive timeout: the sender is done
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				if m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
					ts = append(ts, (*unix.Timespec)(unsafe.Pointer(&m.Data[0])).Nano())
				}
			}
		}
	}()

	// The sender in a writes at twice the rate for 0.5 s. Here the qdisc
	// holds the excess, so a blocked write is the backpressure, not loss.
	sfd := socketIn(t, p.nsA, unix.SOCK_DGRAM)
	if err := unix.Connect(sfd, sa); err != nil {
		t.Fatal(err)
	}
	const payload = 1000
	const frameBits = (payload + 8 + 20 + 14) * 8
	pps := 2.0 * rate / frameBits
	buf := make([]byte, payload)
	start := time.Now()
	sent := 0
	for i := 0; time.Since(start) < 500*time.Millisecond; i++ {
		for time.Since(start).Seconds() < float64(i)/pps {
			time.Sleep(200 * time.Microsecond) // pacing, not synchronisation
		}
		binary.BigEndian.PutUint32(buf, uint32(i))
		if _, err := unix.Write(sfd, buf); err != nil && !errors.Is(err, unix.ENOBUFS) {
			t.Fatal(err)
		}
		sent++
	}
	<-done
	if len(ts) < 100 {
		t.Fatalf("b received %d of %d datagrams", len(ts), sent)
	}
	slices.Sort(ts)
	// The shaper's rate is the spacing it gives a backlogged queue: the
	// median gap between arrivals. The average over the whole span also
	// counts the times a descheduled sender let the queue run dry (on a
	// loaded 2-core machine it read 16.8 Mbit/s while the gaps said 20).
	gaps := make([]int64, len(ts)-1)
	for i := range gaps {
		gaps[i] = ts[i+1] - ts[i]
	}
	slices.Sort(gaps)
	got := frameBits / (float64(gaps[len(gaps)/2]) / 1e9)
	span := float64(len(ts)-1) * frameBits / (float64(ts[len(ts)-1]-ts[0]) / 1e9)
	t.Logf("tbf %d bit/s: sent %d, b received %d; %.2f Mbit/s from the median gap, %.2f Mbit/s over the span", rate, sent, len(ts), got/1e6, span/1e6)
	if r := got / rate; r < 0.85 || r > 1.15 {
		t.Errorf("throughput %.2f Mbit/s, want 20 Mbit/s ± 15%%", got/1e6)
	}

	if err := Clear(p.a); err != nil {
		t.Fatal(err)
	}
	if k := rootQdisc(t, p.a); k == "tbf" {
		t.Error("Clear left tbf installed")
	}
}

// TestIntegrationNetem installs a 2 ms delay each way with netem and checks
// it with ICMP echo; on a kernel without sch_netem it checks that Apply
// refuses with a message naming the module, then skips (a machine fact, not
// a missing tool, so also under CI=true).
func TestIntegrationNetem(t *testing.T) {
	requireRoot(t)
	f, err := probe()
	if err != nil {
		t.Fatal(err)
	}
	p := newPair(t)
	link := linkemu.Symmetric(linkemu.Params{Delay: 2 * time.Millisecond, Seed: 1})
	if !f.Netem {
		err := Apply(p.a, p.b, link)
		if err == nil || !strings.Contains(err.Error(), "sch_netem") {
			t.Fatalf("Apply without netem = %v, want an error naming sch_netem", err)
		}
		if k := rootQdisc(t, p.a); k == "netem" || k == "tbf" {
			t.Fatalf("failed Apply left %s on a0", k)
		}
		if err := f.Require(FeatNetem); err == nil || !strings.Contains(err.Error(), "modprobe sch_netem") {
			t.Fatalf("Require(netem) = %v", err)
		}
		t.Skipf("kernel has no sch_netem (%s): the netem path cannot run here; Apply's refusal was checked", f.Errors[FeatNetem])
	}
	if err := Apply(p.a, p.b, link); err != nil {
		t.Fatal(err)
	}
	for _, e := range []End{p.a, p.b} {
		if k := rootQdisc(t, e); k != "netem" {
			t.Fatalf("%s root qdisc %q, want netem", e, k)
		}
	}
	// ICMP echo from a to b: b's kernel answers, so the RTT is the path.
	rtts := icmpRTTs(t, p, 100)
	med := rtts[len(rtts)/2]
	t.Logf("netem delay 2ms each way: RTT min %v median %v max %v", rtts[0], med, rtts[len(rtts)-1])
	if rtts[0] < 4*time.Millisecond || med > 4*time.Millisecond+300*time.Microsecond {
		t.Errorf("RTT min %v median %v, want ≥ 4ms and median within 4ms + 300µs", rtts[0], med)
	}
}

// icmpRTTs pings b from a n times and returns the sorted RTTs.
func icmpRTTs(t *testing.T, p *pair, n int) []time.Duration {
	t.Helper()
	var fd int
	err := namespace.Run(p.nsA, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	dst := &unix.SockaddrInet4{Addr: p.addrB}
	var rtts []time.Duration
	buf := make([]byte, 1500)
	for seq := 1; seq <= n; seq++ {
		var msg [16]byte
		msg[0] = 8
		binary.BigEndian.PutUint16(msg[4:], 0xc0de)
		binary.BigEndian.PutUint16(msg[6:], uint16(seq))
		binary.BigEndian.PutUint16(msg[2:], checksum(msg[:]))
		start := time.Now()
		if err := unix.Sendto(fd, msg[:], 0, dst); err != nil {
			t.Fatal(err)
		}
		for {
			m, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("echo %d: %v", seq, err)
			}
			ihl := int(buf[0]&0xf) * 4
			if m >= ihl+8 && buf[ihl] == 0 && binary.BigEndian.Uint16(buf[ihl+6:]) == uint16(seq) {
				break
			}
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	return rtts
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
