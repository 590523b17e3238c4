package netem

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
)

// Qdisc is one queueing discipline of an interface's egress tree, ready to
// be sent to the kernel: its kind, handle, parent and the TCA_OPTIONS
// payload computed from Params. It is plain data so the tree can be checked
// without a kernel.
type Qdisc struct {
	Kind    string // "netem" or "tbf"
	Handle  uint32
	Parent  uint32
	Options []byte
}

// Handles used by Tree.
const (
	tcHRoot      = 0xFFFFFFFF
	rootHandle   = 0x00010000 // 1:
	netemClass   = 0x00010001 // 1:1, netem's only class
	tbfChildHndl = 0x000A0000 // 10:
)

// Constants of linux/pkt_sched.h.
const (
	tcaNetemCorr      = 1
	tcaNetemDelayDist = 2
	tcaNetemReorder   = 3
	tcaNetemRate      = 6
	tcaNetemRate64    = 8
	tcaNetemLatency64 = 10
	tcaNetemJitter64  = 11
	tcaNetemPrngSeed  = 14

	tcaTbfParms  = 1
	tcaTbfRate64 = 4
	tcaTbfBurst  = 6

	tcLinklayerEthernet = 1

	// psched ticks are 64 ns (PSCHED_SHIFT 6) on every kernel since 3.x.
	pschedShift = 6
	// netem's distribution tables are scaled by NETEM_DIST_SCALE and hold
	// at most NETEM_DIST_MAX entries.
	netemDistScale = 8192
	netemDistMax   = 16384
)

// orderRate is the netem rate (bytes/s) set when jitter must not reorder and
// no rate was asked for: with any rate netem computes each packet's send time
// from the previous packet's (time_to_send = max(last, now + delay) + length
// / rate), so packets leave in order, and at this rate the serialisation time
// rounds to 0 ns.
const orderRate = 1 << 62

// maxJitter is the largest jitter netem takes (its sigma is an s32 of ns).
const maxJitter = time.Duration(math.MaxInt32)

// NeedsNetem reports whether p needs sch_netem (delay, jitter or loss); a
// rate limit alone is installed with tbf.
func NeedsNetem(p linkemu.Params) bool {
	return p.Delay != 0 || p.Jitter != 0 || p.Loss != 0
}

// Tree returns the egress qdiscs that impose p on an interface whose frames
// are up to frameLen bytes (MTU plus the Ethernet header), root first:
//
//   - nothing when p is the zero Params (the interface keeps its default);
//   - a root tbf when p only limits the rate;
//   - otherwise a root netem (handle 1:) with delay, jitter (uniform, or
//     normal through a distribution table), loss, limit (p.QueueLimit) and
//     the PRNG seed; Rate becomes netem's own rate, which serialises in
//     arrival order, unless Reorder is set, in which case Rate is a tbf
//     child (10:, parent 1:1) so netem's jitter may still reorder. Jitter
//     without Reorder and without Rate sets an effectively infinite netem
//     rate, the one way to make netem keep order.
//
// netem's own "reorder P gap G" (sending every G-th packet at once) is not
// used: Params models reordering as a consequence of jitter, allowed or not.
func Tree(p linkemu.Params, frameLen int) ([]Qdisc, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Jitter > maxJitter {
		return nil, &linkemu.FieldError{Field: "jitter", Value: p.Jitter.String(), Msg: "netem takes at most 2.147s"}
	}
	if frameLen < 64 || frameLen > 65535+14 {
		return nil, fmt.Errorf("netem: frame length %d out of range", frameLen)
	}
	if p == (linkemu.Params{Seed: p.Seed}) {
		return nil, nil
	}
	if !NeedsNetem(p) {
		if p.Rate == 0 {
			// Only a queue limit: nothing to shape, keep the default.
			return nil, nil
		}
		return []Qdisc{{Kind: "tbf", Handle: rootHandle, Parent: tcHRoot, Options: tbfOptions(p, frameLen)}}, nil
	}
	rate := uint64(0)
	var child *Qdisc
	switch {
	case p.Rate != 0 && !p.Reorder:
		rate = p.Rate / 8
	case p.Rate != 0:
		child = &Qdisc{Kind: "tbf", Handle: tbfChildHndl, Parent: netemClass, Options: tbfOptions(p, frameLen)}
	case p.Jitter != 0 && !p.Reorder:
		rate = orderRate
	}
	tree := []Qdisc{{Kind: "netem", Handle: rootHandle, Parent: tcHRoot, Options: netemOptions(p, rate)}}
	if child != nil {
		tree = append(tree, *child)
	}
	return tree, nil
}

// netemOptions encodes struct tc_netem_qopt followed by netem's attributes.
func netemOptions(p linkemu.Params, rateBytes uint64) []byte {
	ticks := func(d time.Duration) uint32 { return uint32(min(int64(d)>>pschedShift, math.MaxUint32)) }
	b := make([]byte, 24, 64)
	le := binary.NativeEndian
	le.PutUint32(b[0:], ticks(p.Delay))                   // latency
	le.PutUint32(b[4:], uint32(p.QueueLimit()))           // limit
	le.PutUint32(b[8:], lossU32(p.Loss))                  // loss
	le.PutUint32(b[12:], 0)                               // gap: no explicit reordering
	le.PutUint32(b[16:], 0)                               // duplicate
	le.PutUint32(b[20:], ticks(min(p.Jitter, maxJitter))) // jitter
	// The 64-bit ns forms override the tick fields (Linux 4.15+).
	b = appendAttr(b, tcaNetemLatency64, u64(uint64(p.Delay)))
	b = appendAttr(b, tcaNetemJitter64, u64(uint64(p.Jitter)))
	if p.Jitter != 0 && p.JitterDist == linkemu.Normal {
		b = appendAttr(b, tcaNetemDelayDist, normalTable())
	}
	if rateBytes != 0 {
		// struct tc_netem_rate: rate (u32 bytes/s), packet_overhead,
		// cell_size, cell_overhead; a rate above 32 bits goes in RATE64.
		r := make([]byte, 16)
		le.PutUint32(r, uint32(min(rateBytes, math.MaxUint32)))
		b = appendAttr(b, tcaNetemRate, r)
		if rateBytes >= math.MaxUint32 {
			b = appendAttr(b, tcaNetemRate64, u64(rateBytes))
		}
	}
	if p.Seed != 0 {
		// Linux 6.3+ seeds netem's PRNG (loss and jitter draws); older
		// kernels ignore the attribute.
		b = appendAttr(b, tcaNetemPrngSeed, u64(p.Seed))
	}
	return b
}

// lossU32 scales a probability to netem's u32 (UINT32_MAX is certain loss).
func lossU32(p float64) uint32 {
	return uint32(math.Round(p * math.MaxUint32))
}

// tbfOptions encodes a tbf with rate p.Rate, a burst of 1 ms of traffic (at
// least two frames) and a byte limit of QueueLimit frames.
func tbfOptions(p linkemu.Params, frameLen int) []byte {
	le := binary.NativeEndian
	rate := p.Rate / 8 // bytes/s
	burst := max(uint64(2*frameLen), rate/1000)
	burst = min(burst, math.MaxUint32)
	limit := min(uint64(p.QueueLimit())*uint64(frameLen), math.MaxUint32)
	// struct tc_tbf_qopt: rate and peakrate (struct tc_ratespec, 12 bytes
	// each), limit, buffer (ticks), mtu.
	q := make([]byte, 36)
	q[1] = tcLinklayerEthernet                                                // rate.linklayer
	le.PutUint32(q[8:], uint32(min(rate, math.MaxUint32)))                    // rate.rate
	le.PutUint32(q[24:], uint32(limit))                                       // limit
	bufNs := float64(burst) * 1e9 / float64(rate)                             // burst time
	le.PutUint32(q[28:], uint32(min(bufNs/(1<<pschedShift), math.MaxUint32))) // buffer
	var b []byte
	b = appendAttr(b, tcaTbfParms, q)
	if rate >= math.MaxUint32 {
		b = appendAttr(b, tcaTbfRate64, u64(rate))
	}
	burst32 := make([]byte, 4)
	le.PutUint32(burst32, uint32(burst))
	b = appendAttr(b, tcaTbfBurst, burst32)
	return b
}

// appendAttr appends a netlink attribute (struct rtattr, padded to 4 bytes).
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	le := binary.NativeEndian
	n := 4 + len(data)
	var h [4]byte
	le.PutUint16(h[0:], uint16(n))
	le.PutUint16(h[2:], typ)
	b = append(b, h[:]...)
	b = append(b, data...)
	for n%4 != 0 {
		b = append(b, 0)
		n++
	}
	return b
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint64(b, v)
	return b
}

// normalTableSize is the number of entries of the normal distribution table.
const normalTableSize = 4096

// normalTable returns netem's delay distribution table for the standard
// normal distribution: entry i is the (i+½)/n quantile in units of
// 1/NETEM_DIST_SCALE standard deviations, as s16. netem draws an entry
// uniformly and adds entry·jitter/NETEM_DIST_SCALE to the delay. (iproute2
// ships the same distribution as normal.dist; it is computed here from the
// inverse error function so no file is needed.)
func normalTable() []byte {
	b := make([]byte, 2*normalTableSize)
	for i := range normalTableSize {
		q := (float64(i) + 0.5) / normalTableSize
		z := math.Sqrt2 * math.Erfinv(2*q-1)
		v := math.Round(z * netemDistScale)
		v = max(math.MinInt16, min(math.MaxInt16, v))
		binary.NativeEndian.PutUint16(b[2*i:], uint16(int16(v)))
	}
	return b
}
