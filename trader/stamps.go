package trader

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// stampWriter writes the --timestamps JSONL file: one "tick" line per tick
// that led to an order and one "order" line per order, written by the
// sender once the order's fate is known. Lines are built with append (no
// fmt) into the caller's scratch buffer and written under a mutex to a
// buffered file, flushed every second and at Close.
//
//	{"kind":"tick","client":0,"conn":"127.0.0.1:5-127.0.0.1:8443","stream":"btcusdt@trade",
//	 "symbol":"BTCUSDT","seq":17,"exch_ns":..,"recv_ns":..,"decide_ns":..}
//	{"kind":"order","client":0,"order_id":"t0-3","symbol":"BTCUSDT","side":"BUY",
//	 "tick_conn":"127.0.0.1:5-127.0.0.1:8443","tick_seq":17,"order_conn":"127.0.0.1:6-127.0.0.1:8444",
//	 "recv_ns":..,"decide_ns":..,"send_ns":..,"wrote_ns":..,"ack_ns":..,"http_status":200,"status":"NEW"}
//
// recv_ns: the tick's message was read from the socket; decide_ns: the
// strategy returned; send_ns: a sender took the order; wrote_ns: the request
// was written to the connection (httptrace WroteRequest); ack_ns: the
// response was read. All ns since the Unix epoch. A failed order has
// "error" instead of "status" and 0 for the times it did not reach.
type stampWriter struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
}

func openStamps(path string) (*stampWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, &ConfigError{Flag: "timestamps", Msg: err.Error()}
	}
	return &stampWriter{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (s *stampWriter) write(line []byte) {
	s.mu.Lock()
	if _, err := s.w.Write(line); err != nil && s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *stampWriter) flush() {
	s.mu.Lock()
	if err := s.w.Flush(); err != nil && s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *stampWriter) close() error {
	s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.f.Close(); err != nil && s.err == nil {
		s.err = err
	}
	if s.err != nil {
		return fmt.Errorf("trader: writing --timestamps %s: %w", s.f.Name(), s.err)
	}
	return nil
}

// appendTickStamp appends the tick line of o (the first order of its tick).
func appendTickStamp(b []byte, client int, o *orderMsg) []byte {
	b = append(b, `{"kind":"tick","client":`...)
	b = strconv.AppendInt(b, int64(client), 10)
	b = appendStr(b, "conn", o.conn)
	b = appendStr(b, "stream", o.stream)
	b = appendStr(b, "symbol", o.symbol)
	b = appendU(b, "seq", o.seq)
	b = appendI(b, "exch_ns", o.exchNS)
	b = appendI(b, "recv_ns", o.recvNS)
	b = appendI(b, "decide_ns", o.decideNS)
	return append(b, '}', '\n')
}

// appendOrderStamp appends the order line.
func appendOrderStamp(b []byte, client int, o *orderMsg, id []byte, orderConn string, sendNS, wroteNS, ackNS int64, httpStatus int, status []byte, errReason string) []byte {
	b = append(b, `{"kind":"order","client":`...)
	b = strconv.AppendInt(b, int64(client), 10)
	b = append(b, `,"order_id":"`...)
	b = append(b, id...)
	b = append(b, '"')
	b = appendStr(b, "symbol", o.symbol)
	b = appendStr(b, "side", o.order.Side.String())
	b = appendStr(b, "tick_conn", o.conn)
	b = appendU(b, "tick_seq", o.seq)
	b = appendStr(b, "order_conn", orderConn)
	b = appendI(b, "recv_ns", o.recvNS)
	b = appendI(b, "decide_ns", o.decideNS)
	b = appendI(b, "send_ns", sendNS)
	b = appendI(b, "wrote_ns", wroteNS)
	b = appendI(b, "ack_ns", ackNS)
	b = appendI(b, "http_status", int64(httpStatus))
	if errReason != "" {
		b = appendStr(b, "error", errReason)
	} else {
		b = append(b, `,"status":"`...)
		b = appendEscaped(b, status)
		b = append(b, '"')
	}
	return append(b, '}', '\n')
}

func appendStr(b []byte, k, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, `":"`...)
	b = appendEscaped(b, v)
	return append(b, '"')
}

func appendI(b []byte, k string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, `":`...)
	return strconv.AppendInt(b, v, 10)
}

func appendU(b []byte, k string, v uint64) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, `":`...)
	return strconv.AppendUint(b, v, 10)
}

// appendEscaped appends s as the inside of a JSON string: quotes,
// backslashes and control bytes escaped (the values are stream names,
// symbols, addresses and server status words).
func appendEscaped[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}
