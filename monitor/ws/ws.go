// Package ws decodes RFC 6455 WebSocket frames, one direction of one
// connection at a time, from plaintext bytes that arrive in arbitrary pieces
// (monitor/tlsdec hands them over through monitor/httpdec once an HTTP
// Upgrade has succeeded). It reassembles fragmented messages, unmasks
// client frames and inflates permessage-deflate (RFC 7692) messages.
//
// Buffers: the []byte given to Decoder.Feed belongs to the caller and is
// valid only during the call; the decoder copies what it needs. The
// *Message handed to the emit callback, and its Payload and CloseReason,
// belong to the decoder and are valid only until the callback returns:
// copy them if you keep them. Memory per decoder is bounded by
// Config.MaxMessage (twice that for a compressed message: its compressed
// and inflated forms, plus the deflate window); buffers over 1 MiB are
// released once their message has been emitted.
package ws

import (
	"errors"
	"strconv"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// Opcode is a WebSocket frame opcode.
type Opcode uint8

const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong and
// the reserved 0xB-0xF).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(" + strconv.Itoa(int(op)) + ")"
}

// Message is one complete WebSocket message (all its data frames), or one
// control frame.
type Message struct {
	Opcode Opcode // text, binary, close, ping or pong; never continuation
	// Payload is the unmasked and, if Compressed, inflated payload.
	// Owned by the decoder: valid only during the callback.
	Payload []byte
	// Span holds the capture times of the piece carrying the first byte
	// of the first frame and of the piece that completed the last frame.
	Span       stream.Span
	Control    bool  // ping, pong or close
	Compressed bool  // RSV1 was set on the first frame (permessage-deflate)
	Masked     bool  // the frames carried a masking key
	Frames     int   // frames that carried the message (1 for control frames)
	WireBytes  int64 // frame headers plus payload bytes as sent
	Offset     int64 // stream offset of the first byte of the first frame
	// CloseCode is the status code of a close frame (0 when absent).
	CloseCode uint16
	// CloseReason is the UTF-8 reason of a close frame, a slice of Payload.
	CloseReason []byte
}

// Deflate holds the negotiated permessage-deflate parameters
// (RFC 7692 section 7.1), as agreed in the server's 101 response.
type Deflate struct {
	Enabled                 bool
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int // 8..15; 0 means 15
	ClientMaxWindowBits     int // 8..15; 0 means 15
}

// Config configures a Decoder. The zero value decodes uncompressed
// streams with DefaultMaxMessage.
type Config struct {
	Deflate Deflate
	// MaxMessage bounds a message's payload, compressed and inflated;
	// 0 means DefaultMaxMessage. A longer message is an ErrTooLarge error.
	MaxMessage int
}

// DefaultMaxMessage is the payload bound used when Config.MaxMessage is 0.
const DefaultMaxMessage = 16 << 20

// Validate reports a configuration that cannot be used.
func (c Config) Validate() error {
	if c.MaxMessage < 0 {
		return errors.New("ws: MaxMessage is negative")
	}
	for _, b := range []int{c.Deflate.ServerMaxWindowBits, c.Deflate.ClientMaxWindowBits} {
		if b != 0 && (b < 8 || b > 15) {
			return errors.New("ws: max_window_bits " + strconv.Itoa(b) + " is outside 8..15")
		}
	}
	return nil
}

// Sentinel causes wrapped by *Error.
var (
	ErrProtocol = errors.New("protocol violation")
	ErrTooLarge = errors.New("message too large")
	ErrInflate  = errors.New("bad deflate data")
)

// Error is a decoding error at a byte offset of one direction.
type Error struct {
	Dir    stream.Dir
	Offset int64  // stream offset of the frame header where it happened
	Reason string // what was wrong
	Err    error  // ErrProtocol, ErrTooLarge or ErrInflate
}

func (e *Error) Error() string {
	return "ws: " + e.Dir.String() + " byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Stats counts what a Decoder has seen.
type Stats struct {
	Bytes           int64 // bytes fed, including those skipped after an error
	Frames          int64
	Messages        int64 // data messages emitted
	ControlFrames   int64 // control frames emitted
	Compressed      int64 // compressed messages inflated
	InflatedBytes   int64 // bytes produced by inflating
	Errors          int64 // decoding errors (at most 1: the decoder then stops)
	SkippedBytes    int64 // bytes ignored after an error
	UnexpectedMasks int64 // frames whose masking did not match the direction
}
