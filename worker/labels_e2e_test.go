package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/worker"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// Late labels, issue 16: the same labels, once in the feature row and once
// in a label table where each arrives up to 61 hours after its row, give
// the same run: same rows, same metrics, same decision. One row in twenty
// is never labelled: a null label in the row (skipped under
// invalid_rows: skip), no row in the label table (unlabelled).
func TestLateLabelsInTheirOwnTableGiveTheSameDecisionAsTheSameLabelsInline(t *testing.T) {
	s, cass := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	labelStart := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := demo.Write(ctx, s, cass.Keyspace, demo.Spec{Dataset: "churn", Start: labelStart, Days: 10, RowsPerDay: 600, Seed: 7}, 4, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}
	const delay = 3 * 24 * time.Hour
	inlineAsOf := labelStart.AddDate(0, 0, 9)
	tableAsOf := inlineAsOf.Add(delay) // the same window, [day 2, day 9)
	window := dataset.Window{From: inlineAsOf.AddDate(0, 0, -7), To: inlineAsOf}
	lab := moveLabels(ctx, t, s, cass.Keyspace, labelStart, 10, window)

	cfg := testConfig(t, cass)
	inline := cfg.Models[0]
	inline.Candidates = []config.Candidate{{Name: "logistic", Algorithm: "logistic", Params: map[string]float64{"l2": 1}}}
	inline.Window.InvalidRows = "skip"
	late := inline
	late.Name = "churn_late"
	late.Label.Source = config.LabelFromTable
	late.Label.Table = config.LabelTable{Name: "churn_labels", KeyColumn: "id", LabelColumn: "churned", KnownAtColumn: "known_at"}
	late.Label.Delay = config.Duration(delay)
	late.Drift.RetrainOnDrift = false
	cfg.Models = []config.Model{inline, late}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the test config is invalid: %v", err)
	}

	catcher := addrCatcher{addr: make(chan string, 1)}
	logger := slog.New(catcher)
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("open the stack: %v", err)
	}
	defer st.Close()
	workerCtx, stopWorker := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() {
		stopped <- worker.Run(workerCtx, st, worker.Options{
			Roles: []string{worker.RoleMain, worker.RoleTraining}, StopTimeout: 10 * time.Second, MaxConcurrentTrainings: 2, Logger: logger,
		})
	}()
	defer func() { stopWorker(); <-stopped }()
	var metricsAddr string
	select {
	case metricsAddr = <-catcher.addr:
	case err := <-stopped:
		t.Fatalf("the worker stopped before serving: %v", err)
	}

	run := func(model string, n int, asOf time.Time) (*workflows.RetrainResult, workflows.DecisionRecord) {
		t.Helper()
		id := fmt.Sprintf("retrain-%s-%s-%d", model, cass.Keyspace, n)
		r, err := st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: id, TaskQueue: cfg.Temporal.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model)),
		}, workflows.RetrainWorkflowName, workflows.RetrainInput{Model: model, Reason: workflows.ReasonManual, RequestedBy: "e2e", AsOf: &asOf})
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		var res workflows.RetrainResult
		if err := r.Get(ctx, &res); err != nil {
			t.Fatalf("retrain %s failed: %v", id, err)
		}
		return &res, decisionRecord(ctx, t, st.Registry, model, r.GetRunID())
	}
	inRes, inRec := run("churn", 1, inlineAsOf)
	lateRes, lateRec := run("churn_late", 1, tableAsOf)

	t.Run("the same window, rows, metrics and decision", func(t *testing.T) {
		if !lateRes.Window.From.Equal(window.From) || !lateRes.Window.To.Equal(window.To) || !inRes.Window.To.Equal(window.To) {
			t.Fatalf("windows %s (inline) and %s (label table, delay 3d), want both %s", inRes.Window, lateRes.Window, window)
		}
		if inRes.Outcome != string(evaluator.OutcomePromote) || lateRes.Outcome != inRes.Outcome {
			t.Fatalf("outcomes %s (inline) and %s (label table), want both promote (reasons %q, %q)", inRes.Outcome, lateRes.Outcome, inRes.Reasons, lateRes.Reasons)
		}
		if lateRes.HoldoutRows != inRes.HoldoutRows || trainedRows(lateRes) != trainedRows(inRes) || inRes.HoldoutRows == 0 {
			t.Errorf("holdout %d and train %d rows with the label table, %d and %d inline; want the same", lateRes.HoldoutRows, trainedRows(lateRes), inRes.HoldoutRows, trainedRows(inRes))
		}
		if got, want := candidateMetrics(t, lateRec), candidateMetrics(t, inRec); got != want {
			t.Errorf("candidate metrics with the label table\n%s\ninline\n%s", got, want)
		}
	})

	t.Run("coverage and skipped counts are in each decision record", func(t *testing.T) {
		l := lateRec.Labels
		if l == nil || l.Source != "table" || !l.AsOf.Equal(tableAsOf) || l.Rows != lab.rows || l.Unlabelled != lab.never || l.Labelled != lab.rows-lab.never || l.Skipped != 0 {
			t.Fatalf("label table record %+v, want %d rows, %d unlabelled, as of %s", l, lab.rows, lab.never, tableAsOf)
		}
		if want := float64(lab.rows-lab.never) / float64(lab.rows); l.Coverage != want {
			t.Errorf("coverage %g, want %g", l.Coverage, want)
		}
		i := inRec.Labels
		if i == nil || i.Source != "row" || i.Rows != lab.rows || i.Unlabelled != lab.never || i.Skipped != lab.never {
			t.Errorf("inline record %+v, want %d rows, %d unlabelled and skipped", i, lab.rows, lab.never)
		}
		if lateRes.Labels == nil || *lateRes.Labels != *l {
			t.Errorf("the run's result says %+v, its record %+v", lateRes.Labels, l)
		}
	})

	t.Run("coverage and unlabelled rows are exported as metrics", func(t *testing.T) {
		body := scrape(ctx, t, metricsAddr)
		for _, want := range []string{
			fmt.Sprintf(`kingmaker_retrain_window_rows{kind="unlabelled",model="churn_late"} %d`, lab.never),
			fmt.Sprintf(`kingmaker_retrain_window_rows{kind="labelled",model="churn_late"} %d`, lab.rows-lab.never),
			fmt.Sprintf(`kingmaker_retrain_window_rows{kind="skipped",model="churn"} %d`, lab.never),
			`kingmaker_retrain_label_coverage_ratio{model="churn_late"} ` + strconv.FormatFloat(float64(lab.rows-lab.never)/float64(lab.rows), 'g', -1, 64),
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the metrics lack %s", want)
			}
		}
	})

	t.Run("a drift check judges live quality on the champion's predictions of the matured window", func(t *testing.T) {
		// The champion scores day 6; a check as of day 10 looks at day 9's
		// rows for drift and at day 6's predictions, three days back, for
		// quality, with the labels known on day 10.
		scoreFrom := labelStart.AddDate(0, 0, 6)
		sr, err := st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "score-churn_late-" + cass.Keyspace, TaskQueue: cfg.Temporal.TaskQueue},
			workflows.BatchScoreWorkflowName, workflows.BatchScoreInput{Model: "churn_late", From: scoreFrom, To: scoreFrom.AddDate(0, 0, 1), Reason: "e2e"})
		if err != nil {
			t.Fatal(err)
		}
		if err := sr.Get(ctx, nil); err != nil {
			t.Fatalf("batch scoring failed: %v", err)
		}
		checkAt := labelStart.AddDate(0, 0, 10)
		dr, err := st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "drift-churn_late-" + cass.Keyspace, TaskQueue: cfg.Temporal.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AttrModel.ValueSet("churn_late"))},
			workflows.DriftWorkflowName, workflows.DriftInput{Model: "churn_late", Reason: workflows.ReasonManual, AsOf: &checkAt})
		if err != nil {
			t.Fatal(err)
		}
		if err := dr.Get(ctx, nil); err != nil {
			t.Fatalf("the drift check failed: %v", err)
		}
		reports, err := st.Registry.DriftReports(ctx, "churn_late", 1)
		if err != nil || len(reports) != 1 {
			t.Fatalf("drift reports %d (%v), want 1", len(reports), err)
		}
		var doc activities.DriftDocument
		if err := json.Unmarshal(reports[0].Report, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Matured) != 1 {
			t.Fatalf("the report has %d matured qualities, want the champion's: %+v", len(doc.Matured), doc.Matured)
		}
		q := doc.Matured[0]
		labelledRows := 600 - lab.neverOnDay[6]
		if q.Role != activities.RoleChampion || q.Predictions != 600 || q.Labelled != labelledRows || q.Window.From != scoreFrom || !q.AsOf.Equal(checkAt) {
			t.Errorf("matured quality %+v, want the champion's 600 predictions of %s, %d labelled as of %s", q, scoreFrom.Format(time.DateOnly), labelledRows, checkAt)
		}
		if doc.Quality == nil || !doc.Quality.Matured || doc.Quality.LabelledRows != int(labelledRows) || doc.Quality.Live == nil {
			t.Errorf("the quality check %+v, want it on the %d matured rows", doc.Quality, labelledRows)
		}
		// The registry's gauges are cached for 10s: wait for the next read.
		want := fmt.Sprintf(`kingmaker_live_labelled_rows{model="churn_late",role="champion"} %d`, labelledRows)
		for body := scrape(ctx, t, metricsAddr); !strings.Contains(body, want); body = scrape(ctx, t, metricsAddr) {
			select {
			case <-ctx.Done():
				t.Fatalf("the metrics lack %s", want)
			case <-time.After(time.Second):
			}
		}
	})

	// Labels arrive after the as-of time: the never-labelled rows get one,
	// and one row in twenty a corrected label.
	late2 := lab.arriveLate(ctx, t, s, cass.Keyspace, tableAsOf)

	t.Run("a later read sees the labels that arrived after the as-of time", func(t *testing.T) {
		src := &dataset.Source{Session: s, Keyspace: cass.Keyspace, Model: &cfg.Models[1], AsOf: tableAsOf.Add(3 * time.Hour)}
		counts, err := src.CountDays(ctx, window)
		if err != nil {
			t.Fatal(err)
		}
		var unlabelled int64
		for _, c := range counts {
			unlabelled += c.Unlabelled
		}
		if unlabelled != 0 || late2 == 0 {
			t.Errorf("%d rows unlabelled 3h after the as-of time, want none (%d labels arrived late)", unlabelled, late2)
		}
	})

	t.Run("a rerun at the same as-of time reads what was known then", func(t *testing.T) {
		again, againRec := run("churn_late", 2, tableAsOf)
		if again.HoldoutRows != lateRes.HoldoutRows || trainedRows(again) != trainedRows(lateRes) {
			t.Errorf("the rerun holds %d holdout and %d train rows, the first run %d and %d", again.HoldoutRows, trainedRows(again), lateRes.HoldoutRows, trainedRows(lateRes))
		}
		if againRec.Labels == nil || againRec.Labels.Labelled != lateRec.Labels.Labelled || againRec.Labels.Unlabelled != lateRec.Labels.Unlabelled {
			t.Errorf("the rerun's coverage %+v, the first run's %+v", againRec.Labels, lateRec.Labels)
		}
		// The champion is now the first run's winner: the rerun compares
		// with it, so only the candidates' own metrics must repeat.
		if got, want := candidateMetrics(t, againRec), candidateMetrics(t, lateRec); got != want {
			t.Errorf("the rerun's candidate metrics\n%s\nthe first run's\n%s", got, want)
		}
	})
}

// labelled is what moveLabels wrote: the window's rows and those of them
// never labelled, and the keys it may label late.
type labelled struct {
	rows, never int64
	// neverOnDay counts the never-labelled rows of each seeded day.
	neverOnDay map[int]int64
	// neverKeys have no label; corrected keys have one, to correct late.
	neverKeys, corrected []labelKey
}

type labelKey struct {
	id    gocql.UUID
	label bool
}

// moveLabels copies the labels of the seeded rows into a label table, each
// known 1 to 61 hours after its row; one row in twenty gets no label and a
// null one in its row.
func moveLabels(ctx context.Context, t *testing.T, s *gocql.Session, keyspace string, start time.Time, days int, w dataset.Window) *labelled {
	t.Helper()
	if err := s.Query(fmt.Sprintf(`CREATE TABLE %s.churn_labels (id uuid, known_at timestamp, churned boolean, PRIMARY KEY ((id), known_at))`, keyspace)).WithContext(ctx).Exec(); err != nil {
		t.Fatalf("create the label table: %v", err)
	}
	insert := fmt.Sprintf(`INSERT INTO %s.churn_labels (id, known_at, churned) VALUES (?, ?, ?)`, keyspace)
	unset := fmt.Sprintf(`UPDATE %s.events SET churned = null WHERE dataset = 'churn' AND day = ? AND ts = ? AND id = ?`, keyspace)
	out := &labelled{neverOnDay: map[int]int64{}}
	for d := range days {
		day := start.AddDate(0, 0, d)
		iter := s.Query(fmt.Sprintf(`SELECT ts, id, churned FROM %s.events WHERE dataset = 'churn' AND day = ?`, keyspace), day).WithContext(ctx).Iter()
		var (
			ts    time.Time
			id    gocql.UUID
			label bool
		)
		for iter.Scan(&ts, &id, &label) {
			h := fnv.New32a()
			h.Write(id[:])
			v := h.Sum32()
			inWindow := !ts.Before(w.From) && ts.Before(w.To)
			if inWindow {
				out.rows++
			}
			if v%20 == 0 {
				if err := s.Query(unset, day, ts, id).WithContext(ctx).Exec(); err != nil {
					t.Fatal(err)
				}
				out.neverOnDay[d]++
				if inWindow {
					out.never++
					out.neverKeys = append(out.neverKeys, labelKey{id: id, label: v%3 == 0})
				}
				continue
			}
			if v%20 == 1 && inWindow {
				out.corrected = append(out.corrected, labelKey{id: id, label: !label})
			}
			knownAt := ts.Add(time.Hour + time.Duration(v%61)*time.Hour)
			if err := s.Query(insert, id, knownAt, label).WithContext(ctx).Exec(); err != nil {
				t.Fatal(err)
			}
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if out.never == 0 || len(out.corrected) == 0 {
		t.Fatalf("the window has %d never-labelled and %d corrected rows, want some of each", out.never, len(out.corrected))
	}
	return out
}

// arriveLate writes, after asOf, a label for every never-labelled row and
// a corrected label for the others chosen; it returns how many.
func (l *labelled) arriveLate(ctx context.Context, t *testing.T, s *gocql.Session, keyspace string, asOf time.Time) int {
	t.Helper()
	insert := fmt.Sprintf(`INSERT INTO %s.churn_labels (id, known_at, churned) VALUES (?, ?, ?)`, keyspace)
	n := 0
	for i, k := range append(append([]labelKey(nil), l.neverKeys...), l.corrected...) {
		if err := s.Query(insert, k.id, asOf.Add(time.Hour+time.Duration(i%60)*time.Minute), k.label).WithContext(ctx).Exec(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// decisionRecord reads the decision record of a run.
func decisionRecord(ctx context.Context, t *testing.T, reg *registry.Registry, model, runID string) workflows.DecisionRecord {
	t.Helper()
	evs, err := reg.Evaluations(ctx, model, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.RunID != runID {
			continue
		}
		var rec workflows.DecisionRecord
		if err := json.Unmarshal(e.Decision, &rec); err != nil {
			t.Fatalf("decode the decision record of %s: %v", runID, err)
		}
		return rec
	}
	t.Fatalf("no decision record of run %s of %s", runID, model)
	return workflows.DecisionRecord{}
}

// candidateMetrics renders the candidates' holdout metrics of a record by
// candidate algorithm, without version ids, to compare two runs.
func candidateMetrics(t *testing.T, rec workflows.DecisionRecord) string {
	t.Helper()
	if rec.Evaluation == nil || len(rec.Evaluation.Candidates) == 0 {
		t.Fatalf("the record has no evaluated candidates: %+v", rec)
	}
	var b strings.Builder
	for _, c := range rec.Evaluation.Candidates {
		m, _ := json.Marshal(c.Metrics)
		fmt.Fprintf(&b, "%s %s\n", c.Algorithm, m)
	}
	return b.String()
}

// trainedRows is the most rows a candidate of the run trained on.
func trainedRows(r *workflows.RetrainResult) int64 {
	var n int64
	for _, c := range r.Candidates {
		n = max(n, c.TrainRows)
	}
	return n
}
