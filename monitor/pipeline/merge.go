package pipeline

import (
	"reflect"
	"slices"
	"sort"

	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// Merge combines summaries of separate analyses (several capture points of
// one run, or the repetitions of a scenario) into one: histograms are merged
// exactly (HDR), counts are added, connection records and warnings are
// concatenated. Partial inputs make a partial result.
func Merge(parts ...*Summary) (*Summary, error) {
	out := &Summary{Groups: map[string]map[string]map[string]latency.Metric{}}
	total := map[string]*latency.Histogram{}
	groups := map[string]map[string]map[string]*latency.Histogram{}
	addMetrics := func(dst map[string]*latency.Histogram, ms map[string]latency.Metric) error {
		for name, m := range ms {
			h, err := latency.FromMetric(m)
			if err != nil {
				return err
			}
			if dst[name] == nil {
				dst[name] = latency.NewHistogram()
			}
			dst[name].Merge(h)
		}
		return nil
	}
	for _, p := range parts {
		if p == nil {
			continue
		}
		if err := addMetrics(total, p.Metrics); err != nil {
			return nil, err
		}
		for kind, names := range p.Groups {
			if groups[kind] == nil {
				groups[kind] = map[string]map[string]*latency.Histogram{}
			}
			for name, ms := range names {
				if groups[kind][name] == nil {
					groups[kind][name] = map[string]*latency.Histogram{}
				}
				if err := addMetrics(groups[kind][name], ms); err != nil {
					return nil, err
				}
			}
		}
		addCounts(reflect.ValueOf(&out.Decode).Elem(), reflect.ValueOf(p.Decode))
		first, last := out.Capture.FirstNS, out.Capture.LastNS // times, not counts
		addCounts(reflect.ValueOf(&out.Capture).Elem(), reflect.ValueOf(p.Capture))
		out.Capture.FirstNS, out.Capture.LastNS = first, last
		if out.Capture.FirstNS == 0 || (p.Capture.FirstNS != 0 && p.Capture.FirstNS < out.Capture.FirstNS) {
			out.Capture.FirstNS = p.Capture.FirstNS
		}
		out.Capture.LastNS = max(out.Capture.LastNS, p.Capture.LastNS)
		out.Connections = append(out.Connections, p.Connections...)
		for _, w := range p.Warnings {
			if !slices.Contains(out.Warnings, w) {
				out.Warnings = append(out.Warnings, w)
			}
		}
		if p.Partial {
			out.Partial = true
			if out.Reason != "" {
				out.Reason += "; "
			}
			out.Reason += p.Reason
		}
	}
	out.Metrics = map[string]latency.Metric{}
	for _, name := range latency.MetricNames {
		h := total[name]
		if h == nil {
			h = latency.NewHistogram()
		}
		m, err := h.Metric()
		if err != nil {
			return nil, err
		}
		out.Metrics[name] = m
	}
	for kind, names := range groups {
		out.Groups[kind] = map[string]map[string]latency.Metric{}
		for name, hs := range names {
			out.Groups[kind][name] = map[string]latency.Metric{}
			for metric, h := range hs {
				m, err := h.Metric()
				if err != nil {
					return nil, err
				}
				out.Groups[kind][name][metric] = m
			}
		}
	}
	sort.Strings(out.Decode.MissingKeys)
	sort.SliceStable(out.Connections, func(i, j int) bool { return out.Connections[i].FirstNS < out.Connections[j].FirstNS })
	return out, nil
}

// addCounts adds every integer field of src into dst (recursively through
// structs and arrays) and appends string slices; other fields are left.
func addCounts(dst, src reflect.Value) {
	switch dst.Kind() {
	case reflect.Struct:
		for i := 0; i < dst.NumField(); i++ {
			if dst.Type().Field(i).IsExported() {
				addCounts(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Array:
		for i := 0; i < dst.Len(); i++ {
			addCounts(dst.Index(i), src.Index(i))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		dst.SetInt(dst.Int() + src.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		dst.SetUint(dst.Uint() + src.Uint())
	case reflect.Slice:
		if dst.Type().Elem().Kind() == reflect.String {
			dst.Set(reflect.AppendSlice(dst, src))
		}
	}
}
