package orderapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cloudpcap/cloudpcap/internal/jsonstr"
	"strconv"
	"unicode/utf8"
)

// Order is a parsed, validated order request body.
//
// Wire form (JSON object; unknown fields are ignored):
//
//	symbol            string, 1..20 of A-Z 0-9 (e.g. "BTCUSDT")            required
//	side              "BUY" | "SELL"                                         required
//	type              "LIMIT" | "MARKET"                                     required
//	quantity          positive decimal, as a JSON string or number           required
//	price             positive decimal, string or number; required for LIMIT, optional for MARKET
//	client_order_id   1..36 of A-Z a-z 0-9 . : / _ -                         required
//	newClientOrderId  binance's name for client_order_id (either; equal if both)
//	tick_feed         string, up to 256 bytes, naming the feed of the triggering tick   optional
//	tick_seq          unsigned integer, sequence of the triggering tick                 optional
type Order struct {
	Symbol        string
	Side          string
	Type          string
	Quantity      string // decimal text as sent
	Price         string // decimal text as sent; "" for a MARKET order without price
	ClientOrderID string
	TickFeed      string
	TickSeq       uint64
	HasTickSeq    bool
}

// FieldError is a body that is not a valid order: Field names the JSON field
// ("" for the body as a whole), Code is the API error code returned with it.
type FieldError struct {
	Field string
	Code  int
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "order body: " + e.Msg
	}
	return "order field " + e.Field + ": " + e.Msg
}

// wireOrder mirrors the JSON body. Decimals are raw so that both strings and
// numbers are accepted and the field can be named on error.
type wireOrder struct {
	Symbol           *string         `json:"symbol"`
	Side             *string         `json:"side"`
	Type             *string         `json:"type"`
	Quantity         json.RawMessage `json:"quantity"`
	Price            json.RawMessage `json:"price"`
	ClientOrderID    *string         `json:"client_order_id"`
	NewClientOrderID *string         `json:"newClientOrderId"`
	TickFeed         *string         `json:"tick_feed"`
	TickSeq          *uint64         `json:"tick_seq"`
}

const (
	maxSymbolLen   = 20
	maxClientIDLen = 36
	maxTickFeedLen = 256
	maxDecimalLen  = 40
)

// ParseOrder decodes and validates one order body. Errors are *FieldError.
func ParseOrder(body []byte) (Order, error) {
	var w wireOrder
	if err := json.Unmarshal(body, &w); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return Order{}, &FieldError{Code: CodeMalformedJSON, Msg: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se.Error())}
		case errors.As(err, &te) && te.Field != "":
			return Order{}, &FieldError{Field: te.Field, Code: CodeBadParam, Msg: fmt.Sprintf("JSON %s where %s is wanted", te.Value, wantType(te.Field))}
		case errors.As(err, &te):
			return Order{}, &FieldError{Code: CodeMalformedJSON, Msg: "body must be a JSON object, not " + te.Value}
		default:
			return Order{}, &FieldError{Code: CodeMalformedJSON, Msg: "malformed JSON: " + err.Error()}
		}
	}
	var o Order
	var err error
	if o.Symbol, err = required("symbol", w.Symbol); err != nil {
		return Order{}, err
	}
	if len(o.Symbol) > maxSymbolLen || !allBytes(o.Symbol, isSymbolByte) {
		return Order{}, &FieldError{Field: "symbol", Code: CodeBadSymbol, Msg: fmt.Sprintf("want 1..%d of A-Z 0-9", maxSymbolLen)}
	}
	if o.Side, err = required("side", w.Side); err != nil {
		return Order{}, err
	}
	if o.Side != "BUY" && o.Side != "SELL" {
		return Order{}, &FieldError{Field: "side", Code: CodeBadSide, Msg: "want BUY or SELL"}
	}
	if o.Type, err = required("type", w.Type); err != nil {
		return Order{}, err
	}
	if o.Type != "LIMIT" && o.Type != "MARKET" {
		return Order{}, &FieldError{Field: "type", Code: CodeBadType, Msg: "want LIMIT or MARKET"}
	}
	if o.Quantity, err = decimal("quantity", w.Quantity, true); err != nil {
		return Order{}, err
	}
	if o.Price, err = decimal("price", w.Price, o.Type == "LIMIT"); err != nil {
		return Order{}, err
	}
	switch {
	case w.ClientOrderID != nil && w.NewClientOrderID != nil && *w.ClientOrderID != *w.NewClientOrderID:
		return Order{}, &FieldError{Field: "client_order_id", Code: CodeBadParam, Msg: "differs from newClientOrderId (send one, or both equal)"}
	case w.ClientOrderID != nil:
		o.ClientOrderID, err = required("client_order_id", w.ClientOrderID)
	case w.NewClientOrderID != nil:
		o.ClientOrderID, err = required("newClientOrderId", w.NewClientOrderID)
	default:
		err = &FieldError{Field: "client_order_id", Code: CodeMissingParam, Msg: "missing (or send newClientOrderId)"}
	}
	if err != nil {
		return Order{}, err
	}
	if len(o.ClientOrderID) > maxClientIDLen || !allBytes(o.ClientOrderID, isClientIDByte) {
		return Order{}, &FieldError{Field: "client_order_id", Code: CodeBadParam, Msg: fmt.Sprintf("want 1..%d of A-Z a-z 0-9 . : / _ -", maxClientIDLen)}
	}
	if w.TickFeed != nil {
		o.TickFeed = *w.TickFeed
		if len(o.TickFeed) > maxTickFeedLen || !utf8.ValidString(o.TickFeed) {
			return Order{}, &FieldError{Field: "tick_feed", Code: CodeBadParam, Msg: fmt.Sprintf("want valid UTF-8 up to %d bytes", maxTickFeedLen)}
		}
	}
	if w.TickSeq != nil {
		o.TickSeq, o.HasTickSeq = *w.TickSeq, true
	}
	return o, nil
}

func wantType(field string) string {
	switch field {
	case "tick_seq":
		return "an unsigned integer"
	}
	return "a string"
}

func required(field string, v *string) (string, error) {
	if v == nil {
		return "", &FieldError{Field: field, Code: CodeMissingParam, Msg: "missing"}
	}
	if *v == "" {
		return "", &FieldError{Field: field, Code: CodeMissingParam, Msg: "empty"}
	}
	return *v, nil
}

// decimal validates a positive decimal given as a JSON string or number.
// Absent or null is an error only when needed.
func decimal(field string, raw json.RawMessage, needed bool) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if needed {
			return "", &FieldError{Field: field, Code: CodeMissingParam, Msg: "missing"}
		}
		return "", nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", &FieldError{Field: field, Code: CodeBadDecimal, Msg: "not a decimal"}
		}
	}
	if len(s) > maxDecimalLen || !isPositiveDecimal(s) {
		return "", &FieldError{Field: field, Code: CodeBadDecimal, Msg: fmt.Sprintf("%s is not a positive decimal (digits with at most one '.', up to %d characters)", strconv.Quote(truncate(s, 16)), maxDecimalLen)}
	}
	return s, nil
}

// isPositiveDecimal accepts "1", "0.5", "65000.25", ".5", "5." and rejects
// signs, exponents and zero.
func isPositiveDecimal(s string) bool {
	digits, dots, nonzero := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
			nonzero = nonzero || c != '0'
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1 && nonzero
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isSymbolByte(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

func isClientIDByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '_' || c == '-'
}

// Ack statuses.
const (
	StatusNew      = "NEW"      // a LIMIT order accepted and resting
	StatusFilled   = "FILLED"   // a MARKET order, filled at once
	StatusRejected = "REJECTED" // a business rejection (--reject-rate); Reason says why
)

// Ack is the 200 response to an order. Wire form (one JSON object):
//
//	{"order_id":17,"client_order_id":"t1-17","symbol":"BTCUSDT","side":"BUY",
//	 "type":"LIMIT","status":"NEW","recv_ns":1763777488123456789,
//	 "ack_ns":1763777488123706789,"tick_feed":"feed0","tick_seq":42}
//
// order_id counts up from 1 per server; recv_ns is the server clock (ns since
// the Unix epoch) when the handler received the request, ack_ns when the ack
// was written, after the simulated matching delay. "reason" appears only with
// status REJECTED; tick_feed and tick_seq only when the order carried them.
type Ack struct {
	OrderID       uint64  `json:"order_id"`
	ClientOrderID string  `json:"client_order_id"`
	Symbol        string  `json:"symbol"`
	Side          string  `json:"side"`
	Type          string  `json:"type"`
	Status        string  `json:"status"`
	Reason        string  `json:"reason,omitempty"`
	RecvNS        int64   `json:"recv_ns"`
	AckNS         int64   `json:"ack_ns"`
	TickFeed      string  `json:"tick_feed,omitempty"`
	TickSeq       *uint64 `json:"tick_seq,omitempty"`
}

// AppendJSON appends o as an order request body in the wire form ParseOrder
// reads (client_order_id, decimals as strings; tick fields only when set),
// without allocating beyond dst's growth. For clients such as the trader.
func (o *Order) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = jsonstr.Append(dst, o.Symbol)
	dst = append(dst, `,"side":`...)
	dst = jsonstr.Append(dst, o.Side)
	dst = append(dst, `,"type":`...)
	dst = jsonstr.Append(dst, o.Type)
	dst = append(dst, `,"quantity":`...)
	dst = jsonstr.Append(dst, o.Quantity)
	if o.Price != "" {
		dst = append(dst, `,"price":`...)
		dst = jsonstr.Append(dst, o.Price)
	}
	dst = append(dst, `,"client_order_id":`...)
	dst = jsonstr.Append(dst, o.ClientOrderID)
	if o.TickFeed != "" {
		dst = append(dst, `,"tick_feed":`...)
		dst = jsonstr.Append(dst, o.TickFeed)
	}
	if o.HasTickSeq {
		dst = append(dst, `,"tick_seq":`...)
		dst = strconv.AppendUint(dst, o.TickSeq, 10)
	}
	return append(dst, '}')
}

// appendAck writes the ack as JSON without reflection (the order path is
// hot). Its output decodes into Ack.
func appendAck(dst []byte, id uint64, o *Order, status, reason string, recvNS, ackNS int64) []byte {
	dst = append(dst, `{"order_id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"client_order_id":`...)
	dst = jsonstr.Append(dst, o.ClientOrderID)
	dst = append(dst, `,"symbol":`...)
	dst = jsonstr.Append(dst, o.Symbol)
	dst = append(dst, `,"side":"`...)
	dst = append(dst, o.Side...)
	dst = append(dst, `","type":"`...)
	dst = append(dst, o.Type...)
	dst = append(dst, `","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, '"')
	if reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = jsonstr.Append(dst, reason)
	}
	dst = append(dst, `,"recv_ns":`...)
	dst = strconv.AppendInt(dst, recvNS, 10)
	dst = append(dst, `,"ack_ns":`...)
	dst = strconv.AppendInt(dst, ackNS, 10)
	if o.TickFeed != "" {
		dst = append(dst, `,"tick_feed":`...)
		dst = jsonstr.Append(dst, o.TickFeed)
	}
	if o.HasTickSeq {
		dst = append(dst, `,"tick_seq":`...)
		dst = strconv.AppendUint(dst, o.TickSeq, 10)
	}
	return append(dst, '}', '\n')
}
