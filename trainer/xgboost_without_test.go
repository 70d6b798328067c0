//go:build !xgboost

package trainer

import (
	"errors"
	"os"
	"slices"
	"testing"
)

// xgboostBuilt tells the shared tests whether Algorithms lists "xgboost".
const xgboostBuilt = false

const notBuiltMessage = "xgboost: this kingmaker was built without XGBoost support: install libxgboost-dev and build with -tags xgboost"

func TestXGBoostWithoutTheBuildTagSaysHowToGetIt(t *testing.T) {
	if slices.Contains(Algorithms(), "xgboost") {
		t.Errorf("Algorithms() = %v lists xgboost in a build without it", Algorithms())
	}
	tr, err := Lookup("xgboost")
	if tr != nil || err == nil || err.Error() != notBuiltMessage {
		t.Fatalf("Lookup(xgboost) = %v, %v; want the error %q", tr, err, notBuiltMessage)
	}
	if !errors.Is(err, ErrXGBoostNotBuilt) || !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("Lookup(xgboost) error matches ErrXGBoostNotBuilt %v and ErrUnknownAlgorithm %v; want both",
			errors.Is(err, ErrXGBoostNotBuilt), errors.Is(err, ErrUnknownAlgorithm))
	}
}

func TestDecodeOfAnXGBoostArtifactWithoutTheBuildTagSaysHowToReadIt(t *testing.T) {
	for _, name := range []string{"testdata/xgboost_binary.kmart", "testdata/xgboost_multiclass.kmart"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b)
		if m != nil || err == nil {
			t.Fatalf("Decode(%s) = %v, %v; want an error", name, m, err)
		}
		want := "artifact: header names an algorithm this build cannot read: " + notBuiltMessage
		if err.Error() != want {
			t.Errorf("Decode(%s) error = %q, want %q", name, err, want)
		}
		for _, target := range []error{ErrCorruptArtifact, ErrXGBoostNotBuilt, ErrUnknownAlgorithm} {
			if !errors.Is(err, target) {
				t.Errorf("Decode(%s) error does not match %v", name, target)
			}
		}
	}
}

func TestImportXGBoostWithoutTheBuildTagSaysHowToEnableIt(t *testing.T) {
	_, info, err := ImportXGBoost(byomSchema(), byomFile(t, "churn_good.json"))
	want := "model file of xgboost 1.7.6: " + notBuiltMessage
	if err == nil || err.Error() != want || !errors.Is(err, ErrXGBoostNotBuilt) || info == nil {
		t.Fatalf("got %v, want %q", err, want)
	}
}
