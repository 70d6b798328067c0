//go:build !onnx

package trainer

import (
	"errors"
	"testing"
)

func TestImportONNXWithoutTheBuildTagSaysHowToEnableIt(t *testing.T) {
	_, info, err := ImportONNX(byomSchema(), byomFile(t, "churn_pipeline.onnx"))
	want := "ONNX model of skl2onnx 1.20.0: onnx: this kingmaker was built without ONNX Runtime support: run scripts/onnxruntime.sh install and build with -tags onnx"
	if err == nil || err.Error() != want || !errors.Is(err, ErrONNXNotBuilt) || !errors.Is(err, ErrUnknownAlgorithm) || info == nil {
		t.Fatalf("got %v, want %q", err, want)
	}
}
