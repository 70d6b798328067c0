package activities

import (
	"context"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// (Functions, not methods: every exported method of Activities is an
// activity.)

// SeedOf is seedOf, for tests that compare with dataset.Source.LoadTrain.
var SeedOf = seedOf

// LoadRunTrain is the training sample TrainCandidate reads from run data.
func LoadRunTrain(a *Activities, ctx context.Context, m *config.Model, rd *RunData) (*trainer.Data, error) {
	d, _, err := a.loadRunTrain(ctx, m, rd)
	return d, err
}

// RunHoldout is the holdout Evaluate reads from run data, in its order.
func RunHoldout(a *Activities, ctx context.Context, m *config.Model, rd *RunData) (x [][]float64, y []int, err error) {
	mf, err := a.runManifest(ctx, m, rd)
	if err != nil {
		return nil, nil, err
	}
	err = a.readRunPart(ctx, m, rd, mf, partHoldout, func(_ int, b *dataset.Batch) error {
		x, y = append(x, b.X...), append(y, b.Y...)
		return nil
	})
	return x, y, err
}

// PromScalar is promScalar, the instant query behind CheckProbation.
var PromScalar = promScalar
