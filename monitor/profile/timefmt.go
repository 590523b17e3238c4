package profile

// Unit says how an integer exchange timestamp is to be read.
type Unit uint8

const (
	UnitAuto Unit = iota // by magnitude (see epochNS)
	UnitS
	UnitMS
	UnitUS
	UnitNS
)

// epochNS converts an integer timestamp to ns since the epoch, or 0 when it
// would not fit (a garbage value must not wrap into a huge latency). With UnitAuto
// the magnitude decides: for dates between 1973 and 2286, seconds have at
// most 10 digits, ms 13, µs 16 and ns 19.
func epochNS(v int64, u Unit) int64 {
	if u == UnitAuto {
		switch {
		case v >= 1e17:
			u = UnitNS
		case v >= 1e14:
			u = UnitUS
		case v >= 1e11:
			u = UnitMS
		default:
			u = UnitS
		}
	}
	const maxNS = 1<<63 - 1
	switch u {
	case UnitS:
		if v > maxNS/1_000_000_000 {
			return 0
		}
		return v * 1e9
	case UnitMS:
		if v > maxNS/1_000_000 {
			return 0
		}
		return v * 1e6
	case UnitUS:
		if v > maxNS/1_000 {
			return 0
		}
		return v * 1e3
	}
	return v
}

// decimalSecondsNS parses "1534614057.321597" (seconds with a fraction, as
// Kraken v1 sends) to ns.
func decimalSecondsNS(b []byte) (int64, bool) {
	if s, ok := str(b); ok {
		b = s
	}
	var sec, frac int64
	i := 0
	for ; i < len(b) && b[i] != '.'; i++ {
		if b[i] < '0' || b[i] > '9' || i > 10 { // 11 digits of seconds: year 5138
			return 0, false
		}
		sec = sec*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	scale := int64(1e9)
	if i < len(b) {
		for i++; i < len(b); i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, false
			}
			if scale > 1 {
				scale /= 10
				frac += int64(b[i]-'0') * scale
			}
		}
	}
	return sec*1e9 + frac, true
}

func digits(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// rfc3339NS parses an RFC 3339 time with up to nanosecond fraction
// ("2026-11-22T02:06:58.123456789Z", "+01:00" offsets too) to ns since the
// epoch, without allocating.
func rfc3339NS(b []byte) (int64, bool) {
	if s, ok := str(b); ok {
		b = s
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	y, ok1 := digits(b, 4)
	mo, ok2 := digits(b[5:], 2)
	d, ok3 := digits(b[8:], 2)
	h, ok4 := digits(b[11:], 2)
	mi, ok5 := digits(b[14:], 2)
	s, ok6 := digits(b[17:], 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	i := 19
	var frac int64
	if i < len(b) && b[i] == '.' {
		scale := int64(1e9)
		i++
		start := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if scale > 1 {
				scale /= 10
				frac += int64(b[i]-'0') * scale
			}
		}
		if i == start {
			return 0, false
		}
	}
	if i >= len(b) {
		return 0, false
	}
	var off int64
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b) < i+6 || b[i+3] != ':' {
			return 0, false
		}
		oh, ok1 := digits(b[i+1:], 2)
		om, ok2 := digits(b[i+4:], 2)
		if !ok1 || !ok2 {
			return 0, false
		}
		off = int64(oh*3600+om*60) * 1e9
		if b[i] == '-' {
			off = -off
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	ns := (days*86400+int64(h*3600+mi*60+s))*1e9 + frac - off
	return ns, true
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
