package profile

// A minimal JSON scanner that finds values by key without allocating. It
// works on the raw message: values are returned as sub-slices of the input.
// It validates only as much as it needs to skip values safely; malformed
// input yields "not found", never a panic.

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the closing quote of the string that
// starts at b[i] == '"', or -1.
func skipString(b []byte, i int) int {
	i++
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	i = skipWS(b, i)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// field returns the raw value of key in the object v (v must start with
// '{' after optional white space).
func field(v []byte, key string) ([]byte, bool) {
	i := skipWS(v, 0)
	if i >= len(v) || v[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipWS(v, i)
		if i >= len(v) || v[i] == '}' {
			return nil, false
		}
		if v[i] != '"' {
			return nil, false
		}
		end := skipString(v, i)
		if end < 0 {
			return nil, false
		}
		k := v[i+1 : end-1]
		i = skipWS(v, end)
		if i >= len(v) || v[i] != ':' {
			return nil, false
		}
		i = skipWS(v, i+1)
		vend := skipValue(v, i)
		if vend < 0 {
			return nil, false
		}
		if string(k) == key {
			return v[i:vend], true
		}
		i = skipWS(v, vend)
		if i < len(v) && v[i] == ',' {
			i++
		}
	}
}

// index returns the n-th element of the array v.
func index(v []byte, n int) ([]byte, bool) {
	i := skipWS(v, 0)
	if i >= len(v) || v[i] != '[' {
		return nil, false
	}
	i++
	for k := 0; ; k++ {
		i = skipWS(v, i)
		if i >= len(v) || v[i] == ']' {
			return nil, false
		}
		end := skipValue(v, i)
		if end < 0 {
			return nil, false
		}
		if k == n {
			return v[i:end], true
		}
		i = skipWS(v, end)
		if i < len(v) && v[i] == ',' {
			i++
		}
	}
}

// path follows object keys; a key "[0]".."[9]" indexes an array.
func path(v []byte, keys ...string) ([]byte, bool) {
	ok := true
	for _, k := range keys {
		if len(k) == 3 && k[0] == '[' && k[2] == ']' && k[1] >= '0' && k[1] <= '9' {
			v, ok = index(v, int(k[1]-'0'))
		} else {
			v, ok = field(v, k)
		}
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// str returns the contents of a JSON string value without the quotes (escape
// sequences are left as they are: symbols and ids never need them).
func str(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// uintVal parses an unsigned integer, bare or quoted.
func uintVal(v []byte) (uint64, bool) {
	if s, ok := str(v); ok {
		v = s
	}
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// intVal parses a signed integer, bare or quoted.
func intVal(v []byte) (int64, bool) {
	if s, ok := str(v); ok {
		v = s
	}
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	n, ok := uintVal(v)
	if !ok || n > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// isString reports whether v is the JSON string s.
func isString(v []byte, s string) bool {
	b, ok := str(v)
	return ok && string(b) == s
}
