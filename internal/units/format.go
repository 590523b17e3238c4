package units

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// FormatNS writes a latency in ns for people, with three significant digits
// and the largest unit it reaches: 812ns, 35.2µs, 4.21ms, 1.50s, -35.2µs.
// The history table, the gate's verdicts and the report's pages use it.
func FormatNS(ns float64) string {
	a := math.Abs(ns)
	unit, div := "ns", 1.0
	switch {
	case a >= 1e9:
		unit, div = "s", 1e9
	case a >= 1e6:
		unit, div = "ms", 1e6
	case a >= 1e3:
		unit, div = "µs", 1e3
	}
	v := ns / div
	switch av := math.Abs(v); {
	case div == 1 || av >= 100:
		return fmt.Sprintf("%.0f%s", v, unit)
	case av >= 10:
		return fmt.Sprintf("%.1f%s", v, unit)
	default:
		return fmt.Sprintf("%.2f%s", v, unit)
	}
}

// FormatNSFixed writes a latency in ns with a fixed number of decimals per
// unit, in ASCII, so a column of them lines up: 812ns, 35.2us, 4.210ms,
// 1.500s, and 0 as "0". The monitor's summary table uses it.
func FormatNSFixed(ns int64) string {
	if ns == 0 {
		return "0"
	}
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", ns)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fus", float64(ns)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3fms", float64(ns)/1e6)
	}
	return fmt.Sprintf("%.3fs", float64(ns)/1e9)
}

// FormatMicros writes a latency in ns as whole microseconds, in ASCII:
// 1234us. The lab's live progress line uses it, so its columns keep one unit.
func FormatMicros(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e3, 'f', 0, 64) + "us"
}
