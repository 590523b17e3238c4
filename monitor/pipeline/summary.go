package pipeline

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cloudpcap/cloudpcap/internal/units"
	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/tcpflow"
)

// Summary is summary.json (docs/FORMATS.md).
type Summary struct {
	Metrics map[string]latency.Metric `json:"metrics"`
	// Groups: kind ("feed_conn", "exchange", "trader") → name → metric → M.
	Groups      map[string]map[string]map[string]latency.Metric `json:"groups"`
	Decode      Decode                                          `json:"decode"`
	Capture     CaptureStats                                    `json:"capture"`
	Connections []ConnRecord                                    `json:"connections,omitempty"`
	Warnings    []string                                        `json:"warnings,omitempty"`
	// Partial marks a summary of an analysis that could not finish (a
	// truncated capture, a failed run); Reason says why.
	Partial     bool      `json:"partial,omitempty"`
	Reason      string    `json:"partial_reason,omitempty"`
	Repetitions []Summary `json:"repetitions,omitempty"`
}

// Decode counts what the decoders did.
type Decode struct {
	Connections      int64    `json:"connections"`
	TLSConnections   int64    `json:"tls_connections"`
	Records          uint64   `json:"records"`
	RecordsDecrypted uint64   `json:"records_decrypted"`
	RecordsNoKey     uint64   `json:"records_no_key"`
	AuthFailures     uint64   `json:"auth_failures"`
	Unsupported      uint64   `json:"records_unsupported_suite"`
	KeyUpdates       uint64   `json:"key_updates"`
	MissingKeys      []string `json:"missing_keys,omitempty"` // client randoms (hex) with no key in the key log
	HTTPRequests     int64    `json:"http_requests"`
	HTTPResponses    int64    `json:"http_responses"`
	HTTPErrors       int64    `json:"http_errors"`
	WSMessages       int64    `json:"ws_messages"`
	WSControl        int64    `json:"ws_control_frames"`
	WSCompressed     int64    `json:"ws_compressed"`
	WSErrors         int64    `json:"ws_errors"`
	Unparsed         int64    `json:"unparsed_feed_messages"` // feed messages no profile recognised
	correlate.Counts
	TCP    tcpflow.Stats `json:"tcp"`
	KeyLog keyring.Stats `json:"keylog"`
}

// CaptureStats counts what the sources read.
type CaptureStats struct {
	Files     []string `json:"files,omitempty"`
	Packets   uint64   `json:"packets"`
	Bytes     uint64   `json:"bytes"`
	Truncated uint64   `json:"truncated"`
	Drops     uint64   `json:"kernel_drops"`
	TCP       uint64   `json:"tcp"`
	VXLAN     uint64   `json:"vxlan"`
	NonIP     uint64   `json:"non_ip"`
	Warnings  uint64   `json:"warnings"`
	FirstNS   int64    `json:"first_ns"`
	LastNS    int64    `json:"last_ns"`
}

// ConnRecord describes one TCP connection.
type ConnRecord struct {
	Conn           string     `json:"conn"`
	Client         string     `json:"client"`
	Server         string     `json:"server"`
	FirstNS        int64      `json:"first_ns"`
	LastNS         int64      `json:"last_ns"`
	Opened         string     `json:"opened"` // how client and server were told apart: syn, syn-ack, mid-stream
	HandshakeRTTNS int64      `json:"tcp_handshake_ns,omitempty"`
	Bytes          [2]int64   `json:"bytes"`     // payload bytes client→server, server→client
	GapBytes       [2]int64   `json:"gap_bytes"` // bytes never captured
	TLS            *TLSRecord `json:"tls,omitempty"`
	App            string     `json:"app,omitempty"` // http, websocket
	Profile        string     `json:"profile,omitempty"`
	HTTPRequests   int64      `json:"http_requests,omitempty"`
	HTTPResponses  int64      `json:"http_responses,omitempty"`
	WSMessages     [2]int64   `json:"ws_messages"`
	Ticks          int64      `json:"ticks,omitempty"`
	Orders         int64      `json:"orders,omitempty"`
	Acks           int64      `json:"acks,omitempty"`
	Unparsed       int64      `json:"unparsed,omitempty"`
	Errors         []string   `json:"errors,omitempty"`
}

// TLSRecord is a connection's TLS parameters and decryption outcome.
type TLSRecord struct {
	Version      string `json:"version"`
	Suite        string `json:"suite"`
	SNI          string `json:"sni,omitempty"`
	ALPN         string `json:"alpn,omitempty"`
	CertCN       string `json:"cert_cn,omitempty"`
	Records      uint64 `json:"records"`
	Decrypted    uint64 `json:"decrypted"`
	NoKey        uint64 `json:"no_key"`
	AuthFailures uint64 `json:"auth_failures,omitempty"`
	Unsupported  uint64 `json:"unsupported,omitempty"`
	KeyUpdates   uint64 `json:"key_updates,omitempty"`
	MissingKey   string `json:"missing_key,omitempty"`
}

// Summary builds the summary from the analysis so far. Call Finish first
// for a complete one; cs describes the sources.
func (p *Pipeline) Summary(cs capture.Stats, files []string, warnings []capture.Warning) (*Summary, error) {
	s := &Summary{Groups: map[string]map[string]map[string]latency.Metric{}}
	var err error
	if s.Metrics, err = p.cor.Total().Metrics(); err != nil {
		return nil, err
	}
	for kind, m := range p.cor.Groups() {
		s.Groups[kind] = map[string]map[string]latency.Metric{}
		for _, name := range correlate.SortedNames(m) {
			if s.Groups[kind][name], err = m[name].Metrics(); err != nil {
				return nil, err
			}
		}
	}
	s.Connections = p.records()
	d := &s.Decode
	d.Counts = p.cor.Counts()
	d.TCP = p.asm.Stats()
	if p.cfg.Keys != nil {
		d.KeyLog = p.cfg.Keys.Stats()
	}
	// Open connections count too (a live summary, or a capture cut short).
	tls, http := p.agg.tls, p.agg.http
	for _, c := range p.live {
		if c.tls != nil {
			tls.Add(c.tls.Stats())
		}
		if c.http != nil {
			addHTTP(&http, c.http.Stats())
		}
	}
	for _, r := range s.Connections {
		d.Connections++
		if r.TLS != nil {
			d.TLSConnections++
			if r.TLS.MissingKey != "" {
				d.MissingKeys = append(d.MissingKeys, r.TLS.MissingKey)
			}
		}
		d.Unparsed += r.Unparsed
	}
	sort.Strings(d.MissingKeys)
	d.Records, d.RecordsDecrypted, d.RecordsNoKey = tls.Records, tls.Decrypted, tls.NoKey
	d.AuthFailures, d.Unsupported, d.KeyUpdates = tls.AuthFailures, tls.Unsupported, tls.KeyUpdates
	d.HTTPRequests, d.HTTPResponses, d.HTTPErrors = http.Requests, http.Responses, http.Errors
	for _, w := range http.WS {
		d.WSMessages += w.Messages
		d.WSControl += w.ControlFrames
		d.WSCompressed += w.Compressed
		d.WSErrors += w.Errors
	}
	s.Capture = CaptureStats{Files: files, Packets: cs.Packets, Bytes: cs.Bytes, Truncated: cs.Truncated, Drops: cs.Drops,
		TCP: cs.TCP, VXLAN: cs.VXLAN, NonIP: cs.NonIP, Warnings: cs.Warnings, FirstNS: p.first, LastNS: p.last}
	for i, w := range warnings {
		if i == 50 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("... and %d more packet warnings", len(warnings)-50))
			break
		}
		s.Warnings = append(s.Warnings, w.Error())
	}
	if n := d.Counts.GroupedAsOther; n > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d feed connections beyond the first 256 are grouped as %q in groups.feed_conn", n, correlate.OtherConns))
	}
	if p.capped > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d connections beyond the %d kept as records: decode.connections and missing_keys count only the recorded ones", p.capped, p.cfg.MaxConnRecords))
	}
	if p.unanswered > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d orders got no response (later requests on the same connection were answered)", p.unanswered))
	}
	if d.RecordsNoKey > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d TLS records could not be decrypted for want of a key (%d connections: see decode.missing_keys)", d.RecordsNoKey, len(d.MissingKeys)))
	}
	if d.AuthFailures > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d TLS records failed authentication (wrong key log for this capture?)", d.AuthFailures))
	}
	if d.TCP.Gaps > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d TCP gaps (%d bytes never captured)", d.TCP.Gaps, d.TCP.GapBytes))
	}
	if d.Gaps.Gaps > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d feed sequence gaps (%d messages missing)", d.Gaps.Gaps, d.Missing))
	}
	if cs.Drops > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("the kernel dropped %d packets: latencies may be missing samples", cs.Drops))
	}
	if d.KeyLog.Conflicts > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("the key log has %d conflicting entries (first kept)", d.KeyLog.Conflicts))
	}
	s.Warnings = append(s.Warnings, ruleWarnings(d.Counts)...)
	return s, nil
}

// ruleWarnings says when the order-tick rule could not do its job: orders
// whose id named a tick the capture lacks, or did not match the rule.
func ruleWarnings(c correlate.Counts) []string {
	var w []string
	if c.RuleMisses > 0 {
		w = append(w, fmt.Sprintf("%d orders named a tick (order-tick rule) that the capture does not have: tick-to-trade falls back to the last tick for them", c.RuleMisses))
	}
	if c.RuleNoMatch > 0 {
		w = append(w, fmt.Sprintf("%d orders' client order ids did not match the order-tick rule: tick-to-trade falls back to the last tick for them", c.RuleNoMatch))
	}
	return w
}

// Analysed reports whether the analysis found anything to measure: decoded
// HTTP or WebSocket messages.
func (s *Summary) Analysed() bool {
	return s.Decode.HTTPRequests+s.Decode.HTTPResponses+s.Decode.WSMessages > 0
}

// WriteTable prints the human summary: a row per metric, then decode
// statistics and warnings.
func (s *Summary) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tcount\tp50\tp90\tp99\tp99.9\tmax\tmean\t")
	for _, name := range latency.MetricNames {
		m := s.Metrics[name]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, m.Count, units.FormatNSFixed(m.P50NS), units.FormatNSFixed(m.P90NS), units.FormatNSFixed(m.P99NS), units.FormatNSFixed(m.P999NS), units.FormatNSFixed(m.MaxNS), units.FormatNSFixed(m.MeanNS))
	}
	tw.Flush()
	d := s.Decode
	fmt.Fprintf(w, "\ncapture: %d packets, %d bytes, %d kernel drops, %d warnings\n", s.Capture.Packets, s.Capture.Bytes, s.Capture.Drops, s.Capture.Warnings)
	fmt.Fprintf(w, "tcp: %d connections (%d joined mid-stream), %d gaps, %d retransmitted bytes, %d out of order\n",
		d.TCP.Connections, d.TCP.MidStreamJoins, d.TCP.Gaps, d.TCP.RetransmittedBytes, d.TCP.OutOfOrder)
	fmt.Fprintf(w, "tls: %d connections, %d records, %d decrypted, %d without key, %d auth failures, %d unsupported suite\n",
		d.TLSConnections, d.Records, d.RecordsDecrypted, d.RecordsNoKey, d.AuthFailures, d.Unsupported)
	fmt.Fprintf(w, "app: %d HTTP requests, %d responses, %d WebSocket messages (%d compressed), %d unparsed feed messages\n",
		d.HTTPRequests, d.HTTPResponses, d.WSMessages, d.WSCompressed, d.Unparsed)
	fmt.Fprintf(w, "records: %d ticks, %d orders (%d explicit, %d last-tick, %d unmatched), %d acks, %d sequence gaps\n",
		d.Ticks, d.Orders, d.OrdersExplicit, d.OrdersLastTick, d.OrdersUnmatched, d.Acks, d.Gaps.Gaps)
	if len(d.MissingKeys) > 0 {
		n := len(d.MissingKeys)
		show := d.MissingKeys
		if n > 5 {
			show = show[:5]
		}
		fmt.Fprintf(w, "no key for %d client randoms: %s", n, strings.Join(show, ", "))
		if n > 5 {
			fmt.Fprint(w, ", ...")
		}
		fmt.Fprintln(w)
	}
	if s.Partial {
		fmt.Fprintf(w, "PARTIAL: %s\n", s.Reason)
	}
	for _, x := range s.Warnings {
		fmt.Fprintf(w, "warning: %s\n", x)
	}
}
