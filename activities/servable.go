package activities

import (
	"fmt"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// FitsConfig returns the check that a version can serve its model as cfg
// declares it, for registry.CheckVersionsWith: the artifact decodes, holds
// the algorithm its row names, and was trained on the model's features
// (names, kinds, categories, in order) and classes. The worker and the CLI
// install it, so a retrain's promotion, `kingmaker promote`, `rollback` and
// `shadow --set` all refuse a version that `kingmaker serve` could not load.
func FitsConfig(cfg *config.Config) registry.VersionCheck {
	return func(v *registry.Version, artifact []byte) error {
		m, err := cfg.Model(v.Model)
		if err != nil {
			return err
		}
		tm, err := trainer.Decode(artifact)
		if err != nil {
			return fmt.Errorf("the artifact does not decode: %w", err)
		}
		if tm.Algorithm() != v.Algorithm {
			return fmt.Errorf("the artifact holds a %s model, the version row says %s", tm.Algorithm(), v.Algorithm)
		}
		if err := tm.Schema().Mismatch((&dataset.Source{Model: m}).Schema()); err != nil {
			return fmt.Errorf("it does not fit the config of model %s: %v: retrain, or use the config it was trained with", m.Name, err)
		}
		return nil
	}
}
