package strategy

func init() {
	Register(Info{
		Name:    "threshold",
		Summary: "an order when a symbol's price crosses a level: buy on the way up, sell on the way down (mode=fade reverses)",
		Params: []ParamDoc{
			{"level", "(required)", "price level"},
			{"symbol", "(any)", "only ticks of this symbol"},
			{"mode", "follow", "follow (buy crossing up) or fade (sell crossing up)"},
			qtyDoc, typeDoc,
		},
		New: func(p *Params) (Strategy, error) {
			if !p.Has("level") {
				p.Fail("level", "required (the price to watch)")
			}
			return &threshold{
				level:  p.Float("level", 0, true),
				symbol: p.String("symbol", ""),
				fade:   p.Choice("mode", 0, "follow", "fade") == 1,
				order:  p.order(),
				last:   map[string]float64{},
			}, nil
		},
	})
}

type threshold struct {
	level  float64
	symbol string
	fade   bool
	order  orderTemplate
	last   map[string]float64 // previous price per symbol
}

func (s *threshold) OnTick(t *Tick, out []Order) []Order {
	if s.symbol != "" && t.Symbol != s.symbol {
		return out
	}
	px := t.Price()
	if !(px > 0) {
		return out
	}
	prev, seen := s.last[t.Symbol]
	s.last[t.Symbol] = px
	if !seen {
		return out
	}
	var side Side
	switch {
	case prev < s.level && px >= s.level:
		side = Buy
	case prev > s.level && px <= s.level:
		side = Sell
	default:
		return out
	}
	if s.fade {
		side ^= 1
	}
	if o, ok := s.order.make(side, px); ok {
		out = append(out, o)
	}
	return out
}
