package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// driftView is what `kingmaker drift` shows: the latest report, and what
// the check did when it ran now.
type driftView struct {
	Report *registry.DriftReport     `json:"report"`
	Doc    *activities.DriftDocument `json:"document,omitempty"`
	Run    *workflows.DriftResult    `json:"run,omitempty"`
}

func runDrift(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "drift")
	now := fs.Bool("now", false, "run a drift check now (through Temporal, as the schedule would) and show its report")
	asOf := fs.String("as-of", "", "with --now: end the drift window at this time instead of now")
	follow := fs.Bool("follow", false, "with --now: follow a retrain the check starts, until it ends or awaits approval")
	out := outputFlag(fs)
	pos, err := parseN(fs, args, 1, "exactly one MODEL")
	if err != nil {
		return err
	}
	cfg, reg, m, done, err := openModel(ctx, e, pos[0])
	if err != nil {
		return err
	}
	defer done()
	var c client.Client
	var ran *workflows.DriftResult
	if *now {
		in := workflows.DriftInput{Model: m.Name, Reason: workflows.ReasonManual}
		if *asOf != "" {
			t, err := parseTime(*asOf)
			if err != nil {
				return usageError{fmt.Sprintf("--as-of %q: %v", *asOf, err)}
			}
			in.AsOf = &t
		}
		if c, err = dialTemporal(ctx, cfg); err != nil {
			return err
		}
		defer c.Close()
		run, err := c.ExecuteWorkflow(ctx, workflows.DriftStartOptions(in, cfg.Temporal.TaskQueue, time.Now()), workflows.DriftWorkflowName, in)
		if err != nil {
			return fmt.Errorf("start drift check of %s: %w", m.Name, err)
		}
		warnIfNoWorker(ctx, e, c, cfg.Temporal.TaskQueue)
		ran = new(workflows.DriftResult)
		if _, err := (runWait{what: "drift check"}).wait(ctx, run, ran); err != nil {
			return err
		}
	}
	view, err := gatherDrift(ctx, reg, m.Name, ran)
	if err != nil {
		return err
	}
	if err := output(e.stdout, *out, view, printDrift); err != nil {
		return err
	}
	if *follow && *out == "table" && view.Run != nil && view.Run.Retrain != "" {
		return followRetrain(ctx, e, c, view.Run.Retrain)
	}
	return nil
}

// gatherDrift reads what `kingmaker drift` shows: the latest report of
// model, with ran, the result of a check run now (nil when none ran). A
// check that found no champion wrote no report: the view is its result.
func gatherDrift(ctx context.Context, reg *registry.Registry, model string, ran *workflows.DriftResult) (*driftView, error) {
	view := &driftView{Run: ran}
	if ran != nil && ran.Action == workflows.DriftNoChampion {
		return view, nil
	}
	reports, err := reg.DriftReports(ctx, model, 1)
	if err != nil {
		return nil, err
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("model %s has no drift report yet: run `kingmaker drift %s --now` (it needs a champion)", model, model)
	}
	view.Report = &reports[0]
	var doc activities.DriftDocument
	if json.Unmarshal(view.Report.Report, &doc) == nil {
		view.Doc = &doc
	}
	return view, nil
}

// followRetrain shows a retrain's progress until it ends or waits for a
// person, and says how to answer it.
func followRetrain(ctx context.Context, e *env, c client.Client, id string) error {
	fmt.Fprintf(e.stdout, "\nfollowing %s\n", id)
	run := c.GetWorkflow(ctx, id, "")
	var res workflows.RetrainResult
	status, err := runWait{what: "retrain", progress: retrainProgress(e.stdout, c, run, true)}.wait(ctx, run, &res)
	switch status {
	case runAwaiting:
		fmt.Fprintf(e.stdout, "\n%s awaits approval: kingmaker approve %s --reason TEXT (or reject)\n", id, id)
	case runCompleted:
		printResult(e.stdout, &res)
	}
	return err
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func printDrift(w io.Writer, v *driftView) {
	r := v.Report
	if r == nil { // a check that found no champion
		fmt.Fprintf(w, "%s\n", first(v.Run.Reasons))
		return
	}
	verdict := "stable"
	if r.Drifted {
		verdict = "DRIFTED"
	}
	fmt.Fprintf(w, "drift of %s: %s (checked %s, champion %s gen %d)\nwindow %s .. %s, %d rows, max PSI %.3f, %d features drifted\n",
		r.Model, verdict, r.ComputedAt().UTC().Format(time.DateTime), r.Champion, r.Generation,
		r.WindowFrom.UTC().Format(time.DateTime), r.WindowTo.UTC().Format(time.DateTime), r.Rows, r.MaxPSI, r.DriftedFeatures)
	if v.Doc != nil {
		tw := table(w)
		fmt.Fprintln(tw, "FEATURE\tKIND\tPSI\tSEVERITY\tJS DIST\tTEST\tSTAT\tADJ P\tDRIFTED")
		rows := v.Doc.Drift.Features
		if v.Doc.Drift.Label != nil {
			rows = append(rows, *v.Doc.Drift.Label)
		}
		if v.Doc.Drift.Prediction != nil {
			rows = append(rows, *v.Doc.Drift.Prediction)
		}
		for _, f := range rows {
			test, stat := "-", 0.0
			if f.KS != nil {
				test, stat = "ks", f.KS.Statistic
			} else if f.ChiSquare != nil {
				test, stat = "chi2", f.ChiSquare.Statistic
			}
			mark := ""
			if f.Drifted {
				mark = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.4f\t%s\t%.4f\t%s\t%.4g\t%.3g\t%s\n", f.Name, f.Kind, f.PSI, f.Severity, f.JensenShannon, test, stat, f.AdjustedPValue, mark)
		}
		tw.Flush()
		fmt.Fprintf(w, "verdict rests on: %s\n", v.Doc.Basis)
		for _, reason := range v.Doc.Reasons {
			fmt.Fprintf(w, "  - %s\n", reason)
		}
		printMatured(w, "", v.Doc.Matured)
	}
	if v.Run != nil {
		fmt.Fprintf(w, "action: %s", v.Run.Action)
		if v.Run.Retrain != "" {
			fmt.Fprintf(w, " (%s)", v.Run.Retrain)
		}
		fmt.Fprintln(w)
	}
}

// printMatured shows the live quality on matured labels of a drift check:
// per role, the window whose labels have matured, the predictions of it,
// how many have a label (coverage) and the metrics on those.
func printMatured(w io.Writer, indent string, qs []activities.MaturedQuality) {
	for _, q := range qs {
		fmt.Fprintf(w, "%slive quality on matured labels, %s %s: rows of %s, labels as of %s\n", indent, q.Role, q.Version, q.Window, q.AsOf.Format(time.DateTime))
		fmt.Fprintf(w, "%s  %d predictions, %d labelled (coverage %.1f%%)", indent, q.Predictions, q.Labelled, 100*q.Coverage)
		if q.Metrics != nil {
			for _, name := range []string{evaluator.MetricAccuracy, evaluator.MetricROCAUC} {
				if x, ok := q.Metrics.Value(name); ok {
					fmt.Fprintf(w, ", %s %.4f", name, x)
				}
			}
		}
		fmt.Fprintln(w)
	}
}
