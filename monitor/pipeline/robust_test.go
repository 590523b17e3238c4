package pipeline_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline/internal/session"
)

var update = flag.Bool("update", false, "rewrite golden files whose test fails")

// golden compares got with testdata/name; with -update it rewrites the
// file only when they differ.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	want, err := os.ReadFile(path)
	if err == nil && bytes.Equal(want, got) {
		return
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", path)
		return
	}
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("%s: line %d differs:\n got: %.300s\nwant: %.300s\n(go test -run %s -update rewrites it if the change is right)", path, i+1, g, w, t.Name())
		}
	}
}

func summaryJSON(t testing.TB, s *pipeline.Summary) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGolden decodes each committed fixture (key log file, and for
// tls13-ws the same capture with its keys in a Decryption Secrets Block)
// and compares events and summary with the golden files; the events must
// also agree with the session's ground truth.
func TestGolden(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			capBytes, keys, truth := readFixture(t, name)
			checkTruth(t, analyzeBytes(t, name+".pcapng", capBytes, keys, "binance", true), truth, nil)
			// Goldens without payloads (checked against the truth above
			// and against tshark elsewhere): small and readable.
			a := analyzeBytes(t, name+".pcapng", capBytes, keys, "binance", false)
			golden(t, name+".events.golden", a.raw)
			golden(t, name+".summary.golden", summaryJSON(t, a.sum))
			if a.readErr != nil || a.sum.Decode.RecordsNoKey != 0 || a.sum.Decode.AuthFailures != 0 || len(a.sum.Decode.MissingKeys) != 0 {
				t.Errorf("clean fixture: read error %v, decode %+v", a.readErr, a.sum.Decode)
			}
		})
	}
}

// TestKeyLogInDSB: keys carried in the pcapng's Decryption Secrets Block
// decode exactly what the same keys given as a key log file decode.
func TestKeyLogInDSB(t *testing.T) {
	capBytes, keys, _ := readFixture(t, "tls13-ws")
	want := analyzeBytes(t, "tls13-ws.pcapng", capBytes, keys, "binance", true)
	dsb, err := os.ReadFile(filepath.Join("testdata", "tls13-ws-dsb.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	got := analyzeBytes(t, "tls13-ws-dsb.pcapng", dsb, nil, "binance", true)
	if !bytes.Equal(got.raw, want.raw) {
		t.Errorf("events with the DSB differ from events with --keylog (%d vs %d bytes)", len(got.raw), len(want.raw))
	}
	if got.sum.Decode.RecordsDecrypted == 0 || got.sum.Decode.RecordsDecrypted != want.sum.Decode.RecordsDecrypted {
		t.Errorf("records decrypted: DSB %d, key log %d", got.sum.Decode.RecordsDecrypted, want.sum.Decode.RecordsDecrypted)
	}
	none := analyzeBytes(t, "tls13-ws.pcapng", capBytes, nil, "binance", true)
	if len(none.events) != 0 || none.sum.Decode.RecordsNoKey == 0 {
		t.Errorf("without any key: %d events, %d records without key", len(none.events), none.sum.Decode.RecordsNoKey)
	}
}

// TestWrongKeyLog: a key log from another session decrypts nothing and
// the summary names the client randoms it lacked (those of the real key
// log, which the capture's ClientHellos carry).
func TestWrongKeyLog(t *testing.T) {
	capBytes, keys, _ := readFixture(t, "tls13-ws")
	_, otherKeys, _ := readFixture(t, "tls12-chacha-deflate")
	a := analyzeBytes(t, "tls13-ws.pcapng", capBytes, otherKeys, "binance", false)
	var want []string
	for _, line := range strings.Split(string(keys), "\n") {
		if f := strings.Fields(line); len(f) == 3 && !slices.Contains(want, f[1]) {
			want = append(want, f[1])
		}
	}
	got := slices.Clone(a.sum.Decode.MissingKeys)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) || len(want) != 2 {
		t.Errorf("missing keys %v, want the capture's client randoms %v", got, want)
	}
	if len(a.events) != 0 || a.sum.Decode.RecordsDecrypted != 0 || a.sum.Analysed() {
		t.Errorf("wrong key log: %d events, %d records decrypted", len(a.events), a.sum.Decode.RecordsDecrypted)
	}
	for _, c := range a.sum.Connections {
		if c.TLS == nil || !slices.Contains(want, c.TLS.MissingKey) {
			t.Errorf("connection %s: TLS %+v does not name its missing client random", c.Conn, c.TLS)
		}
	}
}

// frame is one packet of a fixture, for rewriting.
type frame struct {
	NS      int64
	Data    []byte
	Dir     string // "src>dst" of TCP packets
	Payload int
}

func readFrames(t testing.TB, capBytes []byte) []frame {
	t.Helper()
	f, err := capture.NewFile("fixture", bytes.NewReader(capBytes))
	if err != nil {
		t.Fatal(err)
	}
	var out []frame
	var p capture.Packet
	for {
		if err := f.ReadInto(&p); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame{NS: p.TS, Data: slices.Clone(p.Data), Dir: p.Src.String() + ">" + p.Dst.String(), Payload: len(p.Payload)})
	}
}

func writeFrames(t testing.TB, frames []frame) []byte {
	t.Helper()
	fs := make([]session.Frame, len(frames))
	for i, f := range frames {
		fs[i] = session.Frame{NS: f.NS, Data: f.Data}
	}
	var b bytes.Buffer
	if err := session.WritePcapng(&b, fs, nil, false); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// messages returns the decoded messages as "kind payload" strings (with
// kinds false, the payloads only).
func messages(a *analysis, kinds bool) []string {
	var out []string
	for _, e := range a.events {
		p := ""
		if e.Payload != nil {
			p = *e.Payload
		}
		if kinds {
			p = e.Kind + " " + p
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestRewrittenCapture reorders (within a direction, never past the
// peer's answer), duplicates and drops segments of the fixtures (seeded) and checks what the pipeline makes of them: the same
// messages after reordering and duplication (duplicates: the same events
// byte for byte), and after drops only messages of the original capture,
// with the loss reported as gaps.
func TestRewrittenCapture(t *testing.T) {
	for _, name := range fixtures {
		capBytes, keys, _ := readFixture(t, name)
		base := analyzeBytes(t, name, capBytes, keys, "binance", true)
		baseMsgs, basePayloads := messages(base, true), messages(base, false)
		orig := readFrames(t, capBytes)
		var data []int // indexes of frames with TCP payload
		for i, f := range orig {
			if f.Payload > 0 {
				data = append(data, i)
			}
		}
		for seed := int64(1); seed <= 12; seed++ {
			rng := rand.New(rand.NewSource(seed))
			t.Run(fmt.Sprintf("%s/reorder/%d", name, seed), func(t *testing.T) {
				fr := slices.Clone(orig)
				swaps, want := 0, 1+rng.Intn(6)
				for k := 0; k < 100 && swaps < want; k++ {
					i := data[rng.Intn(len(data))]
					src, dst, _ := strings.Cut(fr[i].Dir, ">")
					back := dst + ">" + src
					for j := i + 1; j < len(fr) && j < i+8; j++ {
						if fr[j].Dir == back && fr[j].Payload > 0 {
							break // an answer: the peer had all before it
						}
						if fr[j].Dir == fr[i].Dir && fr[j].Payload > 0 {
							fr[i].Data, fr[j].Data = fr[j].Data, fr[i].Data // keep the time slots
							fr[i].Payload, fr[j].Payload = fr[j].Payload, fr[i].Payload
							swaps++
							break
						}
					}
				}
				a := analyzeBytes(t, name, writeFrames(t, fr), keys, "binance", true)
				if got := messages(a, true); !slices.Equal(got, baseMsgs) {
					t.Errorf("%d swaps: %d messages decoded, want the %d of the original", swaps, len(got), len(baseMsgs))
					for i := range min(len(got), len(baseMsgs)) {
						if got[i] != baseMsgs[i] {
							t.Errorf("first difference:\n got %.200q\nwant %.200q", got[i], baseMsgs[i])
							break
						}
					}
				}
				if a.sum.Decode.TCP.Gaps != 0 || a.sum.Decode.TCP.OutOfOrder == 0 {
					t.Errorf("%d swaps: %d gaps, %d segments out of order reported", swaps, a.sum.Decode.TCP.Gaps, a.sum.Decode.TCP.OutOfOrder)
				}
			})
			t.Run(fmt.Sprintf("%s/duplicate/%d", name, seed), func(t *testing.T) {
				fr := slices.Clone(orig)
				n := 1 + rng.Intn(5)
				for k := 0; k < n; k++ {
					i := data[rng.Intn(len(data))]
					at := min(i+1+rng.Intn(10), len(fr))
					dup := fr[i]
					dup.NS = fr[at-1].NS // a retransmission, later in the file
					fr = slices.Insert(fr, at, dup)
				}
				a := analyzeBytes(t, name, writeFrames(t, fr), keys, "binance", true)
				if !bytes.Equal(a.raw, base.raw) {
					t.Errorf("%d duplicates changed the events", n)
				}
				if a.sum.Decode.TCP.RetransmittedBytes == 0 {
					t.Errorf("%d duplicates: no retransmitted bytes counted", n)
				}
			})
			t.Run(fmt.Sprintf("%s/drop/%d", name, seed), func(t *testing.T) {
				fr := slices.Clone(orig)
				n := 1 + rng.Intn(3)
				var dropped []int
				for k := 0; k < n; k++ {
					dropped = append(dropped, data[rng.Intn(len(data))])
				}
				fr = slices.DeleteFunc(fr, func(f frame) bool {
					for _, d := range dropped {
						if orig[d].NS == f.NS && bytes.Equal(orig[d].Data, f.Data) {
							return true
						}
					}
					return false
				})
				a := analyzeBytes(t, name, writeFrames(t, fr), keys, "binance", true)
				// An ack whose order was lost is no ack to us: payloads only.
				left := slices.Clone(basePayloads)
				for _, m := range messages(a, false) {
					i := slices.Index(left, m)
					if i < 0 {
						t.Errorf("after dropping %d segments: decoded %.120q, not in the original", n, m)
						continue
					}
					left = slices.Delete(left, i, i+1)
				}
				// A message decoded after the loss keeps the wire time it had:
				// bytes behind a skipped hole are not stamped with the time the
				// hole was given up on (once stamped every later tick with the
				// end of the capture).
				baseNS := map[string][]int64{}
				for _, e := range base.events {
					if e.Payload != nil {
						baseNS[*e.Payload] = append(baseNS[*e.Payload], e.WireNS)
					}
				}
				for _, e := range a.events {
					if e.Payload == nil {
						continue
					}
					if want := baseNS[*e.Payload]; len(want) > 0 && !slices.Contains(want, e.WireNS) {
						t.Errorf("after dropping %d segments: %.60q at wire time %d, originally %v", n, *e.Payload, e.WireNS, want)
					}
				}
				if a.sum.Decode.TCP.Gaps == 0 || a.sum.Decode.TCP.GapBytes == 0 {
					t.Errorf("dropped %d segments: gaps %d (%d bytes) reported", n, a.sum.Decode.TCP.Gaps, a.sum.Decode.TCP.GapBytes)
				}
			})
		}
	}
}

// TestTruncatedCapture runs the built binary on cut copies of a fixture:
// a capture cut after some messages gives a partial summary (and exit 0),
// one cut before any message a non-zero exit, still with a summary.
func TestTruncatedCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := cloudpcapBinary(t)
	capBytes, _, _ := readFixture(t, "tls13-ws")
	keyPath := filepath.Join("testdata", "tls13-ws.keys")
	for _, tc := range []struct {
		name     string
		cut      int
		analysed bool
	}{
		{"after-most-messages", len(capBytes) * 3 / 4, true},
		{"mid-record-early", len(capBytes) / 2, true},
		{"before-any-message", 2000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			cp := filepath.Join(d, "cut.pcapng")
			os.WriteFile(cp, capBytes[:tc.cut], 0o600)
			sp := filepath.Join(d, "s.json")
			out, err := exec.Command(bin, "analyze", "-q", "--keylog", keyPath, "--profile", "binance", "--summary", sp, "--events", filepath.Join(d, "e.jsonl"), cp).CombinedOutput()
			if tc.analysed != (err == nil) {
				t.Fatalf("exit %v, want success %v: %s", err, tc.analysed, out)
			}
			var s pipeline.Summary
			b, rerr := os.ReadFile(sp)
			if rerr != nil || json.Unmarshal(b, &s) != nil {
				t.Fatalf("no summary written: %v (%s)", rerr, out)
			}
			if !s.Partial || !strings.Contains(s.Reason, "cut.pcapng") {
				t.Errorf("summary partial %v reason %q, want partial naming the file", s.Partial, s.Reason)
			}
			if s.Analysed() != tc.analysed || (tc.analysed && s.Metrics["feed_latency"].Count == 0) {
				t.Errorf("analysed %v with %d ticks", s.Analysed(), s.Metrics["feed_latency"].Count)
			}
			if !tc.analysed && !strings.Contains(string(out), "nothing to measure") {
				t.Errorf("exit message %q does not say why", out)
			}
		})
	}
}

// TestHandshakeRTT: a connection opened by a SYN gets tcp_handshake_ns,
// SYN-ACK time minus SYN time (the generator puts the SYN-ACK 20 µs after
// the SYN).
func TestHandshakeRTT(t *testing.T) {
	capBytes, keys, _ := readFixture(t, "tls13-ws")
	a := analyzeBytes(t, "tls13-ws.pcapng", capBytes, keys, "binance", false)
	if len(a.sum.Connections) != 2 {
		t.Fatalf("%d connections, want 2", len(a.sum.Connections))
	}
	for _, c := range a.sum.Connections {
		if c.Opened != "syn" || c.HandshakeRTTNS != 20000 {
			t.Errorf("connection %s: opened %q, tcp_handshake_ns %d, want syn and 20000", c.Conn, c.Opened, c.HandshakeRTTNS)
		}
	}
}
