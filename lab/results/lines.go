package results

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/trader/stamp"
)

// ReadEvents decodes an events file (EventsFile, MirrorEventsFile) read
// from rd: ok gets each event (its byte slices are its own: keep the value
// if you like), bad each line that is not one (1-based line number), and
// empty lines are skipped. The error, named after path, is a read error
// or a line over 64 MiB.
func ReadEvents(rd io.Reader, path string, ok func(*event.Event), bad func(line int, err error)) error {
	var e event.Event
	return scanLines(rd, path, func(line int, b []byte) {
		if err := event.Decode(b, &e); err != nil {
			bad(line, err)
			return
		}
		ok(&e)
	})
}

// ReadStamps decodes a trader's application timestamps file (StampsFile)
// read from rd, as ReadEvents does an events file.
func ReadStamps(rd io.Reader, path string, ok func(*stamp.Stamp), bad func(line int, err error)) error {
	var s stamp.Stamp
	return scanLines(rd, path, func(line int, b []byte) {
		if err := stamp.Decode(b, &s); err != nil {
			bad(line, err)
			return
		}
		ok(&s)
	})
}

// StampTraders lists the traders that left application timestamps in the
// repetition folder dir, sorted.
func StampTraders(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, StampsFile("*")))
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), stampsExt))
	}
	sort.Strings(names)
	return names
}

// scanLines calls fn for every non-empty line. Lines may be long (events
// with payloads).
func scanLines(rd io.Reader, path string, fn func(line int, b []byte)) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		fn(line, b)
	}
	if err := sc.Err(); err != nil {
		return &FileError{Path: fmt.Sprintf("%s:%d", path, line+1), Err: err}
	}
	return nil
}
