package activities

import (
	"encoding/json"

	"github.com/kingmaker-ml/kingmaker/trainer"
)

// buildProfile summarises the training grid as the reference profile drift
// is measured against.
func buildProfile(d *trainer.Data) (json.RawMessage, error) {
	return nil, nil
}
