package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// bigEndianPcapng builds a big-endian pcapng by hand: section header,
// one Ethernet interface (default µs resolution), a Decryption Secrets
// Block between packets, a block type the reader does not know, and two
// packets.
func bigEndianPcapng(frame []byte) []byte {
	be := binary.BigEndian
	var out []byte
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		out = be.AppendUint32(out, typ)
		out = be.AppendUint32(out, n)
		out = append(out, body...)
		out = be.AppendUint32(out, n)
	}
	shb := be.AppendUint32(nil, 0x1a2b3c4d)
	shb = be.AppendUint16(shb, 1)
	shb = be.AppendUint16(shb, 0)
	shb = be.AppendUint64(shb, ^uint64(0))
	block(magicPcapng, shb)
	idb := be.AppendUint16(nil, uint16(layers.LinkTypeEthernet))
	idb = append(idb, 0, 0, 0, 0, 0, 0)
	block(1, idb)
	epb := func(us uint64) {
		b := be.AppendUint32(nil, 0)
		b = be.AppendUint32(b, uint32(us>>32))
		b = be.AppendUint32(b, uint32(us))
		b = be.AppendUint32(b, uint32(len(frame)))
		b = be.AppendUint32(b, uint32(len(frame)))
		block(6, append(b, frame...))
	}
	epb(1_700_000_000_000_001)
	key := "CLIENT_HANDSHAKE_TRAFFIC_SECRET 01 02\n"
	dsb := be.AppendUint32(nil, secretsTLSKey)
	dsb = be.AppendUint32(dsb, uint32(len(key)))
	block(blockDSB, append(dsb, key...))
	block(0x0bad, []byte("unknown block"))
	epb(1_700_000_000_000_002)
	return out
}

func TestBigEndianPcapng(t *testing.T) {
	_, ds := frames(t, "tcp-us.pcap")
	data := bigEndianPcapng(ds[3])
	// Feed it one byte at a time to exercise the block scanner's state.
	f, err := NewFile("be.pcapng", oneByteReader{bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	var n int
	for {
		err := f.ReadInto(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if p.TS != 1_700_000_000_000_000_000+int64(n)*1000 || string(p.Payload) != "hello server" {
			t.Errorf("packet %d: ts %d payload %q", n, p.TS, p.Payload)
		}
	}
	if n != 2 {
		t.Errorf("%d packets, want 2", n)
	}
	if got := string(f.KeyLog()); got != "CLIENT_HANDSHAKE_TRAFFIC_SECRET 01 02\n" {
		t.Errorf("key log %q", got)
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
