package demo

import (
	"testing"
	"time"
)

func spec() Spec {
	return Spec{Dataset: "churn", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 30, RowsPerDay: 2000, DriftFrom: 20, Seed: 7}
}

func TestGenerationIsDeterministic(t *testing.T) {
	s := spec()
	for _, at := range [][2]int{{0, 0}, {5, 1999}, {25, 17}} {
		a, b := s.Generate(at[0], at[1]), s.Generate(at[0], at[1])
		if a != b {
			t.Fatalf("row %v differs between two calls:\n%+v\n%+v", at, a, b)
		}
	}
	other := s
	other.Seed = 8
	if s.Generate(3, 3) == other.Generate(3, 3) {
		t.Fatal("a different seed should give different rows")
	}
}

func TestRowsStayInTheirDayAndHaveUniqueIDs(t *testing.T) {
	s := spec()
	ids := map[[16]byte]bool{}
	for day := range 3 {
		for i := range s.RowsPerDay {
			r := s.Generate(day, i)
			if !r.TS.Truncate(24 * time.Hour).Equal(r.Day) {
				t.Fatalf("row %d of day %d has ts %s outside its day %s", i, day, r.TS, r.Day)
			}
			if ids[r.ID] {
				t.Fatalf("duplicate id %s", r.ID)
			}
			ids[r.ID] = true
		}
	}
}

type dayStats struct{ charges, logins, churn, web float64 }

func stats(s Spec, day int) dayStats {
	var d dayStats
	n := float64(s.RowsPerDay)
	for i := range s.RowsPerDay {
		r := s.Generate(day, i)
		d.charges += r.MonthlyCharges / n
		d.logins += float64(r.Logins30d) / n
		if r.Churned {
			d.churn += 1 / n
		}
		if r.Device == "web" {
			d.web += 1 / n
		}
	}
	return d
}

func TestDriftShiftsFeaturesFromItsDayOn(t *testing.T) {
	s := spec()
	if s.Drifted(18) || !s.Drifted(19) {
		t.Fatal("--drift-from 20 should drift the 20th day (offset 19) and not the 19th")
	}
	before, after := stats(s, 10), stats(s, 25)
	if d := after.charges - before.charges; d < 15 {
		t.Errorf("monthly charges should rise by about 20 after the drift, rose %.1f", d)
	}
	if d := before.logins - after.logins; d < 5 {
		t.Errorf("logins should fall by about 7 after the drift, fell %.1f", d)
	}
	if after.web-before.web < 0.1 {
		t.Errorf("the web device share should grow after the drift: %.2f -> %.2f", before.web, after.web)
	}
	for name, d := range map[string]dayStats{"before": before, "after": after} {
		if d.churn < 0.1 || d.churn > 0.6 {
			t.Errorf("churn rate %s the drift is %.2f, want a realistic 0.1-0.6", name, d.churn)
		}
	}
}

func TestNoDriftMeansStableDays(t *testing.T) {
	s := spec()
	s.DriftFrom = 0
	a, b := stats(s, 2), stats(s, 28)
	if d := a.charges - b.charges; d > 3 || d < -3 {
		t.Errorf("without drift the mean charge should stay put: %.1f vs %.1f", a.charges, b.charges)
	}
}

func TestRuleRevertsFromItsDayOnAndFeaturesStayDrifted(t *testing.T) {
	drifted, reverted := spec(), spec()
	reverted.RuleRevertsFrom = 26
	if !reverted.RuleDrifted(24) || reverted.RuleDrifted(25) || reverted.RuleDrifted(10) || !reverted.Drifted(25) {
		t.Fatal("--rule-reverts-from 26 should keep the drifted rule on the 25th day (offset 24), revert it on the 26th, and keep its features drifted")
	}
	// androidGap is how much more often Android customers churn than the others.
	androidGap := func(s Spec, day int) float64 {
		var n, churned [2]float64
		for i := range s.RowsPerDay {
			r := s.Generate(day, i)
			k := 0
			if r.Device == "android" {
				k = 1
			}
			n[k]++
			if r.Churned {
				churned[k]++
			}
		}
		return churned[1]/n[1] - churned[0]/n[0]
	}
	for _, day := range []int{24, 25, 28} {
		for i := range drifted.RowsPerDay {
			a, b := drifted.Generate(day, i), reverted.Generate(day, i)
			b.Churned = a.Churned
			if a != b {
				t.Fatalf("day %d row %d: the revert changed more than the label: %+v vs %+v", day, i, a, b)
			}
		}
	}
	for i := range drifted.RowsPerDay {
		if drifted.Generate(24, i) != reverted.Generate(24, i) {
			t.Fatalf("day 24 row %d changed before the revert", i)
		}
	}
	// The drifted rule adds 1.3 to an Android customer's log-odds; the reverted one does not.
	if d, r := androidGap(drifted, 28), androidGap(reverted, 28); d < 0.15 || r > 0.05 {
		t.Errorf("Android customers should churn more than the others under the drifted rule (%+.2f) and not after the revert (%+.2f)", d, r)
	}
}
