package linkemu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

// ParseError is a k=v impairment text that cannot be read; Key names the
// offending key ("" when the text is not k=v at all).
type ParseError struct {
	Text  string
	Key   string
	Value string
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("linkemu: %q: %s", e.Text, e.Msg)
	}
	return fmt.Sprintf("linkemu: %q: %s=%q: %s", e.Text, e.Key, e.Value, e.Msg)
}

const parseKeys = "delay, jitter, dist, loss, rate, queue, reorder, seed"

// ParseParams reads one direction's impairment from comma-separated k=v
// pairs, the syntax of lab-linkemu's --a2b and --b2a:
//
//	delay=2ms,jitter=100us,dist=normal,loss=0.1%,rate=100mbit,queue=1000,reorder=false,seed=7
//
// Every key is optional and may appear once; the empty text is the zero
// Params. delay, jitter, loss and rate are read with internal/units, as a
// scenario's are: durations are Go durations ("us" or "µs") and not
// negative; loss is a probability ("0.001") or a percentage ("0.1%"); rate is
// bits/s with an optional tc-style unit: bit, kbit, mbit, gbit, tbit (powers
// of 1000) or bps, kbps, mbps, gbps, tbps (bytes/s, so 1mbps = 8mbit); 0 or
// "unlimited" means no limit. The result is validated; errors are
// *ParseError or *FieldError and name the key.
func ParseParams(s string) (Params, error) {
	var p Params
	text := strings.TrimSpace(s)
	if text == "" {
		return p, nil
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		fail := func(format string, args ...any) (Params, error) {
			return Params{}, &ParseError{Text: s, Key: k, Value: v, Msg: fmt.Sprintf(format, args...)}
		}
		if !ok {
			k, v = "", ""
			if item == "" {
				return fail("empty item; want k=v pairs separated by commas (%s)", parseKeys)
			}
			return fail("item %q is not k=v (keys: %s)", item, parseKeys)
		}
		if seen[k] {
			return fail("given twice")
		}
		seen[k] = true
		var err error
		switch k {
		case "delay":
			p.Delay, err = units.ParseDuration(v)
		case "jitter":
			p.Jitter, err = units.ParseDuration(v)
		case "dist":
			switch strings.ToLower(v) {
			case "uniform":
				p.JitterDist = Uniform
			case "normal":
				p.JitterDist = Normal
			default:
				return fail("want uniform or normal")
			}
		case "loss":
			p.Loss, err = units.ParsePercent(v)
		case "rate":
			p.Rate, err = units.ParseRate(v)
		case "queue", "limit":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			p.Queue = int(n)
			if err != nil {
				return fail("not a frame count")
			}
		case "reorder":
			p.Reorder, err = strconv.ParseBool(v)
			if err != nil {
				return fail("want true or false")
			}
		case "seed":
			p.Seed, err = strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fail("not an unsigned integer")
			}
		default:
			return fail("unknown key (keys: %s)", parseKeys)
		}
		if ue, ok := errors.AsType[*units.Error](err); ok {
			return fail("%s", ue.Msg) // the key and value are named already
		}
	}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}

// String formats p in the k=v syntax, listing only fields that differ from
// the zero Params; ParseParams(p.String()) == p for every valid p.
func (p Params) String() string {
	var b []byte
	add := func(k, v string) {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, v...)
	}
	if p.Delay != 0 {
		add("delay", p.Delay.String())
	}
	if p.Jitter != 0 {
		add("jitter", p.Jitter.String())
	}
	if p.JitterDist != Uniform {
		add("dist", p.JitterDist.String())
	}
	if p.Loss != 0 {
		add("loss", strconv.FormatFloat(p.Loss, 'g', -1, 64))
	}
	if p.Rate != 0 {
		add("rate", strconv.FormatUint(p.Rate, 10)+"bit")
	}
	if p.Queue != 0 {
		add("queue", strconv.Itoa(p.Queue))
	}
	if p.Reorder {
		add("reorder", "true")
	}
	if p.Seed != 0 {
		add("seed", strconv.FormatUint(p.Seed, 10))
	}
	return string(b)
}
