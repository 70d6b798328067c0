package dataset

import (
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
)

func TestALabelIsReadAsItWasKnownAtTheAsOfTime(t *testing.T) {
	asOf := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	type label struct {
		value string
		at    time.Time
	}
	cases := []struct {
		name   string
		labels []label
		want   string // "" for no label
	}{
		{"a label known before the as-of time counts", []label{{"true", asOf.Add(-time.Hour)}}, "true"},
		{"a label known exactly at the as-of time counts", []label{{"true", asOf}}, "true"},
		{"a label known after the as-of time does not", []label{{"true", asOf.Add(time.Millisecond)}}, ""},
		{"a correction before the as-of time replaces the first label", []label{{"false", asOf.Add(-2 * time.Hour)}, {"true", asOf.Add(-time.Hour)}}, "true"},
		{"a correction read first still loses to nothing older", []label{{"true", asOf.Add(-time.Hour)}, {"false", asOf.Add(-2 * time.Hour)}}, "true"},
		{"a correction after the as-of time is not seen", []label{{"false", asOf.Add(-2 * time.Hour)}, {"true", asOf.Add(time.Hour)}}, "false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := knownLabels{}
			for _, l := range c.labels {
				k.add("row-1", l.value, l.at, asOf)
			}
			got, ok := k["row-1"]
			if !ok && c.want != "" || ok && got.label != c.want {
				t.Errorf("got %+v (found %v), want %q", got, ok, c.want)
			}
		})
	}
}

func TestLabelsAreReadAtTheWindowsEndPlusTheDelayUnlessTold(t *testing.T) {
	w := Window{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)}
	m := &config.Model{Label: config.Label{Delay: config.Duration(30 * 24 * time.Hour)}}
	s := &Source{Model: m}
	if got, want := s.LabelsAsOf(w), w.To.AddDate(0, 0, 30); !got.Equal(want) {
		t.Errorf("as of %s, want the window's end plus 30d, %s", got, want)
	}
	s.AsOf = w.To.AddDate(0, 1, 0)
	if got := s.LabelsAsOf(w); !got.Equal(s.AsOf) {
		t.Errorf("as of %s, want the source's own %s", got, s.AsOf)
	}
}

func TestCoverageIsLabelledOverAllRows(t *testing.T) {
	cases := []struct {
		name           string
		labelled, rows int64
		want           float64
	}{
		{"every row labelled", 10, 10, 1},
		{"one row in four labelled", 25, 100, 0.25},
		{"no rows at all is no coverage, not a division by zero", 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Coverage(c.labelled, c.rows); got != c.want {
				t.Errorf("got %g, want %g", got, c.want)
			}
		})
	}
}

func TestOnlyLabelledRowsCountTowardMinRows(t *testing.T) {
	m := &config.Model{Name: "m", Label: config.Label{Classes: []string{"false", "true"}}, Window: config.Window{MinRows: 100, MinClassRows: 10}}
	s := &Source{Model: m}
	w := Window{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	// 200 rows of which 90 are labelled: too few, though the rows are many.
	_, _, err := s.RequireTrainable(w, []DayCount{{Rows: 200, ByClass: []int64{60, 30}, Unlabelled: 110}})
	want := "holds 90 labelled rows of 200 (label coverage 45.0%), fewer than window.min_rows 100: wait for labels, lengthen label.delay, or widen window.length"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error saying %q", err, want)
	}
	if _, _, err := s.RequireTrainable(w, []DayCount{{Rows: 200, ByClass: []int64{70, 40}, Unlabelled: 90}}); err != nil {
		t.Errorf("110 labelled rows of 200 are enough for min_rows 100: %v", err)
	}
}
