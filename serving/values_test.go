package serving

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// flattenReference reads a JSON array the slow, sure way: decoded with
// encoding/json, nested arrays read through, objects standing for one value.
func flattenReference(raw []byte) ([]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	top, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var out []any
	var walk func([]any)
	walk = func(a []any) {
		for _, e := range a {
			switch t := e.(type) {
			case []any:
				walk(t)
			case map[string]any:
				out = append(out, objectValue{})
			default:
				out = append(out, t)
			}
		}
	}
	walk(top)
	return out, true
}

func FuzzEachValueReadsWhatEncodingJSONReads(f *testing.F) {
	for _, seed := range []string{
		`[1, 2.5, -3e-2, 1E+400]`, `["basic", "ba\"sic", "\u0062asic", "é", ""]`, `[[1], [2], [[3]]]`,
		`[true, false, null, {"a": [1, "]"]}, "x"]`, ` [ ] `, `[[]]`, `[{"}": "{"}, 7]`, `["\\", "\\\""]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, ok := flattenReference(raw)
		if !ok || !json.Valid(raw) {
			return // eachValue only ever reads valid arrays
		}
		var got []any
		n, err := eachValue(raw, len(want)+5, func(_ int, v any) bool { got = append(got, v); return true })
		if err != nil || n != len(want) || !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("eachValue(%s) = %d values %#v, %v; encoding/json reads %#v", raw, n, got, err, want)
		}
		if len(want) > 0 {
			if n, _ := eachValue(raw, len(want)-1, func(int, any) bool { return true }); n != len(want) {
				t.Fatalf("eachValue(%s) with want %d counted %d, want %d (one past want)", raw, len(want)-1, n, len(want))
			}
		}
	})
}
