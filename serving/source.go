package serving

import (
	"context"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// Source is where a Server reads champion pointers and loads versions. The
// registry is the production Source (RegistrySource); tests use fakes.
// Implementations must be safe for concurrent use.
type Source interface {
	// Champion returns the model's champion pointer, nil when it has none.
	Champion(ctx context.Context, model string) (*registry.Champion, error)
	// Load returns the decoded model of one version. An artifact that does
	// not match its recorded SHA-256 is an error, never a model.
	Load(ctx context.Context, model string, version gocql.UUID) (trainer.Model, error)
}

// RegistrySource returns the Source that reads the champion pointer and the
// versions of reg.
func RegistrySource(reg *registry.Registry) Source { return registrySource{reg} }

type registrySource struct{ reg *registry.Registry }

func (s registrySource) Champion(ctx context.Context, model string) (*registry.Champion, error) {
	return s.reg.Champion(ctx, model)
}

func (s registrySource) Load(ctx context.Context, model string, id gocql.UUID) (trainer.Model, error) {
	_, m, err := s.reg.LoadModel(ctx, model, id) // checks size, chunks and SHA-256
	return m, err
}
