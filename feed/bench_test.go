package feed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/cloudpcap/cloudpcap/feed/format"
)

// BenchmarkFanout measures ticks delivered per second from one stream to 1,
// 10 and 100 TLS WebSocket subscribers on loopback. The generator runs at
// 1e6 msgs/s (far above what is delivered), so the numbers are the server's
// delivery capacity; the drop-oldest queue absorbs the excess. Each
// subscriber reads b.N messages; allocations include the clients'.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			benchFanout(b, subs)
		})
	}
}

func benchFanout(b *testing.B, subs int) {
	s, err := New(Config{Format: format.Binance, Rate: 1e6, Symbols: []string{"BTCUSDT"}, Queue: 1024}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(s.tls.Certificates[0].Leaf)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer rcancel()
	conns := make([]*cws.Conn, subs)
	for i := range conns {
		c, _, err := cws.Dial(rctx, "wss://"+ln.Addr().String()+"/ws/btcusdt@trade", &cws.DialOptions{HTTPClient: hc})
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(1 << 20)
		defer c.CloseNow()
		if _, _, err := c.Read(rctx); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	d0 := s.Stats().Dropped
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, subs)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := 0; i < b.N; i++ {
				_, r, err := c.Reader(context.Background())
				for err == nil {
					_, err = r.Read(buf)
				}
				if err != io.EOF {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	total := float64(b.N) * float64(subs)
	b.ReportMetric(total/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(s.Stats().Dropped-d0)/total, "drops/msg")
}
