// Package jsonstr writes JSON strings without allocating, for the
// hand-written encoders on hot paths (the monitor's events, the order API's
// acks, the trader's order bodies and timestamps). The escaping is
// encoding/json's: quotes, backslashes and control characters escaped (\n,
// \r, \t, \b, \f by name), < > & as \u003c \u003e \u0026 so the text is safe inside
// HTML, U+2028 and U+2029 escaped, and invalid UTF-8 replaced by U+FFFD.
// The caller owns dst; s is only read.
package jsonstr

import (
	"unicode/utf8"
	"unsafe"
)

// Append appends s to dst as a quoted JSON string.
func Append(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendInner(dst, s)
	return append(dst, '"')
}

// AppendBytes is Append for a byte slice.
func AppendBytes(dst, s []byte) []byte {
	return Append(dst, bytesString(s))
}

// AppendInner appends s as the inside of a JSON string, without quotes.
func AppendInner(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

// AppendBytesInner is AppendInner for a byte slice.
func AppendBytesInner(dst, s []byte) []byte {
	return AppendInner(dst, bytesString(s))
}

// bytesString views b as a string without copying; the functions here only
// read it during the call.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
