package feed

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var controlSeeds = []string{
	`{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@bookTicker"],"id":1}`,
	`{"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":"x"}`,
	`{"method":"LIST_SUBSCRIPTIONS","id":null}`,
	`{"type":"subscribe","product_ids":["BTC-USD"],"channels":["ticker"]}`,
	`{"type":"subscribe","channels":[{"name":"ticker","product_ids":["ETH-USD"]},"heartbeat"],"product_ids":["BTC-USD"]}`,
	`{"type":"unsubscribe","channels":[{"name":"ticker"}],"product_ids":["BTC-USD"]}`,
	`{"method":"SUBSCRIBE","params":[1],"id":1}`,
	`{"method":"SUBSCRIBE","id":{}}`,
	`{"method":"X","type":"y"}`,
	`[]`, `{`, ``, `null`,
}

func TestParseControl(t *testing.T) {
	tests := []struct {
		msg     string
		want    control
		wantErr string
	}{
		{controlSeeds[0], control{method: "SUBSCRIBE", params: []string{"btcusdt@trade", "ethusdt@bookTicker"}, id: json.RawMessage("1")}, ""},
		{controlSeeds[1], control{method: "UNSUBSCRIBE", params: []string{"btcusdt@trade"}, id: json.RawMessage(`"x"`)}, ""},
		{controlSeeds[2], control{method: "LIST_SUBSCRIPTIONS", id: json.RawMessage("null")}, ""},
		{controlSeeds[3], control{coinbase: true, typ: "subscribe", id: nullID, subs: []cbSub{{"ticker", []string{"BTC-USD"}}}}, ""},
		{controlSeeds[4], control{coinbase: true, typ: "subscribe", id: nullID, subs: []cbSub{{"ticker", []string{"ETH-USD"}}, {"heartbeat", []string{"BTC-USD"}}}}, ""},
		{controlSeeds[5], control{coinbase: true, typ: "unsubscribe", id: nullID, subs: []cbSub{{"ticker", []string{"BTC-USD"}}}}, ""},
		{controlSeeds[6], control{}, "params[0] is not a string"},
		{controlSeeds[7], control{}, "id must be a number, a string or null"},
		{controlSeeds[8], control{}, `both "method" and "type"`},
		{`[]`, control{}, "Invalid JSON: want an object"},
		{`{`, control{}, "Invalid JSON: unexpected end of JSON input"},
		{`{"type":"subscribe","channels":[3],"product_ids":["A"]}`, control{}, "channels[0] is neither a name"},
		{`{"type":"subscribe","product_ids":["A"]}`, control{}, "no channels given"},
	}
	for _, tt := range tests {
		got, err := parseControl([]byte(tt.msg))
		if tt.wantErr != "" {
			var ce *controlError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseControl(%s) error %v, want %q", tt.msg, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseControl(%s) = %+v, %v\nwant %+v", tt.msg, got, err, tt.want)
		}
	}
}

// FuzzParseControl: the subscription parser never panics, fails only with
// *controlError, and every reply built from its result is valid JSON.
func FuzzParseControl(f *testing.F) {
	for _, s := range controlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := parseControl(msg)
		if err != nil {
			var ce *controlError
			if !errors.As(err, &ce) {
				t.Fatalf("untyped error %T", err)
			}
			if !json.Valid(binanceError(c.id, ce.code, ce.msg)) || !json.Valid(coinbaseError("x", ce.msg)) {
				t.Fatalf("error reply not JSON for %q", msg)
			}
			return
		}
		if !json.Valid(binanceResult(c.id, c.params)) {
			t.Fatalf("result reply not JSON for %q (id %q)", msg, c.id)
		}
		var products []string
		for _, s := range c.subs {
			products = append(products, s.ProductIDs...)
		}
		if !json.Valid(coinbaseSubscriptions(products)) {
			t.Fatalf("subscriptions reply not JSON for %q", msg)
		}
	})
}
