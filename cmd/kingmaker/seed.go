package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
)

func runSeed(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "seed")
	days := fs.Int("days", 30, "number of days to write")
	perDay := fs.Int("rows-per-day", 2000, "rows per day")
	start := fs.String("start", "", "first day, YYYY-MM-DD (default: so that the last day is today, UTC)")
	driftFrom := fs.Int("drift-from", 0, "1-based day number from which feature distributions and the label rule shift (0: no drift)")
	ruleRevertsFrom := fs.Int("rule-reverts-from", 0, "1-based day number from which the label rule is the one before the drift again, the features staying drifted (0: never; needs --drift-from)")
	instances := fs.String("instances", "", "also write the churn rows as `kingmaker serve` v1 instances with their id, one JSON object a line, to this file (- for stdout): live traffic whose labels are in the table")
	seed := fs.Uint64("seed", 42, "random seed; the same seed and flags write the same rows")
	datasetName := fs.String("dataset", "churn", "value of the table's dataset column")
	tableName := fs.String("table", "events", "demo table to write: events (churn rows, a binary label) or deliveries (delivery rows, a numeric label: minutes)")
	parallelism := fs.Int("parallelism", 8, "day partitions written at once")
	force := fs.Bool("force", false, "write into an events table whose columns are not the demo's")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *days < 1 || *perDay < 1 {
		return usageError{"--days and --rows-per-day must be at least 1"}
	}
	table := demo.Table(*tableName)
	if !slices.Contains(demo.Tables, table) {
		return usageError{fmt.Sprintf("--table %q: want events or deliveries", *tableName)}
	}
	if *driftFrom < 0 || *driftFrom > *days {
		return usageError{fmt.Sprintf("--drift-from %d: must be 0 (no drift) or a day from 1 to %d", *driftFrom, *days)}
	}
	if *ruleRevertsFrom < 0 || *ruleRevertsFrom > *days || *ruleRevertsFrom > 0 && (*driftFrom == 0 || *ruleRevertsFrom < *driftFrom) {
		return usageError{fmt.Sprintf("--rule-reverts-from %d: must be 0 (never) or a day from --drift-from to %d", *ruleRevertsFrom, *days)}
	}
	if *instances != "" && table != demo.EventsTable {
		return usageError{"--instances: only the events table's churn rows can be written as instances"}
	}
	first := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-*days)
	if *start != "" {
		t, err := time.Parse("2006-01-02", *start)
		if err != nil {
			return usageError{fmt.Sprintf("--start %q: use YYYY-MM-DD", *start)}
		}
		first = t
	}
	cfg, s, err := openSession(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	ks := seedKeyspace(cfg, table, *datasetName)
	created, err := demo.PrepareTableOf(ctx, s, ks, table)
	switch {
	case errors.Is(err, demo.ErrNotDemoTable) && *force:
		fmt.Fprintf(e.stderr, "writing anyway (--force): %v\n", err)
	case errors.Is(err, demo.ErrNotDemoTable):
		return fmt.Errorf("%w: seed writes demo rows only into the demo's table; pass --force to write into this one anyway", err)
	case err != nil:
		return err
	case created:
		fmt.Fprintf(e.stdout, "created the demo table %s.%s\n", ks, table)
	}
	spec := demo.Spec{Dataset: *datasetName, Start: first, Days: *days, RowsPerDay: *perDay, DriftFrom: *driftFrom, RuleRevertsFrom: *ruleRevertsFrom, Seed: *seed}
	total := int64(*days * *perDay)
	var lastDraw atomic.Int64
	var progress func(int64)
	if f, ok := e.stderr.(*os.File); ok && isTerminal(f) {
		progress = func(n int64) {
			now := time.Now().UnixMilli()
			if last := lastDraw.Load(); n < total && now-last < 100 || !lastDraw.CompareAndSwap(last, now) {
				return
			}
			fmt.Fprintf(f, "\r%s", bar(n, total))
		}
	}
	began := time.Now()
	if err := demo.WriteTable(ctx, s, ks, table, spec, *parallelism, progress); err != nil {
		return err
	}
	if progress != nil {
		fmt.Fprintf(e.stderr, "\r%s\n", bar(total, total))
	}
	took := time.Since(began)
	if *instances != "" {
		if err := writeInstances(e, *instances, spec); err != nil {
			return err
		}
	}
	drift := "no drift"
	if *driftFrom > 0 {
		drift = fmt.Sprintf("drift from day %d (%s)", *driftFrom, spec.DayDate(*driftFrom-1).Format("2006-01-02"))
	}
	if *ruleRevertsFrom > 0 {
		drift += fmt.Sprintf(", label rule as before it from day %d (%s)", *ruleRevertsFrom, spec.DayDate(*ruleRevertsFrom-1).Format("2006-01-02"))
	}
	fmt.Fprintf(e.stdout, "seeded %d rows into %s.%s (dataset %s): %d days from %s, %s, seed %d, in %s (%.0f rows/s)\n",
		total, ks, table, *datasetName, *days, first.Format("2006-01-02"), drift, *seed,
		took.Round(time.Millisecond), float64(total)/took.Seconds())
	return nil
}

// writeInstances writes spec's rows as v1 predict instances keyed by their
// id, one JSON object a line, to path (- for stdout).
func writeInstances(e *env, path string, spec demo.Spec) error {
	w := e.stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("--instances: %w", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for day := range spec.Days {
		for i := range spec.RowsPerDay {
			if err := enc.Encode(spec.Generate(day, i).Instance()); err != nil {
				return fmt.Errorf("--instances: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("--instances: %w", err)
	}
	if f, ok := w.(*os.File); ok && path != "-" {
		if err := f.Close(); err != nil {
			return fmt.Errorf("--instances: %w", err)
		}
	}
	return nil
}

// seedKeyspace is where seed writes: the source keyspace of the model that
// reads the demo's rows of dataset (the table, partition value dataset),
// else the registry's keyspace, where `schema apply` made the table.
func seedKeyspace(cfg *config.Config, table demo.Table, dataset string) string {
	for i := range cfg.Models {
		m := &cfg.Models[i]
		if m.Source.Table == string(table) && m.Source.PartitionValue == dataset {
			return cfg.SourceKeyspace(m)
		}
	}
	return cfg.Cassandra.Keyspace
}

func bar(n, total int64) string {
	const width = 40
	filled := int(float64(width) * float64(n) / float64(max(total, 1)))
	return fmt.Sprintf("[%s%s] %d/%d rows", strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, total)
}
