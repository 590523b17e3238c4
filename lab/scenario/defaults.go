package scenario

// fillDefaults sets every field a scenario may leave out to the value it
// runs with. Validate calls it before the checks, so they see the scenario
// as it will run.
func (s *Scenario) fillDefaults() {
	if s.Repeat == 0 {
		s.Repeat = 1
	}
	if len(s.Capture.Modes) == 0 {
		s.Capture.Modes = []string{"local"}
	}
	if s.Capture.Mirror.VNI == 0 {
		s.Capture.Mirror.VNI = 1
	}
	if s.Capture.Events == nil {
		t := true
		s.Capture.Events = &t
	}
	exch := map[string]bool{}
	for i := range s.Exchanges {
		s.Exchanges[i].fillDefaults()
		exch[s.Exchanges[i].Name] = true
	}
	for i := range s.Traders {
		s.Traders[i].fillDefaults(exch)
	}
	s.Gate.fillDefaults()
}

func (e *Exchange) fillDefaults() {
	f := &e.Feed
	if f.Format == "" {
		f.Format = "lab"
	}
	if f.Rate == 0 && f.Replay == "" {
		f.Rate = 100
	}
	if len(f.Symbols) == 0 {
		f.Symbols = DefaultSymbols(f.Format)
	}
	if f.TimeUnit == "" {
		f.TimeUnit = "us"
	}
}

// fillDefaults: orders go to the first feed's exchange when that names one
// of exch (a feed naming no exchange is reported once, at feeds).
func (t *Trader) fillDefaults(exch map[string]bool) {
	if t.Orders == "" && len(t.Feeds) > 0 && exch[t.Feeds[0]] {
		t.Orders = t.Feeds[0]
	}
	if t.Clients == 0 {
		t.Clients = 1
	}
}

func (g *Gate) fillDefaults() {
	if len(g.Metrics) == 0 {
		g.Metrics = append([]string(nil), MetricNames...)
	}
	if len(g.Quantiles) == 0 {
		g.Quantiles = []string{"p50", "p99"}
	}
	if g.Alpha == 0 {
		g.Alpha = 0.05
	}
}
