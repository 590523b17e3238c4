// Package history indexes the lab's results folders in one SQLite database
// (results/history.db, through modernc.org/sqlite) so that trends across runs
// can be shown and recomputed exactly.
//
// Every run is one row of runs (scenario, folder, git revision, start time,
// status, partial, link mechanism) and one row of metrics per metric for the
// run as a whole (repetition 0) and for each repetition (1..n): count, min,
// p50, p90, p99, p99.9, max, mean and the HDR histogram (base64 V2) itself.
// Index is idempotent: indexing a folder again replaces its rows. The
// database carries its own identity (a meta table, PRAGMA application_id)
// and schema version; Open refuses a database that is not ours or is newer
// than this binary, and applies missing migrations in one immediate
// transaction, so concurrent writers (each waiting up to BusyTimeout for the
// lock) see either the old or the new schema, never half of it.
//
// ReadRun reads a run folder through lab/results and checks that it holds
// all a run needs (scenario.yaml, summary.json, env.json), for the indexer
// and for lab/gate. Nothing is shared between calls: every returned value
// is the caller's.
package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Identity and version of the database.
const (
	// AppID is PRAGMA application_id of a history database ("cpcp").
	AppID = 0x63706370
	// AppName is meta's "application" value.
	AppName = "cloudpcap-history"
	// SchemaVersion is the newest schema this package writes.
	SchemaVersion = 1
	// BusyTimeout is how long a writer waits for another's lock.
	BusyTimeout = 15 * time.Second
)

// DefaultPath is where the lab keeps its history.
const DefaultPath = results.DefaultRoot + "/" + results.HistoryFile

// migrations[i] takes the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE IF NOT EXISTS runs (
		id              INTEGER PRIMARY KEY,
		dir             TEXT NOT NULL UNIQUE,
		scenario        TEXT NOT NULL,
		revision        TEXT NOT NULL,
		revision_source TEXT NOT NULL,
		start_ns        INTEGER NOT NULL,
		end_ns          INTEGER NOT NULL,
		status          TEXT NOT NULL,
		partial         INTEGER NOT NULL,
		partial_reason  TEXT NOT NULL,
		mechanism       TEXT NOT NULL,
		repetitions     INTEGER NOT NULL,
		indexed_ns      INTEGER NOT NULL
	);
	CREATE INDEX IF NOT EXISTS runs_scenario_start ON runs (scenario, start_ns);
	CREATE TABLE IF NOT EXISTS metrics (
		run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		repetition INTEGER NOT NULL,
		metric     TEXT NOT NULL,
		count      INTEGER NOT NULL,
		min_ns     INTEGER NOT NULL,
		p50_ns     INTEGER NOT NULL,
		p90_ns     INTEGER NOT NULL,
		p99_ns     INTEGER NOT NULL,
		p999_ns    INTEGER NOT NULL,
		max_ns     INTEGER NOT NULL,
		mean_ns    INTEGER NOT NULL,
		negative   INTEGER NOT NULL,
		min_neg_ns INTEGER NOT NULL,
		overflow   INTEGER NOT NULL,
		hdr        TEXT NOT NULL,
		PRIMARY KEY (run_id, repetition, metric)
	);`,
}

// NotOursError is returned for a database that is not a history database.
type NotOursError struct {
	Path   string
	Reason string
}

func (e *NotOursError) Error() string {
	return fmt.Sprintf("%s: not a cloudpcap history database (%s); refusing to touch it: pass another --db", e.Path, e.Reason)
}

// DB is an open history database. It is safe for concurrent use.
type DB struct {
	path string
	dir  string // absolute folder of the database: run folders are stored relative to it
	sql  *sql.DB
}

// Open opens (creating it if needed) the history database at path and
// brings its schema up to date.
func Open(path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	// Only connection settings here: nothing may change the file before we
	// know it is ours.
	dsn := "file:" + abs + "?_pragma=" + fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()) +
		"&_pragma=foreign_keys(1)&_txlock=immediate"
	s, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	db := &DB{path: path, dir: filepath.Dir(abs), sql: s}
	if err := db.migrate(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Path is the path the database was opened with.
func (db *DB) Path() string { return db.path }

func (db *DB) wrap(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return &NotOursError{Path: db.path, Reason: "the file is not an SQLite database"}
	}
	return fmt.Errorf("%s: %w", db.path, err)
}

func (db *DB) migrate(ctx context.Context) error {
	var appID int64
	if err := db.sql.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return db.wrap(err)
	}
	if appID != 0 && appID != AppID {
		return &NotOursError{Path: db.path, Reason: fmt.Sprintf("its application_id is %#x", appID)}
	}
	tx, err := db.sql.BeginTx(ctx, nil) // immediate: one migrator at a time
	if err != nil {
		return db.wrap(err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return db.wrap(err)
	}
	version := 0
	if appID == 0 {
		// A new database has no tables; anything else is someone else's.
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return db.wrap(err)
		}
		if n > 0 {
			return &NotOursError{Path: db.path, Reason: fmt.Sprintf("it has %d tables or indexes but no cloudpcap identity", n)}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d;
			CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
			INSERT INTO meta (key, value) VALUES ('application', ?), ('schema_version', '0')`, AppID), AppName); err != nil {
			return db.wrap(err)
		}
	} else {
		var app, v string
		err := tx.QueryRowContext(ctx, "SELECT (SELECT value FROM meta WHERE key = 'application'), (SELECT value FROM meta WHERE key = 'schema_version')").Scan(&app, &v)
		if err != nil {
			return &NotOursError{Path: db.path, Reason: "its meta table is missing or unreadable: " + err.Error()}
		}
		if app != AppName {
			return &NotOursError{Path: db.path, Reason: fmt.Sprintf("meta application is %q", app)}
		}
		if version, err = strconv.Atoi(v); err != nil {
			return &NotOursError{Path: db.path, Reason: fmt.Sprintf("meta schema_version is %q", v)}
		}
		if version > SchemaVersion {
			return fmt.Errorf("%s: history schema version %d is newer than this cloudpcap's (%d): use a newer cloudpcap", db.path, version, SchemaVersion)
		}
	}
	for v := version; v < SchemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("%s: migrating history schema %d to %d: %w", db.path, v, v+1, err)
		}
	}
	if version < SchemaVersion {
		if _, err := tx.ExecContext(ctx, "UPDATE meta SET value = ? WHERE key = 'schema_version'", strconv.Itoa(SchemaVersion)); err != nil {
			return db.wrap(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return db.wrap(err)
	}
	return db.useWAL(ctx)
}

// useWAL switches the database to write-ahead logging, which lets readers
// go on while one run is being indexed; it is a no-op when already set.
// The switch needs the database to itself, and SQLite answers a busy one
// at once instead of waiting: when several writers open a new database
// together, each retries until BusyTimeout.
func (db *DB) useWAL(ctx context.Context) error {
	deadline := time.Now().Add(BusyTimeout)
	for {
		_, err := db.sql.ExecContext(ctx, "PRAGMA journal_mode = WAL")
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			if err != nil {
				return db.wrap(err)
			}
			return nil
		}
		time.Sleep(5 * time.Millisecond) // polling the lock with a deadline
	}
}

// Index opens the database at dbPath, indexes the run folder runDir and
// closes the database. Indexing a run again replaces its rows.
func Index(dbPath, runDir string) error {
	db, err := Open(dbPath)
	if err != nil {
		return err
	}
	if err := db.Index(runDir); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}

// key is how a run folder is stored: relative to the database's folder
// when inside it (so a results tree can move), else absolute.
func (db *DB) key(runDir string) (string, error) {
	abs, err := filepath.Abs(runDir)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(db.dir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(rel), nil
	}
	return abs, nil
}

// Index reads the run folder runDir and (re)places it in the database.
func (db *DB) Index(runDir string) error {
	r, err := ReadRun(runDir)
	if err != nil {
		return err
	}
	key, err := db.key(runDir)
	if err != nil {
		return err
	}
	rev, src := r.Env.Revision, results.EnvFile
	if rev == "" || rev == "dev" { // "dev": a binary built without a version or VCS stamp
		rev, src = gitHead(), "git HEAD at index time"
		if rev == "" {
			src = "unknown"
		}
	}
	ctx := context.Background()
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM runs WHERE dir = ?", key); err != nil {
		return db.wrap(err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO runs (dir, scenario, revision, revision_source, start_ns, end_ns,
		status, partial, partial_reason, mechanism, repetitions, indexed_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		key, r.Scenario.Name, rev, src, r.Env.Start.UnixNano(), r.Env.End.UnixNano(), r.Env.Status,
		r.Partial(), r.Summary.Reason, r.Env.Mechanism, len(r.Summary.Repetitions), time.Now().UnixNano())
	if err != nil {
		return db.wrap(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return db.wrap(err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO metrics (run_id, repetition, metric, count, min_ns, p50_ns,
		p90_ns, p99_ns, p999_ns, max_ns, mean_ns, negative, min_neg_ns, overflow, hdr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return db.wrap(err)
	}
	defer ins.Close()
	add := func(rep int, ms map[string]latency.Metric) error {
		for name, m := range ms {
			if _, err := ins.ExecContext(ctx, id, rep, name, m.Count, m.MinNS, m.P50NS, m.P90NS, m.P99NS, m.P999NS,
				m.MaxNS, m.MeanNS, m.Negative, m.MinNegNS, m.Overflow, m.HDR); err != nil {
				return db.wrap(err)
			}
		}
		return nil
	}
	if err := add(0, r.Summary.Metrics); err != nil {
		return err
	}
	for i, rep := range r.Summary.Repetitions {
		if err := add(i+1, rep.Metrics); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return db.wrap(err)
	}
	return nil
}

// gitHead is the revision checked out in the working directory, or "".
func gitHead() string {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
