package orderapi

import (
	"sync"
	"sync/atomic"
)

// Stats is the JSON body of GET /stats.
//
//	{"accepted":120,"filled":40,
//	 "rejected":{"auth":1,"bad_request":2,"rate_limited":0,"too_large":0,"business":6},
//	 "symbols":{"BTCUSDT":100,"ETHUSDT":26},"connections":3,"open_connections":1}
//
// accepted counts acks with status NEW or FILLED (filled: FILLED only);
// rejected counts every refused order by reason; symbols counts valid orders
// (accepted or business-rejected) per symbol, at most maxSymbols distinct
// symbols, the rest under "_other"; connections counts TLS connections
// accepted since start, open_connections those open now.
type Stats struct {
	Accepted        uint64            `json:"accepted"`
	Filled          uint64            `json:"filled"`
	Rejected        map[string]uint64 `json:"rejected"`
	Symbols         map[string]uint64 `json:"symbols"`
	Connections     uint64            `json:"connections"`
	OpenConnections int64             `json:"open_connections"`
}

const maxSymbols = 1024

// OtherSymbols is the Stats.Symbols key for symbols past the first maxSymbols.
const OtherSymbols = "_other"

type counters struct {
	accepted, filled                                  atomic.Uint64
	auth, badRequest, rateLimited, tooLarge, business atomic.Uint64
	conns                                             atomic.Uint64
	open                                              atomic.Int64
	mu                                                sync.Mutex
	symbols                                           map[string]*atomic.Uint64
}

// symbol counts one order for sym. The map is bounded.
func (c *counters) symbol(sym string) {
	c.mu.Lock()
	n := c.symbols[sym]
	if n == nil {
		if len(c.symbols) >= maxSymbols {
			sym = OtherSymbols
			n = c.symbols[sym]
		}
		if n == nil {
			n = new(atomic.Uint64)
			c.symbols[sym] = n
		}
	}
	c.mu.Unlock()
	n.Add(1)
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Accepted: c.accepted.Load(),
		Filled:   c.filled.Load(),
		Rejected: map[string]uint64{
			ReasonAuth:        c.auth.Load(),
			ReasonBadRequest:  c.badRequest.Load(),
			ReasonRateLimited: c.rateLimited.Load(),
			ReasonTooLarge:    c.tooLarge.Load(),
			ReasonBusiness:    c.business.Load(),
		},
		Symbols:         map[string]uint64{},
		Connections:     c.conns.Load(),
		OpenConnections: c.open.Load(),
	}
	c.mu.Lock()
	for k, v := range c.symbols {
		s.Symbols[k] = v.Load()
	}
	c.mu.Unlock()
	return s
}
