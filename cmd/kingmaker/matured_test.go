package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

func TestADriftReportShowsLiveQualityOnMaturedLabelsWithItsCoverage(t *testing.T) {
	day := time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)
	m, err := evaluator.Score(2, []int{0, 1, 1, 0}, []int{0, 1, 0, 0}, []float64{0.2, 0.9, 0.4, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	doc := &activities.DriftDocument{Basis: "features_and_quality", Matured: []activities.MaturedQuality{{
		Version: "v1", Role: activities.RoleChampion, Window: dataset.Window{From: day, To: day.AddDate(0, 0, 1)}, AsOf: day.AddDate(0, 0, 4),
		Predictions: 5, Labelled: 4, Coverage: 0.8, Metrics: &m,
	}}}
	v := &driftView{Report: &registry.DriftReport{Model: "churn"}, Doc: doc}
	var human bytes.Buffer
	printDrift(&human, v)
	for _, want := range []string{
		"live quality on matured labels, champion v1: rows of 2026-03-06T00:00:00Z .. 2026-03-07T00:00:00Z, labels as of 2026-03-10 00:00:00",
		"5 predictions, 4 labelled (coverage 80.0%), accuracy 0.7500, roc_auc 1.0000",
	} {
		if !strings.Contains(human.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, human.String())
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"matured":[{"version":"v1","role":"champion"`) || !strings.Contains(string(b), `"coverage":0.8`) {
		t.Errorf("-o json lacks the matured quality: %s", b)
	}
}

func TestARetrainResultShowsItsLabelCoverage(t *testing.T) {
	asOf := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	printResult(&out, &workflows.RetrainResult{Outcome: "keep", Labels: &activities.LabelCoverage{Source: "table", AsOf: asOf, Rows: 8000, Labelled: 7000, Unlabelled: 1000, Coverage: 0.875, Skipped: 12}})
	if want := "labels:  7000 of 8000 rows labelled (coverage 87.5%) as of 2026-06-01 00:00:00, 1000 unlabelled, 12 skipped\n"; !strings.Contains(out.String(), want) {
		t.Errorf("the result lacks %q:\n%s", want, out.String())
	}
}
