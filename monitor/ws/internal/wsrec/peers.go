package wsrec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

type coderPeer struct{}

func coderMode(c string) coder.CompressionMode {
	switch c {
	case "context":
		return coder.CompressionContextTakeover
	case "nocontext":
		return coder.CompressionNoContextTakeover
	}
	return coder.CompressionDisabled
}

// coderSend sends steps; pings numbers coder's ping payloads (its own
// counter, starting at 1).
func coderSend(ctx context.Context, c *coder.Conn, steps []Step, sent *[]Sent) error {
	pings := 0
	ping := func() error {
		pings++
		*sent = append(*sent, Sent{Op: ws.OpPing, Payload: []byte(strconv.Itoa(pings))})
		return c.Ping(ctx)
	}
	for i, st := range steps {
		typ := coder.MessageText
		if st.Op == ws.OpBinary {
			typ = coder.MessageBinary
		}
		var err error
		switch {
		case st.Op == ws.OpPing:
			err = ping()
		case st.Pieces > 1:
			var w interface {
				Write([]byte) (int, error)
				Close() error
			}
			w, err = c.Writer(ctx, typ)
			for j, p := range split(st.Payload, st.Pieces) {
				if err != nil {
					break
				}
				_, err = w.Write(p)
				if err == nil && j == 0 && st.PingInside {
					err = ping()
				}
			}
			if err == nil {
				err = w.Close()
			}
			// A ping inside the message completes, and so is decoded,
			// before the message.
			*sent = append(*sent, Sent{Op: st.Op, Payload: st.Payload, Pieces: st.Pieces})
		default:
			*sent = append(*sent, Sent{Op: st.Op, Payload: st.Payload, Pieces: 1})
			err = c.Write(ctx, typ, st.Payload)
		}
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", i, st.Op, err)
		}
	}
	return nil
}

func (coderPeer) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, s Session, sent *[]Sent) error {
	c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: coderMode(s.Compression), CompressionThreshold: s.Threshold})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	err = readN(dataSteps(s.Client), func() error { _, _, err := c.Read(ctx); return err })
	if err != nil {
		return err
	}
	// CloseRead keeps reading (answering pings and the close) while the
	// server sends.
	done := c.CloseRead(ctx)
	if err := coderSend(ctx, c, s.Server, sent); err != nil {
		return err
	}
	<-done.Done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

func (coderPeer) client(ctx context.Context, url string, dial func(context.Context, string, string) (net.Conn, error), s Session, sent *[]Sent) error {
	hc := &http.Client{Transport: &http.Transport{DialContext: dial}}
	c, _, err := coder.Dial(ctx, url, &coder.DialOptions{HTTPClient: hc, CompressionMode: coderMode(s.Compression), CompressionThreshold: s.Threshold})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	read := make(chan error, 1)
	go func() {
		read <- readN(dataSteps(s.Server), func() error { _, _, err := c.Read(ctx); return err })
	}()
	if err := coderSend(ctx, c, s.Client, sent); err != nil {
		return err
	}
	if err := <-read; err != nil {
		return err
	}
	*sent = append(*sent, Sent{Op: ws.OpClose, Payload: closePayload(1000, "bye")})
	return c.Close(coder.StatusNormalClosure, "bye")
}

func closePayload(code uint16, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

type gorillaPeer struct{}

func gorillaSend(c *websocket.Conn, steps []Step, sent *[]Sent) error {
	deadline := time.Now().Add(10 * time.Second)
	pings := 0
	ping := func() error {
		pings++
		p := []byte("ping-" + strconv.Itoa(pings))
		*sent = append(*sent, Sent{Op: ws.OpPing, Payload: p})
		return c.WriteControl(websocket.PingMessage, p, deadline)
	}
	for i, st := range steps {
		typ := websocket.TextMessage
		if st.Op == ws.OpBinary {
			typ = websocket.BinaryMessage
		}
		var err error
		switch {
		case st.Op == ws.OpPing:
			err = ping()
		case st.Pieces > 1:
			var w interface {
				Write([]byte) (int, error)
				Close() error
			}
			w, err = c.NextWriter(typ)
			for j, p := range split(st.Payload, st.Pieces) {
				if err != nil {
					break
				}
				_, err = w.Write(p)
				if err == nil && j == 0 && st.PingInside {
					err = ping()
				}
			}
			if err == nil {
				err = w.Close()
			}
			// A ping inside the message completes, and so is decoded,
			// before the message.
			*sent = append(*sent, Sent{Op: st.Op, Payload: st.Payload, Pieces: st.Pieces})
		default:
			*sent = append(*sent, Sent{Op: st.Op, Payload: st.Payload, Pieces: 1})
			err = c.WriteMessage(typ, st.Payload)
		}
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", i, st.Op, err)
		}
	}
	return nil
}

func (gorillaPeer) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, s Session, sent *[]Sent) error {
	up := websocket.Upgrader{EnableCompression: s.Compression != "", WriteBufferSize: s.WriteBuffer}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	err = readN(dataSteps(s.Client), func() error { _, _, err := c.ReadMessage(); return err })
	if err != nil {
		return err
	}
	if err := gorillaSend(c, s.Server, sent); err != nil {
		return err
	}
	// Read until the client's close; the default handler answers it.
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return nil
			}
			return err
		}
	}
}

func (gorillaPeer) client(ctx context.Context, url string, dial func(context.Context, string, string) (net.Conn, error), s Session, sent *[]Sent) error {
	d := websocket.Dialer{NetDialContext: dial, EnableCompression: s.Compression != "", WriteBufferSize: s.WriteBuffer}
	c, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	read := make(chan error, 1)
	go func() {
		read <- readN(dataSteps(s.Server), func() error { _, _, err := c.ReadMessage(); return err })
	}()
	if err := gorillaSend(c, s.Client, sent); err != nil {
		return err
	}
	if err := <-read; err != nil {
		return err
	}
	p := closePayload(1000, "bye")
	*sent = append(*sent, Sent{Op: ws.OpClose, Payload: p})
	if err := c.WriteControl(websocket.CloseMessage, p, time.Now().Add(10*time.Second)); err != nil {
		return err
	}
	// Wait for the server's close reply.
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return nil
			}
			return err
		}
	}
}
