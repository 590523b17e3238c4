package tlsdec_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/tlsdec"
)

// A live monitor tails the trader's key log and lets waiting connections
// retry whenever keys arrive. (Not run: it needs a capture.)
func Example_live() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	keys := keyring.NewStore()
	tail := keyring.NewTail("/tmp/trader.keys", keys)
	go tail.Follow(ctx, 50*time.Millisecond)

	var key stream.ConnKey // from tcpflow
	conn := tlsdec.NewConn(key, tlsdec.Config{Keys: keys}, tlsdec.ConsumerFuncs{
		OnAppData: func(dir stream.Dir, b []byte, span stream.Span) {
			// b is valid only during the call; hand it to the WebSocket/HTTP decoder.
			_ = span.FirstNS
		},
	})
	// tcpflow calls conn.Data / conn.Gap / conn.Close; meanwhile:
	for {
		select {
		case <-keys.Changed():
			conn.KeysChanged()
		case <-ctx.Done():
			conn.Close(time.Now().UnixNano())
			if cr, ok := conn.MissingKey(); ok {
				fmt.Println("no key for client random", cr)
			}
			return
		}
	}
}
