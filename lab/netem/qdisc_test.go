package netem

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
)

// decoded is a netem or tbf option payload read back field by field.
type decoded struct {
	latencyTicks, limit, loss, gap, dup, jitterTicks uint32
	attrs                                            map[uint16][]byte
}

func parseAttrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	m := map[uint16][]byte{}
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("trailing %d bytes", len(b))
		}
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:])
		if n < 4 || n > len(b) {
			t.Fatalf("attribute %d has length %d of %d", typ, n, len(b))
		}
		if _, dup := m[typ]; dup {
			t.Fatalf("attribute %d twice", typ)
		}
		m[typ] = b[4:n]
		b = b[min((n+3)&^3, len(b)):]
	}
	return m
}

func decodeNetem(t *testing.T, b []byte) decoded {
	t.Helper()
	if len(b) < 24 {
		t.Fatalf("netem options %d bytes, want at least tc_netem_qopt's 24", len(b))
	}
	u := func(i int) uint32 { return binary.NativeEndian.Uint32(b[i:]) }
	return decoded{u(0), u(4), u(8), u(12), u(16), u(20), parseAttrs(t, b[24:])}
}

func u64At(t *testing.T, m map[uint16][]byte, typ uint16) uint64 {
	t.Helper()
	v, ok := m[typ]
	if !ok || len(v) != 8 {
		t.Fatalf("attribute %d missing or not 8 bytes: %v", typ, v)
	}
	return binary.NativeEndian.Uint64(v)
}

func TestTreeShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     linkemu.Params
		kinds string // root first
	}{
		{"zero", linkemu.Params{}, ""},
		{"seed only", linkemu.Params{Seed: 5}, ""},
		{"queue only", linkemu.Params{Queue: 10}, ""},
		{"rate only", linkemu.Params{Rate: 10e6}, "tbf"},
		{"delay", linkemu.Params{Delay: time.Millisecond}, "netem"},
		{"loss", linkemu.Params{Loss: 0.5}, "netem"},
		{"delay+rate", linkemu.Params{Delay: time.Millisecond, Rate: 10e6}, "netem"},
		{"delay+rate+reorder", linkemu.Params{Delay: time.Millisecond, Jitter: 1, Rate: 10e6, Reorder: true}, "netem tbf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := Tree(tc.p, 1514)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, q := range tree {
				kinds = append(kinds, q.Kind)
			}
			if got := strings.Join(kinds, " "); got != tc.kinds {
				t.Fatalf("Tree kinds %q, want %q", got, tc.kinds)
			}
			if len(tree) > 0 && (tree[0].Parent != tcHRoot || tree[0].Handle != rootHandle) {
				t.Errorf("root %x parent %x, want 1: under root", tree[0].Handle, tree[0].Parent)
			}
			if len(tree) == 2 && (tree[1].Parent != netemClass || tree[1].Handle != tbfChildHndl) {
				t.Errorf("child %x parent %x, want 10: under 1:1", tree[1].Handle, tree[1].Parent)
			}
		})
	}
}

func TestNetemOptions(t *testing.T) {
	p := linkemu.Params{Delay: 2 * time.Millisecond, Jitter: 100 * time.Microsecond, JitterDist: linkemu.Normal,
		Loss: 0.001, Queue: 500, Seed: 77}
	tree, err := Tree(p, 1514)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeNetem(t, tree[0].Options)
	if d.latencyTicks != 2000000>>6 || d.jitterTicks != 100000>>6 {
		t.Errorf("ticks latency %d jitter %d, want %d %d", d.latencyTicks, d.jitterTicks, 2000000>>6, 100000>>6)
	}
	if d.limit != 500 || d.gap != 0 || d.dup != 0 {
		t.Errorf("limit %d gap %d duplicate %d, want 500 0 0", d.limit, d.gap, d.dup)
	}
	if want := uint32(math.Round(0.001 * math.MaxUint32)); d.loss != want {
		t.Errorf("loss %d, want %d", d.loss, want)
	}
	if v := u64At(t, d.attrs, tcaNetemLatency64); v != 2e6 {
		t.Errorf("LATENCY64 %d", v)
	}
	if v := u64At(t, d.attrs, tcaNetemJitter64); v != 100e3 {
		t.Errorf("JITTER64 %d", v)
	}
	if v := u64At(t, d.attrs, tcaNetemPrngSeed); v != 77 {
		t.Errorf("PRNG_SEED %d", v)
	}
	// Jitter without Reorder and without a rate: the order-keeping rate.
	r, ok := d.attrs[tcaNetemRate]
	if !ok || len(r) != 16 || binary.NativeEndian.Uint32(r) != math.MaxUint32 {
		t.Fatalf("RATE %v, want the saturated u32", r)
	}
	if v := u64At(t, d.attrs, tcaNetemRate64); v != orderRate {
		t.Errorf("RATE64 %d, want %d", v, uint64(orderRate))
	}
	// The normal table: the standard normal's quantiles scaled by 8192.
	tab := d.attrs[tcaNetemDelayDist]
	if len(tab) != 2*normalTableSize || len(tab)/2 > netemDistMax {
		t.Fatalf("distribution table of %d bytes", len(tab))
	}
	var sum, sq float64
	prev := math.Inf(-1)
	for i := 0; i < len(tab); i += 2 {
		v := float64(int16(binary.NativeEndian.Uint16(tab[i:])))
		if v < prev {
			t.Fatalf("table not monotone at %d", i/2)
		}
		prev = v
		sum += v
		sq += v * v
	}
	n := float64(normalTableSize)
	mean, sd := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
	if math.Abs(mean) > 1 || math.Abs(sd-netemDistScale)/netemDistScale > 0.01 {
		t.Errorf("table mean %.2f sd %.1f, want 0 and %d", mean, sd, netemDistScale)
	}
}

func TestNetemOptionsRateAndUniform(t *testing.T) {
	// Uniform jitter: no table. A rate below 32 bits of bytes/s: RATE only.
	tree, err := Tree(linkemu.Params{Delay: time.Millisecond, Jitter: time.Microsecond, Rate: 100e6}, 1514)
	if err != nil {
		t.Fatal(err)
	}
	d := decodeNetem(t, tree[0].Options)
	if _, ok := d.attrs[tcaNetemDelayDist]; ok {
		t.Error("uniform jitter sent a distribution table")
	}
	if r := d.attrs[tcaNetemRate]; binary.NativeEndian.Uint32(r) != 100e6/8 {
		t.Errorf("netem rate %d bytes/s, want %d", binary.NativeEndian.Uint32(r), 12500000)
	}
	if _, ok := d.attrs[tcaNetemRate64]; ok {
		t.Error("RATE64 sent for a 32-bit rate")
	}
	if _, ok := d.attrs[tcaNetemPrngSeed]; ok {
		t.Error("PRNG_SEED sent for seed 0")
	}
	if d.limit != linkemu.DefaultQueue {
		t.Errorf("limit %d, want the default %d", d.limit, linkemu.DefaultQueue)
	}
	// Certain loss is UINT32_MAX.
	tree, _ = Tree(linkemu.Params{Loss: 1}, 1514)
	if d := decodeNetem(t, tree[0].Options); d.loss != math.MaxUint32 {
		t.Errorf("loss 1 encoded as %d", d.loss)
	}
	// Reorder allowed with no rate: no order-keeping rate.
	tree, _ = Tree(linkemu.Params{Delay: time.Millisecond, Jitter: time.Microsecond, Reorder: true}, 1514)
	if d := decodeNetem(t, tree[0].Options); d.attrs[tcaNetemRate] != nil {
		t.Error("Reorder: netem got a rate, which would keep order")
	}
}

func TestTbfOptions(t *testing.T) {
	for _, tc := range []struct {
		rate      uint64 // bit/s
		wantBurst uint32
	}{
		{20e6, 2 * 1514},  // 1 ms is 2500 bytes < two frames
		{1e9, 125000},     // 1 ms at 1 Gbit/s
		{40e9, 5_000_000}, // above 32 bits of bytes/s
	} {
		tree, err := Tree(linkemu.Params{Rate: tc.rate, Queue: 100}, 1514)
		if err != nil {
			t.Fatal(err)
		}
		m := parseAttrs(t, tree[0].Options)
		q := m[tcaTbfParms]
		if len(q) != 36 {
			t.Fatalf("tc_tbf_qopt %d bytes, want 36", len(q))
		}
		bytesPerSec := tc.rate / 8
		if q[1] != tcLinklayerEthernet {
			t.Errorf("linklayer %d", q[1])
		}
		wantRate := uint32(min(bytesPerSec, math.MaxUint32))
		if got := binary.NativeEndian.Uint32(q[8:]); got != wantRate {
			t.Errorf("rate %d, want %d", got, wantRate)
		}
		if got := binary.NativeEndian.Uint32(q[24:]); got != 100*1514 {
			t.Errorf("limit %d bytes, want 100 frames of 1514", got)
		}
		burst := binary.NativeEndian.Uint32(m[tcaTbfBurst])
		if burst != tc.wantBurst {
			t.Errorf("rate %d: burst %d, want %d", tc.rate, burst, tc.wantBurst)
		}
		// buffer is the burst's transmission time in 64 ns ticks.
		buf := binary.NativeEndian.Uint32(q[28:])
		wantTicks := float64(burst) * 1e9 / float64(bytesPerSec) / 64
		if math.Abs(float64(buf)-wantTicks) > 1 {
			t.Errorf("buffer %d ticks, want %.0f", buf, wantTicks)
		}
		_, has64 := m[tcaTbfRate64]
		if has64 != (bytesPerSec >= math.MaxUint32) {
			t.Errorf("rate %d: RATE64 present %v", tc.rate, has64)
		}
	}
}

func TestTreeErrors(t *testing.T) {
	for _, tc := range []struct {
		p         linkemu.Params
		frame     int
		wantField string
		wantMsg   string
	}{
		{linkemu.Params{Loss: 2}, 1514, "loss", ""},
		{linkemu.Params{Jitter: 3 * time.Second}, 1514, "jitter", "2.147s"},
		{linkemu.Params{Delay: time.Millisecond}, 10, "", "frame length"},
	} {
		_, err := Tree(tc.p, tc.frame)
		if err == nil {
			t.Fatalf("Tree(%+v) accepted", tc.p)
		}
		var fe *linkemu.FieldError
		if tc.wantField != "" && (!errors.As(err, &fe) || fe.Field != tc.wantField) {
			t.Errorf("Tree(%+v) = %v, want a FieldError on %s", tc.p, err, tc.wantField)
		}
		if !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("Tree(%+v) = %v, want it to say %q", tc.p, err, tc.wantMsg)
		}
	}
}

func TestFeaturesRequire(t *testing.T) {
	f := Features{TBF: true, HTB: true, VXLAN: true, Errors: map[Feature]string{FeatNetem: "no such file or directory"}}
	if err := f.Require(FeatTBF, FeatVXLAN); err != nil {
		t.Fatalf("Require of present features: %v", err)
	}
	err := f.Require(FeatNetem, FeatTBF, FeatU32Mirred, FeatNetem)
	var me *MissingError
	if !errors.As(err, &me) || len(me.Missing) != 2 {
		t.Fatalf("Require = %v, want netem and u32+mirred missing", err)
	}
	for _, want := range []string{"netem (no such file or directory)", "u32+mirred", "modprobe sch_netem cls_u32 act_mirred"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if f.LinkMechanism() != "linkemu" || (Features{Netem: true}).LinkMechanism() != "netem" {
		t.Error("LinkMechanism does not follow Netem")
	}
	if s := f.String(); !strings.Contains(s, "no-netem") || !strings.Contains(s, " tbf") {
		t.Errorf("String = %q", s)
	}
}
