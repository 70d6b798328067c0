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
	checkONNXParityAndRoundTrip(t, m, e)
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

// A LightGBM classifier converted by onnxmltools (testdata/byom/make_lightgbm_onnx.py: one float
// input [N, 16] of the XGBoost import's columns, zipmap off) predicts in Kingmaker as LightGBM's
// own predict_proba, and survives the artifact round trip.
func TestImportONNXLightGBMMatrixInputPredictsLikeLightGBM(t *testing.T) {
	m, info, err := ImportONNX(byomSchema(), byomFile(t, "churn_lightgbm.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Producer != "OnnxMLTools" || m.Algorithm() != "onnx" {
		t.Fatalf("info %+v, algorithm %s", info, m.Algorithm())
	}
	e := byomExpected(t, "churn_lightgbm_expect.csv")
	checkONNXParityAndRoundTrip(t, m, e)
	// A row of an unknown category (-1) is all zeros in that feature's one-hot columns.
	row := []float64{12, 50, 1, 10, 20, 0, 1, -1, 2}
	classes, positive, err := m.Predict([][]float64{row})
	if err != nil || len(classes) != 1 || positive[0] <= 0 || positive[0] >= 1 {
		t.Fatalf("Predict(unknown region) = %v, %v, %v", classes, positive, err)
	}
}

func TestONNXMatrixInputOfTheWrongWidthIsRefusedNamingTheCount(t *testing.T) {
	lgbm := byomFile(t, "churn_lightgbm.onnx")
	noDevice := byomSchema()
	noDevice.Features = noDevice.Features[:8]
	for _, tc := range []struct {
		name   string
		schema Schema
		raw    []byte
		want   string
	}{
		{"an input of 15 columns", byomSchema(), byomFile(t, "churn_lightgbm_narrow.onnx"), `input "input" has shape [-1 15], want [N, 16]: the model's 16 columns are tenure_months, `},
		{"a schema of 13 columns", noDevice, lgbm, `input "input" has shape [-1 16], want [N, 13]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ImportONNX(tc.schema, tc.raw)
			if !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// checkONNXParityAndRoundTrip checks m against e, then the model its artifact decodes to.
func checkONNXParityAndRoundTrip(t *testing.T, m Model, e *Expected) {
	t.Helper()
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
}
