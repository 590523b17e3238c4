package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "a\"b\\c\n\r\t<script>&\x01\x1f", "é€😀", "\u2028\u2029", "bad\xffutf8\xc3", "t1-0-42"} {
		want, _ := json.Marshal(s)
		if got := Append(nil, s); string(got) != string(want) {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
		if got := AppendBytes(nil, []byte(s)); string(got) != string(want) {
			t.Errorf("AppendBytes(%q) = %s, want %s", s, got, want)
		}
		if got := AppendInner([]byte("x"), s); string(got) != "x"+string(want[1:len(want)-1]) {
			t.Errorf("AppendInner(%q) = %s", s, got)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	b := []byte("BTCUSDT<&>\n\xff")
	if n := testing.AllocsPerRun(1000, func() { buf = AppendBytes(buf[:0], b) }); n != 0 {
		t.Fatalf("AppendBytes allocates %v per call", n)
	}
}

// FuzzAppend: the output is always valid JSON that decodes to s with
// invalid UTF-8 replaced, as encoding/json does.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff\xfe", "\u2028<>&", "line\nbreak"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Append(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		want, _ := json.Marshal(s)
		if string(out) != string(want) {
			t.Fatalf("%q -> %s, encoding/json %s", s, out, want)
		}
		if !utf8.ValidString(back) {
			t.Fatalf("decoded %q is not UTF-8", back)
		}
	})
}
