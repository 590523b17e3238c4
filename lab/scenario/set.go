package scenario

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// Set applies one override "path=value": the path uses the YAML field names,
// dotted, with list indices as numbers (exchanges.0.link.delay=2ms,
// traders.0.params.think=200us). The value is YAML (a list may also be
// written a,b,c). Errors name the override.
func (f *File) Set(assign string) error {
	path, value, ok := strings.Cut(assign, "=")
	path = strings.TrimSpace(path)
	if !ok || path == "" {
		return &Error{File: "--set " + assign, Msg: "want path=value, for example exchanges.0.link.delay=2ms"}
	}
	fail := func(format string, args ...any) error {
		return &Error{File: "--set " + assign, Msg: fmt.Sprintf(format, args...)}
	}
	v := reflect.ValueOf(&f.Scenario).Elem()
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		last := i == len(segs)-1
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.Struct:
			fv, ok := fieldByTag(v, seg)
			if !ok {
				return fail("%s: no field %q (fields: %s)", strings.Join(segs[:i], "."), seg, strings.Join(tagNames(v.Type()), ", "))
			}
			v = fv
		case reflect.Slice:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 {
				return fail("%s: %q is not a list index", strings.Join(segs[:i], "."), seg)
			}
			if n >= v.Len() {
				return fail("%s: index %d out of range (the list has %d)", strings.Join(segs[:i], "."), n, v.Len())
			}
			v = v.Index(n)
		case reflect.Map:
			if !last {
				return fail("%s: cannot go below a map entry", strings.Join(segs[:i+1], "."))
			}
			if v.IsNil() {
				v.Set(reflect.MakeMap(v.Type()))
			}
			ev := reflect.New(v.Type().Elem())
			if err := decodeInto(ev.Interface(), value); err != nil {
				return fail("%v", err)
			}
			v.SetMapIndex(reflect.ValueOf(seg), ev.Elem())
			f.set[path] = value
			return nil
		default:
			return fail("%s is a value, %q cannot be below it", strings.Join(segs[:i], "."), seg)
		}
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String && !strings.HasPrefix(strings.TrimSpace(value), "[") {
		parts := strings.Split(value, ",")
		s := reflect.MakeSlice(v.Type(), 0, len(parts))
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				s = reflect.Append(s, reflect.ValueOf(p).Convert(v.Type().Elem()))
			}
		}
		v.Set(s)
		f.set[path] = value
		return nil
	}
	nv := reflect.New(v.Type())
	if err := decodeInto(nv.Interface(), value); err != nil {
		return fail("%v", err)
	}
	v.Set(nv.Elem())
	f.set[path] = value
	return nil
}

func decodeInto(ptr any, value string) error {
	if err := yaml.UnmarshalWithOptions([]byte(value), ptr, yaml.Strict()); err != nil {
		msg := yaml.FormatError(err, false, false)
		first, _, _ := strings.Cut(msg, "\n")
		if m := goccyPos.FindStringSubmatch(first); m != nil {
			first = m[3]
		}
		return fmt.Errorf("%s", first)
	}
	return nil
}

func yamlName(sf reflect.StructField) (name string, inline bool) {
	tag := sf.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	return name, strings.Contains(opts, "inline")
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		n, inline := yamlName(sf)
		if inline {
			if fv, ok := fieldByTag(v.Field(i), name); ok {
				return fv, true
			}
			continue
		}
		if n == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func tagNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		n, inline := yamlName(sf)
		if inline {
			out = append(out, tagNames(sf.Type)...)
		} else if n != "" && n != "-" {
			out = append(out, n)
		}
	}
	return out
}
