package dataset_test

import (
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
)

// decimal stands for the driver's *inf.Dec: a number it hands over as a
// fmt.Stringer.
type decimal string

func (d decimal) String() string { return string(d) }

var fuzzFeatures = []config.Feature{
	{Name: "a", Column: "a", Type: "numeric"},
	{Name: "b", Column: "b", Type: "numeric"},
	{Name: "plan", Column: "plan", Type: "categorical", Categories: []string{"basic", "standard", "premium"}},
}

// cell builds a driver value of the Go type kind selects from the fuzz
// inputs: every type a numeric, text or boolean column can scan into, and a
// few it cannot.
func cell(kind uint8, x float64, n int64, s string, b bool) any {
	switch kind % 12 {
	case 0:
		return nil
	case 1:
		return x
	case 2:
		return float32(x)
	case 3:
		return int(n)
	case 4:
		return n
	case 5:
		return int32(n)
	case 6:
		return int16(n)
	case 7:
		return int8(n)
	case 8:
		return b
	case 9:
		return big.NewInt(n) // varint
	case 10:
		return decimal(s) // decimal, any text
	default:
		return s // a text cell where a number is expected
	}
}

// FuzzConvertRow converts rows of any cell values: conversion never panics,
// a usable row has one finite number per feature (a known category's index,
// or -1), and an unusable one is refused with one line naming the feature.
// `go test` runs the seeds and testdata/fuzz/FuzzConvertRow.
func FuzzConvertRow(f *testing.F) {
	f.Add(uint8(1), uint8(4), uint8(0), 12.5, int64(3), "basic", true)
	f.Add(uint8(1), uint8(1), uint8(0), math.NaN(), int64(0), "standard", false)
	f.Add(uint8(2), uint8(1), uint8(0), math.Inf(-1), int64(0), "premium", false)
	f.Add(uint8(0), uint8(3), uint8(1), 1.0, int64(-7), "", false)
	f.Add(uint8(10), uint8(10), uint8(2), 0.0, int64(0), "NaN", true)
	f.Add(uint8(10), uint8(9), uint8(3), 0.0, int64(math.MaxInt64), "1e400", true)
	f.Add(uint8(11), uint8(8), uint8(0), 0.0, int64(0), "12", true)
	f.Add(uint8(2), uint8(7), uint8(0), 1e300, int64(-128), "unknown plan", false)
	f.Fuzz(func(t *testing.T, ka, kb, kc uint8, x float64, n int64, s string, b bool) {
		a, bb := cell(ka, x, n, s, b), cell(kb, -x, n/3, s, !b)
		var plan any = s
		switch kc % 4 {
		case 1:
			plan = nil
		case 2:
			plan = b
		case 3:
			plan = n
		}
		row, problem := dataset.ConvertRow(fuzzFeatures, []any{a, bb, plan})
		if problem != "" {
			if row != nil {
				t.Fatalf("refused (%s) but returned %v", problem, row)
			}
			if strings.ContainsAny(problem, "\r\n") || !strings.HasPrefix(problem, "feature a ") && !strings.HasPrefix(problem, "feature b ") {
				t.Fatalf("problem %q is not one line naming a numeric feature", problem)
			}
			return
		}
		if len(row) != len(fuzzFeatures) {
			t.Fatalf("%d values for %d features", len(row), len(fuzzFeatures))
		}
		for j, v := range row[:2] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("feature %s became %v and was accepted", fuzzFeatures[j].Name, v)
			}
		}
		if want := float64(slices.Index(fuzzFeatures[2].Categories, dataset.LabelString(plan))); row[2] != want {
			t.Fatalf("category %#v became %v, want %v", plan, row[2], want)
		}
		if f, ok := a.(float64); ok && row[0] != f {
			t.Fatalf("float64 %v became %v", f, row[0])
		}
		if i, ok := a.(int64); ok && row[0] != float64(i) {
			t.Fatalf("int64 %v became %v", i, row[0])
		}
	})
}

// FuzzClassIndex reads label cells of any type: the class is the one whose
// name is the cell's text, else -1, and the text of a cell is stable.
func FuzzClassIndex(f *testing.F) {
	f.Add(uint8(0), "true", int64(1), true)
	f.Add(uint8(1), "", int64(0), false)
	f.Add(uint8(2), "yes", int64(-1), true)
	f.Add(uint8(3), "0", int64(0), false)
	f.Fuzz(func(t *testing.T, kind uint8, s string, n int64, b bool) {
		var v any
		switch kind % 6 {
		case 0:
			v = s
		case 1:
			v = nil
		case 2:
			v = b
		case 3:
			v = n
		case 4:
			v = int(n)
		default:
			v = gocql.UUIDFromTime(time.Unix(n%(1<<40), 0))
		}
		classes := []string{"false", "true", s, "42"}
		text := dataset.LabelString(v)
		if again := dataset.LabelString(v); again != text {
			t.Fatalf("the text of %#v changed: %q then %q", v, text, again)
		}
		if got, want := dataset.ClassIndex(classes, v), slices.Index(classes, text); got != want {
			t.Fatalf("class of %#v (%q) in %q: %d, want %d", v, text, classes, got, want)
		}
	})
}
