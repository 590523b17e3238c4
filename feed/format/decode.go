package format

// Parse decodes one message in format f into t (Auto: Detect first). It
// returns ErrNotTick for control messages and a *SyntaxError for malformed
// input; on error t holds partial data. t's strings are reused when unchanged.
func Parse(f Format, msg []byte, t *Tick) error {
	switch f {
	case Lab:
		return ParseLab(msg, t)
	case Binance:
		return ParseBinance(msg, t)
	case Coinbase:
		return ParseCoinbase(msg, t)
	}
	switch Detect(msg) {
	case Lab:
		return ParseLab(msg, t)
	case Binance:
		return ParseBinance(msg, t)
	case Coinbase:
		return ParseCoinbase(msg, t)
	}
	var o obj
	if !o.open(msg, 0, Auto) {
		return o.err
	}
	for _, _, _, ok := o.next(); ok; _, _, _, ok = o.next() {
	}
	if o.err != nil {
		return o.err
	}
	return &SyntaxError{Format: Auto, Msg: "not a lab, Binance or Coinbase message"}
}

// Detect guesses the format of msg from its top-level member names: "type"
// with value "tick" is Lab, any other "type" (or "product_id") is Coinbase,
// "e", "stream", "result", "error", "u" or "id" is Binance. It returns Auto
// when it cannot tell (including malformed JSON).
func Detect(msg []byte) Format {
	var o obj
	if !o.open(msg, 0, Auto) {
		return Auto
	}
	envelope := false
	for k, v, kind, ok := o.next(); ok; k, v, kind, ok = o.next() {
		switch string(k) {
		case "stream":
			envelope = true
		case "data":
			if kind == vObject {
				if f := Detect(v); f != Auto {
					return f
				}
			}
		case "type":
			if kind == vString && string(v) == "tick" {
				return Lab
			}
			return Coinbase
		case "product_id", "product_ids", "channels":
			return Coinbase
		case "e", "result", "error", "u", "id", "method":
			return Binance
		}
	}
	if envelope {
		return Binance
	}
	return Auto
}

// plain reports whether an identifier (stream, symbol, product) is
// non-empty printable ASCII without quotes, backslashes or spaces, so that it
// needs no escaping when written back.
func plain(v []byte) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// reset clears t but keeps its strings for reuse.
func (t *Tick) reset() {
	s, y := t.Stream, t.Symbol
	*t = Tick{Stream: s, Symbol: y}
}

// setDerivedStream sets t.Stream to lowercase(symbol)+suffix without
// allocating when it is unchanged.
func setDerivedStream(t *Tick, symbol []byte, suffix string, lower bool) {
	var buf [64]byte
	b := buf[:0]
	for _, c := range symbol {
		if lower && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(b, suffix...)
	setString(&t.Stream, b)
}

func badField(f Format, o *obj, key string, want string) error {
	return &SyntaxError{Format: f, Offset: o.base + o.vstart, Msg: "member " + key + ": want " + want}
}

// ParseLab decodes a lab tick. Binance-style replies ({"result":..,"id":..},
// {"error":..}) on a lab connection are ErrNotTick. Without "stream" the
// stream is lowercase(symbol)+"@tick". Combined envelopes are unwrapped.
func ParseLab(msg []byte, t *Tick) error { return parseLab(msg, 0, t, false, false) }

func parseLab(msg []byte, base int, t *Tick, inner, haveStream bool) error {
	t.reset()
	var o obj
	if !o.open(msg, base, Lab) {
		return o.err
	}
	m := labMsg{haveStream: haveStream}
	for k, v, kind, ok := o.next(); ok; k, v, kind, ok = o.next() {
		if err := m.field(&o, k, v, kind, t, inner, base); err != nil {
			return err
		}
	}
	if o.err != nil {
		return o.err
	}
	if m.data != nil {
		return parseLab(m.data, m.dataBase, t, true, m.haveStream)
	}
	return m.finish(t, base)
}

// labMsg is what parseLab has read of one lab object so far.
type labMsg struct {
	have, control, haveSeq, haveTS, haveStream bool
	symbol, data                               []byte
	dataBase                                   int
}

// field reads one member of a lab object into t and m.
func (m *labMsg) field(o *obj, k, v []byte, kind byte, t *Tick, inner bool, base int) error {
	switch string(k) {
	case "type":
		if kind != vString {
			return badField(Lab, o, "type", "a string")
		}
		if string(v) != "tick" {
			m.control = true
		}
		m.have = true
	case "result", "error", "id":
		if !m.have {
			m.control = true
		}
	case "stream":
		if kind != vString || !plain(v) {
			return badField(Lab, o, "stream", "a plain string")
		}
		setString(&t.Stream, v)
		m.haveStream = true
	case "data":
		if kind != vObject || inner {
			return badField(Lab, o, "data", "an object")
		}
		m.data, m.dataBase = v, base+o.vstart
	case "seq":
		n, ok := parseUint(v)
		if kind != vNumber || !ok {
			return badField(Lab, o, "seq", "an unsigned integer")
		}
		t.Seq, m.haveSeq = n, true
	case "ts_ns":
		n, ok := parseInt(v)
		if kind != vNumber || !ok {
			return badField(Lab, o, "ts_ns", "an integer")
		}
		t.ExchNS, m.haveTS = n, true
	case "symbol":
		if kind != vString || !plain(v) {
			return badField(Lab, o, "symbol", "a plain non-empty string")
		}
		m.symbol = v
	case "bid", "ask", "last", "size", "bid_size", "ask_size":
		return labPrice(o, k, v, kind, t)
	case "side":
		side, ok := parseSide(kind, v)
		if !ok {
			return badField(Lab, o, "side", `"buy" or "sell"`)
		}
		t.Side = side
	}
	return nil
}

// labPrice reads one of a lab tick's prices or sizes.
func labPrice(o *obj, k, v []byte, kind byte, t *Tick) error {
	x, ok := parseFloat(v)
	if kind != vNumber || !ok {
		return badField(Lab, o, string(k), "a number")
	}
	switch string(k) {
	case "bid":
		t.Bid = x
	case "ask":
		t.Ask = x
	case "last":
		t.Last = x
	case "size":
		t.Size = x
	case "bid_size":
		t.BidSize = x
	case "ask_size":
		t.AskSize = x
	}
	return nil
}

// finish checks that a lab tick had what it must have and completes t.
func (m *labMsg) finish(t *Tick, base int) error {
	if m.control {
		return ErrNotTick
	}
	if !m.have {
		return &SyntaxError{Format: Lab, Offset: base, Msg: "message without type"}
	}
	switch {
	case !m.haveSeq:
		return &SyntaxError{Format: Lab, Offset: base, Msg: "tick without seq"}
	case !m.haveTS:
		return &SyntaxError{Format: Lab, Offset: base, Msg: "tick without ts_ns"}
	case m.symbol == nil:
		return &SyntaxError{Format: Lab, Offset: base, Msg: "tick without symbol"}
	}
	setString(&t.Symbol, m.symbol)
	if !m.haveStream {
		setDerivedStream(t, m.symbol, "@tick", true)
	}
	t.Kind = KindQuote
	return nil
}

// binanceNS converts a Binance E/T value (ms, or µs from ?timeUnit=MICROSECOND)
// to ns, telling the units apart by magnitude.
func binanceNS(v int64) int64 {
	if v < 1e14 {
		return v * 1e6
	}
	return v * 1e3
}

// ParseBinance decodes a Binance trade or bookTicker (futures style with e/E/T
// or spot style with only u/s/b/B/a/A), raw or in a combined-stream envelope.
// The stream is taken from the envelope, else lowercase(s)+"@trade" or
// "@bookTicker". ExchNS comes from E (T when E is absent). Replies, errors
// and other event types are ErrNotTick.
func ParseBinance(msg []byte, t *Tick) error { return parseBinance(msg, 0, t, false, false) }

func parseBinance(msg []byte, base int, t *Tick, inner, haveStream bool) error {
	if !inner {
		t.reset()
	}
	var o obj
	if !o.open(msg, base, Binance) {
		return o.err
	}
	m := binanceMsg{haveStream: haveStream}
	for k, v, kind, ok := o.next(); ok; k, v, kind, ok = o.next() {
		if err := m.field(&o, k, v, kind, t, inner, base); err != nil {
			return err
		}
	}
	if o.err != nil {
		return o.err
	}
	if m.data != nil {
		if !m.haveStream {
			return &SyntaxError{Format: Binance, Offset: base, Msg: "combined message without stream"}
		}
		return parseBinance(m.data, m.dataBase, t, true, true)
	}
	return m.finish(t, base)
}

// binanceMsg is what parseBinance has read of one object so far.
type binanceMsg struct {
	event, symbol, data                              []byte
	dataBase                                         int
	control, haveU, haveT, haveE, haveTT, haveStream bool
	e, tt                                            int64
	u, tid                                           uint64
	sides                                            [6]float64 // p q b B a A
	haveSide                                         [6]bool
}

// field reads one member of a Binance object into t and m.
func (m *binanceMsg) field(o *obj, k, v []byte, kind byte, t *Tick, inner bool, base int) error {
	switch string(k) {
	case "stream":
		if kind != vString || !plain(v) || inner {
			return badField(Binance, o, "stream", "a plain string")
		}
		setString(&t.Stream, v)
		m.haveStream = true
	case "data":
		if kind != vObject || inner {
			return badField(Binance, o, "data", "an object")
		}
		m.data, m.dataBase = v, base+o.vstart
	case "result", "error", "id":
		m.control = true
	case "e":
		if kind != vString {
			return badField(Binance, o, "e", "a string")
		}
		m.event = v
	case "E", "T":
		n, ok := parseInt(v)
		if kind != vNumber || !ok {
			return badField(Binance, o, string(k), "an integer time")
		}
		if k[0] == 'E' {
			m.e, m.haveE = n, true
		} else {
			m.tt, m.haveTT = n, true
		}
	case "s":
		if kind != vString || !plain(v) {
			return badField(Binance, o, "s", "a plain non-empty string")
		}
		m.symbol = v
	case "t", "u":
		n, ok := parseUint(v)
		if kind != vNumber || !ok {
			return badField(Binance, o, string(k), "an unsigned integer")
		}
		if k[0] == 't' {
			m.tid, m.haveT = n, true
		} else {
			m.u, m.haveU = n, true
		}
	case "p", "q", "b", "B", "a", "A":
		return m.side(o, k, v, kind)
	case "m":
		switch kind {
		case vTrue:
			t.Side = SideSell
		case vFalse:
			t.Side = SideBuy
		default:
			return badField(Binance, o, "m", "true or false")
		}
	}
	return nil
}

// side reads a price or quantity (p q b B a A): decimal strings.
func (m *binanceMsg) side(o *obj, k, v []byte, kind byte) error {
	if kind != vString && k[0] != 'p' && k[0] != 'q' {
		return nil // spot trades once carried order ids in b and a; depth updates carry arrays
	}
	x, ok := parseFloat(v)
	if kind != vString || !ok {
		return badField(Binance, o, string(k), "a decimal string")
	}
	const names = "pqbBaA"
	for j := range names {
		if names[j] == k[0] {
			m.sides[j], m.haveSide[j] = x, true
		}
	}
	return nil
}

// finish tells a trade from a bookTicker and a reply, checks that the
// message had what it must have and completes t.
func (m *binanceMsg) finish(t *Tick, base int) error {
	e := m.e
	if !m.haveE {
		e = m.tt
	}
	if m.haveE || m.haveTT {
		t.ExchNS = binanceNS(e)
	}
	spotBook := m.event == nil && m.haveU && m.haveSide[2] && m.haveSide[4]
	switch {
	case string(m.event) == "trade":
		if !m.haveT || m.symbol == nil || !m.haveSide[0] || !m.haveSide[1] {
			return &SyntaxError{Format: Binance, Offset: base, Msg: "trade without t, s, p or q"}
		}
		t.Kind, t.Seq, t.Last, t.Size = KindTrade, m.tid, m.sides[0], m.sides[1]
		if !m.haveStream {
			setDerivedStream(t, m.symbol, "@trade", true)
		}
	case string(m.event) == "bookTicker" || spotBook:
		if !m.haveU || m.symbol == nil || !m.haveSide[2] || !m.haveSide[4] {
			return &SyntaxError{Format: Binance, Offset: base, Msg: "bookTicker without u, s, b or a"}
		}
		t.Kind, t.Seq = KindBook, m.u
		t.Bid, t.BidSize, t.Ask, t.AskSize = m.sides[2], m.sides[3], m.sides[4], m.sides[5]
		t.Side = SideUnknown
		if !m.haveStream {
			setDerivedStream(t, m.symbol, "@bookTicker", true)
		}
	case m.control || m.event != nil:
		return ErrNotTick
	default:
		return &SyntaxError{Format: Binance, Offset: base, Msg: "neither a trade, a bookTicker nor a reply"}
	}
	setString(&t.Symbol, m.symbol)
	return nil
}

// ParseCoinbase decodes a Coinbase ticker. The stream is product_id+"@ticker".
// Other message types (subscriptions, error, heartbeat, ...) are ErrNotTick.
func ParseCoinbase(msg []byte, t *Tick) error {
	t.reset()
	var o obj
	if !o.open(msg, 0, Coinbase) {
		return o.err
	}
	var typ, product []byte
	var haveSeq, haveTime bool
	for k, v, kind, ok := o.next(); ok; k, v, kind, ok = o.next() {
		switch string(k) {
		case "type":
			if kind != vString {
				return badField(Coinbase, &o, "type", "a string")
			}
			typ = v
		case "sequence":
			n, ok := parseUint(v)
			if kind != vNumber || !ok {
				return badField(Coinbase, &o, "sequence", "an unsigned integer")
			}
			t.Seq, haveSeq = n, true
		case "product_id":
			if kind != vString || !plain(v) {
				return badField(Coinbase, &o, "product_id", "a plain non-empty string")
			}
			product = v
		case "price", "best_bid", "best_bid_size", "best_ask", "best_ask_size", "last_size":
			if kind == vNull {
				continue
			}
			x, ok := parseFloat(v)
			if kind != vString || !ok {
				return badField(Coinbase, &o, string(k), "a decimal string")
			}
			switch string(k) {
			case "price":
				t.Last = x
			case "best_bid":
				t.Bid = x
			case "best_bid_size":
				t.BidSize = x
			case "best_ask":
				t.Ask = x
			case "best_ask_size":
				t.AskSize = x
			case "last_size":
				t.Size = x
			}
		case "side":
			side, ok := parseSide(kind, v)
			if !ok {
				return badField(Coinbase, &o, "side", `"buy" or "sell"`)
			}
			t.Side = side
		case "time":
			ns, ok := parseTime(v)
			if kind != vString || !ok {
				return badField(Coinbase, &o, "time", "RFC 3339 time")
			}
			t.ExchNS, haveTime = ns, true
		}
	}
	if o.err != nil {
		return o.err
	}
	if typ == nil {
		return &SyntaxError{Format: Coinbase, Msg: "message without type"}
	}
	if string(typ) != "ticker" {
		return ErrNotTick
	}
	switch {
	case !haveSeq:
		return &SyntaxError{Format: Coinbase, Msg: "ticker without sequence"}
	case product == nil:
		return &SyntaxError{Format: Coinbase, Msg: "ticker without product_id"}
	case !haveTime:
		return &SyntaxError{Format: Coinbase, Msg: "ticker without time"}
	}
	setString(&t.Symbol, product)
	setDerivedStream(t, product, "@ticker", false)
	t.Kind = KindQuote
	return nil
}

// parseSide reads a "buy" or "sell" string value.
func parseSide(kind byte, v []byte) (Side, bool) {
	if kind != vString {
		return SideUnknown, false
	}
	switch string(v) {
	case "buy":
		return SideBuy, true
	case "sell":
		return SideSell, true
	}
	return SideUnknown, false
}
