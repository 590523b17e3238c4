package pipeline_test

import (
	"bytes"
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

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/keylog"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
)

// event is one line of the events file, as DESIGN.md names its fields.
type event struct {
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
	events  []event
	raw     []byte // the events file
	sum     *pipeline.Summary
	readErr error
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
	keys := keylog.NewStore()
	if keyLog != nil {
		keys.Load("keys", keyLog)
	}
	var evBuf bytes.Buffer
	jw := correlate.NewJSONL(&evBuf, payloads)
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

func parseEvents(t testing.TB, b []byte) []event {
	t.Helper()
	var out []event
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e event
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("events line %d: %v: %s", i+1, err, line)
		}
		out = append(out, e)
	}
	return out
}

func (a *analysis) kind(k string) []event {
	var out []event
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
		"-e", "websocket.opcode", "-e", "websocket.fin", "-e", "websocket.payload.text",
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
	for _, p := range pkts {
		l := p.Source.Layers
		frame, _ := strconv.Atoi(first(l["frame.number"]))
		ns, err := epochNS(first(l["frame.time_epoch"]))
		if err != nil {
			t.Fatalf("tshark frame %d: %v", frame, err)
		}
		text, codes, reasons := l["websocket.payload.text"], l["websocket.payload.close.status_code"], l["websocket.payload.close.reason"]
		fins := l["websocket.fin"]
		for i, op := range l["websocket.opcode"] {
			switch op {
			case "1":
				if i < len(fins) && fins[i] != "1" {
					continue // a fragment: the message completes later
				}
				if len(text) == 0 {
					t.Fatalf("tshark frame %d: text frame without payload text", frame)
				}
				msgs = append(msgs, msg{NS: ns, Payload: text[0], What: "ws", Frame: frame})
				text = text[1:]
			case "0":
				if i < len(fins) && fins[i] == "1" && len(text) > 0 {
					msgs = append(msgs, msg{NS: ns, Payload: text[0], What: "ws", Frame: frame})
					text = text[1:]
				}
			case "8":
				var b []byte
				if len(codes) > 0 {
					c, _ := strconv.Atoi(codes[0])
					b = append(b, byte(c>>8), byte(c))
					codes = codes[1:]
					if len(reasons) > 0 {
						b = append(b, reasons[0]...)
						reasons = reasons[1:]
					}
				}
				msgs = append(msgs, msg{NS: ns, Payload: asJSONText(b), What: "ws-close", Frame: frame})
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
	for _, m := range theirs {
		count[m.key()]++
	}
	var missing, extra []string
	for _, m := range ours {
		if count[m.key()] > 0 {
			count[m.key()]--
			continue
		}
		extra = append(extra, fmt.Sprintf("%s at %d: %.80q", m.What, m.NS, m.Payload))
	}
	for _, m := range theirs {
		if count[m.key()] > 0 {
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
