package trader

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzAck feeds arbitrary response bodies to the ack and error readers: they
// must not panic, the status found must be a quote-free part of the body,
// and the reason always names the HTTP status.
func FuzzAck(f *testing.F) {
	f.Add([]byte(`{"order_id":1,"client_order_id":"t0-1","symbol":"BTCUSDT","side":"BUY","type":"LIMIT","status":"NEW","recv_ns":1,"ack_ns":2}` + "\n"))
	f.Add([]byte(`{"order_id":2,"status":"REJECTED","reason":"insufficient balance"}`))
	f.Add([]byte(`{"code":-1022,"msg":"sign: X-Signature: signature does not match"}`))
	f.Add([]byte(`{"status":"`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s := jsonString(b, `"status":"`); s != nil {
			if bytes.IndexByte(s, '"') >= 0 || !bytes.Contains(b, s) {
				t.Fatalf("status %q from %q", s, b)
			}
		}
		if r := httpReason(418, b); !strings.HasPrefix(r, "http 418") {
			t.Fatalf("reason %q", r)
		}
	})
}
