package format

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// sample ticks used by the golden and round-trip tests.
var samples = []Tick{
	{Stream: "btcusdt@trade", Symbol: "BTCUSDT", Kind: KindTrade, Seq: 123, ExchNS: 1763776000123456789, Last: 64000.3, Size: 0.015, Side: SideBuy},
	{Stream: "btcusdt@trade", Symbol: "BTCUSDT", Kind: KindTrade, Seq: 124, ExchNS: 1763776000124000000, Last: 64000.12, Size: 1.5, Side: SideSell},
	{Stream: "ethusdt@bookTicker", Symbol: "ETHUSDT", Kind: KindBook, Seq: 7, ExchNS: 1763776000999999999, Bid: 3100.55, BidSize: 2.25, Ask: 3100.6, AskSize: 0.00000001},
	{Stream: "btcusdt@tick", Symbol: "BTCUSDT", Kind: KindQuote, Seq: 1, ExchNS: 1763776000000000001, Bid: 64000.12, Ask: 64000.55, Last: 64000.3, Size: 0.015, Side: SideSell},
	{Stream: "BTC-USD@ticker", Symbol: "BTC-USD", Kind: KindQuote, Seq: 99, ExchNS: 1795313218123456789, Bid: 64000.12, BidSize: 1.5, Ask: 64000.55, AskSize: 2, Last: 64000.3, Size: 0.015, Side: SideBuy},
}

func TestParseFormat(t *testing.T) {
	for _, f := range []Format{Auto, Lab, Binance, Coinbase} {
		g, err := ParseFormat(f.String())
		if err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), g, err)
		}
	}
	if _, err := ParseFormat("okx"); err == nil || !strings.Contains(err.Error(), `"okx"`) {
		t.Errorf("ParseFormat(okx) error %v, want one naming the value", err)
	}
}

// goldenCases encodes every sample in every format and option set.
func goldenCases() []string {
	var lines []string
	for i := range samples {
		s := &samples[i]
		lines = append(lines, string(AppendLab(nil, s)))
		lines = append(lines, string(Append(nil, Lab, s, EncodeOptions{Combined: true})))
		lines = append(lines, string(AppendBinance(nil, s, EncodeOptions{})))
		lines = append(lines, string(AppendBinance(nil, s, EncodeOptions{Micro: true, Combined: true})))
		lines = append(lines, string(AppendCoinbase(nil, s)))
	}
	return lines
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestEncodeGolden(t *testing.T) {
	path := filepath.Join("testdata", "encode.golden")
	got := goldenCases()
	if *update {
		old, _ := os.ReadFile(path)
		want := strings.Join(got, "\n") + "\n"
		if string(old) != want {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := readLines(t, path)
	if len(want) != len(got) {
		t.Fatalf("%s has %d lines, encoder made %d (run go test -update)", path, len(want), len(got))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s:%d:\n got %s\nwant %s", path, i+1, got[i], want[i])
		}
	}
}

// TestRoundTrip: what the encoders write, the decoders read back (Binance
// rounds prices to 2 and sizes to 8 decimals and its time to ms/µs; Coinbase
// derives the stream from the product; the lab format keeps everything).
func TestRoundTrip(t *testing.T) {
	for _, s := range samples {
		for _, f := range []Format{Lab, Binance, Coinbase} {
			for _, o := range []EncodeOptions{{}, {Combined: true}, {Micro: true}} {
				msg := Append(nil, f, &s, o)
				var got Tick
				if err := Parse(Auto, msg, &got); err != nil {
					t.Fatalf("%v %+v: %s: %v", f, o, msg, err)
				}
				want := s
				switch f {
				case Lab:
					want.Kind = KindQuote
				case Binance:
					res := int64(1e6)
					if o.Micro {
						res = 1e3
					}
					want.ExchNS = s.ExchNS / res * res
					if s.Kind == KindBook {
						want = Tick{Stream: s.Stream, Symbol: s.Symbol, Kind: KindBook, Seq: s.Seq, ExchNS: want.ExchNS, Bid: s.Bid, BidSize: s.BidSize, Ask: s.Ask, AskSize: s.AskSize}
					} else {
						want = Tick{Stream: s.Stream, Symbol: s.Symbol, Kind: KindTrade, Seq: s.Seq, ExchNS: want.ExchNS, Last: s.Last, Size: s.Size, Side: s.Side}
					}
					if !o.Combined {
						want.Stream = strings.ToLower(s.Symbol) + map[Kind]string{KindBook: "@bookTicker"}[s.Kind]
						if s.Kind != KindBook {
							want.Stream = strings.ToLower(s.Symbol) + "@trade"
						}
					}
				case Coinbase:
					want.Kind = KindQuote
					want.Stream = s.Symbol + "@ticker"
					if want.Side == SideUnknown {
						want.Side = SideBuy
					}
				}
				if got != want {
					t.Errorf("%v %+v: %s\n got %+v\nwant %+v", f, o, msg, got, want)
				}
			}
		}
	}
}

func TestParseExamples(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		msg  string
		want Tick
	}{
		{"lab as in DESIGN", Lab,
			`{"type":"tick","stream":"btcusdt@tick","seq":123,"ts_ns":1763776000123456789,"symbol":"BTCUSDT","bid":64000.12,"ask":64000.55,"last":64000.30,"size":0.015}`,
			Tick{Stream: "btcusdt@tick", Symbol: "BTCUSDT", Seq: 123, ExchNS: 1763776000123456789, Bid: 64000.12, Ask: 64000.55, Last: 64000.3, Size: 0.015}},
		{"lab without stream, spaced, reordered", Lab,
			" {\n \"symbol\" : \"ETHUSDT\", \"ts_ns\":-5 ,\"seq\":0,\"type\":\"tick\"}\r\n",
			Tick{Stream: "ethusdt@tick", Symbol: "ETHUSDT", ExchNS: -5}},
		{"binance spot trade with 8 decimals and extra fields", Binance,
			`{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.00100000","q":"100.00000000","b":88,"a":50,"T":1672515782136,"m":true,"M":true}`,
			Tick{Stream: "bnbbtc@trade", Symbol: "BNBBTC", Kind: KindTrade, Seq: 12345, ExchNS: 1672515782136000000, Last: 0.001, Size: 100, Side: SideSell}},
		{"binance trade in microseconds, combined", Binance,
			`{"stream":"btcusdt@trade","data":{"e":"trade","E":1763776000123456,"s":"BTCUSDT","t":5,"p":"64000.30","q":"0.01500000","T":1763776000123450,"m":false,"M":true}}`,
			Tick{Stream: "btcusdt@trade", Symbol: "BTCUSDT", Kind: KindTrade, Seq: 5, ExchNS: 1763776000123456000, Last: 64000.3, Size: 0.015, Side: SideBuy}},
		{"binance spot bookTicker without time", Binance,
			`{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`,
			Tick{Stream: "bnbusdt@bookTicker", Symbol: "BNBUSDT", Kind: KindBook, Seq: 400900217, Bid: 25.3519, BidSize: 31.21, Ask: 25.3652, AskSize: 40.66}},
		{"binance futures bookTicker", Binance,
			`{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`,
			Tick{Stream: "bnbusdt@bookTicker", Symbol: "BNBUSDT", Kind: KindBook, Seq: 400900217, ExchNS: 1568014460893000000, Bid: 25.3519, BidSize: 31.21, Ask: 25.3652, AskSize: 40.66}},
		{"coinbase ticker as in the docs", Coinbase,
			`{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}`,
			Tick{Stream: "ETH-USD@ticker", Symbol: "ETH-USD", Seq: 37475248783, ExchNS: 1666222102061769000, Bid: 1285.04, BidSize: 0.46688654, Ask: 1285.27, AskSize: 1.5663704, Last: 1285.22, Size: 11.4396987, Side: SideBuy}},
		{"coinbase ticker with offset time", Coinbase,
			`{"type":"ticker","sequence":1,"product_id":"BTC-USD","time":"2026-11-22T03:06:58.5+01:00","side":"sell","best_bid":null}`,
			Tick{Stream: "BTC-USD@ticker", Symbol: "BTC-USD", Seq: 1, ExchNS: 1795313218500000000, Side: SideSell}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []Format{tt.f, Auto} {
				var got Tick
				if err := Parse(f, []byte(tt.msg), &got); err != nil {
					t.Fatalf("Parse(%v): %v", f, err)
				}
				if got != tt.want {
					t.Errorf("Parse(%v):\n got %+v\nwant %+v", f, got, tt.want)
				}
			}
		})
	}
}

func TestControlMessages(t *testing.T) {
	tests := []struct {
		f   Format
		msg string
	}{
		{Binance, `{"result":null,"id":1}`},
		{Binance, `{"result":["btcusdt@trade"],"id":3}`},
		{Binance, `{"error":{"code":2,"msg":"Invalid request: unknown stream"},"id":1}`},
		{Binance, `{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}`},
		{Lab, `{"result":null,"id":1}`},
		{Lab, `{"error":{"code":2,"msg":"x"},"id":null}`},
		{Coinbase, `{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["BTC-USD"]}]}`},
		{Coinbase, `{"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}`},
		{Coinbase, `{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}`},
	}
	for _, tt := range tests {
		for _, f := range []Format{tt.f, Auto} {
			var tk Tick
			if err := Parse(f, []byte(tt.msg), &tk); !errors.Is(err, ErrNotTick) {
				t.Errorf("Parse(%v, %s) = %v, want ErrNotTick", f, tt.msg, err)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		f       Format
		msg     string
		wantErr string
	}{
		{Lab, ``, "format lab: byte 0: empty message"},
		{Lab, `[1]`, "byte 0: want a JSON object"},
		{Lab, `{"type":"tick","seq":-1}`, `byte 21: member seq: want an unsigned integer`},
		{Lab, `{"type":"tick","seq":1,"ts_ns":2}`, "tick without symbol"},
		{Lab, `{"type":"tick","seq":1,"symbol":"X"}`, "tick without ts_ns"},
		{Lab, `{"type":"tick","seq":1,"ts_ns":1,"symbol":"X","bid":"1"}`, "member bid: want a number"},
		{Lab, `{"type":"tick","seq":1,"ts_ns":1,"symbol":"X","bid":NaN}`, "want a value"},
		{Lab, `{"type":"tick","seq":1,}`, "'}' after ','"},
		{Lab, `{"type":"tick"} x`, "data after the object"},
		{Lab, `{"seq":1}`, "message without type"},
		{Lab, `{"type":"tick","side":"up"}`, `member side: want "buy" or "sell"`},
		{Binance, `{"e":"trade","E":1,"s":"X","t":1,"p":"1","T":1}`, "trade without t, s, p or q"},
		{Binance, `{"e":"trade","E":1,"s":"X","t":1,"p":1,"q":"1"}`, "member p: want a decimal string"},
		{Binance, `{"e":"trade","E":1,"s":"X","t":1,"p":"0x1p3","q":"1"}`, "member p: want a decimal string"},
		{Binance, `{"e":"trade","m":1}`, "member m: want true or false"},
		{Binance, `{"data":{}}`, "combined message without stream"},
		{Binance, `{"stream":"a","data":{"stream":"b","data":{}}}`, "member stream: want a plain string"},
		{Binance, `{"x":1}`, "neither a trade"},
		{Binance, `{"e":"trade","s":"X\u0041"}`, "member s: want a plain non-empty string"},
		{Binance, `{"e":"trade","E":99999999999999999999}`, "member E: want an integer time"},
		{Coinbase, `{"sequence":1}`, "message without type"},
		{Coinbase, `{"type":"ticker","sequence":1,"product_id":"B","time":"2022-02-30T00:00:00Z"}`, "member time: want RFC 3339 time"},
		{Coinbase, `{"type":"ticker","sequence":1,"product_id":"B","time":"2022-10-19 23:28:22"}`, "member time: want RFC 3339 time"},
		{Coinbase, `{"type":"ticker","product_id":"B"}`, "ticker without sequence"},
		{Coinbase, `{"type":"ticker","sequence":1,"time":"2022-10-19T23:28:22Z"}`, "ticker without product_id"},
		{Coinbase, `{"type":"ticker","sequence":1,"product_id":"B"}`, "ticker without time"},
		{Coinbase, `{"type":"ticker","price":"1\u0030"}`, "member price: want a decimal string"},
		{Coinbase, "{\"type\":\"tick\ner\"}", "byte 13: control character in string"},
		{Auto, `{"x":1}`, "not a lab, Binance or Coinbase message"},
		{Auto, `{"x":`, "format auto: byte 5: want a value"},
	}
	for _, tt := range tests {
		var tk Tick
		err := Parse(tt.f, []byte(tt.msg), &tk)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Parse(%v, %q) = %v, want a SyntaxError containing %q", tt.f, tt.msg, err, tt.wantErr)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		msg  string
		want Format
	}{
		{`{"type":"tick"}`, Lab},
		{`{"type":"ticker"}`, Coinbase},
		{`{"type":"subscriptions"}`, Coinbase},
		{`{"e":"trade"}`, Binance},
		{`{"stream":"x","data":{}}`, Binance},
		{`{"result":null,"id":1}`, Binance},
		{`{"u":1,"s":"X"}`, Binance},
		{`{"x":1}`, Auto},
		{`not json`, Auto},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.msg)); got != tt.want {
			t.Errorf("Detect(%s) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

// TestAllocs: steady-state encoding into a reused buffer and decoding into a
// reused Tick allocate nothing.
func TestAllocs(t *testing.T) {
	for _, s := range samples {
		for _, f := range []Format{Lab, Binance, Coinbase} {
			o := EncodeOptions{Combined: true}
			buf := make([]byte, 0, 512)
			msg := Append(nil, f, &s, o)
			var tk Tick
			if err := Parse(f, msg, &tk); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], f, &s, o) }); n != 0 {
				t.Errorf("Append(%v, %s): %v allocs", f, s.Stream, n)
			}
			if n := testing.AllocsPerRun(100, func() { _ = Parse(Auto, msg, &tk) }); n != 0 {
				t.Errorf("Parse(%v, %s): %v allocs", f, msg, n)
			}
		}
	}
}

// seeds returns the golden messages plus testdata/examples.jsonl as fuzz seeds.
func seeds(f *testing.F) {
	for _, l := range readLines(f, filepath.Join("testdata", "encode.golden")) {
		f.Add([]byte(l))
	}
	b, err := os.ReadFile(filepath.Join("testdata", "examples.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f.Add(append([]byte(nil), sc.Bytes()...))
	}
}

// fuzzDecoder checks that a decoder never panics, that its errors are typed,
// and that what it accepts survives a trip through the lab encoder.
func fuzzDecoder(f *testing.F, format Format) {
	seeds(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var tk Tick
		err := Parse(format, msg, &tk)
		var se *SyntaxError
		switch {
		case err == nil:
			var back Tick
			enc := AppendLab(nil, &tk)
			if err := ParseLab(enc, &back); err != nil {
				t.Fatalf("re-encoded %s does not parse: %v", enc, err)
			}
		case errors.Is(err, ErrNotTick), errors.As(err, &se):
		default:
			t.Fatalf("untyped error %T %v", err, err)
		}
	})
}

func FuzzParseLab(f *testing.F)      { fuzzDecoder(f, Lab) }
func FuzzParseBinance(f *testing.F)  { fuzzDecoder(f, Binance) }
func FuzzParseCoinbase(f *testing.F) { fuzzDecoder(f, Coinbase) }
func FuzzParseAuto(f *testing.F)     { fuzzDecoder(f, Auto) }

func BenchmarkParse(b *testing.B) {
	for _, f := range []Format{Lab, Binance, Coinbase} {
		msg := Append(nil, f, &samples[0], EncodeOptions{Combined: true})
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			var tk Tick
			for b.Loop() {
				if err := Parse(f, msg, &tk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, f := range []Format{Lab, Binance, Coinbase} {
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				buf = Append(buf[:0], f, &samples[0], EncodeOptions{})
			}
		})
	}
}
