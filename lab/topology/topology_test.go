package topology

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/namespace"
)

// requireRoot skips on a user's machine without root and fails under CI=true.
func requireRoot(t *testing.T) {
	t.Helper()
	if err := CheckPrivileges(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := namespace.Run(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dialFrom(ns, addr string) (net.Conn, error) {
	var c net.Conn
	err := namespace.Run(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, 3*time.Second)
		return err
	})
	return c, err
}

func TestIntegrationTopology(t *testing.T) {
	requireRoot(t)
	id := NewRunID()
	topo, err := Build(Spec{RunID: id, Hosts: []HostSpec{
		{Kind: Exchange, Name: "near"},
		{Kind: Exchange, Name: "far", Impaired: true},
		{Kind: Trader, Name: "t1"},
		{Kind: Monitor},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close() })
	near, t1, far := topo.Host(Exchange, "near"), topo.Host(Trader, "t1"), topo.Host(Exchange, "far")
	if near.Addr != netip.MustParseAddr("198.18.0.2") || t1.Addr != netip.MustParseAddr("198.18.64.2") || far.EmuNS != NSName(id, "emu-ex-far") {
		t.Fatalf("addressing: %+v %+v %+v", near, t1, far)
	}
	if got, _ := ListNamespaces(id); len(got) != 6 { // net, near, far, emu-far, t1, mon
		t.Fatalf("namespaces %v", got)
	}

	// Trader reaches the exchange through the router; data flows both ways.
	ln := listenIn(t, near.NS, near.Addr.String()+":8443")
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("echo " + line))
	}()
	c, err := dialFrom(t1.NS, near.Addr.String()+":8443")
	if err != nil {
		t.Fatalf("trader to exchange: %v", err)
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write([]byte("hello\n"))
	reply, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || reply != "echo hello\n" {
		t.Fatalf("reply %q %v", reply, err)
	}
	if la := c.LocalAddr().(*net.TCPAddr); la.IP.String() != "198.18.64.2" {
		t.Fatalf("trader source address %v", la)
	}

	// The impaired link has no forwarder yet: nothing crosses it.
	if _, err := dialFrom(t1.NS, far.Addr.String()+":9"); err == nil {
		t.Fatal("reached an impaired host with no emulator running")
	}

	if err := topo.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := ListNamespaces(id); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
}

// A run that crashed leaves namespaces and processes; Clean removes them.
func TestIntegrationClean(t *testing.T) {
	requireRoot(t)
	id := NewRunID()
	topo, err := Build(Spec{RunID: id, Hosts: []HostSpec{{Kind: Exchange, Name: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	ns := topo.Host(Exchange, "x").NS
	var cmd *exec.Cmd
	if err := namespace.Run(ns, func() error {
		cmd = exec.CommandContext(context.Background(), "sleep", "300")
		return cmd.Start()
	}); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	tmp, err := os.CreateTemp("", Prefix+id+"-keylog-*")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	if pids, _ := PIDsIn(ns); len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("pids in %s: %v, want [%d]", ns, pids, cmd.Process.Pid)
	}
	rep, err := Clean(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Namespaces) != 2 || rep.Processes != 1 || len(rep.TempFiles) != 1 || !strings.Contains(rep.TempFiles[0], id) {
		t.Fatalf("report %+v", rep)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("process in the namespace survived Clean")
	}
	if got, _ := ListNamespaces(id); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
}

// Mirroring copies the trader's TCP packets, both directions, into VXLAN
// towards the monitor.
func TestIntegrationMirror(t *testing.T) {
	requireRoot(t)
	id := NewRunID()
	topo, err := Build(Spec{RunID: id, Hosts: []HostSpec{{Kind: Exchange, Name: "x"}, {Kind: Trader, Name: "t"}, {Kind: Monitor}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close() })
	x, tr, mon := topo.Host(Exchange, "x"), topo.Host(Trader, "t"), topo.Host(Monitor, "")
	m, err := topo.AddMirror(tr, mon, 0, 42)
	if err != nil {
		t.Fatal(err)
	}
	// Count VXLAN datagrams arriving at the monitor with a raw UDP listener
	// would compete with the sink device; read the link's counters instead.
	rx := func() uint64 {
		var n uint64
		namespace.Run(mon.NS, func() error {
			l, err := netlinkLinkByName(m.MonitorIface)
			if err == nil {
				n = l.Attrs().Statistics.RxPackets
			}
			return err
		})
		return n
	}
	before := rx()
	ln := listenIn(t, x.NS, x.Addr.String()+":8443")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	for i := 0; i < 5; i++ {
		c, err := dialFrom(tr.NS, x.Addr.String()+":8443")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2)
		c.Read(buf)
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for rx()-before < 25 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling counters with a deadline
	}
	// 5 connections × (SYN, SYN-ACK, ACK, data, FIN...) in both directions.
	if got := rx() - before; got < 25 {
		t.Fatalf("monitor received %d mirrored packets, want >= 25", got)
	}
}
