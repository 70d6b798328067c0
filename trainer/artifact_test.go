package trainer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var writeFuzzCorpus = flag.Bool("write-fuzz-corpus", false, "rewrite testdata/fuzz/FuzzDecode from freshly trained models")

// smallArtifacts trains one small model per algorithm (on 60 rows, with few trees and stored rows)
// and returns their artifacts, keyed by algorithm.
func smallArtifacts(t testing.TB) map[string][]byte {
	t.Helper()
	d := synthetic(60, 10, 2)
	small := map[string]Params{
		"forest": {"trees": 3},
		"knn":    {"max_rows": 12, "k": 3},
		"id3":    {"bins": 4},
	}
	out := make(map[string][]byte)
	// One artifact per algorithm and task: a classifier's under its name, a regression model's under
	// its name too when the algorithm only does regression, else under name-regression.
	for _, alg := range Algorithms() {
		for _, task := range []Task{Binary, Regression} {
			if Supports(alg, task) != nil {
				continue
			}
			d, name := d, alg
			if task == Regression {
				d = syntheticRegression(60, 10)
				if Supports(alg, Binary) == nil {
					name += "-regression"
				}
			}
			b, err := mustTrain(t, alg, d, small[alg]).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out[name] = b
		}
	}
	return out
}

// frame builds an artifact from raw parts, for tests that tamper with one of them.
func frame(version uint16, hdr []byte, payload []byte) []byte {
	out := []byte(Magic)
	out = binary.BigEndian.AppendUint16(out, version)
	out = binary.BigEndian.AppendUint32(out, uint32(len(hdr)))
	out = append(out, hdr...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
	return append(out, payload...)
}

// split returns the header JSON and the payload of a well-formed artifact.
func split(b []byte) (hdr, payload []byte) {
	hlen := binary.BigEndian.Uint32(b[7:])
	hdr = b[11 : 11+hlen]
	return hdr, b[11+hlen+8:]
}

func TestArtifactStartsWithMagicVersionAndAJSONHeader(t *testing.T) {
	b := smallArtifacts(t)["logistic"]
	if string(b[:5]) != "KMART" || binary.BigEndian.Uint16(b[5:]) != 1 {
		t.Fatalf("artifact starts with %q", b[:7])
	}
	hdr, payload := split(b)
	var h map[string]any
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	for _, key := range []string{"algorithm", "params", "schema", "created_with"} {
		if _, ok := h[key]; !ok {
			t.Errorf("header %s lacks %q", hdr, key)
		}
	}
	if h["algorithm"] != "logistic" || h["created_with"] != "kingmaker" {
		t.Errorf("header %s", hdr)
	}
	if len(payload) == 0 {
		t.Errorf("empty payload")
	}
}

func TestDecodeRejectsBadArtifactsWithAClearError(t *testing.T) {
	good := smallArtifacts(t)["forest"]
	hdr, payload := split(good)
	withHeader := func(edit func(h map[string]any)) []byte {
		var h map[string]any
		if err := json.Unmarshal(hdr, &h); err != nil {
			t.Fatal(err)
		}
		edit(h)
		raw, _ := json.Marshal(h)
		return frame(1, raw, payload)
	}
	for _, tc := range []struct {
		name  string
		input []byte
		want  string
		is    error
	}{
		{"empty input", nil, `artifact: not a Kingmaker artifact (missing "KMART" magic)`, nil},
		{"garbage", []byte("definitely not a model"), "not a Kingmaker artifact", nil},
		{"a gzip file", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, "not a Kingmaker artifact", nil},
		{"magic only", []byte("KMART"), "artifact: truncated format version (want 2 bytes, have 0)", nil},
		{"a future format version", frame(2, hdr, payload), "artifact: unsupported format version 2 (this build reads version 1)", nil},
		{"a truncated header", good[:40], fmt.Sprintf("artifact: truncated header (want %d bytes, have 29)", len(hdr)), nil},
		{"a truncated payload length", good[:11+len(hdr)+3], "artifact: truncated payload length (want 8 bytes, have 3)", nil},
		{"a truncated payload", good[:len(good)-100], fmt.Sprintf("artifact: truncated payload (want %d bytes, have %d)", len(payload), len(payload)-100), nil},
		{"bytes after the payload", append(slices.Clone(good), 0), "artifact: 1 unexpected bytes after the payload", nil},
		{"a header that is not JSON", frame(1, []byte("{nope"), payload), "artifact: header is not valid JSON", nil},
		{"a header with an unknown field", withHeader(func(h map[string]any) { h["extra"] = 1 }), `unknown field "extra"`, nil},
		{"a header from another tool", withHeader(func(h map[string]any) { h["created_with"] = "mlflow" }), `header created_with is "mlflow", want "kingmaker"`, nil},
		{"an unknown algorithm", withHeader(func(h map[string]any) { h["algorithm"] = "svm" }), `unknown algorithm "svm" (known: ` + strings.Join(Algorithms(), ", ") + ")", ErrUnknownAlgorithm},
		{"another algorithm's payload", withHeader(func(h map[string]any) {
			h["algorithm"] = "knn"
			h["params"] = map[string]float64{"k": 1, "max_rows": 5, "seed": 1}
		}), "artifact: knn payload:", nil},
		{"invalid params", withHeader(func(h map[string]any) { h["params"].(map[string]any)["trees"] = 4 }), "header params: forest: trees: must be odd", nil},
		{"a missing param", withHeader(func(h map[string]any) { delete(h["params"].(map[string]any), "bins") }), "header params: bins: missing", nil},
		{"a schema without classes", withHeader(func(h map[string]any) { h["schema"].(map[string]any)["classes"] = []string{} }), "header schema: invalid data: schema has 0 classes", nil},
		{"a task the algorithm does not support", withHeader(func(h map[string]any) {
			s := h["schema"].(map[string]any)
			s["classes"], s["task"] = []string{}, "regression"
		}), "artifact: header schema: algorithm forest does not support task regression; use one of: " + strings.Join(AlgorithmsFor(Regression), ", "), nil},
		{"a schema of another width", withHeader(func(h map[string]any) {
			s := h["schema"].(map[string]any)
			s["features"] = s["features"].([]any)[:4]
		}), "artifact: forest payload was not written for the schema in the header", nil},
		{"a payload with a byte too few", frame(1, hdr, payload[:len(payload)-1]), "artifact: forest payload: payload ends early", nil},
		{"a payload with a byte too many", frame(1, hdr, append(slices.Clone(payload), 7)), "artifact: forest payload: 1 unexpected bytes after the model", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.input)
			if err == nil {
				t.Fatalf("Decode succeeded with a %s model", m.Algorithm())
			}
			if !errors.Is(err, ErrCorruptArtifact) {
				t.Errorf("error %v does not match ErrCorruptArtifact", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeRejectsEveryTruncation(t *testing.T) {
	for alg, b := range smallArtifacts(t) {
		for n := range len(b) {
			if _, err := Decode(b[:n]); err == nil {
				t.Fatalf("%s: Decode of the first %d of %d bytes succeeded", alg, n, len(b))
			}
		}
	}
}

// FuzzDecode feeds Decode real artifacts, their truncations and mutations: it must never panic,
// and whatever it accepts must predict and encode again.
func FuzzDecode(f *testing.F) {
	for _, b := range smallArtifacts(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptArtifact) {
				t.Fatalf("Decode error %v does not match ErrCorruptArtifact", err)
			}
			return
		}
		s := m.Schema()
		rows := [][]float64{make([]float64, len(s.Features)), make([]float64, len(s.Features))}
		for j, f := range s.Features {
			if f.Kind == Categorical {
				rows[1][j] = -1
			} else {
				rows[1][j] = 1e300
			}
		}
		if s.Task == Regression {
			if _, err := m.(Regressor).PredictValues(rows); err != nil {
				t.Fatalf("decoded %s model cannot predict: %v", m.Algorithm(), err)
			}
		} else if _, _, err := m.Predict(rows); err != nil {
			t.Fatalf("decoded %s model cannot predict: %v", m.Algorithm(), err)
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %s model cannot encode: %v", m.Algorithm(), err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded %s model does not decode: %v", m.Algorithm(), err)
		}
	})
}

// TestWriteFuzzCorpus checks that the checked-in seed corpus is what the trainers produce today
// (training is deterministic), and rewrites it when run with -write-fuzz-corpus: one artifact
// per algorithm, a cut in its header and one in its payload.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if *writeFuzzCorpus {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, b []byte) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		path := filepath.Join(dir, name)
		if !*writeFuzzCorpus {
			have, err := os.ReadFile(path)
			if err != nil || string(have) != body {
				t.Errorf("%s is not what the trainers produce today: rerun with -write-fuzz-corpus (%v)", path, err)
			}
			return
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for alg, b := range smallArtifacts(t) {
		hdr, _ := split(b)
		write(alg, b)
		write(alg+"-cut-header", b[:11+len(hdr)/2])
		write(alg+"-cut-payload", b[:len(b)-len(b)/4])
	}
}
