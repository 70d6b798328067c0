package trainer

import (
	"context"
	"math/rand/v2"
	"testing"
)

// wide returns synthetic(n) with five more features (three numeric, two categorical) that carry
// no signal: 10 features in all.
func wide(n int, seed uint64) *Data {
	d := synthetic(n, seed, 2)
	d.Schema.Features = append(d.Schema.Features,
		Feature{Name: "noise1", Kind: Numeric},
		Feature{Name: "noise2", Kind: Numeric},
		Feature{Name: "noise3", Kind: Numeric},
		Feature{Name: "channel", Kind: Categorical, Categories: []string{"web", "app", "store", "phone", "mail"}},
		Feature{Name: "segment", Kind: Categorical, Categories: []string{"a", "b"}},
	)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range d.X {
		d.X[i] = append(d.X[i], r.NormFloat64(), 100*r.Float64(), r.ExpFloat64(), float64(r.IntN(5)), float64(r.IntN(2)))
	}
	return d
}

// BenchmarkTrainAndPredict trains each algorithm with its defaults on 10,000 rows of 10 features
// and predicts those rows.
func BenchmarkTrainAndPredict(b *testing.B) {
	d := wide(10_000, 21)
	for _, alg := range classifiers() {
		b.Run(alg, func(b *testing.B) {
			tr, _ := Lookup(alg)
			for b.Loop() {
				m, err := tr.Train(context.Background(), d, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := m.Predict(d.X); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPredict measures prediction alone (10,000 rows), the cost a scoring run pays.
func BenchmarkPredict(b *testing.B) {
	d := wide(10_000, 21)
	for _, alg := range classifiers() {
		b.Run(alg, func(b *testing.B) {
			m := mustTrain(b, alg, d, Params{})
			for b.Loop() {
				if _, _, err := m.Predict(d.X); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
