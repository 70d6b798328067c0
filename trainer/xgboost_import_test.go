//go:build xgboost

package trainer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Which producers libxgboost 1.7 (Debian's) reads: Python xgboost 1.7 and 2.1 files load and
// predict like their producer (1e-6, bit for bit in practice); 3.x files would load and mispredict,
// so they are refused by version.
func TestImportXGBoostProducerVersions(t *testing.T) {
	for _, tc := range []struct{ file, expect, refused string }{
		{"churn_good.json", "churn_good_expect.csv", ""},
		{"churn_good.ubj", "churn_good_expect.csv", ""},
		{"churn_good_xgb21.json", "churn_good_xgb21_expect.csv", ""},
		{"churn_good_xgb21.ubj", "churn_good_xgb21_expect.csv", ""},
		{"churn_good_xgb32.json", "", "the file was written by xgboost 3.2.0"},
		{"churn_good_xgb32.ubj", "", "the file was written by xgboost 3.2.0"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, info, err := ImportXGBoost(byomSchema(), byomFile(t, tc.file))
			if tc.refused != "" && majorOf(XGBoostVersion()) < 3 {
				if !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("libxgboost %s: got %v, want a refusal with %q", XGBoostVersion(), err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Algorithm() != "xgboost" || info.Rounds != int(m.Params()["n_estimators"]) {
				t.Fatalf("algorithm %s, n_estimators %v; want xgboost, %d", m.Algorithm(), m.Params()["n_estimators"], info.Rounds)
			}
			if err := CheckParity(m, byomExpected(t, tc.expect), 1e-6); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAnImportedModelIsAnOrdinaryXGBoostArtifact(t *testing.T) {
	raw := byomFile(t, "churn_good.ubj")
	m, _, err := ImportXGBoost(byomSchema(), raw)
	if err != nil {
		t.Fatal(err)
	}
	art, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(art, raw) {
		t.Fatal("the artifact does not hold the producer's file as it was")
	}
	back, err := Decode(art)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckParity(back, byomExpected(t, "churn_good_expect.csv"), 1e-6); err != nil {
		t.Fatalf("decoded artifact: %v", err)
	}
}

func TestParityNamesTheFirstRowThatDiffers(t *testing.T) {
	m, _, err := ImportXGBoost(byomSchema(), byomFile(t, "churn_good.json"))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckParity(m, byomExpected(t, "churn_good_expect_wrong.csv"), XGBoostParityTolerance)
	if !errors.Is(err, ErrParity) || !strings.Contains(err.Error(), "row 8 (line 9) differs") {
		t.Fatalf("got %v, want row 8 named", err)
	}
	if err := CheckParity(m, byomExpected(t, "churn_bad_expect.csv"), XGBoostParityTolerance); err == nil {
		t.Fatal("another model's predictions matched")
	}
}
