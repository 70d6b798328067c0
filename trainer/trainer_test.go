package trainer

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	train2   = synthetic(1500, 1, 2)
	holdout2 = synthetic(500, 2, 2)
	train3   = synthetic(1500, 3, 3)
	holdout3 = synthetic(500, 4, 3)
)

func TestAlgorithmsListsEveryAlgorithmSorted(t *testing.T) {
	want := []string{"forest", "id3", "knn", "linear", "logistic", "naive_bayes"}
	if xgboostBuilt {
		want = append(want, "xgboost")
	}
	if got := Algorithms(); !slices.Equal(got, want) {
		t.Fatalf("Algorithms() = %v, want %v", got, want)
	}
	for _, name := range want {
		tr, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if tr.Algorithm() != name {
			t.Errorf("Lookup(%q).Algorithm() = %q", name, tr.Algorithm())
		}
	}
}

func TestLookupOfAnUnknownAlgorithmListsTheKnownOnes(t *testing.T) {
	_, err := Lookup("svm")
	if !errors.Is(err, ErrUnknownAlgorithm) {
		t.Fatalf("Lookup(svm) error = %v, want ErrUnknownAlgorithm", err)
	}
	if want := `unknown algorithm "svm" (known: ` + strings.Join(Algorithms(), ", ") + ")"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestEveryAlgorithmBeatsTheBaseRateOnAHoldout(t *testing.T) {
	for _, tc := range []struct {
		name           string
		train, holdout *Data
		margin         float64 // accuracy must exceed the holdout's base rate by this much
	}{
		{"two classes", train2, holdout2, 0.15},
		{"three classes", train3, holdout3, 0.15},
	} {
		for _, alg := range classifiers() {
			t.Run(tc.name+"/"+alg, func(t *testing.T) {
				m := mustTrain(t, alg, tc.train, nil)
				acc, base := accuracy(t, m, tc.holdout), baseRate(tc.holdout)
				t.Logf("%s on %s: holdout accuracy %.3f, base rate %.3f", alg, tc.name, acc, base)
				if acc < base+tc.margin {
					t.Errorf("holdout accuracy %.3f does not beat the base rate %.3f by %.2f", acc, base, tc.margin)
				}
			})
		}
	}
}

func TestScoresArePositiveClassProbabilitiesForBinaryModelsOnly(t *testing.T) {
	for _, alg := range classifiers() {
		t.Run(alg, func(t *testing.T) {
			m := mustTrain(t, alg, train2, nil)
			classes, positive, err := m.Predict(holdout2.X)
			if err != nil {
				t.Fatal(err)
			}
			if len(positive) != len(classes) {
				t.Fatalf("binary model gave %d scores for %d rows", len(positive), len(classes))
			}
			for i, p := range positive {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("row %d: score %v outside [0, 1]", i, p)
				}
			}
			// The scores must rank: churners score higher on average than stayers.
			var sum [2]float64
			var n [2]int
			for i, p := range positive {
				sum[holdout2.Y[i]] += p
				n[holdout2.Y[i]]++
			}
			if sum[1]/float64(n[1]) <= sum[0]/float64(n[0]) {
				t.Errorf("mean score of class 1 (%.3f) is not above that of class 0 (%.3f)", sum[1]/float64(n[1]), sum[0]/float64(n[0]))
			}

			m3 := mustTrain(t, alg, train3, nil)
			if _, positive, err := m3.Predict(holdout3.X[:5]); err != nil || positive != nil {
				t.Errorf("three-class model: scores %v, err %v; want nil scores", positive, err)
			}
		})
	}
}

func TestAReloadedModelPredictsExactlyLikeTheOriginal(t *testing.T) {
	for _, tc := range []struct {
		name           string
		train, holdout *Data
	}{
		{"two classes", train2, holdout2},
		{"three classes", train3, holdout3},
	} {
		for _, alg := range classifiers() {
			t.Run(tc.name+"/"+alg, func(t *testing.T) {
				m := mustTrain(t, alg, tc.train, nil)
				b, err := m.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				r, err := Decode(b)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if r.Algorithm() != alg {
					t.Errorf("reloaded algorithm %q, want %q", r.Algorithm(), alg)
				}
				if !equalParams(r.Params(), m.Params()) {
					t.Errorf("reloaded params %v, want %v", r.Params(), m.Params())
				}
				if !equalSchema(r.Schema(), m.Schema()) {
					t.Errorf("reloaded schema %+v, want %+v", r.Schema(), m.Schema())
				}
				rows := append(slices.Clone(tc.holdout.X), unknownCategoryRows(tc.holdout)...)
				c1, p1, err1 := m.Predict(rows)
				c2, p2, err2 := r.Predict(rows)
				if err1 != nil || err2 != nil {
					t.Fatalf("predict: %v / %v", err1, err2)
				}
				if !slices.Equal(c1, c2) {
					t.Errorf("reloaded model predicts other classes")
				}
				if !equalBits(p1, p2) {
					t.Errorf("reloaded model gives other scores")
				}
				// Encoding is deterministic: the reloaded model encodes to the same bytes.
				b2, err := r.MarshalBinary()
				if err != nil || !slices.Equal(b, b2) {
					t.Errorf("re-encoding the reloaded model gives other bytes (err %v)", err)
				}
			})
		}
	}
}

func equalBits(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func equalParams(a, b Params) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func equalSchema(a, b Schema) bool {
	return slices.Equal(a.Classes, b.Classes) && slices.EqualFunc(a.Features, b.Features, func(f, g Feature) bool {
		return f.Name == g.Name && f.Kind == g.Kind && slices.Equal(f.Categories, g.Categories)
	})
}

// unknownCategoryRows copies the first rows of d with every categorical value set to -1.
func unknownCategoryRows(d *Data) [][]float64 {
	var out [][]float64
	for _, row := range d.X[:20] {
		row = slices.Clone(row)
		for j, f := range d.Schema.Features {
			if f.Kind == Categorical {
				row[j] = -1
			}
		}
		out = append(out, row)
	}
	return out
}

func TestPredictHandlesAnUnknownCategory(t *testing.T) {
	rows := unknownCategoryRows(holdout2)
	for _, alg := range classifiers() {
		t.Run(alg, func(t *testing.T) {
			m := mustTrain(t, alg, train2, nil)
			classes, positive, err := m.Predict(rows)
			if err != nil {
				t.Fatalf("predict with unknown categories: %v", err)
			}
			for i, c := range classes {
				if c < 0 || c > 1 || !(positive[i] >= 0 && positive[i] <= 1) {
					t.Fatalf("row %d: class %d, score %v", i, c, positive[i])
				}
			}
			again, _, _ := m.Predict(rows)
			if !slices.Equal(classes, again) {
				t.Errorf("two predictions of the same rows differ")
			}
		})
	}
}

func TestTrainingWithAnUnknownCategoryWorks(t *testing.T) {
	d := &Data{Schema: train2.Schema, X: make([][]float64, len(train2.X)), Y: train2.Y}
	for i, row := range train2.X {
		d.X[i] = slices.Clone(row)
		if i%7 == 0 {
			d.X[i][3] = -1
		}
	}
	for _, alg := range classifiers() {
		t.Run(alg, func(t *testing.T) {
			m := mustTrain(t, alg, d, nil)
			// Every seventh row's category unknown changes little: the model
			// still learns, as on the clean data.
			acc, base := accuracy(t, m, holdout2), baseRate(holdout2)
			if acc < base+0.15 {
				t.Errorf("trained with unknown categories: holdout accuracy %.3f does not beat the base rate %.3f by 0.15", acc, base)
			}
			classes, _, err := m.Predict(d.X[:70:70])
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range classes {
				if c < 0 || c > 1 {
					t.Fatalf("training row %d: class %d", i, c)
				}
			}
		})
	}
}

func TestValidateRejectsBadParamsNamingTheParam(t *testing.T) {
	for _, tc := range []struct {
		algorithm string
		params    Params
		param     string
		problem   string
	}{
		{"logistic", Params{"l2": 0}, "l2", "must be greater than 0, got 0"},
		{"logistic", Params{"l2": math.NaN()}, "l2", "must be a finite number"},
		{"logistic", Params{"max_iter": 2.5}, "max_iter", "must be a whole number, got 2.5"},
		{"logistic", Params{"tol": 2}, "tol", "must be between 1e-15 and 1, got 2"},
		{"logistic", Params{"C": 1}, "C", "unknown parameter (known: l2, max_iter, tol)"},
		{"id3", Params{"bins": 1}, "bins", "must be between 2 and 255, got 1"},
		{"id3", Params{"prune": 2}, "prune", "must be 0 or 1, got 2"},
		{"id3", Params{"min_split": 1}, "min_split", "must be at least 2, got 1"},
		{"forest", Params{"trees": 10}, "trees", "must be odd (an even count lets binary votes tie), got 10"},
		{"forest", Params{"trees": 0}, "trees", "must be between 1 and 1001, got 0"},
		{"forest", Params{"features": -1}, "features", "must be at least 0, got -1"},
		{"forest", Params{"max_rows": math.Inf(1)}, "max_rows", "must be a finite number, got +Inf"},
		{"naive_bayes", Params{"threshold": 1}, "threshold", "unknown parameter (naive_bayes takes no parameters)"},
		{"knn", Params{"k": 0}, "k", "must be between 1 and 1000, got 0"},
		{"knn", Params{"max_rows": 0.5}, "max_rows", "must be a whole number, got 0.5"},
	} {
		t.Run(tc.algorithm+" "+tc.param, func(t *testing.T) {
			tr, _ := Lookup(tc.algorithm)
			err := tr.Validate(tc.params)
			var pe *ParamError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Validate(%v) = %v, want a *ParamError", tc.params, err)
			}
			if pe.Param != tc.param || !strings.Contains(pe.Problem, tc.problem) {
				t.Errorf("Validate(%v) = %q, want param %q with problem %q", tc.params, err, tc.param, tc.problem)
			}
			if !strings.Contains(err.Error(), tc.algorithm+": "+tc.param+": ") {
				t.Errorf("error %q does not name %s and %s", err, tc.algorithm, tc.param)
			}
			if _, err := tr.Train(context.Background(), train2, tc.params); !errors.Is(err, ErrInvalidParams) {
				t.Errorf("Train with %v = %v, want ErrInvalidParams", tc.params, err)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	tr, _ := Lookup("forest")
	err := tr.Validate(Params{"trees": 4, "bins": 1000, "colour": 1})
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate = %v, want the problems joined, one error each", err)
	}
	var params []string
	for _, e := range joined.Unwrap() {
		var pe *ParamError
		if !errors.As(e, &pe) {
			t.Fatalf("problem %q is not a *ParamError", e)
		}
		params = append(params, pe.Param)
	}
	// In name order, so the message reads the same every time.
	if want := []string{"bins", "colour", "trees"}; !slices.Equal(params, want) {
		t.Errorf("problems name %v, want one for each of %v", params, want)
	}
}

func TestDefaultsAreValidAndACopy(t *testing.T) {
	for _, alg := range classifiers() {
		tr, _ := Lookup(alg)
		if err := tr.Validate(tr.Defaults()); err != nil {
			t.Errorf("%s: defaults do not validate: %v", alg, err)
		}
		d := tr.Defaults()
		d["x"] = 1
		if _, ok := tr.Defaults()["x"]; ok {
			t.Errorf("%s: Defaults returns shared state", alg)
		}
	}
}

func TestTrainRejectsBadDataWithAClearError(t *testing.T) {
	base := synthetic(40, 5, 2)
	withRow := func(i, j int, v float64) *Data {
		d := &Data{Schema: base.Schema, Y: base.Y, X: make([][]float64, len(base.X))}
		for r, row := range base.X {
			d.X[r] = slices.Clone(row)
		}
		d.X[i][j] = v
		return d
	}
	oneClass := &Data{Schema: base.Schema, X: base.X, Y: make([]int, len(base.X))}
	for _, tc := range []struct {
		name string
		data *Data
		is   error
		want string
	}{
		{"empty data", &Data{Schema: base.Schema}, ErrNoRows, "invalid data: no training rows: the training grid is empty"},
		{"nil data", nil, ErrNoRows, "no training rows"},
		{"one-class data", oneClass, ErrOneClass, `invalid data: one-class training data: all 40 rows have class "stay" (need at least two classes)`},
		{"NaN in a feature", withRow(3, 2, math.NaN()), ErrInvalidData, `feature "score" (column 2), row 3: NaN is not a finite number`},
		{"infinity in a feature", withRow(4, 0, math.Inf(1)), ErrInvalidData, `feature "age" (column 0), row 4: +Inf is not a finite number`},
		{"category index out of range", withRow(5, 3, 3), ErrInvalidData, `feature "plan" (column 3), row 5: 3 is not a category index (want a whole number from -1 to 2)`},
		{"fractional category index", withRow(5, 4, 0.5), ErrInvalidData, `feature "region" (column 4), row 5: 0.5 is not a category index`},
		{"labels missing", &Data{Schema: base.Schema, X: base.X}, ErrInvalidData, "40 rows but 0 class labels"},
		{"class id out of range", &Data{Schema: base.Schema, X: base.X[:2], Y: []int{0, 7}}, ErrInvalidData, "row 1 has class id 7 (want 0 to 1)"},
		{"short row", &Data{Schema: base.Schema, X: [][]float64{{1, 2}, base.X[1]}, Y: []int{0, 1}}, ErrInvalidData, "row 0 has 2 values, the schema has 5 features"},
		{"schema without features", &Data{Schema: Schema{Classes: []string{"a", "b"}}, X: [][]float64{{}}, Y: []int{0}}, ErrInvalidData, "schema has no features"},
		{"schema with one class", &Data{Schema: Schema{Features: base.Schema.Features, Classes: []string{"a"}}, X: base.X, Y: make([]int, 40)}, ErrInvalidData, "schema has 1 classes (need at least two)"},
		{"schema with a bad kind", &Data{Schema: Schema{Features: []Feature{{Name: "x", Kind: "text"}}, Classes: []string{"a", "b"}}, X: [][]float64{{1}}, Y: []int{0}}, ErrInvalidData, `schema feature "x" has kind "text"`},
	} {
		for _, alg := range classifiers() {
			t.Run(tc.name+"/"+alg, func(t *testing.T) {
				tr, _ := Lookup(alg)
				_, err := tr.Train(context.Background(), tc.data, nil)
				if !errors.Is(err, tc.is) || !errors.Is(err, ErrInvalidData) {
					t.Fatalf("Train = %v, want errors.Is %v and ErrInvalidData", err, tc.is)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Train error %q does not contain %q", err, tc.want)
				}
			})
		}
	}
}

func TestPredictRejectsRowsThatDoNotFitTheSchema(t *testing.T) {
	for _, alg := range classifiers() {
		t.Run(alg, func(t *testing.T) {
			m := mustTrain(t, alg, train2, nil)
			row := slices.Clone(holdout2.X[0])
			row[1] = math.NaN()
			_, _, err := m.Predict([][]float64{holdout2.X[1], row})
			if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), `feature "balance" (column 1), row 1: NaN`) {
				t.Errorf("Predict with NaN = %v, want an error naming feature balance and row 1", err)
			}
			if _, _, err := m.Predict([][]float64{{1, 2, 3}}); !errors.Is(err, ErrInvalidData) {
				t.Errorf("Predict with a short row = %v, want ErrInvalidData", err)
			}
			classes, positive, err := m.Predict(nil)
			if err != nil || len(classes) != 0 || len(positive) != 0 {
				t.Errorf("Predict(nil) = %v, %v, %v; want empty results", classes, positive, err)
			}
		})
	}
}

func TestTrainStopsWhenTheContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, alg := range classifiers() {
		tr, _ := Lookup(alg)
		if _, err := tr.Train(ctx, train2, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Train with a cancelled context = %v, want context.Canceled", alg, err)
		}
	}
}

func TestTrainParamsOverrideDefaultsAndTravelWithTheModel(t *testing.T) {
	m := mustTrain(t, "forest", train2, Params{"trees": 3, "bins": 4})
	p := m.Params()
	if p["trees"] != 3 || p["bins"] != 4 || p["min_split"] != forestParams.defaults()["min_split"] {
		t.Errorf("Params() = %v, want trees=3, bins=4 and the default min_split", p)
	}
	p["trees"] = 99
	if m.Params()["trees"] != 3 {
		t.Errorf("Params returns shared state")
	}
}

func TestForestFeaturesMayNotExceedTheSchema(t *testing.T) {
	tr, _ := Lookup("forest")
	_, err := tr.Train(context.Background(), train2, Params{"features": 6})
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != "features" || !strings.Contains(err.Error(), "6 is more than the 5 features of the schema") {
		t.Errorf("Train with features=6 = %v, want a features error", err)
	}
}

func TestKNNNeedsAtLeastKRows(t *testing.T) {
	tr, _ := Lookup("knn")
	_, err := tr.Train(context.Background(), synthetic(40, 5, 2), Params{"k": 7, "max_rows": 6})
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Param != "k" || !strings.Contains(err.Error(), "7 is more than the 6 training rows") {
		t.Errorf("Train with k > rows = %v, want a k error", err)
	}
}

func TestKNNStoresADeterministicSampleOfMaxRows(t *testing.T) {
	p := Params{"max_rows": 200}
	a := mustTrain(t, "knn", train2, p).(*knnModel)
	b := mustTrain(t, "knn", train2, p).(*knnModel)
	if len(a.labels) != 200 {
		t.Fatalf("stored %d rows, want 200", len(a.labels))
	}
	if !slices.Equal(a.rows, b.rows) {
		t.Errorf("two trainings on the same data stored different rows")
	}
}

func TestModelsAreSafeForConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for _, alg := range classifiers() {
		m := mustTrain(t, alg, train2, nil)
		want, _, _ := m.Predict(holdout2.X)
		for range 2 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				got, _, err := m.Predict(holdout2.X)
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("%s: concurrent Predict differs (err %v)", alg, err)
				}
			}()
			go func() { // concurrent training on separate data must not interfere
				defer wg.Done()
				tr, _ := Lookup(alg)
				if _, err := tr.Train(context.Background(), synthetic(200, 7, 2), fastParams[alg]); err != nil {
					t.Errorf("%s: concurrent Train: %v", alg, err)
				}
			}()
		}
	}
	wg.Wait()
}

func TestRetrainingOnTheSameDataWithTheSameSeedGivesTheSameArtifact(t *testing.T) {
	runs := []struct {
		algorithm string
		params    Params
	}{{"id3", Params{"prune": 1}}}
	for _, alg := range classifiers() {
		runs = append(runs, struct {
			algorithm string
			params    Params
		}{alg, fastParams[alg]})
	}
	for _, run := range runs {
		t.Run(run.algorithm, func(t *testing.T) {
			a, _ := mustTrain(t, run.algorithm, train2, run.params).MarshalBinary()
			b, _ := mustTrain(t, run.algorithm, train2, run.params).MarshalBinary()
			if !slices.Equal(a, b) {
				t.Errorf("two trainings with %v gave different artifacts", run.params)
			}
		})
	}
}

func TestAnotherSeedGivesAnotherForest(t *testing.T) {
	a, _ := mustTrain(t, "forest", train2, Params{"trees": 3, "seed": 1}).MarshalBinary()
	b, _ := mustTrain(t, "forest", train2, Params{"trees": 3, "seed": 2}).MarshalBinary()
	if slices.Equal(a, b) {
		t.Errorf("seeds 1 and 2 gave the same forest")
	}
}

func TestID3PruningGivesASmallerTreeThatStillBeatsTheBaseRate(t *testing.T) {
	full := mustTrain(t, "id3", train2, Params{"prune": 0}).(*treeModel)
	pruned := mustTrain(t, "id3", train2, Params{"prune": 1}).(*treeModel)
	nf, np := len(full.trees[0].nodes), len(pruned.trees[0].nodes)
	t.Logf("nodes: %d unpruned, %d pruned", nf, np)
	if np >= nf {
		t.Errorf("pruned tree has %d nodes, unpruned %d", np, nf)
	}
	if acc, base := accuracy(t, pruned, holdout2), baseRate(holdout2); acc < base+0.15 {
		t.Errorf("pruned tree: holdout accuracy %.3f, base rate %.3f", acc, base)
	}
}

func TestID3MinSplitLimitsTheTree(t *testing.T) {
	full := mustTrain(t, "id3", train2, nil).(*treeModel)
	small := mustTrain(t, "id3", train2, Params{"min_split": 200}).(*treeModel)
	if len(small.trees[0].nodes) >= len(full.trees[0].nodes) {
		t.Errorf("min_split=200 gave %d nodes, the default %d", len(small.trees[0].nodes), len(full.trees[0].nodes))
	}
	for _, n := range small.trees[0].nodes {
		total := 0
		for _, c := range n.counts {
			total += c
		}
		if n.feature >= 0 && total < 200 {
			t.Fatalf("a node of %d rows was split", total)
		}
	}
}

func TestTreeScoresAreLeafFrequenciesAndForestScoresAreVoteShares(t *testing.T) {
	id3 := mustTrain(t, "id3", train2, nil).(*treeModel)
	_, positive, _ := id3.Predict(holdout2.X)
	distinct := map[float64]bool{}
	for _, p := range positive {
		distinct[p] = true
	}
	if len(distinct) < 5 {
		t.Errorf("id3 gives only %d distinct scores; leaf frequencies should give more", len(distinct))
	}
	forest := mustTrain(t, "forest", train2, Params{"trees": 7})
	classes, positive, _ := forest.Predict(holdout2.X)
	for i, p := range positive {
		votes := p * 7
		if math.Abs(votes-math.Round(votes)) > 1e-9 {
			t.Fatalf("row %d: forest score %v is not a multiple of 1/7", i, p)
		}
		if (votes > 3.5) != (classes[i] == 1) {
			t.Fatalf("row %d: %v of 7 trees vote class 1 but the forest predicts %d", i, votes, classes[i])
		}
	}
}

func TestANumericFeatureOutsideTheTrainingRangeIsBinnedAtTheEdge(t *testing.T) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range train2.X {
		lo, hi = min(lo, row[0]), max(hi, row[0])
	}
	for _, alg := range []string{"id3", "forest"} { // the binned algorithms
		t.Run(alg, func(t *testing.T) {
			m := mustTrain(t, alg, train2, fastParams[alg])
			for i, base := range holdout2.X[:50] {
				var rows [][]float64
				for _, v := range []float64{-1e9, lo, 1e9, hi} {
					r := slices.Clone(base)
					r[0] = v
					rows = append(rows, r)
				}
				classes, scores, err := m.Predict(rows)
				if err != nil {
					t.Fatalf("predict far outside the training range: %v", err)
				}
				if classes[0] != classes[1] || scores[0] != scores[1] {
					t.Fatalf("row %d: %s at -1e9 gives class %d score %v, at the training minimum %g class %d score %v", i, m.Schema().Features[0].Name, classes[0], scores[0], lo, classes[1], scores[1])
				}
				if classes[2] != classes[3] || scores[2] != scores[3] {
					t.Fatalf("row %d: %s at 1e9 gives class %d score %v, at the training maximum %g class %d score %v", i, m.Schema().Features[0].Name, classes[2], scores[2], hi, classes[3], scores[3])
				}
			}
		})
	}
}

func TestAClassAbsentFromTheTrainingDataIsNeverPredicted(t *testing.T) {
	d := synthetic(400, 12, 3)
	var x [][]float64
	var y []int
	for i, c := range d.Y {
		if c != 2 {
			x, y = append(x, d.X[i]), append(y, c)
		}
	}
	two := &Data{Schema: d.Schema, X: x, Y: y}
	for _, alg := range classifiers() {
		t.Run(alg, func(t *testing.T) {
			m := mustTrain(t, alg, two, nil)
			classes, positive, err := m.Predict(holdout3.X)
			if err != nil || positive != nil {
				t.Fatalf("predict: scores %v, err %v", positive != nil, err)
			}
			if slices.Contains(classes, 2) {
				t.Errorf("predicts class 2, which had no training rows")
			}
		})
	}
}

func TestTrainingStopsSoonAfterCancellationMidway(t *testing.T) {
	d := wide(3000, 13)
	ctx, cancel := context.WithCancel(context.Background())
	tr, _ := Lookup("forest")
	done := make(chan error, 1)
	go func() {
		_, err := tr.Train(ctx, d, Params{"trees": 1001}) // tens of seconds if not stopped
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Train = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Train still running 5s after cancellation")
	}
}
