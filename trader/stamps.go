package trader

import (
	"bufio"
	"fmt"
	"os"
	"sync"

	"github.com/cloudpcap/cloudpcap/trader/stamp"
)

// stampWriter writes the --timestamps file (package trader/stamp owns its
// lines): lines are built with stamp.Append into the caller's scratch
// buffer and written under a mutex to a buffered file, flushed every second
// and at Close.
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
	return stamp.Append(b, &stamp.Stamp{Kind: stamp.Tick, Client: client, Conn: o.conn, Stream: o.stream,
		Symbol: o.symbol, Seq: o.seq, ExchNS: o.exchNS, RecvNS: o.recvNS, DecideNS: o.decideNS})
}

// appendOrderStamp appends the order line.
func appendOrderStamp(b []byte, client int, o *orderMsg, id []byte, orderConn string, sendNS, wroteNS, ackNS int64, httpStatus int, status []byte, errReason string) []byte {
	return stamp.Append(b, &stamp.Stamp{Kind: stamp.Order, Client: client, OrderID: id, Symbol: o.symbol,
		Side: o.order.Side.String(), TickConn: o.conn, TickSeq: o.seq, OrderConn: orderConn,
		RecvNS: o.recvNS, DecideNS: o.decideNS, SendNS: sendNS, WroteNS: wroteNS, AckNS: ackNS,
		HTTPStatus: httpStatus, Status: status, Error: errReason})
}
