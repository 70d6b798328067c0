package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/schema"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// openRegistry loads the config and connects to the registry.
func openRegistry(ctx context.Context, e *env) (*config.Config, *registry.Registry, func(), error) {
	cfg, s, err := openSession(ctx, e)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, newRegistry(cfg, s), s.Close, nil
}

// openSession loads the config and connects to its keyspace (openKeyspace);
// the caller closes the session.
func openSession(ctx context.Context, e *env) (*config.Config, *gocql.Session, error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, nil, err
	}
	s, err := openKeyspace(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, s, nil
}

// openModel is openRegistry for one configured model; the caller calls done.
func openModel(ctx context.Context, e *env, name string) (cfg *config.Config, reg *registry.Registry, m *config.Model, done func(), err error) {
	cfg, reg, done, err = openRegistry(ctx, e)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if m, err = cfg.Model(name); err != nil {
		done()
		return nil, nil, nil, nil, err
	}
	return cfg, reg, m, done, nil
}

// openModelAs is openModel for a change to the promotion ledger made by
// who (by, or the identity the config implies).
func openModelAs(ctx context.Context, e *env, name, by string) (reg *registry.Registry, m *config.Model, who string, done func(), err error) {
	cfg, reg, m, done, err := openModel(ctx, e, name)
	if err != nil {
		return nil, nil, "", nil, err
	}
	if who, err = registryActor(cfg, by); err != nil {
		done()
		return nil, nil, "", nil, err
	}
	return reg, m, who, done, nil
}

// openKeyspace connects to the config's keyspace and checks that its
// schema is the one this binary knows.
func openKeyspace(ctx context.Context, cfg *config.Config) (*gocql.Session, error) {
	return schema.Connect(ctx, cfg.Cassandra)
}

// newRegistry is the registry of the config's keyspace, refusing versions
// that do not fit the config's models.
func newRegistry(cfg *config.Config, s *gocql.Session) *registry.Registry {
	reg := registry.New(s, cfg.Cassandra.Keyspace, cql.Serial(cfg.Cassandra))
	reg.CheckVersionsWith(activities.FitsConfig(cfg))
	return reg
}

// primary reads a version's primary metric from its stored metrics.
func primary(v *registry.Version, metric string) string {
	if len(v.Metrics) == 0 {
		return "-"
	}
	var m evaluator.Metrics
	if json.Unmarshal(v.Metrics, &m) != nil {
		return "?"
	}
	if x, ok := m.Value(metric); ok {
		return fmt.Sprintf("%.4f", x)
	}
	return "-"
}

// ledgerLimit is how many promotions of a model are read to tell retired
// versions from candidates: years of daily promotions.
const ledgerLimit = 10_000

func runModelsList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "models list")
	out := outputFlag(fs)
	limit := fs.Int("limit", 50, "newest versions to show")
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	_, reg, m, done, err := openModel(ctx, e, pos[0])
	if err != nil {
		return err
	}
	defer done()
	versions, err := reg.ListVersions(ctx, m.Name, *limit)
	if err != nil {
		return err
	}
	champ, err := reg.Champion(ctx, m.Name)
	if err != nil {
		return err
	}
	ledger, err := reg.History(ctx, m.Name, ledgerLimit)
	if err != nil {
		return err
	}
	statuses := registry.Statuses(champ, ledger)
	if *out == "json" {
		type row struct {
			*registry.Version
			Champion bool            `json:"champion"`
			Status   registry.Status `json:"status"`
		}
		rows := make([]row, len(versions))
		for i, v := range versions {
			rows[i] = row{v, champ != nil && champ.Version == v.ID, registry.StatusOf(statuses, v.ID)}
		}
		return writeJSON(e.stdout, rows)
	}
	if len(versions) == 0 {
		fmt.Fprintf(e.stdout, "model %s has no versions yet: run `kingmaker retrain %s`\n", m.Name, m.Name)
		return nil
	}
	tw := table(e.stdout)
	fmt.Fprintf(tw, "VERSION\tCANDIDATE\tALGORITHM\tCREATED\tWINDOW TO\tTRAIN ROWS\t%s\tSTATUS\n", strings.ToUpper(m.Policy.PrimaryMetric))
	for _, v := range versions {
		mark := string(registry.StatusOf(statuses, v.ID))
		if champ != nil && champ.Version == v.ID {
			mark = fmt.Sprintf("champion (gen %d)", champ.Generation)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", v.ID, v.Candidate, v.Algorithm, v.CreatedAt.Format(time.DateTime),
			windowEnd(v), v.TrainRows, primary(v, m.Policy.PrimaryMetric), mark)
	}
	return tw.Flush()
}

// windowEnd is the end of the window a version was trained on, "registered" for a version
// registered from a file (no window).
func windowEnd(v *registry.Version) string {
	if v.WindowTo.IsZero() && len(v.Provenance) > 0 {
		return "registered"
	}
	return v.WindowTo.Format(time.DateTime)
}

func parseVersion(s string) (gocql.UUID, error) {
	u, err := gocql.ParseUUID(s)
	if err != nil {
		return u, usageError{fmt.Sprintf("%q is not a version id (see `kingmaker models list MODEL`)", s)}
	}
	return u, nil
}

func runModelsShow(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "models show")
	out := outputFlag(fs)
	pos, err := parseN(fs, args, 2, "MODEL and VERSION")
	if err != nil {
		return err
	}
	id, err := parseVersion(pos[1])
	if err != nil {
		return err
	}
	_, reg, done, err := openRegistry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	v, err := reg.GetVersion(ctx, pos[0], id)
	if err != nil {
		return err
	}
	v.Profile = nil // large; not for reading at a terminal
	if *out == "json" {
		return writeJSON(e.stdout, v)
	}
	fmt.Fprintf(e.stdout, "version    %s of %s\ncandidate  %s (%s) %v\nrun        %s (%s)\nwindow     %s .. %s\nrows       %d train, %d holdout\nartifact   %d bytes in %d chunks, sha256 %s\ntrained in %.1fs at %s\n",
		v.ID, v.Model, v.Candidate, v.Algorithm, v.Params, v.WorkflowID, v.RunID, v.WindowFrom.Format(time.RFC3339), v.WindowTo.Format(time.RFC3339),
		v.TrainRows, v.HoldoutRows, v.ArtifactSize, v.ArtifactChunks, v.ArtifactSHA256, v.TrainSeconds, v.CreatedAt.Format(time.RFC3339))
	var sc trainer.Schema
	if json.Unmarshal(v.Schema, &sc) == nil {
		task := sc.Task
		if task == "" {
			task = trainer.DefaultTask(len(sc.Classes))
		}
		fmt.Fprintf(e.stdout, "task       %s\n", task)
	}
	var p registry.Provenance
	if len(v.Provenance) > 0 && json.Unmarshal(v.Provenance, &p) == nil {
		if p.Source == "external" {
			fmt.Fprintf(e.stdout, "trained by external trainer %s (%s, %d bytes, sha256 %s), made by %s %s, for %s\n",
				p.RegisteredBy, p.Format, p.FileSize, p.FileSHA256, p.Producer, p.ProducerVersion, p.Reason)
		} else {
			fmt.Fprintf(e.stdout, "registered from %s (%s, %d bytes, sha256 %s), made by %s %s, by %s: %s\n",
				p.FileName, p.Format, p.FileSize, p.FileSHA256, p.Producer, p.ProducerVersion, p.RegisteredBy, p.Reason)
		}
		if p.Parity != "" {
			fmt.Fprintf(e.stdout, "parity     %s\n", p.Parity)
		}
	}
	var m evaluator.Metrics
	if len(v.Metrics) > 0 && json.Unmarshal(v.Metrics, &m) == nil {
		fmt.Fprintln(e.stdout, "holdout metrics:")
		for _, name := range evaluator.KnownMetrics() {
			if x, ok := m.Value(name); ok {
				fmt.Fprintf(e.stdout, "  %-16s %.4f\n", name, x)
			}
		}
	} else {
		fmt.Fprintln(e.stdout, "holdout metrics: none (not evaluated)")
	}
	return nil
}

func runPromote(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "promote")
	reason := fs.String("reason", "", "why (required, recorded in the ledger)")
	by := fs.String("by", "", "who promotes (default $USER@host; not allowed when a client certificate or temporal.identity names who acts)")
	force := fs.Bool("force", false, "promote a version that was never evaluated")
	pos, err := parseN(fs, args, 2, "MODEL and VERSION")
	if err != nil {
		return err
	}
	if *reason == "" {
		return usageError{"--reason is required: it is recorded in the promotion ledger"}
	}
	id, err := parseVersion(pos[1])
	if err != nil {
		return err
	}
	reg, m, who, done, err := openModelAs(ctx, e, pos[0], *by)
	if err != nil {
		return err
	}
	defer done()
	c, err := reg.PromoteManually(ctx, registry.ManualPromotion{Model: m.Name, Version: id, By: who, Reason: *reason, Force: *force})
	if errors.Is(err, registry.ErrNeverEvaluated) {
		return fmt.Errorf("%w: pass --force to promote it anyway", err)
	}
	if err != nil {
		return explainCAS(err)
	}
	fmt.Fprintf(e.stdout, "version %s is now champion of %s (generation %d, promoted by %s)\n", c.Version, m.Name, c.Generation, c.PromotedBy)
	return nil
}

func explainCAS(err error) error {
	var lost *registry.CASLostError
	if errors.As(err, &lost) {
		return fmt.Errorf("not changed: %v; look with `kingmaker status %s` and retry if still wanted", err, lost.Model)
	}
	return err
}

func runRollback(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "rollback")
	reason := fs.String("reason", "", "why (required, recorded in the ledger)")
	by := fs.String("by", "", "who rolls back (default $USER@host; not allowed when a client certificate or temporal.identity names who acts)")
	gen := fs.Int64("generation", 0, "roll back this generation only; the same command repeated after it succeeded changes nothing (for scripts and retries)")
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	if *reason == "" {
		return usageError{"--reason is required: it is recorded in the promotion ledger"}
	}
	if *gen < 0 {
		return usageError{fmt.Sprintf("--generation %d: a generation is 1 or more (see `kingmaker status MODEL`)", *gen)}
	}
	reg, m, who, done, err := openModelAs(ctx, e, pos[0], *by)
	if err != nil {
		return err
	}
	defer done()
	var c *registry.Champion
	if *gen > 0 {
		c, err = reg.RollbackGeneration(ctx, m.Name, *gen, who, *reason)
	} else {
		c, err = reg.Rollback(ctx, m.Name, who, *reason)
	}
	if err != nil {
		return explainCAS(err)
	}
	fmt.Fprintf(e.stdout, "rolled back %s: version %s is champion again (generation %d)\n", m.Name, c.Version, c.Generation)
	return nil
}
