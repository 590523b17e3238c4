package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Charts are laid out here, in Go, as plain geometry: the template turns
// a chart into SVG elements, so no string from the data is ever spliced
// into markup by hand.

// chart is one SVG figure.
type chart struct {
	ID      string // unique in the page
	Kind    string // nines, cdf, hist, timeline, split
	Title   string
	Note    string
	W, H    int
	Plot    rect // the data area
	XTicks  []axisTick
	YTicks  []axisTick
	XLabel  string
	YLabel  string
	Series  []svgSeries
	Marks   []axisTick // vertical markers (repetition starts)
	Rate    *ratePanel
	Hover   []hoverSeries // what the script shows under the pointer
	Stacked bool          // bars with a legend but no lines
	TickY   float64       // baseline of the x tick labels
}

// rect is a rectangle in SVG pixels.
type rect struct{ X, Y, W, H float64 }

// axisTick is a position (pixels) with its label.
type axisTick struct {
	P     float64
	Label string
}

// svgSeries is one drawn series: a path, bars, or both.
type svgSeries struct {
	Index int // colour and toggle index
	Name  string
	Path  string
	Dash  bool
	Bars  []rect
}

// ratePanel is the message-rate strip under a timeline.
type ratePanel struct {
	Box    rect
	YTicks []axisTick
	Bars   []rect
}

// hoverSeries is one series' points as the script sees them.
type hoverSeries struct {
	Name string   `json:"name"`
	Idx  int      `json:"i"`
	Pts  [][3]any `json:"p"` // x px, y px, label
}

const (
	chartW = 720
	chartH = 300
	padL   = 70
	padR   = 16
	padT   = 12
	padB   = 44
)

// axis maps data values to pixels: linear, log10, or nines (log10 of
// 1/(1-q), given as x = 1/(1-q)).
type axis struct {
	log      bool
	lo, hi   float64
	p0, p1   float64 // pixels of lo and hi
	unitDur  bool
	unitPct  bool
	unitSecs bool
}

func (a axis) pos(v float64) float64 {
	if a.log {
		if v <= 0 {
			v = a.lo
		}
		v, lo, hi := math.Log10(v), math.Log10(a.lo), math.Log10(a.hi)
		return a.p0 + (v-lo)/(hi-lo)*(a.p1-a.p0)
	}
	return a.p0 + (v-a.lo)/(a.hi-a.lo)*(a.p1-a.p0)
}

// valueAxis picks a scale for latencies in [lo, hi]: log10 when they span
// more than a factor of 30 and are positive, else linear from zero (or
// from lo when negative).
func valueAxis(lo, hi float64, p0, p1 float64) axis {
	if hi <= lo {
		hi = lo + 1
	}
	if lo > 0 && hi/lo > 30 {
		l := math.Pow(10, math.Floor(math.Log10(lo)))
		h := math.Pow(10, math.Ceil(math.Log10(hi)))
		return axis{log: true, lo: l, hi: h, p0: p0, p1: p1, unitDur: true}
	}
	if lo > 0 {
		lo = 0
	}
	step := niceStep((hi - lo) / 5)
	return axis{lo: math.Floor(lo/step) * step, hi: math.Ceil(hi/step) * step, p0: p0, p1: p1, unitDur: true}
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func (a axis) ticks() []axisTick {
	var out []axisTick
	label := func(v float64) string {
		switch {
		case a.unitDur:
			return tickDur(int64(math.Round(v)))
		case a.unitPct:
			return strconv.FormatFloat(math.Round(v*1e6)/1e4, 'f', -1, 64) + "%"
		case a.unitSecs:
			return strconv.FormatFloat(v, 'g', 9, 64) + "s"
		}
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	if a.log {
		lo, hi := math.Log10(a.lo), math.Log10(a.hi)
		mult := []float64{1, 2, 5}
		switch {
		case hi-lo > 4:
			mult = []float64{1}
		case hi-lo > 2:
			mult = []float64{1, 3}
		}
		for e := math.Floor(lo); e <= hi; e++ {
			for _, m := range mult {
				v := m * math.Pow(10, e)
				if v >= a.lo*(1-1e-9) && v <= a.hi*(1+1e-9) {
					out = append(out, axisTick{P: a.pos(v), Label: label(v)})
				}
			}
		}
		return out
	}
	step := niceStep((a.hi - a.lo) / 5)
	for i := 0; ; i++ {
		v := a.lo + float64(i)*step
		if v > a.hi+step/1e6 {
			break
		}
		v = math.Round(v/step*1e6) / 1e6 * step
		if math.Abs(v) < step/1e6 {
			v = 0
		}
		out = append(out, axisTick{P: a.pos(v), Label: label(v)})
	}
	return out
}

// ninesTicks labels x = 1/(1-q) with percentiles.
func ninesTicks(a axis) []axisTick {
	out := []axisTick{{P: a.pos(1), Label: "0%"}, {P: a.pos(2), Label: "50%"}}
	lbl := "90"
	for x := 10.0; x <= a.hi*(1+1e-9); x *= 10 {
		out = append(out, axisTick{P: a.pos(x), Label: lbl + "%"})
		if lbl == "90" {
			lbl = "99"
		} else if lbl == "99" {
			lbl = "99.9"
		} else {
			lbl += "9"
		}
	}
	return out
}

// ninesLabel names quantile 1-1/x for hover text.
func ninesLabel(x float64) string {
	q := (1 - 1/x) * 100
	s := strconv.FormatFloat(q, 'f', 4, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return "p" + s
}

func plotRect(w, h int) rect {
	return rect{X: padL, Y: padT, W: float64(w - padL - padR), H: float64(h - padT - padB)}
}

// pathOf joins points into an SVG path, breaking it where ok is false.
type pathBuilder struct {
	b    strings.Builder
	open bool
	n    int // points in the open segment
}

func (p *pathBuilder) add(x, y float64) {
	if p.open {
		p.b.WriteByte('L')
	} else {
		p.b.WriteByte('M')
		p.open = true
		p.n = 0
	}
	p.n++
	p.b.WriteString(f1(x))
	p.b.WriteByte(' ')
	p.b.WriteString(f1(y))
}

// brk ends the segment; a lone point becomes a short stroke (drawn as a
// dot with round caps) so that it shows.
func (p *pathBuilder) brk() {
	if p.open && p.n == 1 {
		p.b.WriteString("h1.5")
	}
	p.open = false
}

func (p *pathBuilder) String() string {
	p.brk()
	return p.b.String()
}

func f1(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// curve is a series of (x, y) data points with a name.
type curve struct {
	name  string
	idx   int
	dash  bool
	xs    []float64
	ys    []float64
	hover func(k int) string
}

// lineChart draws curves on the axes; the caller sets titles.
func lineChart(id, kind string, xa, ya axis, xt []axisTick, curves []curve) *chart {
	pr := plotRect(chartW, chartH)
	c := &chart{ID: id, Kind: kind, W: chartW, H: chartH, Plot: pr, XTicks: xt, YTicks: ya.ticks(), TickY: pr.Y + pr.H + 16}
	for _, cv := range curves {
		var pb pathBuilder
		hs := hoverSeries{Name: cv.name, Idx: cv.idx}
		for k := range cv.xs {
			x, y := xa.pos(cv.xs[k]), ya.pos(cv.ys[k])
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				pb.brk()
				continue
			}
			pb.add(x, y)
			if cv.hover != nil {
				hs.Pts = append(hs.Pts, [3]any{math.Round(x), math.Round(y), cv.hover(k)})
			}
		}
		c.Series = append(c.Series, svgSeries{Index: cv.idx, Name: cv.name, Path: pb.String(), Dash: cv.dash})
		c.Hover = append(c.Hover, hs)
	}
	return c
}

func span(vals ...[]float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, vs := range vals {
		for _, v := range vs {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	return lo, hi
}

// ninesChart plots value against x = 1/(1-q).
func ninesChart(id, title string, series []series) *chart {
	pr := plotRect(chartW, chartH)
	xmax := 10.0
	var ys [][]float64
	for _, s := range series {
		if n := len(s.Nines); n > 0 {
			xmax = math.Max(xmax, s.Nines[n-1].X)
		}
		y := make([]float64, len(s.Nines))
		for k, p := range s.Nines {
			y[k] = float64(p.V)
		}
		ys = append(ys, y)
	}
	xmax = math.Pow(10, math.Ceil(math.Log10(xmax)-1e-9))
	xa := axis{log: true, lo: 1, hi: xmax, p0: pr.X, p1: pr.X + pr.W}
	lo, hi := span(ys...)
	ya := valueAxis(lo, hi, pr.Y+pr.H, pr.Y)
	var curves []curve
	for i, s := range series {
		s := s
		xs := make([]float64, len(s.Nines))
		for k, p := range s.Nines {
			xs[k] = p.X
		}
		curves = append(curves, curve{name: s.Name, idx: i, xs: xs, ys: ys[i], hover: func(k int) string {
			return ninesLabel(s.Nines[k].X) + " " + fmtDur(s.Nines[k].V)
		}})
	}
	c := lineChart(id, "nines", xa, ya, ninesTicks(xa), curves)
	c.Title, c.XLabel, c.YLabel = title, "percentile (log scale of 1/(1−q))", "latency"+scaleNote(ya)
	return c
}

func scaleNote(a axis) string {
	if a.log {
		return " (log)"
	}
	return ""
}

// cdfChart plots the fraction of samples at or below a value.
func cdfChart(id, title string, series []series) *chart {
	pr := plotRect(chartW, chartH)
	var xs [][]float64
	for _, s := range series {
		x := make([]float64, len(s.CDF))
		for k, p := range s.CDF {
			x[k] = float64(p.V)
		}
		xs = append(xs, x)
	}
	lo, hi := span(xs...)
	xa := valueAxis(lo, hi, pr.X, pr.X+pr.W)
	ya := axis{lo: 0, hi: 1, p0: pr.Y + pr.H, p1: pr.Y, unitPct: true}
	var curves []curve
	for i, s := range series {
		s := s
		ys := make([]float64, len(s.CDF))
		for k, p := range s.CDF {
			ys[k] = p.X
		}
		curves = append(curves, curve{name: s.Name, idx: i, xs: xs[i], ys: ys, hover: func(k int) string {
			return fmtDur(s.CDF[k].V) + ": " + strconv.FormatFloat(s.CDF[k].X*100, 'f', 2, 64) + "% at or below"
		}})
	}
	c := lineChart(id, "cdf", xa, ya, xa.ticks(), curves)
	c.Title, c.XLabel, c.YLabel = title, "latency"+scaleNote(xa), "fraction ≤ x"
	return c
}

// histChart draws each series as a step line over shared log bins.
func histChart(id, title string, edges []int64, series []series) *chart {
	pr := plotRect(chartW, chartH)
	if len(edges) < 2 {
		return nil
	}
	xa := valueAxis(float64(edges[0]), float64(edges[len(edges)-1]), pr.X, pr.X+pr.W)
	if !xa.log && float64(edges[len(edges)-1])/math.Max(1, float64(edges[0])) > 3 {
		xa = axis{log: true, lo: float64(edges[0]), hi: float64(edges[len(edges)-1]), p0: pr.X, p1: pr.X + pr.W, unitDur: true}
	}
	var top float64
	for _, s := range series {
		for _, f := range s.Hist {
			top = math.Max(top, f)
		}
	}
	step := niceStep(top / 4)
	ya := axis{lo: 0, hi: math.Max(step, math.Ceil(top/step)*step), p0: pr.Y + pr.H, p1: pr.Y, unitPct: true}
	c := &chart{ID: id, Kind: "hist", Title: title, W: chartW, H: chartH, Plot: pr, XTicks: xa.ticks(), YTicks: ya.ticks(),
		XLabel: "latency" + scaleNote(xa) + ", " + strconv.Itoa(len(edges)-1) + " bins", YLabel: "share of samples", TickY: pr.Y + pr.H + 16}
	for i, s := range series {
		var pb pathBuilder
		hs := hoverSeries{Name: s.Name, Idx: i}
		for k, f := range s.Hist {
			x0, x1 := xa.pos(float64(edges[k])), xa.pos(float64(edges[k+1]))
			y := ya.pos(f)
			if k == 0 {
				pb.add(x0, ya.pos(0))
			}
			pb.add(x0, y)
			pb.add(x1, y)
			if f > 0 {
				hs.Pts = append(hs.Pts, [3]any{math.Round((x0 + x1) / 2), math.Round(y), fmtDur(edges[k]) + "–" + fmtDur(edges[k+1]) + ": " + strconv.FormatFloat(f*100, 'f', 2, 64) + "%"})
			}
			if k == len(s.Hist)-1 {
				pb.add(x1, ya.pos(0))
			}
		}
		c.Series = append(c.Series, svgSeries{Index: i, Name: s.Name, Path: pb.String()})
		c.Hover = append(c.Hover, hs)
	}
	return c
}

// timelineChart draws p50, p99 and max per bucket and the message rate
// under them.
func timelineChart(id, title string, t runTimeline, tm timelineMetric) *chart {
	const h = 350
	pr := rect{X: padL, Y: padT, W: chartW - padL - padR, H: 200}
	rate := rect{X: padL, Y: pr.Y + pr.H + 22, W: pr.W, H: 80}
	xa := axis{lo: 0, hi: math.Max(t.SpanS, 0.1), p0: pr.X, p1: pr.X + pr.W, unitSecs: true}
	xa.hi = math.Ceil(xa.hi/niceStep(xa.hi/8)) * niceStep(xa.hi/8)
	var all []float64
	for _, b := range tm.Buckets {
		all = append(all, float64(b.P50), float64(b.Max))
	}
	lo, hi := span(all)
	ya := valueAxis(lo, hi, pr.Y+pr.H, pr.Y)
	bw := float64(t.BucketMS) / 1000
	names := []string{"p50", "p99", "max"}
	var curves []curve
	for i, nm := range names {
		xs := make([]float64, 0, len(tm.Buckets))
		ys := make([]float64, 0, len(tm.Buckets))
		for _, b := range tm.Buckets {
			v := [3]int64{b.P50, b.P99, b.Max}[i]
			xs = append(xs, b.T+bw/2)
			ys = append(ys, float64(v))
		}
		i := i
		curves = append(curves, curve{name: nm, idx: i, dash: i == 2, xs: xs, ys: ys, hover: func(k int) string {
			b := tm.Buckets[k]
			return fmt.Sprintf("%.1fs: %s %s (%d samples)", b.T, names[i], fmtDur([3]int64{b.P50, b.P99, b.Max}[i]), b.N)
		}})
	}
	c := lineChart(id, "timeline", xa, ya, xa.ticks(), curves)
	// Break lines over empty buckets.
	for i := range c.Series {
		var pb pathBuilder
		prev := -1.0
		for k, b := range tm.Buckets {
			if prev >= 0 && b.T-prev > bw*1.5 {
				pb.brk()
			}
			prev = b.T
			pb.add(xa.pos(curves[i].xs[k]), ya.pos(curves[i].ys[k]))
		}
		c.Series[i].Path = pb.String()
	}
	// Draw max under p99 under p50: with few samples per bucket they
	// coincide, and the median must stay visible.
	for l, r := 0, len(c.Series)-1; l < r; l, r = l+1, r-1 {
		c.Series[l], c.Series[r] = c.Series[r], c.Series[l]
	}
	c.H = h
	c.TickY = rate.Y + rate.H + 16
	c.Title, c.XLabel, c.YLabel = title, "", "latency"+scaleNote(ya)
	for _, m := range t.RepMarks {
		c.Marks = append(c.Marks, axisTick{P: xa.pos(m), Label: "rep"})
	}
	// Rate strip: messages per second in each bucket.
	var top float64
	for _, b := range tm.Buckets {
		top = math.Max(top, float64(b.N)/bw)
	}
	ra := axis{lo: 0, hi: math.Max(1, top), p0: rate.Y + rate.H, p1: rate.Y}
	step := niceStep(ra.hi / 2)
	ra.hi = math.Ceil(ra.hi/step) * step
	rp := &ratePanel{Box: rate}
	for v := 0.0; v <= ra.hi+step/1e6; v += step {
		rp.YTicks = append(rp.YTicks, axisTick{P: ra.pos(v), Label: strconv.FormatFloat(v, 'f', -1, 64) + "/s"})
	}
	rh := hoverSeries{Name: "rate", Idx: 3}
	for _, b := range tm.Buckets {
		x0, x1 := xa.pos(b.T), xa.pos(b.T+bw)
		y := ra.pos(float64(b.N) / bw)
		rp.Bars = append(rp.Bars, rect{X: x0, Y: y, W: math.Max(0.8, x1-x0-0.3), H: rate.Y + rate.H - y})
		rh.Pts = append(rh.Pts, [3]any{math.Round((x0 + x1) / 2), math.Round(y), fmt.Sprintf("%.1fs: %d messages (%.0f/s)", b.T, b.N, float64(b.N)/bw)})
	}
	c.Hover = append(c.Hover, rh)
	c.Rate = rp
	return c
}

// splitChart stacks the median of each split component, a bar per run.
func splitChart(id string, splits []tradeSplit, labels []string) *chart {
	rows := 0
	for _, s := range splits {
		if s.Joined > 0 {
			rows++
		}
	}
	if rows == 0 {
		return nil
	}
	rowH := 26.0
	h := int(padT+padB+rowH*float64(rows)) + 10
	pr := rect{X: 170, Y: padT, W: chartW - 170 - padR, H: rowH * float64(rows)}
	var top float64
	for _, s := range splits {
		var sum float64
		for _, p := range s.Parts[:4] {
			sum += math.Max(0, float64(p.Values[0]))
		}
		top = math.Max(top, sum)
	}
	xa := axis{lo: 0, hi: math.Max(top, 1), p0: pr.X, p1: pr.X + pr.W, unitDur: true}
	step := niceStep(xa.hi / 5)
	xa.hi = math.Ceil(xa.hi/step) * step
	c := &chart{ID: id, Kind: "split", Title: "tick-to-trade split: median of each part", W: chartW, H: h, Plot: pr, XTicks: xa.ticks(), XLabel: "median (negative parts drawn as zero)", Stacked: true, TickY: pr.Y + pr.H + 16}
	for k := 0; k < 4; k++ {
		c.Series = append(c.Series, svgSeries{Index: k, Name: splitParts[k].name})
		c.Hover = append(c.Hover, hoverSeries{Name: splitParts[k].name, Idx: k})
	}
	row := 0
	for i, s := range splits {
		if s.Joined == 0 {
			continue
		}
		y := pr.Y + float64(row)*rowH + 3
		c.YTicks = append(c.YTicks, axisTick{P: y + (rowH-6)/2, Label: labels[i]})
		x := 0.0
		for k, p := range s.Parts[:4] {
			v := math.Max(0, float64(p.Values[0]))
			x0, x1 := xa.pos(x), xa.pos(x+v)
			c.Series[k].Bars = append(c.Series[k].Bars, rect{X: x0, Y: y, W: x1 - x0, H: rowH - 6})
			c.Hover[k].Pts = append(c.Hover[k].Pts, [3]any{math.Round((x0 + x1) / 2), math.Round(y + (rowH-6)/2), labels[i] + ": " + p.Name + " median " + fmtDur(p.Values[0])})
			x += v
		}
		row++
	}
	return c
}

// tickDur is fmtDur without trailing zeros: 5ms, 2.5µs.
func tickDur(ns int64) string {
	s := fmtDur(ns)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' })
	if i <= 0 || !strings.Contains(s[:i], ".") {
		return s
	}
	return strings.TrimRight(strings.TrimRight(s[:i], "0"), ".") + s[i:]
}
