package main

import (
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/actor"
)

// registryActor and temporalActor are who a command acts as (see package
// actor); the error is a usage error when --by names someone else than
// the identity the deployment establishes.
func registryActor(cfg *config.Config, by string) (string, error) {
	a, err := actor.Registry(cfg, by)
	if err != nil {
		return "", usageError{err.Error()}
	}
	return a.Name, nil
}

func temporalActor(cfg *config.Config, by string) (string, error) {
	a, err := actor.Temporal(cfg, by)
	if err != nil {
		return "", usageError{err.Error()}
	}
	return a.Name, nil
}
