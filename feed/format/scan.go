package format

import (
	"strconv"
	"time"
)

// value kinds returned by the object scanner.
const (
	vString = 's' // val holds the raw bytes between the quotes (escapes not undone)
	vNumber = 'n'
	vObject = 'o' // val holds the whole object including braces
	vArray  = 'a'
	vTrue   = 't'
	vFalse  = 'f'
	vNull   = 'z'
)

// obj iterates over the members of one JSON object without allocating. It
// checks JSON structure as it goes; key and string values are returned raw
// (escape sequences are not undone; callers reject them where they matter).
type obj struct {
	b      []byte
	i      int
	base   int // offset of b within the whole message, for error positions
	f      Format
	err    *SyntaxError
	first  bool
	done   bool
	vstart int // offset in b of the last value returned by next
}

func (o *obj) fail(at int, msg string) bool {
	if o.err == nil {
		o.err = &SyntaxError{Format: o.f, Offset: o.base + at, Msg: msg}
	}
	o.done = true
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (o *obj) ws() {
	for o.i < len(o.b) && isSpace(o.b[o.i]) {
		o.i++
	}
}

// open positions the scanner on a new object.
func (o *obj) open(b []byte, base int, f Format) bool {
	*o = obj{b: b, base: base, f: f, first: true}
	o.ws()
	if o.i >= len(o.b) {
		return o.fail(o.i, "empty message")
	}
	if o.b[o.i] != '{' {
		return o.fail(o.i, "want a JSON object")
	}
	o.i++
	return true
}

// next returns the next member. It returns ok=false at the end of the object
// or on error (o.err set).
func (o *obj) next() (key, val []byte, kind byte, ok bool) {
	if o.done {
		return nil, nil, 0, false
	}
	o.ws()
	if o.i >= len(o.b) {
		o.fail(o.i, "unterminated object")
		return nil, nil, 0, false
	}
	if o.b[o.i] == '}' {
		if !o.first {
			o.fail(o.i, "'}' after ','")
			return nil, nil, 0, false
		}
		o.i++
		o.end()
		return nil, nil, 0, false
	}
	o.first = false
	if o.b[o.i] != '"' {
		o.fail(o.i, "want a member name")
		return nil, nil, 0, false
	}
	ks, ke, ok := o.str(o.i)
	if !ok {
		return nil, nil, 0, false
	}
	key = o.b[ks:ke]
	o.i = ke + 1
	o.ws()
	if o.i >= len(o.b) || o.b[o.i] != ':' {
		o.fail(o.i, "want ':' after member name")
		return nil, nil, 0, false
	}
	o.i++
	o.ws()
	o.vstart = o.i
	val, kind, ok = o.value()
	if !ok {
		return nil, nil, 0, false
	}
	o.ws()
	if o.i >= len(o.b) {
		o.fail(o.i, "unterminated object")
		return nil, nil, 0, false
	}
	switch o.b[o.i] {
	case ',':
		o.i++
		o.ws()
		if o.i < len(o.b) && o.b[o.i] == '}' {
			o.fail(o.i, "'}' after ','")
			return nil, nil, 0, false
		}
	case '}':
		o.i++
		o.end()
	default:
		o.fail(o.i, "want ',' or '}' after value")
		return nil, nil, 0, false
	}
	return key, val, kind, true
}

// end checks that nothing but white space follows the object.
func (o *obj) end() {
	o.done = true
	o.ws()
	if o.i != len(o.b) {
		o.fail(o.i, "data after the object")
	}
}

// str scans the string starting at the quote at b[q]; it returns the span of
// its contents.
func (o *obj) str(q int) (start, end int, ok bool) {
	for j := q + 1; j < len(o.b); j++ {
		switch c := o.b[j]; {
		case c == '"':
			return q + 1, j, true
		case c == '\\':
			j++
		case c < 0x20:
			return 0, 0, o.fail(j, "control character in string")
		}
	}
	return 0, 0, o.fail(q, "unterminated string")
}

// value scans one value at o.i and leaves o.i after it.
func (o *obj) value() ([]byte, byte, bool) {
	if o.i >= len(o.b) {
		return nil, 0, o.fail(o.i, "want a value")
	}
	start := o.i
	switch c := o.b[o.i]; {
	case c == '"':
		s, e, ok := o.str(o.i)
		if !ok {
			return nil, 0, false
		}
		o.i = e + 1
		return o.b[s:e], vString, true
	case c == '{' || c == '[':
		depth := 0
		for o.i < len(o.b) {
			switch o.b[o.i] {
			case '"':
				_, e, ok := o.str(o.i)
				if !ok {
					return nil, 0, false
				}
				o.i = e
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					o.i++
					k := byte(vObject)
					if c == '[' {
						k = vArray
					}
					return o.b[start:o.i], k, true
				}
			}
			o.i++
		}
		return nil, 0, o.fail(start, "unterminated object or array")
	case c == '-' || (c >= '0' && c <= '9'):
		for o.i < len(o.b) {
			c := o.b[o.i]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				o.i++
				continue
			}
			break
		}
		return o.b[start:o.i], vNumber, true
	case c == 't':
		return o.lit("true", vTrue)
	case c == 'f':
		return o.lit("false", vFalse)
	case c == 'n':
		return o.lit("null", vNull)
	}
	return nil, 0, o.fail(start, "want a value")
}

func (o *obj) lit(word string, k byte) ([]byte, byte, bool) {
	if len(o.b)-o.i < len(word) || string(o.b[o.i:o.i+len(word)]) != word {
		return nil, 0, o.fail(o.i, "bad literal")
	}
	o.i += len(word)
	return o.b[o.i-len(word) : o.i], k, true
}

// The field parsers below return a message on failure; callers turn it into a
// SyntaxError at the member's position.

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := parseUint(b)
	if !ok || u > 1<<63 || (!neg && u == 1<<63) {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// parseFloat parses a decimal number. The string conversion does not escape,
// so for short inputs it uses a stack buffer and allocates nothing.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	for _, c := range b {
		// reject what strconv accepts but JSON does not (inf, nan, hex, '_')
		if !((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil
}

// setString stores b in *s, reusing the current string when equal.
func setString(s *string, b []byte) {
	if string(b) != *s {
		*s = string(b)
	}
}

// parseTime parses RFC 3339 time as written by Coinbase
// (2026-11-22T02:06:58.123456789Z or with a numeric offset) into ns since
// the Unix epoch without allocating.
func parseTime(b []byte) (int64, bool) {
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	rest := b[19:]
	ns := 0
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		scale := 100000000
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			ns += int(rest[j]-'0') * scale
			scale /= 10
			j++
		}
		if j == 1 {
			return 0, false
		}
		rest = rest[j:]
	}
	off := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(rest[1:3])
		om, ok2 := num(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		off = (oh*60 + om) * 60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	if t.Day() != d { // 31 February and the like
		return 0, false
	}
	return t.UnixNano() - int64(off)*1e9, true
}
