package trader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/cloudpcap/cloudpcap/internal/jsonstr"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cloudpcap/cloudpcap/orderapi/sign"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

// orderTimeout bounds one order request (connect, write, ack).
const orderTimeout = 10 * time.Second

// sender owns one order connection and sends one order at a time on it.
// With --order-conns N a client has N senders, so up to N orders are in
// flight without waiting for each other's acks.
type sender struct {
	c      *client
	id     int
	hc     *http.Client
	ctx    context.Context // send context with the trace attached
	signer *sign.Signer
	apiKey []string

	body, sig, oid, resp, line []byte
	tsText                     []byte

	wroteNS  atomic.Int64 // set by httptrace WroteRequest (transport goroutine)
	lastConn net.Conn
	connName string
}

func (c *client) newSender(ctx context.Context, id int) *sender {
	s := &sender{
		c: c, id: id,
		signer: sign.NewSigner(c.t.cfg.APISecret),
		apiKey: []string{c.t.cfg.APIKey},
		body:   make([]byte, 0, 512), sig: make([]byte, 0, sign.SignatureLen),
		oid: make([]byte, 0, 40), resp: make([]byte, 0, 1024), line: make([]byte, 0, 1024),
	}
	d := newDialer(c.t.tls)
	s.hc = &http.Client{Transport: d.transport(1), Timeout: orderTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if info.Conn != s.lastConn {
				s.lastConn = info.Conn
				s.connName = connName(info.Conn)
				if !info.Reused {
					c.stats.orderConns.Add(1)
				}
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { s.wroteNS.Store(time.Now().UnixNano()) },
	}
	s.ctx = httptrace.WithClientTrace(ctx, trace)
	return s
}

// run sends orders until ctx ends and the queue is empty of what was
// already decided... it stops taking orders when ctx ends.
func (s *sender) run(ctx context.Context) {
	defer s.hc.CloseIdleConnections()
	if !s.c.t.cfg.NoWarmup {
		s.warmup()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-s.c.orders:
			s.send(&o)
		}
	}
}

// warmup opens the connection before the first order (GET /healthz), so
// the first order does not pay for the TCP and TLS handshakes.
func (s *sender) warmup() {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.c.t.healthURL, nil)
	if err != nil {
		return
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.c.t.log.Warn("order API warm-up failed (orders will connect on demand)", "client", s.c.id, "url", s.c.t.healthURL, "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// send signs and posts one order and reads its ack.
func (s *sender) send(o *orderMsg) {
	c := s.c
	s.oid = strconv.AppendUint(append(s.oid[:0], c.prefix...), o.num, 10)
	s.body = appendOrder(s.body[:0], o, s.oid)
	now := time.Now()
	sendNS := now.UnixNano()
	ts := sign.Timestamp(now)
	s.sig = s.signer.Append(s.sig[:0], ts, http.MethodPost, c.t.orderPath, s.body)
	s.tsText = strconv.AppendInt(s.tsText[:0], ts, 10)
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, c.t.orderURL, bytes.NewReader(s.body))
	if err != nil {
		s.finish(o, sendNS, 0, 0, nil, "request: "+err.Error())
		return
	}
	req.Header = http.Header{
		"Content-Type":       contentJSON,
		sign.HeaderKey:       s.apiKey,
		sign.HeaderTimestamp: {string(s.tsText)},
		sign.HeaderSignature: {string(s.sig)},
	}
	s.wroteNS.Store(0)
	c.stats.sent.Add(1)
	resp, err := s.hc.Do(req)
	if err != nil {
		s.finish(o, sendNS, 0, 0, nil, transportReason(err))
		return
	}
	s.resp, err = readAll(io.LimitReader(resp.Body, 1<<20), s.resp[:0])
	resp.Body.Close()
	ackNS := time.Now().UnixNano()
	if err != nil {
		s.finish(o, sendNS, ackNS, resp.StatusCode, nil, transportReason(err))
		return
	}
	if resp.StatusCode != http.StatusOK {
		s.finish(o, sendNS, ackNS, resp.StatusCode, nil, httpReason(resp.StatusCode, s.resp))
		return
	}
	status := jsonString(s.resp, `"status":"`)
	if status == nil {
		s.finish(o, sendNS, ackNS, resp.StatusCode, nil, "ack without status")
		return
	}
	s.finish(o, sendNS, ackNS, resp.StatusCode, status, "")
}

var contentJSON = []string{"application/json"}

// finish records one order's outcome: counters, histograms, timestamps.
func (s *sender) finish(o *orderMsg, sendNS, ackNS int64, code int, status []byte, errReason string) {
	c := s.c
	wrote := s.wroteNS.Load()
	if wrote > 0 {
		c.tickToWire.record(wrote - o.recvNS)
	}
	if errReason != "" {
		c.stats.countError(errReason)
		c.logLimited(&c.errLogs, "order failed", "order_id", string(s.oid), "reason", errReason)
	} else {
		c.stats.acked.Add(1)
		c.stats.countStatus(status)
		if wrote > 0 {
			c.orderToAck.record(ackNS - wrote)
		}
	}
	st := c.t.stamps
	if st == nil {
		return
	}
	s.line = s.line[:0]
	if o.first {
		s.line = appendTickStamp(s.line, c.id, o)
	}
	s.line = appendOrderStamp(s.line, c.id, o, s.oid, s.connName, sendNS, wrote, ackNS, code, status, errReason)
	st.write(s.line)
}

// appendOrder appends the JSON body of o with client order id id.
func appendOrder(b []byte, o *orderMsg, id []byte) []byte {
	b = append(b, `{"symbol":"`...)
	for i := 0; i < len(o.symbol); i++ {
		ch := o.symbol[i]
		switch {
		case ch >= 'a' && ch <= 'z':
			b = append(b, ch-'a'+'A')
		case ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9':
			b = append(b, ch)
		}
	}
	b = append(b, `","side":"`...)
	b = append(b, o.order.Side.String()...)
	b = append(b, `","type":"`...)
	b = append(b, o.order.Type.String()...)
	b = append(b, `","quantity":"`...)
	b = strconv.AppendFloat(b, o.order.Quantity, 'f', -1, 64)
	b = append(b, '"')
	if o.order.Type == strategy.Limit || o.order.Price > 0 {
		b = append(b, `,"price":"`...)
		b = strconv.AppendFloat(b, o.order.Price, 'f', -1, 64)
		b = append(b, '"')
	}
	b = append(b, `,"client_order_id":"`...)
	b = append(b, id...)
	b = append(b, `","tick_feed":"`...)
	b = jsonstr.AppendInner(b, o.conn)
	b = append(b, `","tick_seq":`...)
	b = strconv.AppendUint(b, o.seq, 10)
	return append(b, '}')
}

// jsonString returns the string value after key (e.g. `"status":"`) in a
// flat JSON object written by the order API, or nil.
func jsonString(b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	v := b[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// httpReason names a refused order: HTTP status and the API's error code.
func httpReason(code int, body []byte) string {
	r := "http " + strconv.Itoa(code)
	var e struct {
		Code *int `json:"code"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code != nil {
		r += " code " + strconv.Itoa(*e.Code)
	}
	return r
}

// transportReason classifies a failed request without the details that
// would make every error its own counter.
func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled at stop"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "transport: " + oe.Op
	}
	return "transport"
}
