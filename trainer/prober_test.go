package trainer

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"
)

// TestEveryClassifierGivesTheFullProbabilityVector checks PredictProba of every classification
// algorithm of this build, for two and for four classes (the four-class data has a class with
// no training rows, which must get probability 0): one probability per schema class, each in
// [0, 1], each row summing to 1 within 1e-12; Predict's class is a most probable class and, for
// every algorithm but knn, the lowest such class id (knn gives a tie to the class of the nearest
// neighbour among the tied); for two classes column 1 is Predict's score bit for bit; and a
// reloaded model gives the same probabilities bit for bit.
func TestEveryClassifierGivesTheFullProbabilityVector(t *testing.T) {
	small := map[string]Params{"forest": {"trees": 7}, "knn": {"k": 4}}
	for _, alg := range classifiers() {
		for _, classes := range []int{2, 4} {
			t.Run(alg+"/"+strconv.Itoa(classes)+" classes", func(t *testing.T) {
				train, holdout := synthetic(400, 41, min(classes, 3)), synthetic(150, 42, min(classes, 3))
				if classes > 2 {
					train, holdout = withUnseenClass(train), withUnseenClass(holdout)
				}
				m := mustTrain(t, alg, train, small[alg])
				pm, ok := m.(Prober)
				if !ok {
					t.Fatalf("a %s model is not a Prober", alg)
				}
				rows := append(slices.Clone(holdout.X), unknownCategoryRows(holdout)...)
				proba, err := pm.PredictProba(rows)
				if err != nil {
					t.Fatal(err)
				}
				got, positive, err := m.Predict(rows)
				if err != nil {
					t.Fatal(err)
				}
				if len(proba) != len(rows) {
					t.Fatalf("%d probability rows for %d rows", len(proba), len(rows))
				}
				for i, p := range proba {
					if len(p) != classes {
						t.Fatalf("row %d: %d probabilities, want %d", i, len(p), classes)
					}
					var sum float64
					for _, v := range p {
						if !(v >= 0 && v <= 1) {
							t.Fatalf("row %d: probability %v out of [0, 1]: %v", i, v, p)
						}
						sum += v
					}
					if math.Abs(sum-1) > 1e-12 {
						t.Errorf("row %d: probabilities sum to %.17g: %v", i, sum, p)
					}
					top := slices.Max(p)
					if p[got[i]] != top {
						t.Errorf("row %d: Predict's class %d has probability %v, the largest is %v", i, got[i], p[got[i]], top)
					} else if alg != "knn" && slices.Index(p, top) != got[i] {
						t.Errorf("row %d: Predict's class %d is not the lowest of the most probable: %v", i, got[i], p)
					}
					if classes > 2 && p[classes-1] != 0 {
						t.Errorf("row %d: class %d had no training rows but has probability %v", i, classes-1, p[classes-1])
					}
					if positive != nil && math.Float64bits(p[1]) != math.Float64bits(positive[i]) {
						t.Errorf("row %d: column 1 is %.17g, Predict's score %.17g", i, p[1], positive[i])
					}
				}
				b, err := m.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				r, err := Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				again, err := r.(Prober).PredictProba(rows)
				if err != nil {
					t.Fatal(err)
				}
				for i := range proba {
					if !equalBits(proba[i], again[i]) {
						t.Fatalf("row %d: reloaded model gives %v, original %v", i, again[i], proba[i])
					}
				}
			})
		}
	}
}

func TestPredictProbaChecksRowsLikePredict(t *testing.T) {
	for _, alg := range classifiers() {
		t.Run(alg, func(t *testing.T) {
			m := mustTrain(t, alg, synthetic(200, 43, 2), Params{})
			bad := slices.Clone(synthetic(3, 44, 2).X)
			bad[1] = slices.Clone(bad[1])
			bad[1][2] = math.NaN()
			_, _, perr := m.Predict(bad)
			_, err := m.(Prober).PredictProba(bad)
			if !errors.Is(err, ErrInvalidData) || perr == nil || err.Error() != perr.Error() {
				t.Errorf("PredictProba of a NaN row = %v, want Predict's error %v", err, perr)
			}
			if p, err := m.(Prober).PredictProba(nil); err != nil || len(p) != 0 {
				t.Errorf("PredictProba(nil) = %v, %v; want no rows", p, err)
			}
		})
	}
}

// withUnseenClass returns d with one more class in its schema, which no row has.
func withUnseenClass(d *Data) *Data {
	s := d.Schema.clone()
	s.Classes = append(s.Classes, "unseen")
	return &Data{Schema: s, X: d.X, Y: d.Y}
}
