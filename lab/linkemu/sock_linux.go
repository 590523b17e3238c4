package linkemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vnetHdrLen is the size of struct virtio_net_hdr, which PACKET_VNET_HDR
// puts before every frame read or written. It carries checksum-offload state
// (a frame from a veth usually has its TCP/UDP checksum left to the
// hardware) and GSO state, so a frame forwarded whole keeps both.
const vnetHdrLen = 10

// maxFrame is the largest frame read: a 64 KiB GSO super-frame plus headers.
const maxFrame = 65536 + 256

const (
	packetIgnoreOutgoing = 23 // PACKET_IGNORE_OUTGOING, Linux 4.20
	virtioGSONone        = 0
)

// rxSock is a packet socket bound to one interface that receives every frame
// (ETH_P_ALL) with its kernel timestamp. Its recvmsg buffers are preallocated
// so a receive allocates nothing.
type rxSock struct {
	fd   int
	msg  unix.Msghdr
	iov  unix.Iovec
	from unix.RawSockaddrLinklayer
	oob  [128]byte
	buf  []byte

	stats    unix.TpacketStats
	statsLen uint32
}

// txSock is a packet socket bound to one interface that receives nothing
// (protocol 0) and writes whole frames, virtio_net_hdr first.
type txSock struct{ fd int }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func packetSocket(ifindex int, proto uint16) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w (needs CAP_NET_RAW)", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("PACKET_VNET_HDR: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind to ifindex %d: %w", ifindex, err)
	}
	return fd, nil
}

func openRx(ifindex int) (*rxSock, error) {
	// Created with protocol 0 and bound with ETH_P_ALL, so no frame of
	// another interface is queued before the bind.
	fd, err := packetSocket(ifindex, unix.ETH_P_ALL)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*rxSock, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail("SO_TIMESTAMPNS", err)
	}
	// Our own writes come back as PACKET_OUTGOING; have the kernel skip
	// them (the receive loop also checks the packet type, for old kernels).
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, packetIgnoreOutgoing, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fail("promiscuous mode", err)
	}
	// Drain anything queued between socket() and bind().
	r := &rxSock{fd: fd, buf: make([]byte, maxFrame)}
	for {
		if _, _, err := r.recv(); err != nil {
			break
		}
	}
	return r, nil
}

// recv reads one frame without blocking. It returns the frame length
// (virtio_net_hdr included; larger than the buffer when truncated), the
// kernel receive timestamp (0 when absent) and EAGAIN when nothing is queued.
// Outgoing frames are reported with n = 0.
func (r *rxSock) recv() (n int, tsNs int64, err error) {
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(len(r.buf))
	r.msg.Name = (*byte)(unsafe.Pointer(&r.from))
	r.msg.Namelen = uint32(unsafe.Sizeof(r.from))
	r.msg.Iov = &r.iov
	r.msg.Iovlen = 1
	r.msg.Control = &r.oob[0]
	r.msg.SetControllen(len(r.oob))
	r.msg.Flags = 0
	m, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.msg)), unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	if e != 0 {
		return 0, 0, e
	}
	if r.from.Pkttype == unix.PACKET_OUTGOING {
		return 0, 0, nil
	}
	return int(m), r.timestamp(), nil
}

// timestamp finds SCM_TIMESTAMPNS in the control data just read.
func (r *rxSock) timestamp() int64 {
	ctl := r.oob[:min(int(r.msg.Controllen), len(r.oob))]
	const hdr = unix.SizeofCmsghdr
	for len(ctl) >= hdr {
		c := (*unix.Cmsghdr)(unsafe.Pointer(&ctl[0]))
		l := int(c.Len)
		if l < hdr || l > len(ctl) {
			return 0
		}
		if c.Level == unix.SOL_SOCKET && c.Type == unix.SCM_TIMESTAMPNS && l >= hdr+16 {
			ts := (*unix.Timespec)(unsafe.Pointer(&ctl[hdr]))
			return ts.Nano()
		}
		adv := (l + 7) &^ 7
		if adv >= len(ctl) {
			return 0
		}
		ctl = ctl[adv:]
	}
	return 0
}

// kernelDrops reads and resets the socket's drop counter (into
// preallocated storage: it runs once per batch of frames).
func (r *rxSock) kernelDrops() uint64 {
	r.statsLen = uint32(unsafe.Sizeof(r.stats))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(r.fd), unix.SOL_PACKET, unix.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(&r.stats)), uintptr(unsafe.Pointer(&r.statsLen)), 0)
	if e != 0 {
		return 0
	}
	return uint64(r.stats.Drops)
}

func openTx(ifindex int) (*txSock, error) {
	fd, err := packetSocket(ifindex, 0)
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
	return &txSock{fd: fd}, nil
}

// send writes one frame (virtio_net_hdr first) to the interface. A full
// device queue (ENOBUFS) is retried for a while, as a frame would wait on a
// real wire; anything else, or a queue that stays full, is an error.
func (t *txSock) send(b []byte) error {
	for tries := 0; ; tries++ {
		_, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(t.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch {
		case e == 0:
			return nil
		case e == unix.EINTR:
			continue
		case (e == unix.EAGAIN || e == unix.ENOBUFS) && tries < 10000:
			continue
		}
		return e
	}
}

// wireLen is the number of bytes a frame occupies on the wire: its length
// without the virtio_net_hdr, or for a GSO super-frame the sum of the
// segments it will be cut into, each with its own copy of the headers.
func wireLen(frame []byte) (n int, gso bool) {
	if len(frame) < vnetHdrLen {
		return 0, false
	}
	n = len(frame) - vnetHdrLen
	if frame[1]&0x7f == virtioGSONone {
		return n, false
	}
	hdrLen := int(binary.LittleEndian.Uint16(frame[2:]))
	segSize := int(binary.LittleEndian.Uint16(frame[4:]))
	if segSize == 0 || hdrLen >= n {
		return n, true
	}
	segs := (n - hdrLen + segSize - 1) / segSize
	return n + (segs-1)*hdrLen, true
}

// ethtool legacy commands (linux/ethtool.h) that switch one offload.
const (
	ethtoolSTSO = 0x1f
	ethtoolSGSO = 0x24
	ethtoolSGRO = 0x2c
)

// DisableOffloads switches TSO, GSO and GRO off on the interface named
// ifname in the calling thread's network namespace, so the stack hands it
// MTU-sized frames that an emulated link can delay, drop and serialise one by
// one. The emulator does it for its own two interfaces; the lab should do it
// for the far ends of its veth pairs, where TCP builds its segments. Checksum
// offload is left on (forwarded frames keep it through virtio_net_hdr).
func DisableOffloads(ifname string) error { return setOffloads(ifname, false) }

// setOffloads switches TSO, GSO and GRO on or off with the legacy ethtool
// ioctls.
func setOffloads(ifname string, on bool) error {
	if len(ifname) >= unix.IFNAMSIZ {
		return fmt.Errorf("linkemu: interface name %q too long", ifname)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linkemu: ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	var data uint32
	if on {
		data = 1
	}
	for _, c := range []struct {
		cmd  uint32
		name string
	}{{ethtoolSTSO, "tso"}, {ethtoolSGSO, "gso"}, {ethtoolSGRO, "gro"}} {
		val := struct{ cmd, data uint32 }{c.cmd, data}
		var ifr struct {
			name [unix.IFNAMSIZ]byte
			data unsafe.Pointer // *ethtool_value; a pointer, so a moved stack is followed
			_    [16]byte
		}
		copy(ifr.name[:], ifname)
		ifr.data = unsafe.Pointer(&val)
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&val)
		if e != 0 && e != unix.EOPNOTSUPP {
			return fmt.Errorf("linkemu: %s: switching %s %s: %w", ifname, c.name, map[bool]string{false: "off", true: "on"}[on], e)
		}
	}
	return nil
}

// eventfd is a counter that one thread signals and another waits on with
// ppoll.
type eventfd int

func newEventfd() (eventfd, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	return eventfd(fd), err
}

func (e eventfd) signal() {
	one := [8]byte{1}
	_, _ = unix.Write(int(e), one[:])
}

func (e eventfd) drain() {
	var b [8]byte
	_, _ = unix.Read(int(e), b[:])
}

// wait blocks until one of fds is readable or d passes (d < 0: no limit).
// It reports which fds are readable in the returned bitmask.
func wait(fds []unix.PollFd, d time.Duration) (uint, error) {
	var ts *unix.Timespec
	if d >= 0 {
		t := unix.NsecToTimespec(int64(d))
		ts = &t
	}
	for i := range fds {
		fds[i].Revents = 0
	}
	_, err := unix.Ppoll(fds, ts, nil)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return 0, err
	}
	var mask uint
	for i := range fds {
		if fds[i].Revents != 0 {
			mask |= 1 << i
		}
	}
	return mask, nil
}
