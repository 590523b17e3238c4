// Package strategy holds the trader's trading algorithms: a Strategy takes
// one tick and appends zero or more orders. Built-ins (every, threshold,
// momentum, arb) register themselves by name from their own files; New
// builds one from its name and "k=v" parameters, wrapping it with the think
// time every strategy accepts.
//
// # Adding a strategy
//
// Write one file in this package (say meanrev.go) with
//
//	func init() {
//		Register(Info{
//			Name:    "meanrev",
//			Summary: "sell above the mean, buy below it",
//			Params:  []ParamDoc{{"window", "20", "ticks in the mean"}, qtyDoc, typeDoc},
//			New: func(p *Params) (Strategy, error) {
//				s := &meanRev{window: p.Int("window", 20, 1), order: p.order()}
//				return s, p.Err()
//			},
//		})
//	}
//
// and a method OnTick(t *Tick, out []Order) []Order that appends to out.
// Read every parameter through Params (Int, Float, Duration, String, Choice,
// Dist): it validates the value, names the parameter in its error and marks
// it used, so New can reject parameters the strategy does not know. "think"
// and "seed" are handled by New for every strategy. Add a case to
// strategy_test.go's table and the strategy is on the command line as
// --strategy meanrev --param window=50.
//
// # Buffers and state
//
// OnTick runs on one goroutine per client (a Strategy is not safe for
// concurrent use; New makes one per client). The *Tick is owned by the
// caller and valid only during the call: copy what you keep (strings in a
// Tick are immutable, so keeping them is a copy of the header only). Orders
// are appended to the caller's out slice, which the caller reuses; OnTick
// must not keep it. In steady state a built-in allocates nothing per tick
// (per-symbol state is made the first time a symbol is seen).
package strategy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/internal/dist"
	"github.com/cloudpcap/cloudpcap/internal/units"
)

// Tick is one decoded market-data message plus where it came from.
type Tick struct {
	format.Tick
	Feed   int   // index of the feed (order of --feed) the tick arrived on
	RecvNS int64 // when the message was read from the socket, ns since the Unix epoch
}

// Price is the tick's reference price: the last trade price when the tick
// has one, else the bid/ask mid, else whichever side is present, else 0.
func (t *Tick) Price() float64 {
	switch {
	case t.Last > 0:
		return t.Last
	case t.Bid > 0 && t.Ask > 0:
		return (t.Bid + t.Ask) / 2
	case t.Bid > 0:
		return t.Bid
	}
	return t.Ask
}

// Side of an order.
type Side uint8

const (
	Buy Side = iota
	Sell
)

func (s Side) String() string {
	if s == Sell {
		return "SELL"
	}
	return "BUY"
}

// OrderType of an order.
type OrderType uint8

const (
	Limit OrderType = iota
	Market
)

func (o OrderType) String() string {
	if o == Market {
		return "MARKET"
	}
	return "LIMIT"
}

// Order is what a strategy decides. The client adds the client order id and
// the triggering tick (feed connection and sequence) when it sends it; the
// order's symbol is the triggering tick's.
type Order struct {
	Side     Side
	Type     OrderType
	Quantity float64 // > 0
	Price    float64 // limit price; ignored (not sent) for Market when 0
}

// Strategy turns ticks into orders: it appends zero or more orders for t to
// out and returns the extended slice.
type Strategy interface {
	OnTick(t *Tick, out []Order) []Order
}

// ParamDoc documents one parameter for help output.
type ParamDoc struct {
	Name, Default, Help string
}

// Info describes one registered strategy.
type Info struct {
	Name    string
	Summary string
	Params  []ParamDoc // the strategy's own; think and seed are added by New
	New     func(p *Params) (Strategy, error)
}

var registry = map[string]Info{}

// Register adds a strategy; call it from an init function. It panics on a
// duplicate or empty name (a programming error, found by any test).
func Register(info Info) {
	if info.Name == "" || info.New == nil {
		panic("strategy: Register needs Name and New")
	}
	if _, dup := registry[info.Name]; dup {
		panic("strategy: duplicate strategy " + info.Name)
	}
	registry[info.Name] = info
}

// Names lists the registered strategies, sorted.
func Names() []string {
	n := make([]string, 0, len(registry))
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Lookup returns a strategy's Info.
func Lookup(name string) (Info, bool) {
	i, ok := registry[name]
	return i, ok
}

// Common parameters that New handles for every strategy.
var commonParams = []ParamDoc{
	{"think", "0", "busy compute time per tick: a duration or a distribution (uniform:100us-300us, normal:200us,50us, exp:200us, lognormal:200us,100us)"},
	{"seed", "1", "seed of the think-time samples (the client number is added)"},
}

// Help writes one paragraph per strategy: name, summary and parameters.
func Help() string {
	var b strings.Builder
	for _, n := range Names() {
		i := registry[n]
		fmt.Fprintf(&b, "%s: %s\n", i.Name, i.Summary)
		for _, p := range append(append([]ParamDoc(nil), i.Params...), commonParams...) {
			fmt.Fprintf(&b, "    %-10s (default %s) %s\n", p.Name, p.Default, p.Help)
		}
	}
	return b.String()
}

// Error is a bad strategy name or parameter.
type Error struct {
	Strategy string
	Param    string // "" when the strategy itself is wrong
	Msg      string
}

func (e *Error) Error() string {
	if e.Param == "" {
		return "strategy " + strconv.Quote(e.Strategy) + ": " + e.Msg
	}
	return "strategy " + e.Strategy + ": param " + e.Param + ": " + e.Msg
}

// ParseKV turns "k=v" items (repeatable --param flags) into a map. An item
// without "=", an empty key or a key given twice is an error naming it.
func ParseKV(items []string) (map[string]string, error) {
	m := make(map[string]string, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return nil, fmt.Errorf("--param %q: want key=value", it)
		case k == "":
			return nil, fmt.Errorf("--param %q: empty key", it)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--param %s: given twice", k)
		}
		m[k] = strings.TrimSpace(v)
	}
	return m, nil
}

// Env is what a strategy may know about its client.
type Env struct {
	Feeds  int // number of feeds the client reads
	Client int // client number, 0-based (added to the think seed)
}

// New builds the named strategy from params for one client. It rejects an
// unknown name, a bad value and a parameter the strategy does not use, each
// with an *Error naming it.
func New(name string, params map[string]string, env Env) (Strategy, error) {
	info, ok := registry[name]
	if !ok {
		return nil, &Error{Strategy: name, Msg: "unknown strategy (want one of " + strings.Join(Names(), ", ") + ")"}
	}
	p := &Params{strategy: name, values: params, used: map[string]bool{}, env: env}
	think := p.Dist("think", dist.Dist{})
	seed := p.Uint("seed", 1)
	s, err := info.New(p)
	if err == nil {
		err = p.Err()
	}
	if err != nil {
		return nil, err
	}
	if err := p.unused(); err != nil {
		return nil, err
	}
	if think.IsZero() {
		return s, nil
	}
	return &thinker{s: s, d: think, rng: rand.New(rand.NewPCG(seed, uint64(env.Client)))}, nil
}

// Params reads a strategy's parameters. The first bad value is kept and
// returned by Err; later reads return their defaults.
type Params struct {
	strategy string
	values   map[string]string
	used     map[string]bool
	env      Env
	err      error
}

// Env is the client the strategy is being built for.
func (p *Params) Env() Env { return p.env }

// Err is the first bad parameter read so far.
func (p *Params) Err() error { return p.err }

// Fail records an error about param (when none was recorded yet).
func (p *Params) Fail(param, format string, args ...any) {
	if p.err == nil {
		p.err = &Error{Strategy: p.strategy, Param: param, Msg: fmt.Sprintf(format, args...)}
	}
}

func (p *Params) get(name string) (string, bool) {
	p.used[name] = true
	v, ok := p.values[name]
	return v, ok
}

// Has reports whether name was given (and marks it used).
func (p *Params) Has(name string) bool {
	_, ok := p.get(name)
	return ok
}

// unused reports the first (sorted) parameter no reader asked for.
func (p *Params) unused() error {
	var extra []string
	for k := range p.values {
		if !p.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	known := make([]string, 0, len(p.used))
	for k := range p.used {
		known = append(known, k)
	}
	sort.Strings(known)
	return &Error{Strategy: p.strategy, Param: extra[0], Msg: "unknown parameter (" + p.strategy + " takes " + strings.Join(known, ", ") + ")"}
}

// Int reads an integer >= min.
func (p *Params) Int(name string, def, min int) int {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.Fail(name, "%q is not an integer", v)
		return def
	}
	if n < min {
		p.Fail(name, "%d is below %d", n, min)
		return def
	}
	return n
}

// Uint reads an unsigned integer.
func (p *Params) Uint(name string, def uint64) uint64 {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		p.Fail(name, "%q is not an unsigned integer", v)
		return def
	}
	return n
}

// Float reads a finite number; positive requires > 0.
func (p *Params) Float(name string, def float64, positive bool) float64 {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		p.Fail(name, "%q is not a number", v)
		return def
	}
	if positive && x <= 0 {
		p.Fail(name, "%v is not above 0", x)
		return def
	}
	return x
}

// Duration reads a non-negative duration (internal/units syntax).
func (p *Params) Duration(name string, def time.Duration) time.Duration {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	d, err := units.ParseDuration(v)
	if err != nil {
		p.failUnits(name, err)
		return def
	}
	return d
}

// Dist reads a delay distribution (internal/units syntax).
func (p *Params) Dist(name string, def dist.Dist) dist.Dist {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	d, err := dist.Parse(v)
	if err != nil {
		p.failUnits(name, err)
		return def
	}
	return d
}

// failUnits reports a value internal/units refused; the parameter is named
// already, so the message says what is wrong without the units: prefix.
func (p *Params) failUnits(name string, err error) {
	if ue, ok := errors.AsType[*units.Error](err); ok {
		p.Fail(name, "%s", ue.Msg)
		return
	}
	p.Fail(name, "%v", err)
}

// String reads free text.
func (p *Params) String(name, def string) string {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	return v
}

// Choice reads one of choices (case-insensitive) and returns its index.
func (p *Params) Choice(name string, def int, choices ...string) int {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	for i, c := range choices {
		if strings.EqualFold(v, c) {
			return i
		}
	}
	p.Fail(name, "%q: want %s", v, strings.Join(choices, ", "))
	return def
}

// Common order parameters, shared by the built-ins.
var (
	qtyDoc  = ParamDoc{"qty", "0.001", "order quantity"}
	typeDoc = ParamDoc{"type", "limit", "limit (at the tick's price) or market"}
)

// orderTemplate is the quantity and type read from qty and type.
type orderTemplate struct {
	qty float64
	typ OrderType
}

func (p *Params) order() orderTemplate {
	return orderTemplate{
		qty: p.Float("qty", 0.001, true),
		typ: OrderType(p.Choice("type", int(Limit), "limit", "market")),
	}
}

// make returns an order of side at price (0: no usable price, a Market order
// then carries none; a Limit order without a price is not placed).
func (o orderTemplate) make(side Side, price float64) (Order, bool) {
	if o.typ == Limit && !(price > 0) {
		return Order{}, false
	}
	return Order{Side: side, Type: o.typ, Quantity: o.qty, Price: price}, true
}

// thinker burns CPU before deciding, to model a slower algorithm.
type thinker struct {
	s   Strategy
	d   dist.Dist
	rng *rand.Rand
}

func (t *thinker) OnTick(tk *Tick, out []Order) []Order {
	Spin(t.d.Sample(t.rng))
	return t.s.OnTick(tk, out)
}

// Spin busy-waits for d (it does not sleep: the goroutine keeps its CPU, as
// a computing strategy would).
func Spin(d time.Duration) {
	if d <= 0 {
		return
	}
	start := time.Now()
	for time.Since(start) < d {
	}
}
