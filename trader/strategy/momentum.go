package strategy

func init() {
	Register(Info{
		Name:    "momentum",
		Summary: "moving-average crossover per symbol: buy when the fast average crosses above the slow one, sell when it crosses below",
		Params: []ParamDoc{
			{"fast", "5", "ticks in the fast average"},
			{"slow", "20", "ticks in the slow average (the lookback; above fast)"},
			qtyDoc, typeDoc,
		},
		New: func(p *Params) (Strategy, error) {
			s := &momentum{
				fast:  p.Int("fast", 5, 1),
				slow:  p.Int("slow", 20, 2),
				order: p.order(),
				state: map[string]*maState{},
			}
			if p.Err() == nil && s.slow <= s.fast {
				p.Fail("slow", "%d must be above fast (%d)", s.slow, s.fast)
			}
			return s, nil
		},
	})
}

type momentum struct {
	fast, slow int
	order      orderTemplate
	state      map[string]*maState
}

// maState is one symbol's window: a ring of the last slow prices and the
// running sums of the whole ring and of its newest fast entries.
type maState struct {
	ring      []float64
	n, head   int // prices held; next write position
	sumSlow   float64
	sumFast   float64
	lastSign  int // sign of fast-slow at the previous full window (0: none yet)
	recompute int // ticks until the sums are recomputed (limits float drift)
}

func (s *momentum) OnTick(t *Tick, out []Order) []Order {
	px := t.Price()
	if !(px > 0) {
		return out
	}
	st := s.state[t.Symbol]
	if st == nil {
		st = &maState{ring: make([]float64, s.slow)}
		s.state[t.Symbol] = st
	}
	slow, fast := s.slow, s.fast
	// The price leaving the fast window is fast entries back.
	if st.n >= fast {
		st.sumFast -= st.ring[(st.head-fast+slow)%slow]
	}
	if st.n == slow {
		st.sumSlow -= st.ring[st.head]
	} else {
		st.n++
	}
	st.ring[st.head] = px
	st.head = (st.head + 1) % slow
	st.sumSlow += px
	st.sumFast += px
	if st.recompute--; st.recompute <= 0 {
		st.resum(fast)
	}
	if st.n < slow {
		return out
	}
	diff := st.sumFast/float64(fast) - st.sumSlow/float64(slow)
	sign := 0
	switch {
	case diff > 0:
		sign = 1
	case diff < 0:
		sign = -1
	}
	prev := st.lastSign
	if sign != 0 {
		st.lastSign = sign
	}
	if prev == 0 || sign == 0 || sign == prev {
		return out
	}
	side := Buy
	if sign < 0 {
		side = Sell
	}
	if o, ok := s.order.make(side, px); ok {
		out = append(out, o)
	}
	return out
}

// resum recomputes both sums from the ring.
func (st *maState) resum(fast int) {
	slow := len(st.ring)
	st.sumSlow, st.sumFast = 0, 0
	for i := 0; i < st.n; i++ {
		v := st.ring[(st.head-1-i+2*slow)%slow]
		st.sumSlow += v
		if i < fast {
			st.sumFast += v
		}
	}
	st.recompute = 4096
}
