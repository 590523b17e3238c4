package capture

import (
	"container/heap"
	"io"
)

// Merge yields the packets of several sources in capture-time order (ties
// go to the source listed first). It is a Source. A packet it returns is
// valid until the next ReadInto on the Merge. A source that fails ends the
// merge with its error.
type Merge struct {
	srcs []Source
	pend []Packet // the next packet of each source
	h    mergeHeap
	last int // source whose packet was returned last, to refill; -1 none
	err  error
}

// NewMerge merges srcs. It reads nothing until the first ReadInto.
func NewMerge(srcs ...Source) *Merge {
	m := &Merge{srcs: srcs, pend: make([]Packet, len(srcs)), last: -1}
	m.h.m = m
	return m
}

// ReadInto fills p with the earliest pending packet.
func (m *Merge) ReadInto(p *Packet) error {
	if m.err != nil {
		return m.err
	}
	if m.h.idx == nil { // first call: prime every source
		m.h.idx = make([]int, 0, len(m.srcs))
		for i := range m.srcs {
			if err := m.fill(i); err != nil {
				return err
			}
		}
		heap.Init(&m.h)
	} else if m.last >= 0 {
		i := m.last
		m.last = -1
		if err := m.srcs[i].ReadInto(&m.pend[i]); err != nil {
			heap.Pop(&m.h)
			if err != io.EOF {
				m.err = err
				return err
			}
		} else {
			heap.Fix(&m.h, 0)
		}
	}
	if len(m.h.idx) == 0 {
		m.err = io.EOF
		return io.EOF
	}
	i := m.h.idx[0]
	*p = m.pend[i]
	m.last = i
	return nil
}

func (m *Merge) fill(i int) error {
	err := m.srcs[i].ReadInto(&m.pend[i])
	if err == nil {
		m.h.idx = append(m.h.idx, i)
		return nil
	}
	if err != io.EOF {
		m.err = err
		return err
	}
	return nil
}

// Stats sums the sources' counters.
func (m *Merge) Stats() Stats {
	var s Stats
	for _, src := range m.srcs {
		st := src.Stats()
		s.add(&st)
	}
	return s
}

// Warnings returns the sources' first warnings, source by source.
func (m *Merge) Warnings() []Warning {
	var w []Warning
	for _, src := range m.srcs {
		w = append(w, src.Warnings()...)
	}
	return w
}

// Close closes every source and returns the first error.
func (m *Merge) Close() error {
	var first error
	for _, src := range m.srcs {
		if err := src.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// mergeHeap orders source indexes by their pending packet's time.
type mergeHeap struct {
	m   *Merge
	idx []int
}

func (h *mergeHeap) Len() int { return len(h.idx) }
func (h *mergeHeap) Less(a, b int) bool {
	pa, pb := &h.m.pend[h.idx[a]], &h.m.pend[h.idx[b]]
	if pa.TS != pb.TS {
		return pa.TS < pb.TS
	}
	return h.idx[a] < h.idx[b]
}
func (h *mergeHeap) Swap(a, b int) { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *mergeHeap) Push(x any)    { h.idx = append(h.idx, x.(int)) }
func (h *mergeHeap) Pop() any {
	n := len(h.idx) - 1
	x := h.idx[n]
	h.idx = h.idx[:n]
	return x
}
