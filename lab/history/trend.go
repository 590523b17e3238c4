package history

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// Point is one indexed run of a trend.
type Point struct {
	Dir            string                    `json:"dir"` // relative to the database's folder when inside it
	Scenario       string                    `json:"scenario"`
	Revision       string                    `json:"revision"`
	RevisionSource string                    `json:"revision_source"` // env.json, git HEAD at index time, unknown
	Start          time.Time                 `json:"start"`
	End            time.Time                 `json:"end"`
	Status         string                    `json:"status"`
	Partial        bool                      `json:"partial"`
	PartialReason  string                    `json:"partial_reason,omitempty"`
	Mechanism      string                    `json:"link_mechanism"`
	Repetitions    int                       `json:"repetitions"`
	Metrics        map[string]latency.Metric `json:"metrics"` // the whole run (all repetitions merged), hdr included
}

// Trend returns the last n runs of scenario (all when n <= 0), oldest first.
func Trend(db *DB, scenario string, n int) ([]Point, error) {
	ctx := context.Background()
	limit := -1
	if n > 0 {
		limit = n
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT id, dir, scenario, revision, revision_source, start_ns, end_ns,
		status, partial, partial_reason, mechanism, repetitions
		FROM runs WHERE scenario = ? ORDER BY start_ns DESC, id DESC LIMIT ?`, scenario, limit)
	if err != nil {
		return nil, db.wrap(err)
	}
	var pts []Point
	var ids []int64
	for rows.Next() {
		var p Point
		var id, start, end int64
		if err := rows.Scan(&id, &p.Dir, &p.Scenario, &p.Revision, &p.RevisionSource, &start, &end,
			&p.Status, &p.Partial, &p.PartialReason, &p.Mechanism, &p.Repetitions); err != nil {
			rows.Close()
			return nil, db.wrap(err)
		}
		p.Start, p.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
		pts = append(pts, p)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, db.wrap(err)
	}
	rows.Close()
	// Oldest first.
	for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
		pts[i], pts[j] = pts[j], pts[i]
		ids[i], ids[j] = ids[j], ids[i]
	}
	for i := range pts {
		ms, err := db.metrics(ctx, ids[i], 0)
		if err != nil {
			return nil, err
		}
		pts[i].Metrics = ms
	}
	return pts, nil
}

// metrics returns one run's metrics of repetition rep (0: the whole run).
func (db *DB) metrics(ctx context.Context, id int64, rep int) (map[string]latency.Metric, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT metric, count, min_ns, p50_ns, p90_ns, p99_ns, p999_ns, max_ns,
		mean_ns, negative, min_neg_ns, overflow, hdr FROM metrics WHERE run_id = ? AND repetition = ?`, id, rep)
	if err != nil {
		return nil, db.wrap(err)
	}
	defer rows.Close()
	ms := map[string]latency.Metric{}
	for rows.Next() {
		var name string
		var m latency.Metric
		if err := rows.Scan(&name, &m.Count, &m.MinNS, &m.P50NS, &m.P90NS, &m.P99NS, &m.P999NS, &m.MaxNS,
			&m.MeanNS, &m.Negative, &m.MinNegNS, &m.Overflow, &m.HDR); err != nil {
			return nil, db.wrap(err)
		}
		ms[name] = m
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(err)
	}
	return ms, nil
}

// Repetitions returns the per-repetition metrics of the indexed run folder
// runDir (index 0 is repetition 1), for recomputing a gate from history.
func (db *DB) Repetitions(runDir string) ([]map[string]latency.Metric, error) {
	key, err := db.key(runDir)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	var id int64
	var n int
	if err := db.sql.QueryRowContext(ctx, "SELECT id, repetitions FROM runs WHERE dir = ?", key).Scan(&id, &n); err != nil {
		return nil, fmt.Errorf("%s: run %s: %w", db.path, key, err)
	}
	out := make([]map[string]latency.Metric, 0, n)
	for rep := 1; rep <= n; rep++ {
		ms, err := db.metrics(ctx, id, rep)
		if err != nil {
			return nil, err
		}
		out = append(out, ms)
	}
	return out, nil
}

// Scenarios lists the scenarios with indexed runs, by name.
func (db *DB) Scenarios() ([]string, error) {
	rows, err := db.sql.Query("SELECT DISTINCT scenario FROM runs ORDER BY scenario")
	if err != nil {
		return nil, db.wrap(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, db.wrap(err)
		}
		out = append(out, s)
	}
	return out, db.wrapNil(rows.Err())
}

func (db *DB) wrapNil(err error) error {
	if err == nil {
		return nil
	}
	return db.wrap(err)
}
