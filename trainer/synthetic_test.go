package trainer

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// synthetic returns n rows of a deterministic churn-like dataset: three numeric features (one
// skewed), two categorical ones, and a label drawn from a nonlinear rule (a quadratic term and an
// interaction) with noise. seed picks the stream: different seeds give disjoint-looking samples
// of the same distribution, so training and holdout sets come from two seeds. With classes = 3
// the label has a third class for the multiclass tests.
func synthetic(n int, seed uint64, classes int) *Data {
	s := Schema{
		Features: []Feature{
			{Name: "age", Kind: Numeric},
			{Name: "balance", Kind: Numeric},
			{Name: "score", Kind: Numeric},
			{Name: "plan", Kind: Categorical, Categories: []string{"basic", "plus", "pro"}},
			{Name: "region", Kind: Categorical, Categories: []string{"north", "south", "east", "west"}},
		},
		Classes: []string{"stay", "churn", "upgrade"}[:classes],
	}
	r := rand.New(rand.NewPCG(seed, 42))
	d := &Data{Schema: s, X: make([][]float64, n), Y: make([]int, n)}
	planEffect := []float64{1, 0, -1}
	for i := range n {
		age := 18 + 62*r.Float64()
		balance := 1000 * math.Exp(r.NormFloat64())
		score := r.NormFloat64()
		plan := r.IntN(3)
		region := r.IntN(4)
		z := 1.5*score - (age-50)*(age-50)/300 + planEffect[plan] + 0.3*math.Log(balance/1000)
		if region == 1 && score > 0 {
			z += 1.5
		}
		z += 0.8
		d.X[i] = []float64{age, balance, score, float64(plan), float64(region)}
		if r.Float64() < sigmoid(2*z) {
			d.Y[i] = 1
		}
		if classes == 3 && d.Y[i] == 0 && plan == 2 && age < 45 {
			d.Y[i] = 2
		}
	}
	return d
}

// classifiers returns the algorithms that train binary models, sorted: the algorithms the
// classification tests run.
func classifiers() []string {
	var out []string
	for _, alg := range Algorithms() {
		if Supports(alg, Binary) == nil {
			out = append(out, alg)
		}
	}
	return out
}

// syntheticRegression returns n rows of the features of synthetic with a numeric target: a linear
// part, a nonlinear one (what a ridge model cannot fit) and noise.
func syntheticRegression(n int, seed uint64) *Data {
	c := synthetic(n, seed, 2)
	d := &Data{Schema: Schema{Features: c.Schema.Features, Task: Regression}, X: c.X, Target: make([]float64, n)}
	r := rand.New(rand.NewPCG(seed, 43))
	planEffect := []float64{5, 0, -8}
	for i, row := range d.X {
		age, balance, score, plan := row[0], row[1], row[2], int(row[3])
		d.Target[i] = 100 + 0.8*age + 4*math.Log(balance/1000) - 6*score*score + planEffect[plan] + 3*r.NormFloat64()
	}
	return d
}

// fastParams keeps every algorithm quick on the test data.
var fastParams = map[string]Params{
	"forest": {"trees": 15},
}

func mustTrain(t testing.TB, algorithm string, d *Data, p Params) Model {
	t.Helper()
	tr, err := Lookup(algorithm)
	if err != nil {
		t.Fatal(err)
	}
	if p == nil {
		p = fastParams[algorithm]
	}
	m, err := tr.Train(context.Background(), d, p)
	if err != nil {
		t.Fatalf("train %s: %v", algorithm, err)
	}
	return m
}

func accuracy(t testing.TB, m Model, d *Data) float64 {
	t.Helper()
	classes, _, err := m.Predict(d.X)
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	right := 0
	for i, c := range classes {
		if c == d.Y[i] {
			right++
		}
	}
	return float64(right) / float64(len(classes))
}

func baseRate(d *Data) float64 {
	counts := make([]int, len(d.Schema.Classes))
	for _, y := range d.Y {
		counts[y]++
	}
	return float64(counts[majority(counts)]) / float64(len(d.Y))
}
