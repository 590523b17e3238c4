package strategy

import "math"

func init() {
	Register(Info{
		Name: "arb",
		Summary: "same symbol on two feeds (symbols compared as upper-case letters and digits, so BTC-USD matches btcusd): " +
			"when the feed that just ticked is more than bps away from the other, trade in its direction at the other feed's (stale) price; " +
			"re-arms once the two are back within bps",
		Params: []ParamDoc{
			{"bps", "1", "threshold in basis points of the other feed's price"},
			{"a", "0", "first feed (index in --feed order)"},
			{"b", "1", "second feed"},
			qtyDoc, typeDoc,
		},
		New: func(p *Params) (Strategy, error) {
			s := &arb{
				bps:   p.Float("bps", 1, true),
				a:     p.Int("a", 0, 0),
				b:     p.Int("b", 1, 0),
				order: p.order(),
				bySym: map[string]*arbState{},
			}
			feeds := p.Env().Feeds
			switch {
			case p.Err() != nil:
			case s.a == s.b:
				p.Fail("b", "%d is the same feed as a", s.b)
			case feeds > 0 && feeds < 2:
				p.Fail("a", "arb needs two feeds (give --feed twice)")
			case feeds > 0 && s.a >= feeds:
				p.Fail("a", "feed %d does not exist (%d feeds)", s.a, feeds)
			case feeds > 0 && s.b >= feeds:
				p.Fail("b", "feed %d does not exist (%d feeds)", s.b, feeds)
			}
			return s, nil
		},
	})
}

type arb struct {
	bps   float64
	a, b  int
	order orderTemplate
	bySym map[string]*arbState // normalized symbol -> state
	raw   [2]map[string]*arbState
}

// arbState is one symbol's last price on each feed.
type arbState struct {
	px    [2]float64
	fired bool // threshold exceeded and order placed; re-arms inside the band
}

// normSymbol keeps letters (upper-cased) and digits.
func normSymbol(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			b = append(b, c)
		}
	}
	return string(b)
}

func (s *arb) OnTick(t *Tick, out []Order) []Order {
	var side int
	switch t.Feed {
	case s.a:
		side = 0
	case s.b:
		side = 1
	default:
		return out
	}
	px := t.Price()
	if !(px > 0) {
		return out
	}
	m := s.raw[side]
	if m == nil {
		m = map[string]*arbState{}
		s.raw[side] = m
	}
	st := m[t.Symbol]
	if st == nil {
		key := normSymbol(t.Symbol)
		if st = s.bySym[key]; st == nil {
			st = &arbState{}
			s.bySym[key] = st
		}
		m[t.Symbol] = st
	}
	st.px[side] = px
	other := st.px[1-side]
	if other == 0 {
		return out
	}
	diff := (px - other) / other * 1e4
	if math.Abs(diff) <= s.bps {
		st.fired = false
		return out
	}
	if st.fired {
		return out
	}
	st.fired = true
	dir := Buy
	if diff < 0 {
		dir = Sell
	}
	if o, ok := s.order.make(dir, other); ok {
		out = append(out, o)
	}
	return out
}
