package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	cr1  = "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"
	cr2  = "a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928"
	ms48 = "9bbe436ba940f017b17652849a71db359bbe436ba940f017b17652849a71db359bbe436ba940f017b17652849a71db35"
	s32  = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
	s32b = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		ok      bool
		label   Label
		secLen  int
		wantErr string
	}{
		{"master", "CLIENT_RANDOM " + cr1 + " " + ms48, true, ClientRandom, 48, ""},
		{"upper hex", "CLIENT_RANDOM " + strings.ToUpper(cr1) + " " + strings.ToUpper(ms48), true, ClientRandom, 48, ""},
		{"c hs", "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + cr1 + " " + s32, true, ClientHandshakeTrafficSecret, 32, ""},
		{"s hs", "SERVER_HANDSHAKE_TRAFFIC_SECRET " + cr1 + " " + s32, true, ServerHandshakeTrafficSecret, 32, ""},
		{"c ap", "CLIENT_TRAFFIC_SECRET_0 " + cr1 + " " + s32, true, ClientTrafficSecret0, 32, ""},
		{"s ap", "SERVER_TRAFFIC_SECRET_0 " + cr1 + " " + s32 + s32[:32], true, ServerTrafficSecret0, 48, ""},
		{"early", "CLIENT_EARLY_TRAFFIC_SECRET " + cr1 + " " + s32, true, ClientEarlyTrafficSecret, 32, ""},
		{"exporter", "EXPORTER_SECRET " + cr1 + " " + s32, true, ExporterSecret, 32, ""},
		{"crlf and spaces", "  CLIENT_RANDOM\t" + cr1 + "  " + ms48 + "\r", true, ClientRandom, 48, ""},
		{"comment", "# SSL/TLS secrets log file", false, 0, 0, ""},
		{"openssl key update secret", "CLIENT_TRAFFIC_SECRET_N " + cr1 + " " + s32, false, 0, 0, ""},
		{"later traffic secret", "SERVER_TRAFFIC_SECRET_3 " + cr1 + " " + s32, false, 0, 0, ""},
		{"bad traffic secret suffix", "SERVER_TRAFFIC_SECRET_X " + cr1 + " " + s32, false, 0, 0, `unknown label "SERVER_TRAFFIC_SECRET_X"`},
		{"blank", "   ", false, 0, 0, ""},
		{"unknown label", "SERVER_RANDOM " + cr1 + " " + ms48, false, 0, 0, `unknown label "SERVER_RANDOM"`},
		{"short random", "CLIENT_RANDOM " + cr1[:62] + " " + ms48, false, 0, 0, "CLIENT_RANDOM: client random is 31 bytes, want 32"},
		{"odd random", "CLIENT_RANDOM " + cr1[:63] + " " + ms48, false, 0, 0, "CLIENT_RANDOM: client random is not hex"},
		{"non hex secret", "CLIENT_RANDOM " + cr1 + " " + ms48[:94] + "zz", false, 0, 0, "CLIENT_RANDOM: secret is not hex"},
		{"short master", "CLIENT_RANDOM " + cr1 + " " + ms48[:94], false, 0, 0, "CLIENT_RANDOM: master secret is 47 bytes, want 48"},
		{"long 1.3 secret", "CLIENT_TRAFFIC_SECRET_0 " + cr1 + " " + ms48 + ms48, false, 0, 0, "CLIENT_TRAFFIC_SECRET_0: secret is 96 bytes, want 16 to 64"},
		{"missing field", "CLIENT_RANDOM " + cr1, false, 0, 0, "CLIENT_RANDOM: have 2 fields, want 3"},
		{"extra field", "CLIENT_RANDOM " + cr1 + " " + ms48 + " x", false, 0, 0, "CLIENT_RANDOM: have 4 fields, want 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok, err := ParseLine([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || err.Error() != ": "+tt.wantErr && !strings.HasSuffix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.ok {
				t.Fatalf("ok=%v err=%v, want ok=%v", ok, err, tt.ok)
			}
			if !ok {
				return
			}
			if e.Label != tt.label || len(e.Secret) != tt.secLen {
				t.Fatalf("got %v, want label %v with %d bytes", e, tt.label, tt.secLen)
			}
			if got := strings.ToLower(strings.Fields(tt.line)[1]); got != cr1 {
				t.Fatalf("test table random mismatch")
			}
			if string(e.ClientRandom[:2]) != "\xcb\x34" {
				t.Fatalf("client random decoded wrong: %x", e.ClientRandom)
			}
		})
	}
}

func TestParsePositionsAndRedaction(t *testing.T) {
	text := "# comment\n\nCLIENT_RANDOM " + cr1 + " " + ms48 + "\n" +
		"CLIENT_RANDOM " + cr1[:62] + " " + ms48 + "\n" +
		"CLIENT_RANDOM " + cr2 + " " + ms48[:94] + "\n" +
		"CLIENT_TRAFFIC_SECRET_0 " + cr2 + " " + s32 // no final newline
	var got []Entry
	errs := Parse("keys.log", []byte(text), func(e Entry) { got = append(got, e) })
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2", len(got))
	}
	want := []string{
		"keys.log:4: CLIENT_RANDOM: client random is 31 bytes, want 32",
		"keys.log:5: CLIENT_RANDOM: master secret is 47 bytes, want 48",
	}
	if len(errs) != len(want) {
		t.Fatalf("errs = %v", errs)
	}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("err %d = %q, want %q", i, e, want[i])
		}
		var se *SyntaxError
		if !errors.As(e, &se) || se.Line != 4+i {
			t.Errorf("err %d not a positioned *SyntaxError: %#v", i, e)
		}
	}
	for _, e := range got {
		s := e.String()
		if strings.Contains(s, ms48[:16]) || strings.Contains(s, s32[:16]) {
			t.Errorf("Entry.String leaks a secret: %s", s)
		}
	}
	st := NewStore()
	st.Load("keys.log", []byte(text))
	sec, _ := st.Lookup(got[0].ClientRandom)
	if s := sec.String(); strings.Contains(s, ms48[:16]) || !strings.Contains(s, "CLIENT_RANDOM:<redacted 48 bytes>") {
		t.Errorf("Secrets.String = %s", s)
	}
}

func mustRandom(t *testing.T, h string) [32]byte {
	t.Helper()
	e, ok, err := ParseLine([]byte("CLIENT_RANDOM " + h + " " + ms48))
	if !ok || err != nil {
		t.Fatal(err)
	}
	return e.ClientRandom
}

func TestStoreDuplicatesAndConflicts(t *testing.T) {
	st := NewStore()
	ch := st.Changed()
	g0 := st.Generation()
	added, warns := st.Load("a", []byte("CLIENT_RANDOM "+cr1+" "+ms48+"\nCLIENT_RANDOM "+cr1+" "+ms48+"\n"))
	if added != 1 || len(warns) != 0 {
		t.Fatalf("added=%d warns=%v", added, warns)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed after adding a key")
	}
	if st.Generation() == g0 {
		t.Fatal("generation did not move")
	}
	conflicting := strings.Repeat("00", 48)
	ch = st.Changed()
	added, _ = st.Load("b", []byte("CLIENT_RANDOM "+cr1+" "+conflicting+"\n"))
	if added != 0 {
		t.Fatalf("conflict added %d", added)
	}
	select {
	case <-ch:
		t.Fatal("Changed closed without a new key")
	default:
	}
	sec, ok := st.Lookup(mustRandom(t, cr1))
	if !ok || !bytes.Equal(sec.Get(ClientRandom)[:2], []byte{0x9b, 0xbe}) {
		t.Fatal("first value not kept")
	}
	if sec.Has(ClientTrafficSecret0) {
		t.Fatal("unexpected label")
	}
	// A Secrets value taken earlier must not change when more labels arrive.
	st.Load("c", []byte("CLIENT_TRAFFIC_SECRET_0 "+cr1+" "+s32+"\n"))
	if sec.Has(ClientTrafficSecret0) {
		t.Fatal("earlier Secrets value was mutated")
	}
	sec2, _ := st.Lookup(mustRandom(t, cr1))
	if !sec2.Has(ClientTrafficSecret0) || !sec2.Has(ClientRandom) {
		t.Fatal("labels not merged")
	}
	want := Stats{Randoms: 1, Entries: 2, Duplicates: 1, Conflicts: 1}
	if got := st.Stats(); got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
	if _, ok := st.Lookup(mustRandom(t, cr2)); ok {
		t.Fatal("unknown random found")
	}
}

func TestTailGrowingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.log")
	st := NewStore()
	tl := NewTail(path, st)
	if added, _, err := tl.Poll(); err != nil || added != 0 {
		t.Fatalf("missing file: added=%d err=%v", added, err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	line1 := "CLIENT_RANDOM " + cr1 + " " + ms48 + "\n"
	line2 := "SERVER_TRAFFIC_SECRET_0 " + cr2 + " " + s32b + "\n"
	bad := "CLIENT_RANDOM " + cr1[:62] + " " + ms48 + "\n"
	// First line complete, second cut in the middle.
	f.WriteString(line1 + line2[:30])
	added, _, err := tl.Poll()
	if err != nil || added != 1 {
		t.Fatalf("poll 1: added=%d err=%v", added, err)
	}
	if _, ok := st.Lookup(mustRandom(t, cr2)); ok {
		t.Fatal("partial line was loaded")
	}
	f.WriteString(line2[30:] + bad)
	added, warns, err := tl.Poll()
	if err != nil || added != 1 {
		t.Fatalf("poll 2: added=%d err=%v", added, err)
	}
	if len(warns) != 1 || warns[0].Error() != path+":3: CLIENT_RANDOM: client random is 31 bytes, want 32" {
		t.Fatalf("warns = %v", warns)
	}
	if tl.Offset() != int64(len(line1+line2+bad)) {
		t.Fatalf("offset %d", tl.Offset())
	}
	sec, ok := st.Lookup(mustRandom(t, cr2))
	if !ok || len(sec.Get(ServerTrafficSecret0)) != 32 {
		t.Fatal("second line not loaded")
	}
	// Truncation: the file is rewritten; the tail starts over.
	if err := os.WriteFile(path, []byte("CLIENT_EARLY_TRAFFIC_SECRET "+cr2+" "+s32+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if added, _, err := tl.Poll(); err != nil || added != 1 {
		t.Fatalf("after truncation: added=%d err=%v", added, err)
	}
}

func TestFollowNotifies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.log")
	st := NewStore()
	tl := NewTail(path, st)
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	ch := st.Changed()
	go func() { done <- tl.Follow(ctx, 5*time.Millisecond) }()
	if err := os.WriteFile(path, []byte("CLIENT_RANDOM "+cr1+" "+ms48+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Follow returned nil after cancel")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("CLIENT_RANDOM " + cr1 + " " + ms48 + "\n"))
	f.Add([]byte("# x\nSERVER_HANDSHAKE_TRAFFIC_SECRET " + cr1 + " " + s32 + "\r\nEXPORTER_SECRET " + cr2 + " " + s32b))
	f.Add([]byte("CLIENT_RANDOM " + cr1[:62] + " zz\n\n\n"))
	if data, err := os.ReadFile("testdata/sample.keys"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		errs := Parse("fuzz", data, func(e Entry) {
			n++
			if len(e.Secret) < 16 || len(e.Secret) > MaxSecretLen || e.Label >= NumLabels {
				t.Fatalf("bad entry %v", e)
			}
		})
		for _, err := range errs {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.File != "fuzz" {
				t.Fatalf("bad error %#v", err)
			}
		}
		// Loading in arbitrary chunks through the incremental parser gives the same result.
		var p parser
		p.name, p.line = "fuzz", 1
		m := 0
		buf := []byte{}
		for i := 0; i < len(data); i += 7 {
			end := min(i+7, len(data))
			buf = append(buf, data[i:end]...)
			used, _ := p.feed(buf, false, func(Entry) { m++ }, nil)
			buf = buf[used:]
		}
		p.feed(buf, true, func(Entry) { m++ }, nil)
		if m != n {
			t.Fatalf("chunked parse found %d entries, whole parse %d", m, n)
		}
	})
}
