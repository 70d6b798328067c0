//go:build onnx

package trainer

import (
	"errors"
	"strings"
	"testing"
)

// A scikit-learn pipeline converted by skl2onnx (testdata/byom/make_onnx.py) predicts in Kingmaker
// as in Python's onnxruntime, and survives the artifact round trip.
func TestImportONNXPipelinePredictsLikeOnnxruntime(t *testing.T) {
	m, info, err := ImportONNX(byomSchema(), byomFile(t, "churn_pipeline.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != FormatONNX || info.Producer != "skl2onnx" || info.ProducerVersion == "" || m.Algorithm() != "onnx" {
		t.Fatalf("info %+v, algorithm %s", info, m.Algorithm())
	}
	e := byomExpected(t, "churn_pipeline_expect.csv")
	if err := CheckParity(m, e, ONNXParityTolerance); err != nil {
		t.Fatal(err)
	}
	art, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(art)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckParity(back, e, ONNXParityTolerance); err != nil {
		t.Fatalf("decoded: %v", err)
	}
	if tr, err := Lookup("onnx"); tr != nil || !errors.Is(err, ErrUnknownAlgorithm) || !strings.Contains(err.Error(), "registered from a file") {
		t.Fatalf("Lookup(onnx) = %v, %v; want a refusal: onnx models are registered, not trained", tr, err)
	}
}

func TestONNXModelsThatDoNotFitAreRefusedNamingTheInput(t *testing.T) {
	raw := byomFile(t, "churn_pipeline.onnx")
	renamed := byomSchema()
	renamed.Features[2].Name = "calls"
	four := byomSchema()
	four.Classes = []string{"a", "b", "c", "d"}
	categorical := byomSchema()
	categorical.Features[0] = Feature{Name: "tenure_months", Kind: Categorical, Categories: []string{"new", "old"}}
	for _, tc := range []struct {
		name   string
		schema Schema
		raw    []byte
		want   string
	}{
		{"a feature the model has no input for", renamed, raw, `the model has no input "calls"`},
		{"another number of classes", four, raw, `output "probabilities" has shape [-1 2], the model needs [N, 4]`},
		{"a numeric input for a categorical feature", categorical, raw, `input "tenure_months" is`},
		{"a truncated file", byomSchema(), raw[:len(raw)-200], "not a complete ONNX model"},
		{"an XGBoost file", byomSchema(), byomFile(t, "churn_good.json"), "an XGBoost model? use --format xgboost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ImportONNX(tc.schema, tc.raw)
			if !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}
