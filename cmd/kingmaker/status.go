package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/schema"
)

type statusReport struct {
	Keyspace      string        `json:"keyspace"`
	SchemaVersion int           `json:"schema_version"`
	Models        []modelStatus `json:"models"`
	// Days is how many recent days of source data Data summarises.
	Days int `json:"-"`
}

type modelStatus struct {
	Champion  *registry.Champion        `json:"champion"`
	Algorithm string                    `json:"algorithm,omitempty"`
	Metric    string                    `json:"primary_metric"`
	Value     string                    `json:"primary_value,omitempty"`
	Decisions []registry.DecisionRecord `json:"recent_decisions"`
	Drift     *registry.DriftReport     `json:"latest_drift,omitempty"`
	DriftNote string                    `json:"drift_note,omitempty"`
	// Live is the live quality on matured labels of the latest drift check.
	Live []activities.MaturedQuality `json:"live_matured,omitempty"`
	Data modelData                   `json:"data"`
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "status")
	out := outputFlag(fs)
	days := fs.Int("days", 30, "how many recent days of source data to summarise")
	recent := fs.Int("decisions", 5, "how many recent decisions to show")
	pos, err := parse(fs, args)
	if err != nil {
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
	s, err := openKeyspace(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	reg := registry.New(s, cfg.Cassandra.Keyspace, cql.Serial(cfg.Cassandra))
	rep, err := gatherStatus(ctx, cfg, s, reg, models, *days, *recent)
	if err != nil {
		return err
	}
	return output(e.stdout, *out, rep, printStatus)
}

// gatherStatus reads what `kingmaker status` shows of models: each one's
// champion, its recent decisions and latest drift report, and its source
// data of the last days.
func gatherStatus(ctx context.Context, cfg *config.Config, s *gocql.Session, reg *registry.Registry, models []config.Model, days, recent int) (*statusReport, error) {
	rep := &statusReport{Keyspace: cfg.Cassandra.Keyspace, SchemaVersion: schema.Latest(), Days: days}
	var err error
	for i := range models {
		m := &models[i]
		ms := modelStatus{Metric: m.Policy.PrimaryMetric}
		src := &dataset.Source{Session: s, Keyspace: cfg.SourceKeyspace(m), LabelKeyspace: cfg.LabelKeyspace(m), Model: m}
		if ms.Data, err = sourceStatus(ctx, src, days); err != nil {
			return nil, err
		}
		if ms.Champion, err = reg.Champion(ctx, m.Name); err != nil {
			return nil, err
		}
		if ms.Champion != nil {
			if v, err := reg.GetVersion(ctx, m.Name, ms.Champion.Version); err == nil {
				ms.Algorithm, ms.Value = v.Algorithm, primary(v, m.Policy.PrimaryMetric)
			}
		}
		if ms.Decisions, err = reg.Evaluations(ctx, m.Name, recent); err != nil {
			return nil, err
		}
		reports, err := reg.DriftReports(ctx, m.Name, 1)
		if err != nil {
			return nil, err
		}
		if len(reports) > 0 {
			ms.Drift = &reports[0]
			var doc activities.DriftDocument
			if json.Unmarshal(ms.Drift.Report, &doc) == nil {
				ms.DriftNote = "rests on " + doc.Basis
				ms.Live = doc.Matured
			}
			if ms.Champion != nil && ms.Drift.Champion != ms.Champion.Version {
				ms.DriftNote = "measured an earlier champion; the current one has not been checked yet"
			}
		}
		rep.Models = append(rep.Models, ms)
	}
	return rep, nil
}

func printStatus(w io.Writer, rep *statusReport) {
	fmt.Fprintf(w, "keyspace %s, schema version %d\n", rep.Keyspace, rep.SchemaVersion)
	for _, ms := range rep.Models {
		d := ms.Data
		fmt.Fprintf(w, "\nmodel %s\n", d.Model)
		if c := ms.Champion; c != nil {
			fmt.Fprintf(w, "  champion  %s (%s), generation %d, %s %s\n            promoted %s by %s: %s\n",
				c.Version, ms.Algorithm, c.Generation, ms.Metric, ms.Value, c.PromotedAt.Format(time.RFC3339), c.PromotedBy, c.Reason)
		} else {
			fmt.Fprintf(w, "  champion  none yet: run `kingmaker retrain %s`\n", d.Model)
		}
		if r := ms.Drift; r != nil {
			verdict := "stable"
			if r.Drifted {
				verdict = "DRIFTED"
			}
			fmt.Fprintf(w, "  drift     %s at %s: max PSI %.3f, %d features drifted, %d rows (%s)\n",
				verdict, r.ComputedAt().UTC().Format(time.DateTime), r.MaxPSI, r.DriftedFeatures, r.Rows, ms.DriftNote)
			printMatured(w, "            ", ms.Live)
		} else {
			fmt.Fprintf(w, "  drift     not checked yet: `kingmaker drift %s --now`\n", d.Model)
		}
		if len(ms.Decisions) > 0 {
			fmt.Fprintln(w, "  recent decisions:")
			tw := table(w)
			for _, ev := range ms.Decisions {
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", ev.ID.Time().UTC().Format(time.DateTime), ev.Outcome, ev.Reason, ev.WorkflowID, headline(ev.Decision))
			}
			tw.Flush()
		}
		fmt.Fprintf(w, "  data      %d rows in %s over the last %d days (%s)\n", d.Rows, d.Table, rep.Days, classMix(d.Classes, d.ByClass, d.Rows))
		for _, p := range d.Problems {
			fmt.Fprintf(w, "  ! %s\n", p)
		}
		if len(d.Days) == 0 {
			continue
		}
		tw := table(w)
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

// headline is the first reason of a stored decision record.
func headline(doc json.RawMessage) string {
	var rec struct {
		Decision *struct {
			Reasons []string `json:"reasons"`
		} `json:"decision"`
		Failure string `json:"failure"`
	}
	if json.Unmarshal(doc, &rec) != nil {
		return ""
	}
	if rec.Failure != "" {
		return rec.Failure
	}
	if rec.Decision != nil && len(rec.Decision.Reasons) > 0 {
		return rec.Decision.Reasons[0]
	}
	return ""
}

// modelData is the status of one model's source data.
type modelData struct {
	Model    string             `json:"model"`
	Table    string             `json:"table"`
	Days     []dataset.DayCount `json:"days"`
	Rows     int64              `json:"rows"`
	Classes  []string           `json:"classes"`
	ByClass  []int64            `json:"by_class"`
	Problems []string           `json:"problems,omitempty"`
}

func sourceStatus(ctx context.Context, src *dataset.Source, days int) (modelData, error) {
	m := src.Model
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	counts, err := src.CountDays(ctx, dataset.Window{From: to.AddDate(0, 0, -days), To: to})
	if err != nil {
		return modelData{}, err
	}
	d := modelData{Model: m.Name, Table: src.Keyspace + "." + m.Source.Table, Classes: m.Label.Classes, ByClass: make([]int64, len(m.Label.Classes))}
	for _, c := range counts {
		if c.Rows == 0 {
			continue
		}
		d.Days = append(d.Days, c)
		d.Rows += c.Rows
		for k, n := range c.ByClass {
			d.ByClass[k] += n
		}
	}
	if d.Rows == 0 {
		d.Problems = append(d.Problems, fmt.Sprintf("no rows in the last %d days: seed data (kingmaker seed) or check models[%s].source", days, m.Name))
	}
	return d, nil
}
