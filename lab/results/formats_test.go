package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/trader/stamp"
)

// docs/FORMATS.md names every field the results folder's files carry: a
// field added to a type without its line in the document fails here.
func TestFormatsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "FORMATS.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys, seen := map[string]bool{}, map[reflect.Type]bool{}
	for _, v := range []any{Env{}, summaryFile{}, stamp.Stamp{}, EmulatorStats{}} {
		jsonKeys(reflect.TypeOf(v), keys, seen)
	}
	for _, k := range []profile.Kind{profile.Tick, profile.Order, profile.Ack, profile.Other} {
		e := event.Event{Kind: k, HasSeq: true, HasExch: true, HasOrder: true, Match: event.MatchExplicit, Payload: []byte("x")}
		var m map[string]any
		if err := json.Unmarshal(event.Append(nil, &e, true), &m); err != nil {
			t.Fatal(err)
		}
		for key := range m {
			keys[key] = true
		}
	}
	for k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/FORMATS.md does not name the field %q", k)
		}
	}
}

// jsonKeys adds the JSON names of t's fields, and of the structs it holds,
// to keys (untagged fields under their Go name, as encoding/json writes them).
func jsonKeys(t reflect.Type, keys map[string]bool, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() == "time" || seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			jsonKeys(f.Type, keys, seen)
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys[name] = true
		jsonKeys(f.Type, keys, seen)
	}
}
