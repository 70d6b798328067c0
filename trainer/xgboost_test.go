//go:build xgboost

package trainer

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// xgboostBuilt tells the shared tests whether Algorithms lists "xgboost".
const xgboostBuilt = true

var writeXGBoostTestdata = flag.Bool("write-xgboost-testdata", false,
	"rewrite testdata/xgboost_golden.json, the golden xgboost artifacts and testdata/xgboost_dataset.json.gz")

func TestXGBoostIsListedWithTheLinkedLibraryVersion(t *testing.T) {
	t.Logf("libxgboost %s", XGBoostVersion())
	if !slices.Contains(Algorithms(), "xgboost") {
		t.Fatalf("Algorithms() = %v lacks xgboost in a build with the xgboost tag", Algorithms())
	}
	if _, err := Lookup("xgboost"); err != nil {
		t.Fatalf("Lookup(xgboost) = %v", err)
	}
}

func TestXGBoostValidateRejectsBadParamsNamingTheParam(t *testing.T) {
	for _, tc := range []struct {
		params  Params
		param   string
		problem string
	}{
		{Params{"n_estimators": 0}, "n_estimators", "must be between 1 and 10000, got 0"},
		{Params{"n_estimators": 2.5}, "n_estimators", "must be a whole number, got 2.5"},
		{Params{"max_depth": 0}, "max_depth", "must be between 1 and 32, got 0"},
		{Params{"learning_rate": 0}, "learning_rate", "must be between 0.0001 and 1, got 0"},
		{Params{"learning_rate": math.NaN()}, "learning_rate", "must be a finite number"},
		{Params{"subsample": 1.5}, "subsample", "must be between 0.01 and 1, got 1.5"},
		{Params{"colsample_bytree": 0}, "colsample_bytree", "must be between 0.01 and 1, got 0"},
		{Params{"min_child_weight": -1}, "min_child_weight", "must be at least 0, got -1"},
		{Params{"reg_lambda": math.Inf(1)}, "reg_lambda", "must be a finite number, got +Inf"},
		{Params{"max_bin": 1}, "max_bin", "must be between 2 and 65536, got 1"},
		{Params{"nthread": -1}, "nthread", "must be between 0 and 1024, got -1"},
		{Params{"seed": -1}, "seed", "must be at least 0, got -1"},
		{Params{"eta": 0.3}, "eta", "unknown parameter (known: n_estimators, max_depth, learning_rate, subsample, colsample_bytree, min_child_weight, reg_lambda, max_bin, nthread, seed)"},
		{Params{"tree_method": 1}, "tree_method", "unknown parameter"},
	} {
		t.Run(tc.param+" "+fmt.Sprint(tc.params[tc.param]), func(t *testing.T) {
			tr, _ := Lookup("xgboost")
			err := tr.Validate(tc.params)
			var pe *ParamError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Validate(%v) = %v, want a *ParamError", tc.params, err)
			}
			if pe.Param != tc.param || !strings.Contains(pe.Problem, tc.problem) {
				t.Errorf("Validate(%v) = %q, want param %q with problem %q", tc.params, err, tc.param, tc.problem)
			}
			if !strings.HasPrefix(err.Error(), "xgboost: "+tc.param+": ") {
				t.Errorf("error %q does not start with xgboost: %s:", err, tc.param)
			}
			if _, err := tr.Train(context.Background(), train2, tc.params); !errors.Is(err, ErrInvalidParams) {
				t.Errorf("Train with %v = %v, want ErrInvalidParams", tc.params, err)
			}
		})
	}
}

func TestXGBoostDefaultsAreDocumented(t *testing.T) {
	want := Params{"n_estimators": 100, "max_depth": 6, "learning_rate": 0.1, "subsample": 1, "colsample_bytree": 1,
		"min_child_weight": 1, "reg_lambda": 1, "max_bin": 256, "nthread": 0, "seed": 1}
	tr, _ := Lookup("xgboost")
	if got := tr.Defaults(); !equalParams(got, want) {
		t.Errorf("Defaults() = %v, want %v", got, want)
	}
}

// xgboostTrees returns the trees of a model as XGBoost's JSON model format describes them.
func xgboostTrees(t *testing.T, m Model) (learner map[string]any, trees []map[string]any) {
	t.Helper()
	raw, err := saveBooster(m.(*xgboostModel).booster.h, "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Learner struct {
			ModelParam map[string]any `json:"learner_model_param"`
			Booster    struct {
				Model struct {
					Trees []map[string]any `json:"trees"`
				} `json:"model"`
			} `json:"gradient_booster"`
		} `json:"learner"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("XGBoost JSON model: %v", err)
	}
	return doc.Learner.ModelParam, doc.Learner.Booster.Model.Trees
}

func TestXGBoostParamsShapeTheTrees(t *testing.T) {
	m := mustTrain(t, "xgboost", train2, Params{"n_estimators": 7, "max_depth": 1})
	param, trees := xgboostTrees(t, m)
	if len(trees) != 7 {
		t.Errorf("n_estimators=7 gave %d trees", len(trees))
	}
	for i, tree := range trees {
		if n := tree["tree_param"].(map[string]any)["num_nodes"]; n != "3" {
			t.Errorf("tree %d of max_depth=1 has %v nodes, want 3 (a stump)", i, n)
		}
	}
	// 3 numeric columns + 3 plan categories + 4 region categories.
	if param["num_feature"] != "10" {
		t.Errorf("booster has %v feature columns, want 10 (numeric features and one per category)", param["num_feature"])
	}
	m3 := mustTrain(t, "xgboost", train3, Params{"n_estimators": 2})
	param, trees = xgboostTrees(t, m3)
	if param["num_class"] != "3" || len(trees) != 6 {
		t.Errorf("three classes: num_class %v and %d trees, want 3 and 6 (one tree per class and round)", param["num_class"], len(trees))
	}
}

func TestXGBoostStartsFromTheClassOneShare(t *testing.T) {
	// One round at the smallest learning rate leaves every score at the starting point, which
	// must be the share of class 1 in the training rows (not XGBoost 1.7's default of 0.5).
	m := mustTrain(t, "xgboost", train2, Params{"n_estimators": 1, "learning_rate": 1e-4})
	share := 0.0
	for _, y := range train2.Y {
		share += float64(y)
	}
	share /= float64(len(train2.Y))
	_, positive, err := m.Predict(holdout2.X)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range positive {
		if math.Abs(p-share) > 1e-3 {
			t.Fatalf("row %d: score %v, want about the class-1 share %v", i, p, share)
		}
	}
}

func TestXGBoostSubsamplingFollowsTheSeed(t *testing.T) {
	artifact := func(p Params) []byte {
		b, err := mustTrain(t, "xgboost", train2, p).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p := Params{"n_estimators": 10, "subsample": 0.5, "colsample_bytree": 0.5, "seed": 1}
	if !bytes.Equal(artifact(p), artifact(p)) {
		t.Errorf("two trainings with %v gave different artifacts", p)
	}
	q := copyParams(p)
	q["seed"] = 2
	if bytes.Equal(xgboostRaw(t, artifact(p)), xgboostRaw(t, artifact(q))) {
		t.Errorf("seeds 1 and 2 gave the same trees with subsample=0.5")
	}
}

// TestXGBoostTreesDoNotDependOnTheThreadCount holds XGBoost's hist to the same trees whatever
// nthread is, so an artifact retrained on a machine with other cores is the same model.
func TestXGBoostTreesDoNotDependOnTheThreadCount(t *testing.T) {
	d := wide(5000, 3)
	var models [][]byte
	for _, n := range []float64{1, 2, 4} {
		b, err := mustTrain(t, "xgboost", d, Params{"nthread": n, "n_estimators": 20}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, xgboostRaw(t, b))
	}
	if !bytes.Equal(models[0], models[1]) || !bytes.Equal(models[0], models[2]) {
		t.Errorf("nthread 1, 2 and 4 gave different trees")
	}
}

// xgboostRaw returns the XGBoost model bytes of an xgboost artifact.
func xgboostRaw(t *testing.T, artifact []byte) []byte {
	t.Helper()
	m, err := Decode(artifact)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*xgboostModel).raw
}

func TestXGBoostPredictsFeaturesBeyondFloat32(t *testing.T) {
	m := mustTrain(t, "xgboost", train2, nil)
	rows := [][]float64{slices.Clone(holdout2.X[0]), slices.Clone(holdout2.X[0]), slices.Clone(holdout2.X[0])}
	rows[0][1], rows[1][1], rows[2][1] = 1e300, -1e300, math.MaxFloat32
	classes, _, err := m.Predict(rows)
	if err != nil {
		t.Fatalf("Predict with values beyond float32: %v", err)
	}
	if classes[0] != classes[2] {
		t.Errorf("1e300 predicts class %d, math.MaxFloat32 class %d; want the same (clamped)", classes[0], classes[2])
	}
	d := synthetic(200, 5, 2)
	d.X[0][1] = 1e300
	if _, _, err := mustTrain(t, "xgboost", d, nil).Predict(d.X); err != nil {
		t.Errorf("a model trained on a value beyond float32 cannot predict its rows: %v", err)
	}
}

func TestXGBoostPredictsInChunks(t *testing.T) {
	d := wide(xgboostPredictChunk+1000, 5)
	m := mustTrain(t, "xgboost", wide(2000, 6), Params{"n_estimators": 20})
	classes, positive, err := m.Predict(d.X)
	if err != nil {
		t.Fatal(err)
	}
	tail := d.X[len(d.X)-1500:]
	c2, p2, err := m.Predict(tail)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(classes[len(classes)-1500:], c2) || !equalBits(positive[len(positive)-1500:], p2) {
		t.Errorf("rows past the first chunk predict differently from the same rows alone")
	}
}

func TestXGBoostTrainingStopsSoonAfterCancellationMidway(t *testing.T) {
	d := wide(20_000, 13)
	ctx, cancel := context.WithCancel(context.Background())
	tr, _ := Lookup("xgboost")
	done := make(chan error, 1)
	go func() {
		_, err := tr.Train(ctx, d, Params{"n_estimators": 10_000}) // minutes if not stopped
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		t.Logf("stopped %v after cancellation", time.Since(cancelled).Round(time.Millisecond))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Train = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Train still running 5s after cancellation")
	}
}

// xgboostPayload returns the parts of an xgboost artifact: header, trained classes (encoded),
// and model bytes.
func xgboostPayload(t *testing.T, artifact []byte) (hdr, classes, raw []byte) {
	t.Helper()
	hdr, payload := split(artifact)
	var h header
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	d := &decoder{b: payload[len(schemaShape(h.Schema)):]}
	n := d.uint()
	for range n {
		d.uint()
	}
	classes = payload[len(schemaShape(h.Schema)) : len(payload)-len(d.b)]
	d.b = d.b[sha256.Size:]
	raw = takeBytes(d, d.uint(), "model")
	if err := d.done(); err != nil {
		t.Fatal(err)
	}
	return hdr, classes, raw
}

// xgboostArtifact frames model bytes with a header, the given classes and the bytes' hash.
func xgboostArtifact(hdr, classes, raw []byte) []byte {
	var h header
	_ = json.Unmarshal(hdr, &h)
	sum := sha256.Sum256(raw)
	e := encoder{b: slices.Concat(schemaShape(h.Schema), classes, sum[:])}
	e.uint(len(raw))
	return frame(FormatVersion, hdr, append(e.b, raw...))
}

func TestXGBoostDecodeRejectsTamperedModelsBeforeXGBoostReadsThem(t *testing.T) {
	good, err := mustTrain(t, "xgboost", synthetic(200, 8, 2), Params{"n_estimators": 3}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hdr, classes, raw := xgboostPayload(t, good)
	if _, err := Decode(xgboostArtifact(hdr, classes, raw)); err != nil {
		t.Fatalf("reframing the untouched parts: %v", err)
	}
	numericOnly := synthetic(200, 8, 2)
	numericOnly.Schema.Features = numericOnly.Schema.Features[:3]
	for i := range numericOnly.X {
		numericOnly.X[i] = numericOnly.X[i][:3]
	}
	other, _ := mustTrain(t, "xgboost", numericOnly, Params{"n_estimators": 3}).MarshalBinary()
	_, _, otherRaw := xgboostPayload(t, other)
	more, _ := mustTrain(t, "xgboost", synthetic(200, 8, 2), Params{"n_estimators": 4}).MarshalBinary()
	_, _, moreRaw := xgboostPayload(t, more)
	multi, _ := mustTrain(t, "xgboost", synthetic(300, 8, 3), Params{"n_estimators": 3}).MarshalBinary()
	_, _, multiRaw := xgboostPayload(t, multi)

	flipped := slices.Clone(good)
	flipped[len(flipped)-len(raw)/2] ^= 0x40
	for _, tc := range []struct {
		name  string
		input []byte
		want  string
	}{
		{"a flipped bit in the model bytes", flipped, "artifact: xgboost payload: model bytes do not match their SHA-256"},
		{"model bytes that are not XGBoost's", xgboostArtifact(hdr, classes, []byte("binf\x00\x00\x00\x00")), "model bytes are not XGBoost JSON or UBJ"},
		{"a model XGBoost cannot parse", xgboostArtifact(hdr, classes, []byte("{\"learner\": 1")), "xgboost: XGBoosterLoadModelFromBuffer:"},
		{"a model of another width", xgboostArtifact(hdr, classes, otherRaw), "booster has 3 feature columns, the schema encodes to 10"},
		{"a model with more rounds than n_estimators", xgboostArtifact(hdr, classes, moreRaw), "booster has 4 rounds, n_estimators is 3"},
		{"a multiclass model under a binary header", xgboostArtifact(hdr, classes, multiRaw), "prediction has shape [1 3], want [1 1]"},
		{"a trained class outside the schema", xgboostArtifact(hdr, []byte{2, 0, 5}, raw), "trained class 5 out of range (at most 1)"},
		{"one trained class", xgboostArtifact(hdr, []byte{1, 0}, raw), "1 trained classes (want 2 to 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.input)
			if !errors.Is(err, ErrCorruptArtifact) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode = %v, want ErrCorruptArtifact containing %q", err, tc.want)
			}
		})
	}
}

// xgboostGolden is testdata/xgboost_golden.json: rows and what the golden artifacts predict.
type xgboostGolden struct {
	XGBoostVersion string `json:"xgboost_version"`
	Models         []struct {
		Artifact string      `json:"artifact"`
		Rows     [][]float64 `json:"rows"`
		Classes  []int       `json:"classes"`
		Positive []float64   `json:"positive"`
	} `json:"models"`
}

var xgboostGoldenModels = []struct {
	artifact string
	data     func() *Data
}{
	{"xgboost_binary.kmart", func() *Data { return synthetic(300, 31, 2) }},
	{"xgboost_multiclass.kmart", func() *Data { return synthetic(300, 32, 3) }},
}

// TestXGBoostGoldenArtifactsStillPredictTheSame decodes artifacts written by an earlier build
// (with the libxgboost version in the golden file) and holds them to what they predicted then:
// a libxgboost upgrade or a change here that alters stored models' predictions shows up here.
func TestXGBoostGoldenArtifactsStillPredictTheSame(t *testing.T) {
	raw, err := os.ReadFile("testdata/xgboost_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g xgboostGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Models) != len(xgboostGoldenModels) {
		t.Fatalf("golden file has %d models, want %d", len(g.Models), len(xgboostGoldenModels))
	}
	for _, gm := range g.Models {
		t.Run(gm.Artifact, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", gm.Artifact))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode of an artifact written with libxgboost %s: %v", g.XGBoostVersion, err)
			}
			classes, positive, err := m.Predict(gm.Rows)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(classes, gm.Classes) || !equalBits(positive, gm.Positive) {
				t.Errorf("predictions differ from those of libxgboost %s (now %s)", g.XGBoostVersion, XGBoostVersion())
			}
			again, _ := m.MarshalBinary()
			if !bytes.Equal(again, b) {
				t.Errorf("re-encoding gives other bytes")
			}
		})
	}
}

// TestWriteXGBoostTestdata checks that training the golden models today gives the checked-in
// artifacts byte for byte (XGBoost training is deterministic here), and rewrites them, the golden
// predictions and testdata/xgboost_dataset.json.gz (the input of testdata/xgboost_reference.py)
// when run with -write-xgboost-testdata.
func TestWriteXGBoostTestdata(t *testing.T) {
	g := xgboostGolden{XGBoostVersion: XGBoostVersion()}
	for _, gm := range xgboostGoldenModels {
		d := gm.data()
		m := mustTrain(t, "xgboost", d, Params{"n_estimators": 5, "max_depth": 3})
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !*writeXGBoostTestdata {
			have, err := os.ReadFile(filepath.Join("testdata", gm.artifact))
			if err != nil || !bytes.Equal(have, b) {
				t.Errorf("testdata/%s is not what training gives today: rerun with -write-xgboost-testdata (%v)", gm.artifact, err)
			}
			continue
		}
		if err := os.WriteFile(filepath.Join("testdata", gm.artifact), b, 0o644); err != nil {
			t.Fatal(err)
		}
		rows := append(slices.Clone(d.X[:30]), unknownCategoryRows(d)[:5]...)
		classes, positive, err := m.Predict(rows)
		if err != nil {
			t.Fatal(err)
		}
		g.Models = append(g.Models, struct {
			Artifact string      `json:"artifact"`
			Rows     [][]float64 `json:"rows"`
			Classes  []int       `json:"classes"`
			Positive []float64   `json:"positive"`
		}{gm.artifact, rows, classes, positive})
	}
	if !*writeXGBoostTestdata {
		return
	}
	writeJSON(t, "testdata/xgboost_golden.json", g)

	ds := xgboostDataset{}
	for _, c := range xgboostReferenceCases {
		train, holdout := c.data()
		ds.Cases = append(ds.Cases, xgboostDatasetCase{
			Name: c.name, Schema: train.Schema,
			TrainX: float32Rows(train.X), TrainY: train.Y, HoldoutX: float32Rows(holdout.X), HoldoutY: holdout.Y,
		})
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if err := json.NewEncoder(zw).Encode(ds); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/xgboost_dataset.json.gz", gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// float32Rows rounds every value to float32, the precision XGBoost trains on, so the reference
// dataset is short and both sides read the very same values.
func float32Rows(x [][]float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, row := range x {
		out[i] = make([]float64, len(row))
		for j, v := range row {
			out[i][j] = float64(float32(v))
		}
	}
	return out
}

// xgboostDataset is testdata/xgboost_dataset.json.gz: the package's synthetic sets as
// testdata/xgboost_reference.py reads them.
type xgboostDataset struct {
	Cases []xgboostDatasetCase `json:"cases"`
}

type xgboostDatasetCase struct {
	Name     string      `json:"name"`
	Schema   Schema      `json:"schema"`
	TrainX   [][]float64 `json:"train_x"`
	TrainY   []int       `json:"train_y"`
	HoldoutX [][]float64 `json:"holdout_x"`
	HoldoutY []int       `json:"holdout_y"`
}

var xgboostReferenceCases = []struct {
	name string
	data func() (train, holdout *Data)
}{
	{"two classes", func() (*Data, *Data) { return train2, holdout2 }},
	{"three classes", func() (*Data, *Data) { return train3, holdout3 }},
	{"ten features", func() (*Data, *Data) { return wide(2000, 41), wide(1000, 42) }},
}

// xgboostReference is testdata/xgboost_reference.json, written by testdata/xgboost_reference.py.
type xgboostReference struct {
	XGBoostVersion string `json:"xgboost_version"`
	SklearnVersion string `json:"sklearn_version"`
	Cases          []struct {
		Name        string      `json:"name"`
		Params      Params      `json:"params"`
		Proba       [][]float64 `json:"proba"`
		Accuracy    float64     `json:"accuracy"`
		HGBAccuracy float64     `json:"hgb_accuracy"`
	} `json:"cases"`
}

// TestXGBoostMatchesPythonXGBoost trains on the rows Python's xgboost (the same version as
// Debian's libxgboost) trained on, with the same parameters, and holds the holdout probabilities
// to Python's. Both run the same library code on the same float32 matrix, so they agree to float32
// rounding (measured: bit for bit); 1e-6 leaves room for another build's compiler. It also logs
// scikit-learn's HistGradientBoostingClassifier's holdout accuracy on the same split.
func TestXGBoostMatchesPythonXGBoost(t *testing.T) {
	var ds xgboostDataset
	f, err := os.Open("testdata/xgboost_dataset.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(&ds); err != nil {
		t.Fatalf("testdata/xgboost_dataset.json.gz: %v", err)
	}
	var ref xgboostReference
	raw, err := os.ReadFile("testdata/xgboost_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("testdata/xgboost_reference.json: %v", err)
	}
	if len(ref.Cases) != len(ds.Cases) || len(ds.Cases) == 0 {
		t.Fatalf("%d reference cases for %d datasets", len(ref.Cases), len(ds.Cases))
	}
	for i, c := range ds.Cases {
		rc := ref.Cases[i]
		t.Run(c.Name, func(t *testing.T) {
			train := &Data{Schema: c.Schema, X: c.TrainX, Y: c.TrainY}
			holdout := &Data{Schema: c.Schema, X: c.HoldoutX, Y: c.HoldoutY}
			m := mustTrain(t, "xgboost", train, rc.Params)
			proba := m.(*xgboostModel).boosterOutputs(t, holdout.X)
			worst, mismatched := 0.0, 0
			for r := range proba {
				for k := range proba[r] {
					worst = math.Max(worst, math.Abs(proba[r][k]-rc.Proba[r][k]))
					if proba[r][k] != rc.Proba[r][k] {
						mismatched++
					}
				}
			}
			// PredictProba: the same probabilities per schema class (binary: 1 - P(class 1) for
			// class 0), renormalised for more than two classes.
			full, err := m.(Prober).PredictProba(holdout.X)
			if err != nil {
				t.Fatal(err)
			}
			present, worstFull := m.(*xgboostModel).present, 0.0
			for r, p := range full {
				want := rc.Proba[r]
				if len(present) == 2 {
					want = []float64{1 - want[0], want[0]}
				}
				for k, c := range present {
					worstFull = math.Max(worstFull, math.Abs(p[c]-want[k]))
				}
			}
			if worstFull > 1e-6 {
				t.Errorf("PredictProba differs from Python xgboost %s by up to %.3g", ref.XGBoostVersion, worstFull)
			}
			acc := accuracy(t, m, holdout)
			t.Logf("%s: largest probability difference %.3g (%d values not bit-identical; PredictProba %.3g); holdout accuracy %.4f (Python xgboost %s %.4f, scikit-learn %s HistGradientBoosting %.4f)",
				c.Name, worst, mismatched, worstFull, acc, ref.XGBoostVersion, rc.Accuracy, ref.SklearnVersion, rc.HGBAccuracy)
			if worst > 1e-6 {
				t.Errorf("probabilities differ from Python xgboost %s by up to %.3g", ref.XGBoostVersion, worst)
			}
			if math.Abs(acc-rc.Accuracy) > 0.002 {
				t.Errorf("holdout accuracy %.4f, Python xgboost %.4f", acc, rc.Accuracy)
			}
		})
	}
}

// boosterOutputs returns what the booster predicts for each row, as float64: [P(class 1)] for a
// binary model, one probability per trained class otherwise, the value for regression.
func (m *xgboostModel) boosterOutputs(t *testing.T, x [][]float64) [][]float64 {
	t.Helper()
	p := make([][]float64, len(x))
	err := m.outputs(x, func(k int, out []float32) {
		for _, v := range out {
			p[k] = append(p[k], float64(v))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestXGBoostPredictsConcurrentlyAndFreesDroppedModels(t *testing.T) {
	m := mustTrain(t, "xgboost", train2, nil)
	wantC, wantP, err := m.Predict(holdout2.X)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for range 20 {
				c, p, err := m.Predict(holdout2.X)
				if err == nil && (!slices.Equal(c, wantC) || !equalBits(p, wantP)) {
					err = fmt.Errorf("goroutine %d: concurrent Predict gave other results", g)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	// Meanwhile, models come and go: their boosters are freed by the GC on other threads.
	for range 20 {
		if _, err := Decode(mustMarshal(t, mustTrain(t, "xgboost", synthetic(200, 3, 2), Params{"n_estimators": 5}))); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func mustMarshal(t *testing.T, m Model) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
