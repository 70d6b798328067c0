package main

import (
	"context"
	"fmt"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/schema"
)

func runSchemaApply(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schema apply")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, s, err := openCluster(e)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := schema.Apply(ctx, s, cfg.Cassandra)
	if err != nil {
		return err
	}
	if len(res.Applied) == 0 {
		fmt.Fprintf(e.stdout, "keyspace %s is up to date at schema version %d\n", cfg.Cassandra.Keyspace, res.After)
		return nil
	}
	fmt.Fprintf(e.stdout, "keyspace %s: applied migrations %v, now at schema version %d\n", cfg.Cassandra.Keyspace, res.Applied, res.After)
	return nil
}

func runSchemaVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schema version")
	out := outputFlag(fs)
	if _, err := parseN(fs, args, 0, "schema version takes no arguments"); err != nil {
		return err
	}
	cfg, s, err := openCluster(e)
	if err != nil {
		return err
	}
	defer s.Close()
	v, err := schema.Version(ctx, s, cfg.Cassandra.Keyspace)
	if err != nil {
		return fmt.Errorf("%w (run `kingmaker schema apply`)", err)
	}
	if *out == "json" {
		return writeJSON(e.stdout, map[string]any{"keyspace": cfg.Cassandra.Keyspace, "version": v, "latest": schema.Latest()})
	}
	fmt.Fprintf(e.stdout, "keyspace %s: schema version %d (this kingmaker knows up to %d)\n", cfg.Cassandra.Keyspace, v, schema.Latest())
	return nil
}

// openCluster loads the config and connects to Cassandra without checking
// the keyspace's schema (the schema commands are what set it up); the
// caller closes the session.
func openCluster(e *env) (*config.Config, *gocql.Session, error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, nil, err
	}
	s, err := cql.Connect(cfg.Cassandra, false)
	if err != nil {
		return nil, nil, err
	}
	return cfg, s, nil
}
