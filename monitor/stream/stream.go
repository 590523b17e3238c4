// Package stream holds the few types that the monitor's stages pass to each
// other: the identity of a TCP connection, a direction within it, and the
// handler interfaces through which one stage pushes timestamped bytes into
// the next (tcpflow → tlsdec → httpdec / ws).
//
// Timestamps are int64 nanoseconds since the Unix epoch, taken from the
// capture (the kernel), never from an application clock.
//
// Buffers: a []byte handed to any method in this package's interfaces is
// owned by the caller and valid only during the call. A receiver that keeps
// bytes must copy them.
package stream

import (
	"net/netip"
	"strconv"
)

// Dir is a direction within a connection.
type Dir uint8

const (
	ClientToServer Dir = 0 // from the side that opened the connection (or is judged the client)
	ServerToClient Dir = 1
)

func (d Dir) String() string {
	if d == ClientToServer {
		return "c2s"
	}
	return "s2c"
}

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return d ^ 1 }

// ConnKey identifies a TCP connection, client first. It is comparable and
// used as a map key; never key flows by formatted strings.
type ConnKey struct {
	Client netip.AddrPort
	Server netip.AddrPort
}

// String formats the key as the `conn` field of docs/FORMATS.md: "src:port-dst:port",
// client first (IPv6 addresses in brackets). Not for hot paths.
func (k ConnKey) String() string {
	return k.Client.String() + "-" + k.Server.String()
}

// AppendText appends String's form to b without allocating when b has room.
func (k ConnKey) AppendText(b []byte) []byte {
	b = appendAddrPort(b, k.Client)
	b = append(b, '-')
	return appendAddrPort(b, k.Server)
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	if a.Is6() && !a.Is4In6() {
		b = append(b, '[')
		b = a.AppendTo(b)
		b = append(b, ']')
	} else {
		b = a.Unmap().AppendTo(b)
	}
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

// Handler receives one connection's reassembled bytes, in order per
// direction. tcpflow calls it; tlsdec implements it.
type Handler interface {
	// Data delivers in-order bytes of one direction that were carried by a
	// single captured segment with capture time ts.
	Data(dir Dir, b []byte, ts int64)
	// Gap reports n bytes of one direction that were never captured
	// (lost before the capture point, or the capture started mid-stream).
	Gap(dir Dir, n int, ts int64)
	// Close ends the connection (FIN, RST, idle timeout or end of capture).
	Close(ts int64)
}

// Span is a piece of decoded bytes with the capture times of the first and
// the last captured segment that carried them.
type Span struct {
	FirstNS int64
	LastNS  int64
}
