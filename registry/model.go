package registry

import (
	"context"
	"fmt"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/trainer"
)

// LoadModel reads one version of a model, its artifact (verified as
// LoadArtifact verifies it) and the model the artifact decodes to, which
// must be of the algorithm the version row names.
func (r *Registry) LoadModel(ctx context.Context, model string, id gocql.UUID) (*Version, trainer.Model, error) {
	v, err := r.GetVersion(ctx, model, id)
	if err != nil {
		return nil, nil, err
	}
	b, err := r.LoadArtifact(ctx, v)
	if err != nil {
		return nil, nil, err
	}
	m, err := trainer.Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("decode version %s of %s: %w", id, model, err)
	}
	if m.Algorithm() != v.Algorithm {
		return nil, nil, fmt.Errorf("version %s of %s: the artifact holds a %s model, the version row says %s", id, model, m.Algorithm(), v.Algorithm)
	}
	return v, m, nil
}
