package pipeline_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
)

// eventLine is one line of the events file, as docs/FORMATS.md names its fields,
// read with encoding/json: a check of package event's writer that does not
// use its decoder.
type eventLine struct {
	Kind          string  `json:"kind"`
	Conn          string  `json:"conn"`
	WireNS        int64   `json:"wire_ns"`
	FirstWireNS   int64   `json:"first_wire_ns"`
	Seq           *uint64 `json:"seq"`
	Symbol        string  `json:"symbol"`
	ExchNS        int64   `json:"exch_ns"`
	FeedLatencyNS *int64  `json:"feed_latency_ns"`
	OrderID       string  `json:"order_id"`
	TickConn      string  `json:"tick_conn"`
	TickSeq       uint64  `json:"tick_seq"`
	TickWireNS    int64   `json:"tick_wire_ns"`
	TickToTradeNS *int64  `json:"tick_to_trade_ns"`
	Match         string  `json:"match"`
	OrderToAckNS  *int64  `json:"order_to_ack_ns"`
	Status        string  `json:"status"`
	Payload       *string `json:"payload"`
}

// analysis is what one run of the pipeline produced.
type analysis struct {
	// captureShort: an oracle reading the same capture agreed with the
	// pipeline, so anything missing versus the sender is the capture's loss.
	captureShort bool
	events       []eventLine
	raw          []byte // the events file
	sum          *pipeline.Summary
	readErr      error
}

// analyzeBytes runs the pipeline over a capture as `cloudpcap analyze`
// does: keys from keyLog and from the capture's Decryption Secrets Blocks.
func analyzeBytes(t testing.TB, name string, capBytes, keyLog []byte, prof string, payloads bool) *analysis {
	t.Helper()
	f, err := capture.NewFile(name, bytes.NewReader(capBytes))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return analyzeSource(t, f, []*capture.File{f}, keyLog, prof, payloads)
}

func analyzeFile(t testing.TB, path string, keyLog []byte, prof string, payloads bool) *analysis {
	t.Helper()
	f, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return analyzeSource(t, f, []*capture.File{f}, keyLog, prof, payloads)
}

func analyzeSource(t testing.TB, src capture.Source, files []*capture.File, keyLog []byte, prof string, payloads bool) *analysis {
	t.Helper()
	p, err := profile.ByName(prof)
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring.NewStore()
	if keyLog != nil {
		keys.Load("keys", keyLog)
	}
	var evBuf bytes.Buffer
	jw := event.NewWriter(&evBuf, payloads)
	pl, err := pipeline.New(pipeline.Config{Profile: p, Keys: keys, Events: jw, Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	dsb := make([]int, len(files))
	var pkt capture.Packet
	a := &analysis{}
	for {
		err := src.ReadInto(&pkt)
		if err == io.EOF {
			break
		}
		if err != nil {
			a.readErr = err
			break
		}
		for i, f := range files {
			if kl := f.KeyLog(); len(kl) != dsb[i] {
				keys.Load(f.Name()+" (DSB)", kl[dsb[i]:])
				dsb[i] = len(kl)
			}
		}
		pl.Packet(&pkt)
	}
	pl.Finish()
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	a.sum, err = pl.Summary(src.Stats(), names, src.Warnings())
	if err != nil {
		t.Fatal(err)
	}
	if err := jw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := pl.Err(); err != nil {
		t.Fatal(err)
	}
	a.raw = evBuf.Bytes()
	a.events = parseEvents(t, a.raw)
	return a
}

func parseEvents(t testing.TB, b []byte) []eventLine {
	t.Helper()
	var out []eventLine
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e eventLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("events line %d: %v: %s", i+1, err, line)
		}
		out = append(out, e)
	}
	return out
}

func (a *analysis) kind(k string) []eventLine {
	var out []eventLine
	for _, e := range a.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// msg is one decoded application message: its wire time (the frame that
// completed it) and its payload.
type msg struct {
	NS      int64
	Payload string
	What    string // ws, ws-close, http-req, http-resp (tshark side) or the event kind
	Frame   int
}

func (m msg) key() string { return strconv.FormatInt(m.NS, 10) + "\x00" + m.Payload }

// oursMsgs returns every message our events carry (needs --payloads).
func (a *analysis) msgs() []msg {
	var out []msg
	for _, e := range a.events {
		p := ""
		if e.Payload != nil {
			p = *e.Payload
		}
		out = append(out, msg{NS: e.WireNS, Payload: p, What: e.Kind})
	}
	return out
}

// tsharkPorts decodes the capture with tshark and the key log, returning
// every WebSocket message (text and close frames) and every HTTP request
// and response with its frame time. ports are the TLS server ports.
func tsharkMsgs(t testing.TB, capPath, keyPath string, ports []int) []msg {
	t.Helper()
	args := []string{"-n", "-r", capPath,
		"-o", "tls.keylog_file:" + keyPath,
		"-o", "tls.desegment_ssl_records:TRUE",
		"-o", "tls.desegment_ssl_application_data:TRUE",
		"-o", "tcp.desegment_tcp_streams:TRUE",
	}
	for _, p := range ports {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,tls", p), "-d", fmt.Sprintf("tls.port==%d,http", p))
	}
	args = append(args, "-Y", "websocket or http.request or http.response", "-T", "json",
		"-e", "frame.number", "-e", "frame.time_epoch",
		"-e", "tcp.stream", "-e", "tcp.srcport",
		"-e", "websocket.opcode", "-e", "websocket.fin", "-e", "websocket.rsv", "-e", "websocket.payload.text",
		"-e", "websocket.payload_length", "-e", "websocket.payload_length_ext_16", "-e", "websocket.payload_length_ext_64",
		"-e", "websocket.payload.continue",
		"-e", "websocket.payload.close.status_code", "-e", "websocket.payload.close.reason",
		"-e", "websocket.payload.ping", "-e", "websocket.payload.pong",
		"-e", "http.request", "-e", "http.response", "-e", "http.file_data")
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	var pkts []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	var msgs []msg
	type fragT = frag
	frags := map[string]*fragT{}
	for _, p := range pkts {
		l := p.Source.Layers
		frame, _ := strconv.Atoi(first(l["frame.number"]))
		ns, err := epochNS(first(l["frame.time_epoch"]))
		if err != nil {
			t.Fatalf("tshark frame %d: %v", frame, err)
		}
		// WebSocket frames, in order within the packet. Field arrays hold
		// one value per frame that has the field: opcode, fin, rsv and
		// payload_length are in every frame, payload fields only in
		// frames with a payload. tshark 4.0 does not reassemble fragmented
		// messages: it is done here, per TCP stream and direction.
		text, cont := l["websocket.payload.text"], l["websocket.payload.continue"]
		codes, reasons := l["websocket.payload.close.status_code"], l["websocket.payload.close.reason"]
		fins, rsvs, lens := l["websocket.fin"], l["websocket.rsv"], l["websocket.payload_length"]
		ext16, ext64 := l["websocket.payload_length_ext_16"], l["websocket.payload_length_ext_64"]
		dir := first(l["tcp.stream"]) + "/" + first(l["tcp.srcport"])
		pop := func(list *[]string) string {
			if len(*list) == 0 {
				t.Fatalf("tshark frame %d: WebSocket fields do not line up", frame)
			}
			v := (*list)[0]
			*list = (*list)[1:]
			return v
		}
		for i, op := range l["websocket.opcode"] {
			fin := fins[i] == "1"
			rsv, _ := strconv.ParseUint(strings.TrimPrefix(rsvs[i], "0x"), 16, 8)
			n := lens[i]
			switch n {
			case "126":
				n = pop(&ext16)
			case "127":
				n = pop(&ext64)
			}
			hasPayload := n != "0"
			switch op {
			case "1", "2":
				if op != "1" {
					t.Fatalf("tshark frame %d: binary message (not expected here)", frame)
				}
				m := &frag{compressed: rsv&4 != 0}
				switch {
				case !fin:
					// tshark 4.0 shows no payload for the first frame of a
					// fragmented message: only its time can be compared.
					m.lost = true
				case hasPayload && m.compressed && len(text) == 0:
					// tshark 4.0 sometimes fails to inflate a compressed
					// message (depending on how it was segmented) and then
					// shows no text: only its time can be compared.
					m.lost = true
				case hasPayload:
					m.b = []byte(pop(&text))
					if m.compressed && !inflatedText(m.b) {
						// ... or shows the still-deflated bytes as text.
						m.b, m.lost = nil, true
					}
				}
				m.frames = 1
				frags[dir] = m
			case "0":
				m := frags[dir]
				if m == nil {
					t.Fatalf("tshark frame %d: continuation without a first frame", frame)
				}
				switch {
				case !hasPayload:
				case fin && m.compressed:
					if len(text) > 0 {
						pop(&text) // tshark's failed inflation of the fragments, shown as text
					}
				default:
					m.b = append(m.b, hexBytes(t, pop(&cont))...)
				}
				m.frames++
			case "8":
				var b []byte
				if len(codes) > 0 {
					c, _ := strconv.Atoi(pop(&codes))
					b = append(b, byte(c>>8), byte(c))
					if len(reasons) > 0 {
						b = append(b, pop(&reasons)...)
					}
				}
				msgs = append(msgs, msg{NS: ns, Payload: asJSONText(b), What: "ws-close", Frame: frame})
				continue
			default: // ping, pong: none in this traffic
				t.Fatalf("tshark frame %d: unexpected opcode %s", frame, op)
			}
			if m := frags[dir]; fin && m != nil {
				delete(frags, dir)
				if m.lost || m.compressed && m.frames > 1 {
					// tshark 4.0 inflates only single-frame messages.
					msgs = append(msgs, msg{NS: ns, What: "ws-undecoded", Frame: frame})
				} else {
					msgs = append(msgs, msg{NS: ns, Payload: string(m.b), What: "ws", Frame: frame})
				}
			}
		}
		// HTTP: one message per frame here (no pipelining in our traffic).
		body := first(l["http.file_data"])
		if len(l["http.request"]) > 0 {
			msgs = append(msgs, msg{NS: ns, Payload: body, What: "http-req", Frame: frame})
		} else if len(l["http.response"]) > 0 {
			msgs = append(msgs, msg{NS: ns, Payload: body, What: "http-resp", Frame: frame})
		}
	}
	return msgs
}

// asJSONText is b as the events file carries it: JSON text, where bytes
// that are not UTF-8 (a close frame's status code) become U+FFFD.
func asJSONText(b []byte) string {
	j, _ := json.Marshal(string(b))
	var s string
	json.Unmarshal(j, &s)
	return s
}

// frag is a WebSocket message being reassembled from tshark's frames.
type frag struct {
	b          []byte
	compressed bool
	lost       bool // tshark did not show all of the payload
	frames     int
}

// hexBytes decodes tshark's "7b:22:65" bytes.
func hexBytes(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil {
		t.Fatalf("tshark bytes %.20q: %v", s, err)
	}
	return b
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// epochNS parses tshark's frame.time_epoch ("1700000000.123456789") exactly.
func epochNS(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	if len(frac) > 9 {
		return 0, fmt.Errorf("time %q: more than 9 fraction digits", s)
	}
	frac += strings.Repeat("0", 9-len(frac))
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("time %q: %w", s, err)
	}
	return a*1e9 + b, nil
}

// compareMsgs checks that both sides decoded the same messages at the
// same wire times, each way, and logs the counts.
func compareMsgs(t testing.TB, label string, theirs, ours []msg) {
	t.Helper()
	count := map[string]int{}
	undecoded := map[int64]int{} // times of messages tshark could not inflate
	for _, m := range theirs {
		if m.What == "ws-undecoded" {
			undecoded[m.NS]++
			continue
		}
		count[m.key()]++
	}
	var missing, extra []string
	for _, m := range ours {
		if count[m.key()] > 0 {
			count[m.key()]--
			continue
		}
		if undecoded[m.NS] > 0 && m.What == "tick" {
			undecoded[m.NS]--
			continue
		}
		extra = append(extra, fmt.Sprintf("%s at %d: %.80q", m.What, m.NS, m.Payload))
	}
	for ns, n := range undecoded {
		if n > 0 {
			missing = append(missing, fmt.Sprintf("%d compressed fragmented messages at %d", n, ns))
		}
	}
	for _, m := range theirs {
		if m.What != "ws-undecoded" && count[m.key()] > 0 {
			count[m.key()]--
			missing = append(missing, fmt.Sprintf("%s frame %d at %d: %.80q", m.What, m.Frame, m.NS, m.Payload))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	byWhat := map[string]int{}
	for _, m := range theirs {
		byWhat[m.What]++
	}
	t.Logf("%s: tshark decoded %d messages %v; we decoded %d; %d only tshark, %d only ours", label, len(theirs), byWhat, len(ours), len(missing), len(extra))
	for i, s := range missing {
		if i == 10 {
			t.Errorf("%s: ... %d more only tshark decoded", label, len(missing)-10)
			break
		}
		t.Errorf("%s: only tshark decoded %s", label, s)
	}
	for i, s := range extra {
		if i == 10 {
			t.Errorf("%s: ... %d more only we decoded", label, len(extra)-10)
			break
		}
		t.Errorf("%s: only we decoded %s", label, s)
	}
}

func haveTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (make deps-test installs it)", n)
			}
			t.Skipf("%s not found; install it (make deps-test) to run this test", n)
		}
	}
}

// inflatedText reports whether b looks like an inflated text message rather
// than deflate output that tshark printed as text (invalid UTF-8, which its
// JSON output turns into U+FFFD, or control bytes).
func inflatedText(b []byte) bool {
	if !utf8.Valid(b) || bytes.ContainsRune(b, utf8.RuneError) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
