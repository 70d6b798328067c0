package drift

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateVerdicts = flag.Bool("update", false, "rewrite the golden verdicts in testdata/verdict")

// checkReport is a report of a window of rows rows, sufficient from 1000,
// whose features have the given PSI and are drifted where psi >= 0.25: a
// fixed stand-in for the report's own rule, since Judge reads only the
// features' Drifted and the report's Sufficient.
func checkReport(rows int64, psi ...float64) Report {
	rep := Report{Rows: rows, Sufficient: rows >= 1000, Reasons: []string{}}
	for i, p := range psi {
		f := FeatureReport{Name: string(rune('a' + i)), Role: RoleFeature, PSI: p, Drifted: rep.Sufficient && p >= 0.25}
		if f.Drifted {
			rep.Drifted = true
			rep.Reasons = append(rep.Reasons, "feature "+f.Name+" drifted")
		}
		rep.Features = append(rep.Features, f)
	}
	return rep
}

// labels is the champion's live quality on n labelled rows: roc_auc at
// holdout and live.
func labels(n int, holdout, live float64) LiveQuality {
	return LiveQuality{Metric: "roc_auc", HigherIsBetter: true, LabelledRows: n, Holdout: &holdout, Live: &live}
}

func TestJudgeMatchesGoldenVerdicts(t *testing.T) {
	opts := VerdictOptions{MaxDriftedFeatures: 0, MinLabelledRows: 1000, MaxQualityDrop: 0.05}
	tolerant := opts
	tolerant.MaxDriftedFeatures = 1
	driftedLabel := checkReport(5000, 0.01, 0.02)
	driftedLabel.Drifted, driftedLabel.Label = true, &FeatureReport{Name: "churned", Role: RoleLabel, PSI: 0.4, Drifted: true}
	driftedLabel.Reasons = []string{"label churned drifted"}
	logLoss := func(n int, holdout, live float64) LiveQuality {
		return LiveQuality{Metric: "log_loss", LabelledRows: n, Holdout: &holdout, Live: &live}
	}
	undefined := labels(2000, 0.84, 0)
	undefined.Live = nil
	cases := []struct {
		name                  string
		rep                   Report
		quality               LiveQuality
		opts                  VerdictOptions
		features, qualityDrop bool
	}{
		{"a window with no drifted feature and no labels is stable", checkReport(5000, 0.01, 0.03), LiveQuality{Metric: "roc_auc"}, opts, false, false},
		{"one drifted feature drifts the model when none may", checkReport(5000, 0.4, 0.03), LiveQuality{}, opts, true, false},
		{"one drifted feature is tolerated when drift.max_drifted_features allows one", checkReport(5000, 0.4, 0.03), LiveQuality{}, tolerant, false, false},
		{"more drifted features than allowed drift the model", checkReport(5000, 0.4, 0.3, 0.01), LiveQuality{}, tolerant, true, false},
		{"a window too small to judge never drifts", checkReport(400, 0.9, 0.8), LiveQuality{}, opts, false, false},
		{"a drifted label alone is not a drifted feature", driftedLabel, LiveQuality{}, opts, false, false},
		{"too few labelled rows leave the verdict to feature drift", checkReport(5000, 0.01), labels(999, 0.84, 0.60), opts, false, false},
		{"live quality within the allowed drop keeps the model stable", checkReport(5000, 0.01), labels(1000, 0.84, 0.80), opts, false, false},
		{"live quality that dropped more than allowed drifts the model on its own", checkReport(5000, 0.01), labels(1500, 0.84, 0.78), opts, false, true},
		{"live quality better than at evaluation is a negative drop", checkReport(5000, 0.01), labels(1500, 0.84, 0.90), opts, false, false},
		{"a loss that rises is a drop", checkReport(5000, 0.01), logLoss(1500, 0.30, 0.40), opts, false, true},
		{"a loss that falls is no drop", checkReport(5000, 0.01), logLoss(1500, 0.40, 0.30), opts, false, false},
		{"an undefined live metric leaves the verdict to feature drift", checkReport(5000, 0.4), undefined, opts, true, false},
		{"a drop equal to drift.quality_drop up to rounding is within it", checkReport(5000, 0.01), labels(1500, 0.90, 0.85), opts, false, false},
		{"a loss that rose by drift.quality_drop up to rounding is within it", checkReport(5000, 0.01), logLoss(1500, 0.35, 0.40), opts, false, false},
		{"drifted features and dropped quality are both said", checkReport(5000, 0.5), labels(1500, 0.84, 0.70), opts, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.rep, tc.quality, tc.opts)
			if v.FeaturesDrifted != tc.features || v.QualityDropped != tc.qualityDrop || v.Drifted() != (tc.features || tc.qualityDrop) {
				t.Errorf("features drifted %v, quality dropped %v, drifted %v; want %v, %v\nreasons:\n  %s",
					v.FeaturesDrifted, v.QualityDropped, v.Drifted(), tc.features, tc.qualityDrop, strings.Join(v.Reasons, "\n  "))
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			if err := enc.Encode(v); err != nil {
				t.Fatalf("encode verdict: %v", err)
			}
			path := filepath.Join("testdata", "verdict", strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(tc.name), "-"), "-")+".json")
			if *updateVerdicts {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden verdict (run go test ./drift -run Golden -update): %v", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("verdict differs from %s (rerun with -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
			}
		})
	}
}

func TestQualityDropIsPositiveWhenLiveIsWorse(t *testing.T) {
	cases := []struct {
		name           string
		holdout, live  float64
		higherIsBetter bool
		want           float64
	}{
		{"a score that fell by 0.25 dropped by 0.25", 0.75, 0.5, true, 0.25},
		{"a score that rose by 0.25 dropped by -0.25", 0.5, 0.75, true, -0.25},
		{"a loss that rose by 0.25 dropped by 0.25", 0.5, 0.75, false, 0.25},
		{"a loss that fell by 0.25 dropped by -0.25", 0.75, 0.5, false, -0.25},
		{"an unchanged value dropped by 0", 0.5, 0.5, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := QualityDrop(tc.holdout, tc.live, tc.higherIsBetter); got != tc.want {
				t.Errorf("QualityDrop(%g, %g, %v) = %g, want %g", tc.holdout, tc.live, tc.higherIsBetter, got, tc.want)
			}
		})
	}
}

func TestAQualityDropAtTheAllowedDropUpToRoundingIsNoAlarm(t *testing.T) {
	cases := []struct {
		name          string
		holdout, live float64
		allowed       float64
		want          bool
	}{
		{"0.90 - 0.85 rounds 6 steps above 0.05 and is within it", 0.90, 0.85, 0.05, false},
		{"0.84 - 0.79 rounds 10 steps below 0.05 and is within it", 0.84, 0.79, 0.05, false},
		{"a drop one step above the allowed drop is within it", math.Nextafter(0.05, 1), 0, 0.05, false},
		{"a drop exactly the allowed drop is within it", 0.05, 0, 0.05, false},
		{"a drop 1e-9 above the allowed drop is over it", 0.5, 0.45 - 1e-9, 0.05, true},
		{"a rounding step of drop is within an allowed drop of 0", 0.3, 0.3 - 1e-16, 0, false},
		{"a drop of 1e-11 is over an allowed drop of 0", 0.3, 0.3 - 1e-11, 0, true},
		{"one labelled row in a million is over the allowed drop", 0.80, 0.75 - 1e-6, 0.05, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(checkReport(5000, 0.01), labels(1500, tc.holdout, tc.live), VerdictOptions{MinLabelledRows: 1000, MaxQualityDrop: tc.allowed})
			if v.QualityDropped != tc.want {
				t.Errorf("drop %.17g against drift.quality_drop %g: quality dropped %v, want %v", *v.Drop, tc.allowed, v.QualityDropped, tc.want)
			}
		})
	}
}
