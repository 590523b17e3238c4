package pipeline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
)

// loadPackets decodes a fixture into packets that own their bytes.
func loadPackets(t testing.TB, name string) ([]capture.Packet, []byte) {
	t.Helper()
	capBytes, keys, _ := readFixture(t, name)
	f, err := capture.NewFile(name, bytes.NewReader(capBytes))
	if err != nil {
		t.Fatal(err)
	}
	var out []capture.Packet
	var p capture.Packet
	for {
		if err := f.ReadInto(&p); err == io.EOF {
			return out, keys
		} else if err != nil {
			t.Fatal(err)
		}
		q := p
		q.Data, q.Payload = slices.Clone(p.Data), slices.Clone(p.Payload)
		out = append(out, q)
	}
}

// runPackets runs the whole pipeline over pkts and returns its summary.
func runPackets(t testing.TB, pkts []capture.Packet, keys *keyring.Store, sink correlate.Sink, payloads bool) *pipeline.Summary {
	prof, _ := profile.ByName("binance")
	pl, err := pipeline.New(pipeline.Config{Profile: prof, Keys: keys, Events: sink, Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pkts {
		pl.Packet(&pkts[i])
	}
	pl.Finish()
	if err := pl.Err(); err != nil {
		t.Fatal(err)
	}
	s, err := pl.Summary(capture.Stats{Packets: uint64(len(pkts))}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzPipeline feeds the tls13-ws fixture through the whole pipeline with
// the keys, the payload of one packet replaced by the fuzzer's bytes: the
// decoders see TCP, TLS, HTTP and WebSocket damage in the middle of a real
// session. It must never panic, and always produce events and a summary
// that are valid JSON (the summary checked for one index in 64).
func FuzzPipeline(f *testing.F) {
	pkts, keyText := loadPackets(f, "tls13-ws")
	keys := keyring.NewStore()
	keys.Load("keys", keyText)
	for i, p := range pkts {
		if len(p.Payload) > 0 {
			f.Add(uint16(i), p.Payload)
			f.Add(uint16(i), p.Payload[:len(p.Payload)/2])
		}
	}
	f.Fuzz(func(t *testing.T, idx uint16, payload []byte) {
		in := slices.Clone(pkts)
		p := &in[int(idx)%len(in)]
		p.Payload, p.PayloadLen = payload, len(payload)
		var ev bytes.Buffer
		jw := event.NewWriter(&ev, true)
		prof, _ := profile.ByName("binance")
		pl, err := pipeline.New(pipeline.Config{Profile: prof, Keys: keys, Events: jw, Payloads: true, Correlate: correlate.Config{TickRing: 256}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			pl.Packet(&in[i])
		}
		pl.Finish()
		if err := errors.Join(pl.Err(), jw.Flush()); err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(ev.Bytes()), []byte("\n")) {
			if len(line) > 0 && !json.Valid(line) {
				t.Fatalf("event is not JSON: %.200q", line)
			}
		}
		// The summary (HDR encoding: 10 ms) only now and then.
		if idx%64 == 0 {
			s, err := pl.Summary(capture.Stats{}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Fatalf("summary: %v", err)
			}
		}
	})
}

// BenchmarkPipeline measures the packet path: reassembly, TLS 1.3
// decryption, HTTP and WebSocket decoding, profile, correlation and events
// (to a discarding writer), over the tls13-ws fixture's packets already
// decoded from the file (2 connections, 175 packets). Building the
// Pipeline and its Summary are outside the timer (see
// BenchmarkPipelineSummary); per-connection set-up (key schedule, buffers,
// the correlator's tick ring) is inside.
func BenchmarkPipeline(b *testing.B) {
	pkts, keyText := loadPackets(b, "tls13-ws")
	keys := keyring.NewStore()
	keys.Load("keys", keyText)
	var size int64
	for _, p := range pkts {
		size += int64(len(p.Data))
	}
	prof, _ := profile.ByName("binance")
	jw := event.NewWriter(io.Discard, false)
	b.SetBytes(size)
	b.ReportAllocs()
	var mallocs, steady uint64 // all packets; the second half (connections set up)
	var ms runtime.MemStats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pl, err := pipeline.New(pipeline.Config{Profile: prof, Keys: keys, Events: jw})
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		m0 := ms.Mallocs
		b.StartTimer()
		half := len(pkts) / 2
		for j := range pkts[:half] {
			pl.Packet(&pkts[j])
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		m1 := ms.Mallocs
		b.StartTimer()
		for j := range pkts[half:] {
			pl.Packet(&pkts[half+j])
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		steady += ms.Mallocs - m1
		mallocs += ms.Mallocs - m0
		b.StartTimer()
		pl.Finish()
		b.StopTimer()
		if pl.Correlator().Counts().Ticks != 40 {
			b.Fatalf("%d ticks decoded, want 40", pl.Correlator().Counts().Ticks)
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N) * float64(len(pkts))
	b.ReportMetric(n/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(mallocs)/n, "allocs/packet")
	b.ReportMetric(float64(steady)/(float64(b.N)*float64(len(pkts)-len(pkts)/2)), "steady-allocs/packet")
}

// BenchmarkPipelineSummary is a whole analysis of the fixture: the packet
// path plus building the Pipeline and the Summary (HDR histograms encoded).
func BenchmarkPipelineSummary(b *testing.B) {
	pkts, keyText := loadPackets(b, "tls13-ws")
	keys := keyring.NewStore()
	keys.Load("keys", keyText)
	jw := event.NewWriter(io.Discard, false)
	b.ReportAllocs()
	for b.Loop() {
		runPackets(b, pkts, keys, jw, false)
	}
}
