package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// control is one parsed subscription message from a client.
type control struct {
	coinbase bool            // Coinbase style ({"type":..}) rather than Binance ({"method":..})
	method   string          // Binance: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, ...
	params   []string        // Binance stream names
	id       json.RawMessage // Binance request id, echoed verbatim (null when absent)
	typ      string          // Coinbase: subscribe, unsubscribe
	subs     []cbSub         // Coinbase channel/product pairs, flattened
}

// cbSub is one Coinbase channel with its products.
type cbSub struct {
	Name       string   `json:"name"`
	ProductIDs []string `json:"product_ids"`
}

// controlError is a subscription message that could not be understood; code
// is the Binance error code (2 invalid request, 3 invalid JSON).
type controlError struct {
	code int
	msg  string
}

func (e *controlError) Error() string { return e.msg }

var nullID = json.RawMessage("null")

// parseControl parses a subscription message. It never panics; errors are
// *controlError with the Binance code and a message that names the problem.
func parseControl(msg []byte) (control, error) {
	var raw struct {
		Method     *string           `json:"method"`
		Params     []json.RawMessage `json:"params"`
		ID         json.RawMessage   `json:"id"`
		Type       *string           `json:"type"`
		ProductIDs []string          `json:"product_ids"`
		Channels   []json.RawMessage `json:"channels"`
	}
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 || msg[0] != '{' {
		return control{}, &controlError{3, "Invalid JSON: want an object"}
	}
	if err := json.Unmarshal(msg, &raw); err != nil {
		return control{}, &controlError{3, "Invalid JSON: " + err.Error()}
	}
	c := control{id: nullID}
	if len(raw.ID) > 0 {
		switch raw.ID[0] {
		case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			c.id = raw.ID
		default:
			return c, &controlError{2, "Invalid request: id must be a number, a string or null"}
		}
	}
	switch {
	case raw.Method != nil && raw.Type != nil:
		return c, &controlError{2, `Invalid request: both "method" and "type"`}
	case raw.Method != nil:
		c.method = *raw.Method
		for i, p := range raw.Params {
			var s string
			if err := json.Unmarshal(p, &s); err != nil {
				return c, &controlError{2, fmt.Sprintf("Invalid request: params[%d] is not a string", i)}
			}
			c.params = append(c.params, s)
		}
		return c, nil
	case raw.Type != nil:
		c.coinbase = true
		c.typ = *raw.Type
		for i, ch := range raw.Channels {
			var name string
			if err := json.Unmarshal(ch, &name); err == nil {
				c.subs = append(c.subs, cbSub{Name: name, ProductIDs: raw.ProductIDs})
				continue
			}
			var s cbSub
			if err := json.Unmarshal(ch, &s); err != nil || s.Name == "" {
				return c, &controlError{2, fmt.Sprintf("channels[%d] is neither a name nor {\"name\":..,\"product_ids\":[..]}", i)}
			}
			if len(s.ProductIDs) == 0 {
				s.ProductIDs = raw.ProductIDs
			}
			c.subs = append(c.subs, s)
		}
		if c.typ == "subscribe" || c.typ == "unsubscribe" {
			if len(c.subs) == 0 {
				return c, &controlError{2, "no channels given"}
			}
			for _, s := range c.subs {
				if len(s.ProductIDs) == 0 {
					return c, &controlError{2, fmt.Sprintf("channel %q without product_ids", s.Name)}
				}
			}
		}
		return c, nil
	}
	return c, &controlError{2, `Invalid request: want "method" (Binance) or "type" (Coinbase)`}
}

// Reply encoders. They run once per control message, so encoding/json is fine.

func binanceResult(id json.RawMessage, result any) []byte {
	b, _ := json.Marshal(struct {
		Result any             `json:"result"`
		ID     json.RawMessage `json:"id"`
	}{result, id})
	return b
}

func binanceError(id json.RawMessage, code int, msg string) []byte {
	type e struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	b, _ := json.Marshal(struct {
		Error e               `json:"error"`
		ID    json.RawMessage `json:"id"`
	}{e{code, msg}, id})
	return b
}

func coinbaseError(message, reason string) []byte {
	b, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}{"error", message, reason})
	return b
}

func coinbaseSubscriptions(products []string) []byte {
	if products == nil {
		products = []string{}
	}
	b, _ := json.Marshal(struct {
		Type     string  `json:"type"`
		Channels []cbSub `json:"channels"`
	}{"subscriptions", []cbSub{{Name: "ticker", ProductIDs: products}}})
	return b
}

// errUnknownStream names a stream the server does not have.
type errUnknownStream string

func (e errUnknownStream) Error() string { return fmt.Sprintf("unknown stream %q", string(e)) }

var errNoStreams = errors.New("no streams given")

// splitStreams splits a /ws/a/b path or a streams=a/b query value.
func splitStreams(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "/") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
