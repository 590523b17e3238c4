package capture

import (
	"fmt"
	"strconv"
)

// Reason names a per-packet decoding problem. Packets with a Reason are
// counted warnings, not errors: the source goes on with the next packet.
type Reason uint8

const (
	ReasonNone Reason = iota
	ReasonLinkType
	ReasonEthernetShort
	ReasonSLLShort
	ReasonSLL2Short
	ReasonNullShort
	ReasonNullFamily
	ReasonVLANShort
	ReasonIPShort
	ReasonIPVersion
	ReasonIPv4Short
	ReasonIPv4HeaderLen
	ReasonIPv4HeaderTrunc
	ReasonIPv4TotalLen
	ReasonIPv4Fragment
	ReasonIPv6Short
	ReasonIPv6Ext
	ReasonIPv6Fragment
	ReasonTCPShort
	ReasonTCPDataOffset
	ReasonTCPHeaderTrunc
	ReasonTCPOption
	ReasonUDPShort
	ReasonVXLANShort
	ReasonVXLANFlags
	ReasonVXLANDepth
	numReasons
)

// reasonFormat holds each Reason's text with its two numbers (A, B).
var reasonFormat = [numReasons]string{
	ReasonNone:            "no problem",
	ReasonLinkType:        "link: link type %d not supported",
	ReasonEthernetShort:   "ethernet: frame length %d < %d",
	ReasonSLLShort:        "sll: frame length %d < %d",
	ReasonSLL2Short:       "sll2: frame length %d < %d",
	ReasonNullShort:       "null: frame length %d < %d",
	ReasonNullFamily:      "null: address family %d is not IP",
	ReasonVLANShort:       "vlan: tag length %d < %d",
	ReasonIPShort:         "ip: packet length %d < %d",
	ReasonIPVersion:       "ip: version %d unknown (want %d)",
	ReasonIPv4Short:       "ipv4: packet length %d < %d",
	ReasonIPv4HeaderLen:   "ipv4: header length %d < %d",
	ReasonIPv4HeaderTrunc: "ipv4: header length %d > captured %d",
	ReasonIPv4TotalLen:    "ipv4: total length %d < header length %d",
	ReasonIPv4Fragment:    "ipv4: fragment at offset %d unsupported",
	ReasonIPv6Short:       "ipv6: packet length %d < %d",
	ReasonIPv6Ext:         "ipv6: extension header %d truncated at %d bytes",
	ReasonIPv6Fragment:    "ipv6: fragment at offset %d unsupported",
	ReasonTCPShort:        "tcp: segment length %d < %d",
	ReasonTCPDataOffset:   "tcp: data offset %d < %d",
	ReasonTCPHeaderTrunc:  "tcp: data offset %d > captured %d",
	ReasonTCPOption:       "tcp: option %d has bad length %d",
	ReasonUDPShort:        "udp: datagram length %d < %d",
	ReasonVXLANShort:      "vxlan: header length %d < %d",
	ReasonVXLANFlags:      "vxlan: flags 0x%02x lack the VNI bit",
	ReasonVXLANDepth:      "vxlan: nested %d deep, limit %d",
}

var reasonName = [numReasons]string{
	"none", "link_type", "ethernet_short", "sll_short", "sll2_short", "null_short",
	"null_family", "vlan_short", "ip_short", "ip_version", "ipv4_short",
	"ipv4_header_len", "ipv4_header_trunc", "ipv4_total_len", "ipv4_fragment",
	"ipv6_short", "ipv6_ext", "ipv6_fragment", "tcp_short", "tcp_data_offset",
	"tcp_header_trunc", "tcp_option", "udp_short", "vxlan_short", "vxlan_flags",
	"vxlan_depth",
}

// String returns a short snake_case name, for counters.
func (r Reason) String() string {
	if r < numReasons {
		return reasonName[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

// Text formats the problem with its numbers, e.g. "ipv4: header length 4 < 20".
func (r Reason) Text(a, b int) string {
	if r >= numReasons {
		return r.String()
	}
	f := reasonFormat[r]
	n := 0
	for i := 0; i+1 < len(f); i++ {
		if f[i] == '%' {
			n++
		}
	}
	switch n {
	case 0:
		return f
	case 1:
		return fmt.Sprintf(f, a)
	default:
		return fmt.Sprintf(f, a, b)
	}
}

// Warning is one packet that could not be fully decoded, e.g.
// "cap.pcap: packet 17: ipv4: header length 4 < 20". It is formatted only
// when asked, never per packet.
type Warning struct {
	File   string
	Packet uint64
	Reason Reason
	A, B   int
}

func (w Warning) Error() string {
	return w.File + ": packet " + strconv.FormatUint(w.Packet, 10) + ": " + w.Reason.Text(w.A, w.B)
}

// maxKeptWarnings bounds how many Warnings a source keeps; all are counted.
const maxKeptWarnings = 100

// ReadError is why a source stopped: a file that is not a capture, or a
// record that is truncated or corrupt. Packet is the 1-based number of the
// packet being read (0 for the file header).
type ReadError struct {
	File   string
	Packet uint64
	Err    error
}

func (e *ReadError) Error() string {
	if e.Packet == 0 {
		return e.File + ": " + e.Err.Error()
	}
	return e.File + ": packet " + strconv.FormatUint(e.Packet, 10) + ": " + e.Err.Error()
}

func (e *ReadError) Unwrap() error { return e.Err }
