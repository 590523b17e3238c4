// Package units reads and writes the lab's quantities as text, with one
// grammar wherever they appear: scenario files, lab-linkemu's --a2b/--b2a,
// the order API's --ack-delay and --max-body, the trader's strategy
// parameters and the feed's --pattern.
//
// The grammar (units are case-insensitive; space around the text is
// ignored, and so is space between a number and its unit, except in a
// duration):
//
//	duration      Go's time.ParseDuration: 250us (or 250µs), 2ms, 1.5s, 1m30s;
//	              never negative; a bare 0 is zero, other bare numbers need a unit
//	rate          bits/s: a number with bit, kbit, mbit, gbit, tbit (powers of
//	              1000) or bps, kbps, mbps, gbps, tbps (bytes/s as in tc, so
//	              1mbps = 8mbit); a bare number is bit/s; 0 and "unlimited"
//	              mean no limit; fractions round to the nearest bit/s
//	size          bytes: an integer with b, kb, mb, gb (powers of 1000) or
//	              kib, mib, gib, k, m (powers of 1024); a bare integer is bytes
//	percentage    a percentage 0.1% or a fraction 0.001, within 0%..100%
//	distribution  DUR, fixed:DUR, uniform:LO-HI, normal:MEAN,SD, exp:MEAN or
//	              lognormal:MEAN,SD (durations as above; see Dist)
//
// The empty text is not a value of any kind: a caller with an optional field
// (a scenario's absent loss) decides what empty means before parsing.
//
// Nanoseconds are written for people by FormatNS (three significant digits:
// 812ns, 35.2µs, 4.21ms), for aligned columns by FormatNSFixed, in whole
// microseconds by FormatMicros, and as parseable duration text by
// FormatDuration.
//
// Parse errors are *Error and quote the text. The package keeps no state and
// no buffers; it imports nothing from this module.
package units

import "strconv"

// Error is text that is not a value of the kind asked for. Error() quotes
// the text:
//
//	units: "2xs" is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)
//	units: "uniform:3ms-1ms": low bound 3ms above high bound 1ms
type Error struct {
	Text string // the text parsed, as given
	Msg  string // what is wrong; it quotes the part of Text at fault
	// whole: Msg starts with all of Text (trimmed), quoted, so Detail
	// need not repeat it.
	whole bool
}

func (e *Error) Error() string { return "units: " + e.Detail() }

// Detail is the error without the "units: " prefix, for callers that put
// their own context in front (a scenario's file, line and field path).
func (e *Error) Detail() string {
	if e.whole {
		return e.Msg
	}
	return strconv.Quote(e.Text) + ": " + e.Msg
}

// errorf makes an Error whose message starts with the trimmed text t, quoted.
func errorf(text, t, why string) *Error {
	return &Error{Text: text, Msg: strconv.Quote(t) + " " + why, whole: true}
}
