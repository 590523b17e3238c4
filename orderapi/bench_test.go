package orderapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/orderapi/sign"
)

// BenchmarkOrderKeepAlive: signed orders one after another over one
// keep-alive TLS connection, client and server in this process.
func BenchmarkOrderKeepAlive(b *testing.B) {
	ts := startServer(b, Config{})
	signer := sign.NewSigner(testSecret)
	body := []byte(validBody)
	sig := make([]byte, 0, sign.SignatureLen)
	req, err := http.NewRequest("POST", ts.url+PathOrder, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		ms := sign.Timestamp(time.Now())
		sig = signer.Append(sig[:0], ms, "POST", PathOrder, body)
		// A fresh Request per order: net/http tracks a round trip by its
		// *Request, and reusing one pointer back to back occasionally makes
		// the transport drop the connection and dial another.
		r := *req
		r.Header = http.Header{
			"X-Api-Key":    {testKey},
			"X-Timestamp":  {strconv.FormatInt(ms, 10)},
			"X-Signature":  {string(sig)},
			"Content-Type": {"application/json"},
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		resp, err := ts.client.Do(&r)
		if err != nil {
			b.Fatal(err)
		}
		buf, err = readAllInto(buf[:0], resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("status %d: %s %v", resp.StatusCode, buf, err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "orders/s")
	if c := ts.srv.Stats().Connections; c != 1 {
		b.Errorf("%d connections, want 1 keep-alive connection", c)
	}
}

func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// BenchmarkHandlerOrder: the server's side alone (routing, verify, parse,
// ack), no network or TLS.
func BenchmarkHandlerOrder(b *testing.B) {
	srv, err := New(Config{APIKey: testKey, APISecret: testSecret}, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	body := []byte(validBody)
	ms := sign.Timestamp(time.Now())
	req := httptest.NewRequest("POST", PathOrder, nil)
	req.Header = http.Header{
		"X-Api-Key":   {testKey},
		"X-Timestamp": {strconv.FormatInt(ms, 10)},
		"X-Signature": {sign.Sign(testSecret, ms, "POST", PathOrder, body)},
	}
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = rc
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
