package tcpflow

import (
	"encoding/binary"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// truth is the byte at offset i of direction d of the fuzzed connection.
func truth(d stream.Dir, i int) byte { return byte(i*7 + int(d)*101 + i>>8) }

type fuzzSink struct {
	first bool // the connection opened by the handshake
	pos   [2]int
	data  [2]int
	bad   string
}

func (s *fuzzSink) Data(d stream.Dir, b []byte, _ int64) {
	for i, c := range b {
		if s.first && c != truth(d, s.pos[d]+i) && s.bad == "" {
			s.bad = "delivered byte differs from what was sent"
		}
	}
	s.pos[d] += len(b)
	s.data[d] += len(b)
}
func (s *fuzzSink) Gap(d stream.Dir, n int, _ int64) {
	if n <= 0 && s.bad == "" {
		s.bad = "empty gap"
	}
	s.pos[d] += n
}
func (s *fuzzSink) Close(int64) {}

// FuzzSegments feeds random segment sequences of one connection: each
// 6-byte op is a direction and flags, an offset, a length and a time step.
// Consistent mode sends the true bytes at every offset; otherwise bytes are
// garbled. Some payloads are cut short as by a snap length. Reassembly must never panic, never deliver more bytes than were
// sent, and in consistent mode deliver each byte at its true offset.
func FuzzSegments(f *testing.F) {
	f.Add(true, uint16(4), []byte{0x10, 0, 0, 10, 1, 0, 0x10, 0, 10, 10, 1, 0, 0x11, 0, 20, 5, 1, 0})
	f.Add(true, uint16(64), []byte{0x10, 0, 10, 10, 1, 0, 0x10, 0, 0, 12, 1, 0, 0x90, 0, 0, 30, 1, 0, 0x04, 0, 0, 0, 1, 0})
	f.Add(false, uint16(0), []byte{0x10, 0xff, 0xf0, 200, 3, 0, 0x30, 0, 0, 255, 200, 200, 0x12, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, consistent bool, maxBuf uint16, ops []byte) {
		var sinks []*fuzzSink
		a, err := New(Config{MaxBuffered: int(maxBuf) + 1, ServerPorts: []uint16{9000}}, func(_ stream.ConnKey, info ConnInfo) stream.Handler {
			s := &fuzzSink{first: consistent && len(sinks) == 0 && info.Opened == OpenedSYN}
			sinks = append(sinks, s)
			return s
		})
		if err != nil {
			t.Fatal(err)
		}
		cli, srv := cli, srv
		isn := [2]uint32{0xffffff00, 1000}
		ts := int64(1)
		add := func(p capture.Packet) {
			p.Proto, p.TS = capture.ProtoTCP, ts
			if p.PayloadLen == 0 {
				p.PayloadLen = len(p.Payload)
			}
			a.Add(&p)
		}
		add(capture.Packet{Src: cli, Dst: srv, Seq: isn[0], Flags: capture.SYN})
		add(capture.Packet{Src: srv, Dst: cli, Seq: isn[1], Ack: isn[0] + 1, Flags: capture.SYN | capture.ACK})
		var fed [2]int
		var buf [2048]byte
		for len(ops) >= 6 {
			op := ops[:6]
			ops = ops[6:]
			d := stream.Dir(op[0] & 1)
			flags := capture.TCPFlags(op[0]>>1) & (capture.FIN | capture.RST | capture.ACK | capture.PSH)
			flags |= capture.ACK
			if op[0]&0x80 == 0 {
				flags &^= capture.RST // RST only when asked twice over
			}
			off := int(binary.BigEndian.Uint16(op[1:3])) % 8192
			n := (int(op[3]) << 3) % 1600
			if op[0]&0x40 != 0 {
				n = int(op[3]) % 32
			}
			ts += int64(op[4]) * int64(op[5]+1) * 1000
			b := buf[:n]
			for i := range b {
				b[i] = truth(d, off+i)
				if !consistent {
					b[i] ^= op[5]
				}
			}
			src, dst := cli, srv
			if d == stream.ServerToClient {
				src, dst = srv, cli
			}
			p := capture.Packet{Src: src, Dst: dst, Seq: isn[d] + 1 + uint32(off), Ack: isn[d^1] + 1, Flags: flags, Payload: b}
			if op[5]&0x80 != 0 && n > 1 { // the snap length cut the payload
				p.Payload, p.PayloadLen = b[:n/2], n
			}
			add(p)
			fed[d] += len(p.Payload)
		}
		a.Flush(ts + 1)
		if a.Open() != 0 {
			t.Fatalf("%d connections open after Flush", a.Open())
		}
		var got [2]int
		for _, s := range sinks {
			if s.bad != "" {
				t.Fatal(s.bad)
			}
			got[0] += s.data[0]
			got[1] += s.data[1]
			if s.first {
				for d := range 2 {
					if s.pos[d] > 8192+1600 {
						t.Fatalf("%v: stream reached offset %d, beyond anything sent", stream.Dir(d), s.pos[d])
					}
				}
			}
		}
		for d := range 2 {
			if got[d] > fed[d] {
				t.Fatalf("%v: delivered %d bytes, fed %d", stream.Dir(d), got[d], fed[d])
			}
		}
	})
}
