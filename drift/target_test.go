package drift

import (
	"math/rand/v2"
	"testing"
)

func TestANumericLabelIsProfiledAndReportedLikeANumericFeature(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	b, err := NewProfileBuilder([]string{"x"}, nil, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		if err := b.AddRow([]float64{r.NormFloat64()}, nil); err != nil {
			t.Fatal(err)
		}
		b.AddTarget(10 + r.NormFloat64())
	}
	ref := b.Build()
	if ref.Target == nil || ref.Label != nil || ref.Target.Count != 2000 {
		t.Fatalf("profile target %+v, label %+v: want a numeric label of 2000 values and no class label", ref.Target, ref.Label)
	}
	for _, tc := range []struct {
		name    string
		shift   float64
		drifted bool
	}{{"an unchanged label does not drift", 0, false}, {"a label whose mean moves by one sd drifts", 1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewTally(ref)
			if err != nil {
				t.Fatal(err)
			}
			if !w.HasTarget() {
				t.Fatal("the tally of a profile with a numeric label has none")
			}
			for range 1000 {
				if err := w.AddRow([]float64{r.NormFloat64()}, nil); err != nil {
					t.Fatal(err)
				}
				if err := w.AddTarget(10 + tc.shift + r.NormFloat64()); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := w.Report(ReportOptions{MinRows: 100})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Label == nil || rep.Label.Kind != KindNumeric || rep.Label.Role != RoleLabel || rep.Label.KS == nil {
				t.Fatalf("label report %+v, want a numeric label with a KS test", rep.Label)
			}
			if rep.Label.Drifted != tc.drifted {
				t.Errorf("label drifted %v (PSI %v, adjusted p %v), want %v", rep.Label.Drifted, rep.Label.PSI, rep.Label.AdjustedPValue, tc.drifted)
			}
		})
	}
	t.Run("a class label cannot be added to a numeric label's tally", func(t *testing.T) {
		w, _ := NewTally(ref)
		if err := w.AddLabel("a"); err == nil {
			t.Error("AddLabel on a profile without classes succeeded")
		}
	})
}
