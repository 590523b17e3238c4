package units

import (
	"strings"
	"time"
)

const (
	notDuration  = "is not a duration"
	durationHint = " (use a unit: 250us, 2ms, 1.5s, 1m)"
)

// ParseDuration reads a non-negative duration: Go's time.ParseDuration
// syntax ("250us", "250µs", "2ms", "1m30s"), space around it ignored. A bare
// 0 is zero; other bare numbers are refused (a unit is required).
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	d, why := duration(t)
	if why == notDuration {
		why += durationHint
	}
	if why != "" {
		return 0, errorf(s, t, why)
	}
	return d, nil
}

// duration reads one trimmed duration; why says what is wrong with it.
func duration(t string) (d time.Duration, why string) {
	d, err := time.ParseDuration(t)
	switch {
	case err != nil:
		return 0, notDuration
	case d < 0:
		return 0, "is negative"
	}
	return d, ""
}

// FormatDuration writes d as time.Duration's String does, with "us" for
// microseconds so the text stays ASCII; ParseDuration reads it back.
func FormatDuration(d time.Duration) string { return strings.ReplaceAll(d.String(), "µs", "us") }
