package results

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// FormatVersion is the format of the summary.json and env.json this package
// writes (their "format" field). Readers accept it and every older format.
const FormatVersion = 1

// summaryFile is summary.json: a pipeline summary with the file's format.
type summaryFile struct {
	Format int `json:"format"`
	*pipeline.Summary
}

// WriteSummary writes s to path (summary.json, summary-mirror.json, or
// analyze's --summary) with the current format, atomically.
func WriteSummary(path string, s *pipeline.Summary) error {
	return writeJSON(path, summaryFile{Format: FormatVersion, Summary: s})
}

// WriteEnv writes e to path (env.json) with the current format,
// atomically.
func WriteEnv(path string, e *Env) error {
	c := *e
	c.Format = FormatVersion
	return writeJSON(path, &c)
}

// writeJSON writes v as indented JSON to path through a temporary file in
// the same folder renamed over it: a reader sees the old file or the whole
// new one, never half of one, and a failed write leaves no temporary file.
func writeJSON(path string, v any) (err error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = f.Write(append(b, '\n'))
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
