// Package scenario reads, checks and resolves the lab's YAML scenarios.
//
// A scenario is plain data: Parse decodes it strictly (unknown fields are
// errors), Set applies command-line overrides (`--set exchanges.0.link.delay=2ms`),
// Validate checks every value once and reports the first problems with the
// file, line, column and field path, for example
//
//	quick.yaml:14:5: exchanges.0.link.delay: "2xs" is not a duration
//
// The lab builds its runtime objects (namespaces, processes, capture) from a
// validated Scenario only. Resolved returns the scenario as it will run, to be
// saved with the results.
package scenario

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Scenario is one lab run's description.
type Scenario struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description,omitempty"`
	Seed        int64      `yaml:"seed"`
	Duration    Duration   `yaml:"duration"`
	Warmup      Duration   `yaml:"warmup,omitempty"` // excluded from statistics
	Repeat      int        `yaml:"repeat,omitempty"` // repetitions; 0 means 1
	Capture     Capture    `yaml:"capture,omitempty"`
	Exchanges   []Exchange `yaml:"exchanges"`
	Traders     []Trader   `yaml:"traders"`
	Gate        Gate       `yaml:"gate,omitempty"`
}

// Capture says where the monitor listens.
type Capture struct {
	// Modes: "local" (AF_PACKET on the trader's interface: wire time at the
	// trader) and/or "mirror" (tc mirred into VXLAN towards the monitor, as
	// AWS Traffic Mirroring delivers). Default [local].
	Modes    []string `yaml:"modes,omitempty"`
	Snaplen  Size     `yaml:"snaplen,omitempty"` // 0: whole frames
	Mirror   Mirror   `yaml:"mirror,omitempty"`
	Events   *bool    `yaml:"events,omitempty"`   // write events.jsonl (default true)
	Payloads bool     `yaml:"payloads,omitempty"` // include decoded payloads in events
}

// Mirror configures the VXLAN mirror session.
type Mirror struct {
	VNI      int  `yaml:"vni,omitempty"`      // default 1
	Truncate Size `yaml:"truncate,omitempty"` // mirrored bytes per packet; 0: whole packet
	Link     Link `yaml:"link,omitempty"`     // impairment of the mirror path
}

// Exchange is one mock exchange: a feed and an order API behind one link.
type Exchange struct {
	Name     string   `yaml:"name"`
	Feed     Feed     `yaml:"feed"`
	OrderAPI OrderAPI `yaml:"orderapi,omitempty"`
	Link     Link     `yaml:"link,omitempty"` // between the exchange and the lab network
}

// Feed mirrors `cloudpcap feed` flags.
type Feed struct {
	Format            string   `yaml:"format,omitempty"` // lab, binance, coinbase (default lab)
	Rate              float64  `yaml:"rate,omitempty"`   // messages/s per stream
	Pattern           string   `yaml:"pattern,omitempty"`
	Symbols           []string `yaml:"symbols,omitempty"`
	TLS               string   `yaml:"tls,omitempty"`
	Cipher            string   `yaml:"cipher,omitempty"`
	Deflate           bool     `yaml:"deflate,omitempty"`
	NoContextTakeover bool     `yaml:"no_context_takeover,omitempty"`
	Queue             int      `yaml:"queue,omitempty"`
	SlowPolicy        string   `yaml:"slow_policy,omitempty"`
	Replay            string   `yaml:"replay,omitempty"`
	Speed             float64  `yaml:"speed,omitempty"`
	// TimeUnit of Binance event times as the traders subscribe: "us" (the
	// lab's default, asked with timeUnit=MICROSECOND) or "ms" (Binance's
	// default: feed latency then carries up to 1 ms of truncation).
	TimeUnit string   `yaml:"time_unit,omitempty"`
	Extra    []string `yaml:"extra_args,omitempty"` // further `cloudpcap feed` flags
}

// OrderAPI mirrors `cloudpcap orderapi` flags.
type OrderAPI struct {
	AckDelay   string   `yaml:"ack_delay,omitempty"` // fixed or distribution (uniform:..., normal:..., exp:...)
	RejectRate Percent  `yaml:"reject_rate,omitempty"`
	RateLimit  float64  `yaml:"rate_limit,omitempty"` // orders/s, 0: none
	TLS        string   `yaml:"tls,omitempty"`
	Cipher     string   `yaml:"cipher,omitempty"`
	Extra      []string `yaml:"extra_args,omitempty"`
}

// Link is an impaired link. Values at this level apply to both directions
// (delay is one-way, so 2ms adds 2 ms each way); Down (exchange → traders:
// market data, acks) and Up (traders → exchange: orders) override per
// direction.
type Link struct {
	LinkDir `yaml:",inline"`
	Up      *LinkDir `yaml:"up,omitempty"`
	Down    *LinkDir `yaml:"down,omitempty"`
}

// LinkDir is one direction's impairment.
type LinkDir struct {
	Delay      Duration `yaml:"delay,omitempty"`
	Jitter     Duration `yaml:"jitter,omitempty"`
	JitterDist string   `yaml:"jitter_dist,omitempty"` // uniform (default) or normal
	Loss       Percent  `yaml:"loss,omitempty"`
	Rate       Bitrate  `yaml:"rate,omitempty"`
	Queue      int      `yaml:"queue,omitempty"` // packets
	Reorder    bool     `yaml:"reorder,omitempty"`
}

// Zero reports whether the direction has no impairment at all.
func (d LinkDir) Zero() bool {
	return d.Delay.D == 0 && d.Jitter.D == 0 && d.Loss.F == 0 && d.Rate.BPS == 0
}

// Direction returns the effective impairment of one direction: the shared
// values overridden by Up or Down where those set a value.
func (l Link) Direction(up bool) LinkDir {
	d := l.LinkDir
	o := l.Down
	if up {
		o = l.Up
	}
	if o == nil {
		return d
	}
	if o.Delay.raw != "" {
		d.Delay = o.Delay
	}
	if o.Jitter.raw != "" {
		d.Jitter = o.Jitter
	}
	if o.JitterDist != "" {
		d.JitterDist = o.JitterDist
	}
	if o.Loss.raw != "" {
		d.Loss = o.Loss
	}
	if o.Rate.raw != "" {
		d.Rate = o.Rate
	}
	if o.Queue != 0 {
		d.Queue = o.Queue
	}
	if o.Reorder {
		d.Reorder = true
	}
	return d
}

// Trader is a group of trading clients in one namespace.
type Trader struct {
	Name     string           `yaml:"name"`
	Strategy string           `yaml:"strategy"`
	Params   map[string]Value `yaml:"params,omitempty"`
	Feeds    []string         `yaml:"feeds"`             // exchange names whose feeds it subscribes to
	Streams  []string         `yaml:"streams,omitempty"` // stream names; default: every symbol's main stream
	Orders   string           `yaml:"orders,omitempty"`  // exchange name that takes its orders; default the first feed's
	Clients  int              `yaml:"clients,omitempty"` // independent clients; default 1
	Link     Link             `yaml:"link,omitempty"`    // between the trader and the lab network
	Extra    []string         `yaml:"extra_args,omitempty"`
}

// Gate holds the thresholds `cloudpcap gate` applies.
type Gate struct {
	Metrics   []string            `yaml:"metrics,omitempty"`   // default all three
	Quantiles []string            `yaml:"quantiles,omitempty"` // default p50, p99
	Alpha     float64             `yaml:"alpha,omitempty"`     // significance level, default 0.05
	MinEffect Percent             `yaml:"min_effect,omitempty"`
	Floor     Duration            `yaml:"floor,omitempty"` // changes smaller than this never fail
	SLO       map[string]Duration `yaml:"slo,omitempty"`   // "tick_to_trade.p99": 2ms
}

// Error is a problem with a scenario, positioned in its file where known.
type Error struct {
	File string // file name, or "--set" for an override
	Line int    // 1-based; 0 when unknown
	Col  int
	Path string // field path, dotted, list indices as numbers
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is a list of scenario problems (Validate reports them all).
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// File is a parsed scenario with what is needed to position errors.
type File struct {
	Name     string
	Scenario Scenario
	ast      *ast.File
	set      map[string]string // path -> raw value of overrides
}

var goccyPos = regexp.MustCompile(`^\[(\d+):(\d+)\] (.*)$`)

// Load reads and parses a scenario file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes a scenario strictly. name is used in error messages.
func Parse(name string, data []byte) (f *File, err error) {
	// goccy/go-yaml v1.19.2 can panic on some malformed documents (found by
	// FuzzParse: a tag on a sequence value); bad input must be an error.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, &Error{File: name, Msg: fmt.Sprintf("malformed YAML (the decoder failed: %v)", r)}
		}
	}()
	return parse(name, data)
}

func parse(name string, data []byte) (*File, error) {
	f := &File{Name: name, set: map[string]string{}}
	af, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, decodeError(name, err)
	}
	f.ast = af
	if err := yaml.UnmarshalWithOptions(data, &f.Scenario, yaml.Strict()); err != nil {
		return nil, decodeError(name, err)
	}
	return f, nil
}

func decodeError(name string, err error) error {
	msg := yaml.FormatError(err, false, false)
	first, _, _ := strings.Cut(msg, "\n")
	if m := goccyPos.FindStringSubmatch(strings.TrimSpace(first)); m != nil {
		var line, col int
		fmt.Sscan(m[1], &line)
		fmt.Sscan(m[2], &col)
		return &Error{File: name, Line: line, Col: col, Msg: m[3]}
	}
	return &Error{File: name, Msg: strings.TrimSpace(first)}
}

// position finds the line and column of a dotted field path in the file.
func (f *File) position(p string) (int, int) {
	if f.ast == nil || p == "" {
		return 0, 0
	}
	var b strings.Builder
	b.WriteString("$")
	for _, seg := range strings.Split(p, ".") {
		if seg != "" && strings.Trim(seg, "0123456789") == "" {
			b.WriteString("[" + seg + "]")
		} else {
			b.WriteString(".")
			if strings.ContainsAny(seg, " .[]'\"") {
				b.WriteString("'" + seg + "'")
			} else {
				b.WriteString(seg)
			}
		}
	}
	yp, err := yaml.PathString(b.String())
	if err != nil {
		return 0, 0
	}
	n, err := yp.FilterFile(f.ast)
	if err != nil || n == nil || n.GetToken() == nil {
		// Fall back to the nearest parent that exists.
		if i := strings.LastIndex(p, "."); i > 0 {
			return f.position(p[:i])
		}
		return 0, 0
	}
	pos := n.GetToken().Position
	return pos.Line, pos.Column
}

// errorAt makes an Error for a field path, positioned in the file, or
// attributed to --set when an override wrote that path.
func (f *File) errorAt(path, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	for sp := range f.set {
		if path == sp || strings.HasPrefix(path, sp+".") {
			return &Error{File: "--set " + sp + "=" + f.set[sp], Path: path, Msg: msg}
		}
	}
	line, col := f.position(path)
	return &Error{File: f.Name, Line: line, Col: col, Path: path, Msg: msg}
}

// Resolved returns the scenario as YAML, defaults filled and overrides
// applied (to be saved with the results).
func (f *File) Resolved() ([]byte, error) {
	return yaml.MarshalWithOptions(f.Scenario, yaml.IndentSequence(true))
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
