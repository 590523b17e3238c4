package feed

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/cloudpcap/cloudpcap/feed/format"
)

// priceProcess is one symbol's mid price: a geometric random walk rounded to
// a 0.01 tick, a spread of 1 to 5 ticks, random sides and sizes. It is driven
// only by its seeded RNG, so a seed reproduces the same prices.
type priceProcess struct {
	rng *rand.Rand
	mid float64
}

func startPrice(symbol string) float64 {
	s := strings.ToUpper(symbol)
	switch {
	case strings.HasPrefix(s, "BTC"):
		return 64000
	case strings.HasPrefix(s, "ETH"):
		return 3100
	case strings.HasPrefix(s, "SOL"):
		return 150
	}
	return 100
}

// round2 and round8 round to 2 and 8 decimals such that the shortest decimal
// representation is exact (dividing by a power of ten, not multiplying by
// its inverse).
func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round8(v float64) float64 { return math.Round(v*1e8) / 1e8 }

// step advances the process and fills the price fields of t.
func (p *priceProcess) step(t *format.Tick) {
	p.mid *= 1 + 1e-4*p.rng.NormFloat64()
	if p.mid < 1 {
		p.mid = 1
	}
	spread := float64(1+p.rng.IntN(5)) * 0.01
	bid := round2(p.mid - spread/2)
	ask := round2(bid + spread)
	t.Bid, t.Ask = bid, ask
	t.BidSize = round8(0.001 + p.rng.ExpFloat64())
	t.AskSize = round8(0.001 + p.rng.ExpFloat64())
	t.Size = round8(0.0001 + 0.05*p.rng.ExpFloat64())
	if p.rng.IntN(2) == 0 {
		t.Side, t.Last = format.SideBuy, ask
	} else {
		t.Side, t.Last = format.SideSell, bid
	}
}
