package strategy

func init() {
	Register(Info{
		Name:    "every",
		Summary: "an order every Nth tick (over all feeds and symbols), for load and latency tests",
		Params: []ParamDoc{
			{"n", "10", "ticks per order (1: every tick)"},
			{"side", "alternate", "buy, sell or alternate"},
			qtyDoc, typeDoc,
		},
		New: func(p *Params) (Strategy, error) {
			return &every{
				n:     uint64(p.Int("n", 10, 1)),
				side:  p.Choice("side", 2, "buy", "sell", "alternate"),
				order: p.order(),
			}, nil
		},
	})
}

type every struct {
	n, count uint64
	side     int // 0 buy, 1 sell, 2 alternate
	placed   uint64
	order    orderTemplate
}

func (s *every) OnTick(t *Tick, out []Order) []Order {
	s.count++
	if s.count%s.n != 0 {
		return out
	}
	side := Side(s.side)
	if s.side == 2 {
		side = Side(s.placed & 1)
	}
	if o, ok := s.order.make(side, t.Price()); ok {
		s.placed++
		out = append(out, o)
	}
	return out
}
