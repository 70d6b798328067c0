package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/schema"
)

type statusReport struct {
	Keyspace      string      `json:"keyspace"`
	SchemaVersion int         `json:"schema_version"`
	Models        []modelData `json:"models"`
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status")
	out := outputFlag(fs)
	days := fs.Int("days", 30, "how many recent days of source data to summarise")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"at most one MODEL"}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	models := cfg.Models
	if len(pos) == 1 {
		m, err := cfg.Model(pos[0])
		if err != nil {
			return err
		}
		models = []config.Model{*m}
	}
	s, err := cql.Connect(cfg.Cassandra, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := schema.Check(ctx, s, cfg.Cassandra.Keyspace); err != nil {
		return err
	}
	rep := statusReport{Keyspace: cfg.Cassandra.Keyspace, SchemaVersion: schema.Latest()}
	for i := range models {
		src := &dataset.Source{Session: s, Keyspace: cfg.Cassandra.Keyspace, Model: &models[i]}
		d, err := sourceStatus(ctx, src, *days)
		if err != nil {
			return err
		}
		rep.Models = append(rep.Models, d)
	}
	if *out == "json" {
		return writeJSON(e.stdout, rep)
	}
	fmt.Fprintf(e.stdout, "keyspace %s, schema version %d\n", rep.Keyspace, rep.SchemaVersion)
	for _, d := range rep.Models {
		fmt.Fprintf(e.stdout, "\nmodel %s: %d rows in %s over the last %d days (%s)\n", d.Model, d.Rows, d.Table, *days, classMix(d.Classes, d.ByClass, d.Rows))
		for _, p := range d.Problems {
			fmt.Fprintf(e.stdout, "  ! %s\n", p)
		}
		if len(d.Days) == 0 {
			continue
		}
		tw := table(e.stdout)
		fmt.Fprintf(tw, "  DAY\tROWS\t%s\n", strings.ToUpper(strings.Join(d.Classes, "\t")))
		for _, c := range d.Days {
			cells := make([]string, len(c.ByClass))
			for k, n := range c.ByClass {
				cells[k] = fmt.Sprint(n)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", c.Day.Format("2006-01-02"), c.Rows, strings.Join(cells, "\t"))
		}
		tw.Flush()
	}
	return nil
}

func classMix(classes []string, byClass []int64, rows int64) string {
	parts := make([]string, len(classes))
	for k, c := range classes {
		share := 0.0
		if rows > 0 {
			share = 100 * float64(byClass[k]) / float64(rows)
		}
		parts[k] = fmt.Sprintf("%s %.1f%%", c, share)
	}
	return strings.Join(parts, ", ")
}
