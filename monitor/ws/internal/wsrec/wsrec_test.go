package wsrec

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

func TestMarshalRoundTrip(t *testing.T) {
	in := []Piece{{Dir: stream.ClientToServer, TS: 5, Data: []byte("GET")}, {Dir: stream.ServerToClient, TS: 7, Data: []byte{}}}
	b := Marshal(in)
	out, err := Unmarshal(b)
	if err != nil || len(out) != 2 || out[0].TS != 5 || !bytes.Equal(out[0].Data, []byte("GET")) || out[1].Dir != stream.ServerToClient {
		t.Fatalf("%+v, %v", out, err)
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte("nope"), "missing wsrec1 header"},
		{b[:len(b)-5], "byte 23: truncated piece header"},
		{b[:7+13+1], "byte 20: piece of 3 bytes is truncated"},
		{append([]byte("wsrec1\n\x02"), make([]byte, 12)...), "bad direction 2"},
	} {
		if _, err := Unmarshal(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unmarshal(%q): %v, want %q", tc.in, err, tc.want)
		}
	}
}
