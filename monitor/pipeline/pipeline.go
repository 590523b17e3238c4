// Package pipeline wires the monitor's stages into one analysis: captured
// packets → TCP reassembly (tcpflow) → TLS decryption from a key log
// (tlsdec; plaintext connections skip it) → HTTP/1.1 and WebSocket decoding
// (httpdec, ws) → exchange profiles (profile) → latency records and
// histograms (correlate). `cloudpcap analyze` drives it from capture files;
// the lab's live monitor drives it from AF_PACKET sockets.
//
// It also keeps a record per TCP connection (endpoints, timing, bytes, TLS
// parameters, messages, decode problems), as a classic pcap analyser would,
// and builds the summary of docs/FORMATS.md.
//
// Buffers: Packet does not keep the packet. Events handed to the sink point
// into decoder buffers and are valid only during the Sink call. A Pipeline
// is not safe for concurrent use.
package pipeline

import (
	"encoding/hex"
	"sort"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/httpdec"
	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/tcpflow"
	"github.com/cloudpcap/cloudpcap/monitor/tlsdec"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// Config sets up a Pipeline. The zero value analyses with the auto profile
// and no key log (TLS connections are then only described, not decrypted).
type Config struct {
	Profile   *profile.Profile // nil: auto
	Keys      *keyring.Store
	Events    correlate.Sink // nil: no events
	Payloads  bool           // emit events for every decoded message, with payloads
	Correlate correlate.Config
	TCP       tcpflow.Config
	TLS       tlsdec.Config // Keys is filled from Config.Keys
	HTTP      httpdec.Config
	// MaxConnRecords bounds the connection records kept (default 100000).
	MaxConnRecords int
}

// Pipeline is one analysis.
type Pipeline struct {
	cfg   Config
	prof  *profile.Profile
	asm   *tcpflow.Assembler
	cor   *correlate.Correlator
	conns []*conn // open and closed, in order of opening
	live  map[stream.ConnKey]*conn
	syn   map[stream.ConnKey]int64 // client SYN times, until tcpflow opens the connection
	fl    profile.Fields
	agg   aggregate
	err   error // first sink error
	// unanswered counts orders whose response never came (later responses
	// arrived); capped counts connections beyond MaxConnRecords.
	unanswered, capped int64
	finishing          bool
	first              int64
	last               int64
}

// aggregate holds counters of connections already closed.
type aggregate struct {
	tls  tlsdec.Stats
	http httpdec.Stats
}

// New returns a Pipeline.
func New(cfg Config) (*Pipeline, error) {
	p := &Pipeline{cfg: cfg, prof: cfg.Profile, live: map[stream.ConnKey]*conn{}, syn: map[stream.ConnKey]int64{}}
	if p.prof == nil {
		p.prof, _ = profile.ByName("auto")
	}
	if p.cfg.MaxConnRecords == 0 {
		p.cfg.MaxConnRecords = 100000
	}
	p.cfg.TLS.Keys = cfg.Keys
	if err := cfg.HTTP.Validate(); err != nil {
		return nil, err
	}
	p.cor = correlate.New(cfg.Correlate, cfg.Events)
	asm, err := tcpflow.New(cfg.TCP, p.newConn)
	if err != nil {
		return nil, err
	}
	p.asm = asm
	return p, nil
}

// Packet feeds one captured packet (in capture order).
func (p *Pipeline) Packet(pkt *capture.Packet) {
	if p.first == 0 || pkt.TS < p.first {
		p.first = pkt.TS
	}
	if pkt.TS > p.last {
		p.last = pkt.TS
	}
	if pkt.Proto == capture.ProtoTCP && pkt.Flags.Has(capture.SYN) {
		p.noteSYN(pkt)
	}
	p.asm.Add(pkt)
}

// noteSYN measures the TCP handshake at the capture point: SYN to SYN-ACK.
// It runs before tcpflow sees the packet, so a SYN's time is waiting in
// p.syn when the factory opens the connection, and a SYN-ACK finds the
// connection open. Only SYN packets touch this.
func (p *Pipeline) noteSYN(pkt *capture.Packet) {
	if !pkt.Flags.Has(capture.ACK) {
		k := stream.ConnKey{Client: pkt.Src, Server: pkt.Dst}
		if _, open := p.live[k]; open {
			return // a retransmitted SYN of an open connection
		}
		if _, ok := p.syn[k]; !ok && len(p.syn) < 1<<16 {
			p.syn[k] = pkt.TS
		}
		return
	}
	k := stream.ConnKey{Client: pkt.Dst, Server: pkt.Src}
	if c := p.live[k]; c != nil && c.synNS > 0 && c.rec.HandshakeRTTNS == 0 && pkt.TS >= c.synNS {
		c.rec.HandshakeRTTNS = pkt.TS - c.synNS
	}
}

// KeysChanged makes every open TLS connection retry records that were
// waiting for their key (the live monitor calls it when the key log grows).
func (p *Pipeline) KeysChanged() {
	for _, c := range p.live {
		if c.tls != nil {
			c.tls.Retry()
		}
	}
}

// FlushIdle closes connections idle in capture time (a quiet live capture).
func (p *Pipeline) FlushIdle(now int64) { p.asm.FlushIdle(now) }

// Finish closes every connection at the end of input.
func (p *Pipeline) Finish() {
	p.finishing = true
	p.asm.Flush(p.last)
}

// Err returns the first error writing events.
func (p *Pipeline) Err() error { return p.err }

// Correlator exposes the latency state (for live views).
func (p *Pipeline) Correlator() *correlate.Correlator { return p.cor }

func (p *Pipeline) newConn(key stream.ConnKey, info tcpflow.ConnInfo) stream.Handler {
	c := &conn{p: p, key: key, rec: ConnRecord{Conn: key.String(), Client: key.Client.String(), Server: key.Server.String(), FirstNS: info.FirstNS, Opened: info.Opened.String()}}
	if ts, ok := p.syn[key]; ok {
		c.synNS = ts
		delete(p.syn, key)
	}
	c.prof = p.prof
	c.orders = map[int64]correlate.OrderRef{}
	p.live[key] = c
	if len(p.conns) < p.cfg.MaxConnRecords {
		p.conns = append(p.conns, c)
	} else {
		p.capped++
	}
	return c
}

// conn is one TCP connection's decoding state.
type conn struct {
	p      *Pipeline
	key    stream.ConnKey
	rec    ConnRecord
	tls    *tlsdec.Conn
	http   *httpdec.Conn
	sniffd bool
	prof   *profile.Profile // pinned once auto recognised the exchange
	orders map[int64]correlate.OrderRef
	synNS  int64 // capture time of the client's SYN (0: not seen)
	closed bool
}

// Data implements stream.Handler: the first client bytes decide between TLS
// (a handshake record: 0x16 0x03) and plaintext HTTP.
func (c *conn) Data(dir stream.Dir, b []byte, ts int64) {
	c.rec.Bytes[dir] += int64(len(b))
	c.rec.LastNS = ts
	if !c.sniffd {
		c.sniffd = true
		c.http = httpdec.NewConn(c.p.cfg.HTTP, c)
		if len(b) >= 2 && b[0] == 0x16 && b[1] == 0x03 {
			c.tls = tlsdec.NewConn(c.key, c.p.cfg.TLS, c)
			c.rec.TLS = &TLSRecord{}
		}
	}
	if c.tls != nil {
		c.tls.Data(dir, b, ts)
	} else {
		c.http.Data(dir, b, ts)
	}
}

func (c *conn) Gap(dir stream.Dir, n int, ts int64) {
	c.rec.GapBytes[dir] += int64(n)
	if !c.sniffd {
		return
	}
	if c.tls != nil {
		c.tls.Gap(dir, n, ts)
	} else {
		c.http.Gap(dir, n, ts)
	}
}

func (c *conn) Close(ts int64) {
	if c.closed {
		return
	}
	c.closed = true
	c.rec.LastNS = max(c.rec.LastNS, ts)
	if c.tls != nil {
		c.tls.Close(ts)
		st := c.tls.Stats()
		c.p.agg.tls.Add(st)
		c.fillTLS(st)
	}
	if c.http != nil {
		c.http.Close(ts)
		hs := c.http.Stats()
		addHTTP(&c.p.agg.http, hs)
		c.rec.HTTPRequests, c.rec.HTTPResponses = hs.Requests, hs.Responses
		c.rec.WSMessages = [2]int64{hs.WS[0].Messages, hs.WS[1].Messages}
		if err := c.http.Err(); err != nil {
			c.rec.Errors = append(c.rec.Errors, err.Error())
		}
		if _, ok := c.http.WebSocket(); ok {
			c.rec.App = "websocket"
		} else if hs.Requests > 0 {
			c.rec.App = "http"
		}
	}
	if c.prof != nil && c.prof != c.p.prof {
		c.rec.Profile = c.prof.Name()
	}
	delete(c.p.live, c.key)
	if !c.p.finishing { // at the end of input every connection closes; keep their state for the last orders
		c.p.cor.Closed(c.key, ts)
	}
}

func (c *conn) fillTLS(st tlsdec.Stats) {
	info := c.tls.Info()
	t := c.rec.TLS
	t.Version = versionName(info.Version)
	t.Suite = info.SuiteName()
	t.SNI = info.SNI
	t.ALPN = info.ALPN
	t.CertCN = info.CertCN
	t.Records, t.Decrypted, t.NoKey = st.Records, st.Decrypted, st.NoKey
	t.AuthFailures, t.Unsupported, t.KeyUpdates = st.AuthFailures, st.Unsupported, st.KeyUpdates
	if cr, ok := c.tls.MissingKey(); ok {
		t.MissingKey = cr
	} else if info.HaveClientRandom && st.Decrypted == 0 && st.Records > 0 && c.p.cfg.Keys == nil {
		t.MissingKey = hex.EncodeToString(info.ClientRandom[:])
	}
	for i, e := range c.tls.Errors() {
		if i == 5 {
			break
		}
		c.rec.Errors = append(c.rec.Errors, e.Error())
	}
}

func versionName(v uint16) string {
	switch v {
	case tlsdec.VersionTLS12:
		return "1.2"
	case tlsdec.VersionTLS13:
		return "1.3"
	case 0:
		return ""
	}
	return "0x" + hex.EncodeToString([]byte{byte(v >> 8), byte(v)})
}

// tlsdec.Consumer

func (c *conn) AppData(dir stream.Dir, b []byte, span stream.Span) {
	c.http.Feed(dir, b, span)
}

func (c *conn) Alert(dir stream.Dir, level, desc uint8, span stream.Span) {}

func (c *conn) HandshakeDone(info *tlsdec.Info) {}

// httpdec.Handler

func (c *conn) HTTP(m *httpdec.Message) {
	p := c.p
	if m.IsRequest {
		if c.prof.Order(m.Method, m.Target, m.Body, &p.fl) {
			if c.prof.Name() == "auto" && p.fl.Profile != "" {
				c.prof, _ = profile.ByName(p.fl.Profile)
			}
			c.rec.Orders++
			ref, err := p.cor.Order(c.key, &p.fl, m.Span, c.payload(m.Body))
			p.noteErr(err)
			if len(c.orders) < 4096 {
				c.orders[m.Seq] = ref
			}
			return
		}
	} else if ref, ok := c.orders[m.Seq]; ok {
		delete(c.orders, m.Seq)
		// Responses come in request order: orders before this one that
		// are still waiting will never be answered.
		if len(c.orders) > 0 {
			for s := range c.orders {
				if s < m.Seq {
					delete(c.orders, s)
					p.unanswered++
				}
			}
		}
		c.prof.Ack(m.Body, &p.fl)
		c.rec.Acks++
		p.noteErr(p.cor.Ack(c.key, ref, &p.fl, m.Span, c.payload(m.Body)))
		return
	}
	if p.cfg.Payloads {
		p.noteErr(p.cor.Other(c.key, m.Span, m.Body))
	}
}

func (c *conn) WebSocket(dir stream.Dir, m *ws.Message) {
	p := c.p
	if dir == stream.ServerToClient && !m.Control {
		if c.prof.Feed(m.Payload, &p.fl) {
			if c.prof.Name() == "auto" && p.fl.Profile != "" {
				c.prof, _ = profile.ByName(p.fl.Profile)
			}
			c.rec.Ticks++
			p.noteErr(p.cor.Tick(c.key, &p.fl, m.Span, c.payload(m.Payload)))
			return
		}
		c.rec.Unparsed++
	}
	if p.cfg.Payloads {
		p.noteErr(p.cor.Other(c.key, m.Span, m.Payload))
	}
}

func (c *conn) payload(b []byte) []byte {
	if c.p.cfg.Payloads {
		return b
	}
	return nil
}

func (p *Pipeline) noteErr(err error) {
	if err != nil && p.err == nil {
		p.err = err
	}
}

func addHTTP(a *httpdec.Stats, s httpdec.Stats) {
	a.Bytes[0] += s.Bytes[0]
	a.Bytes[1] += s.Bytes[1]
	a.Requests += s.Requests
	a.Responses += s.Responses
	a.Unpaired += s.Unpaired
	a.Upgrades += s.Upgrades
	a.Errors += s.Errors
	a.SkippedBytes += s.SkippedBytes
	a.Tunnels += s.Tunnels
	for i := range a.WS {
		w, o := &a.WS[i], s.WS[i]
		w.Bytes += o.Bytes
		w.Frames += o.Frames
		w.Messages += o.Messages
		w.ControlFrames += o.ControlFrames
		w.Compressed += o.Compressed
		w.InflatedBytes += o.InflatedBytes
		w.Errors += o.Errors
		w.SkippedBytes += o.SkippedBytes
		w.UnexpectedMasks += o.UnexpectedMasks
	}
}

// records returns the connection records in order of first packet.
func (p *Pipeline) records() []ConnRecord {
	out := make([]ConnRecord, 0, len(p.conns))
	for _, c := range p.conns {
		out = append(out, c.rec)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstNS < out[j].FirstNS })
	return out
}
