package httpdec_test

import (
	"strconv"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/httpdec"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// BenchmarkExchange decodes a signed order request and its response, as
// the order API sees them, per iteration.
func BenchmarkExchange(b *testing.B) {
	order := `{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","quantity":"0.010","price":"60000.01","client_order_id":"o-1","tick_seq":42}`
	req := []byte("POST /api/v3/order HTTP/1.1\r\nHost: 198.18.1.2:8443\r\nUser-Agent: cloudpcap-trader\r\nContent-Length: " + strconv.Itoa(len(order)) + "\r\n" +
		"Content-Type: application/json\r\nX-Api-Key: lab\r\nX-Signature: 6c1f0a8c2d9e4b7a1f3e5d7c9b0a2e4f6c8d0b2a4e6f8a0c2e4d6b8a0c2e4f6a\r\nX-Timestamp: 1700000000000\r\nAccept-Encoding: gzip\r\n\r\n" +
		order)
	ack := `{"orderId":12345,"clientOrderId":"o-1","status":"NEW","x":""}`
	for _, tc := range []struct {
		name string
		resp []byte
	}{
		{"content-length", []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Sun, 22 Nov 2026 02:21:21 GMT\r\nContent-Length: " + strconv.Itoa(len(ack)) + "\r\n\r\n" + ack)},
		{"chunked", []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Sun, 22 Nov 2026 02:21:21 GMT\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(ack)), 16) + "\r\n" + ack + "\r\n0\r\n\r\n")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := 0
			c := httpdec.NewConn(httpdec.Config{}, countHandler{&n})
			sp := stream.Span{FirstNS: 1, LastNS: 2}
			b.SetBytes(int64(len(req) + len(tc.resp)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c.Feed(stream.ClientToServer, req, sp)
				c.Feed(stream.ServerToClient, tc.resp, sp)
			}
			b.StopTimer()
			if c.Err() != nil || n != 2*b.N {
				b.Fatalf("err %v, %d messages for %d exchanges", c.Err(), n, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
