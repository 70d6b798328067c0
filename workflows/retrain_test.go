package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// runStart is when every test run starts, in workflow time.
var runStart = time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)

// holdoutRows is how many rows the mocked Evaluate scores every model on.
const holdoutRows = 1750

// exampleSpec is the churn model of kingmaker.example.yaml, changed by edit.
func exampleSpec(t *testing.T, edit func(m *config.Model)) activities.Spec {
	t.Helper()
	cfg := testenv.ExampleConfig(t)
	m, err := cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	return activities.Spec{Model: *m, TrainingTaskQueue: cfg.Temporal.TrainingTaskQueue}
}

// score is one model's holdout result in a scenario.
type score struct{ auc, accuracy float64 }

// harness runs RetrainWorkflow in the SDK test environment with every
// activity mocked. Tests set the scenario fields before run and read what
// the activities were asked to do afterwards.
type harness struct {
	t    *testing.T
	env  *testsuite.TestWorkflowEnvironment
	spec activities.Spec

	// Scenario.
	champion    *registry.Champion // the pointer SnapshotWindow sees (nil: none)
	championHas score
	scores      map[string]score // by candidate name
	trainErr    map[string]error // by candidate name
	snapshotErr error
	lostTo      *registry.Champion // when set, Promote loses the race to it
	trainTakes  time.Duration      // workflow time each training takes
	stageTakes  time.Duration      // workflow time StageRunData takes
	// championProblem, when set, is why Evaluate could not score the champion.
	championProblem string
	// pValue, when set, is the p-value of every candidate's primary
	// comparison (otherwise 0.001 when better, 0.5 when not).
	pValue *float64
	// snapTrainRows is the training rows SnapshotWindow expects (0: a
	// snapshot recorded before it counted them).
	snapTrainRows int64
	// snapLabels is the label coverage SnapshotWindow reports, and
	// stageSkipped the invalid rows StageRunData skipped.
	snapLabels   *activities.LabelCoverage
	stageSkipped int64
	// stageErr is what StageRunData fails with (nil: it succeeds), as a
	// one-pass read refuses a window too small.
	stageErr error

	mu        sync.Mutex
	versions  map[string]string // version -> candidate name
	snapshots []activities.SnapshotInput
	staged    []activities.StageInput
	trained   []activities.TrainInput
	evaluated []activities.EvaluateInput
	promoted  []activities.PromoteInput
	recorded  []activities.RecordInput
	profiled  []activities.ProfileInput
	attrs     map[string]string // the last value upserted for each search attribute
}

func newHarness(t *testing.T, edit func(m *config.Model)) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	h := &harness{
		t: t, env: suite.NewTestWorkflowEnvironment(), spec: exampleSpec(t, edit),
		scores: map[string]score{}, trainErr: map[string]error{}, versions: map[string]string{}, attrs: map[string]string{},
	}
	env := h.env
	env.SetStartTime(runStart)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.RetrainWorkflowID("churn", runStart)})
	env.RegisterWorkflowWithOptions(workflows.RetrainWorkflow, workflow.RegisterOptions{Name: workflows.RetrainWorkflowName})
	env.RegisterWorkflowWithOptions(workflows.ChallengeWorkflow, workflow.RegisterOptions{Name: workflows.ChallengeWorkflowName})
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	env.RegisterActivityWithOptions(externalTrainer, activity.RegisterOptions{Name: externalTrainerName})

	env.OnActivity(acts.LoadSpec, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LoadSpecInput) (*activities.Spec, error) {
			if in.Model != h.spec.Model.Name {
				return nil, temporal.NewNonRetryableApplicationError("no such model", activities.ErrTypeInvalidSpec, nil)
			}
			spec := h.spec
			return &spec, nil
		})
	env.OnActivity(acts.SnapshotWindow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SnapshotInput) (*activities.Snapshot, error) {
			h.mu.Lock()
			h.snapshots = append(h.snapshots, in)
			h.mu.Unlock()
			if h.snapshotErr != nil {
				return nil, h.snapshotErr
			}
			if in.OnePass { // the window is counted when StageRunData reads it
				return &activities.Snapshot{Window: in.Window, Days: 7, Champion: h.champion}, nil
			}
			return &activities.Snapshot{Window: in.Window, Rows: 7000, ByClass: []int64{5200, 1800}, Days: 7, TrainRows: h.snapTrainRows, Champion: h.champion, Labels: h.snapLabels}, nil
		})
	env.OnActivity(acts.StageRunData, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StageInput) (*activities.RunData, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.staged = append(h.staged, in)
			if h.stageErr != nil {
				return nil, h.stageErr
			}
			rd := &activities.RunData{RunID: in.RunID, ManifestSHA256: "5ca1ab1e", TrainRows: 5250, HoldoutRows: holdoutRows, Chunks: 14, Skipped: h.stageSkipped}
			if in.MaxTrainRows > 0 { // one pass: the read counts the window (7000 rows, 5600 on the training side)
				rd.Counted, rd.Rows, rd.SampleRate = true, 7000, min(1, float64(in.MaxTrainRows)/5600)
				if h.snapLabels != nil {
					l := *h.snapLabels
					rd.Labels = &l
				}
			}
			return rd, nil
		}).AfterFn(func() time.Duration { return h.stageTakes })
	env.OnActivity(acts.TrainCandidate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.TrainInput) (*activities.Trained, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.trained = append(h.trained, in)
			if err := h.trainErr[in.Candidate]; err != nil {
				return nil, err
			}
			v := registry.VersionID(in.StartedAt, in.RunID+"/"+in.Candidate).String()
			h.versions[v] = in.Candidate
			return &activities.Trained{Candidate: in.Candidate, Algorithm: in.Candidate, Version: v, TrainRows: 5250, Seconds: 3}, nil
		}).AfterFn(func() time.Duration { return h.trainTakes })
	env.OnActivity(acts.ChallengerVersion, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ChallengerInput) (*activities.Challenger, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			name, ok := h.versions[in.Version]
			if !ok {
				return nil, temporal.NewNonRetryableApplicationError("model churn has no version "+in.Version, activities.ErrTypeInvalidSpec, nil)
			}
			return &activities.Challenger{Version: in.Version, Candidate: name, Algorithm: "xgboost", Registered: true}, nil
		})
	env.OnActivity(acts.ProfileChallenger, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ProfileInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.profiled = append(h.profiled, in)
			return nil
		})
	env.OnActivity(acts.Evaluate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EvaluateInput) (*activities.Evaluation, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.evaluated = append(h.evaluated, in)
			out := &activities.Evaluation{HoldoutRows: holdoutRows}
			scoreChampion := in.Champion != "" && h.championProblem == ""
			if scoreChampion {
				out.Champion = &evaluator.Champion{Version: in.Champion, Metrics: holdoutMetrics(h.championHas)}
			} else if in.Champion != "" {
				out.ChampionProblem = h.championProblem
			}
			for _, v := range in.Candidates {
				name := h.versions[v]
				s, ok := h.scores[name]
				if !ok {
					h.t.Errorf("Evaluate was asked about version %s (candidate %q) that no scenario score covers", v, name)
				}
				c := evaluator.Candidate{Version: v, Algorithm: name, Metrics: holdoutMetrics(s)}
				if scoreChampion {
					primary := comparison(evaluator.MetricROCAUC, h.championHas.auc, s.auc)
					if h.pValue != nil {
						primary.PValue = *h.pValue
					}
					c.Comparisons = []evaluator.Comparison{
						primary,
						comparison(evaluator.MetricAccuracy, h.championHas.accuracy, s.accuracy),
					}
				}
				out.Candidates = append(out.Candidates, c)
			}
			return out, nil
		})
	env.OnActivity(acts.Promote, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PromoteInput) (*activities.PromoteResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.promoted = append(h.promoted, in)
			if h.lostTo != nil {
				return &activities.PromoteResult{Lost: true, LostTo: h.lostTo, Message: "champion of churn changed concurrently"}, nil
			}
			gen := int64(1)
			if in.Expected != nil {
				gen = in.Expected.Generation + 1
			}
			c := &registry.Champion{Model: in.Model, Version: mustUUID(h.t, in.Version), Generation: gen, PromotedBy: in.By, Reason: in.Reason, RunID: in.RunID}
			return &activities.PromoteResult{Champion: c, Message: "promoted"}, nil
		})
	env.OnActivity(acts.Record, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.recorded = append(h.recorded, in)
			return nil
		})
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, k := range []temporal.SearchAttributeKeyKeyword{workflows.AttrModel, workflows.AttrDecision, workflows.AttrChampion} {
			if v, ok := sa.GetKeyword(k); ok {
				h.attrs[k.GetName()] = v
			}
		}
	}).Return(nil)
	return h
}

func holdoutMetrics(s score) evaluator.Metrics {
	auc := s.auc
	return evaluator.Metrics{Rows: holdoutRows, Classes: 2, Accuracy: s.accuracy, ROCAUC: &auc}
}

// comparison is a paired comparison that is significant exactly when the
// challenger is better.
func comparison(metric string, champion, challenger float64) evaluator.Comparison {
	p := 0.5
	if challenger > champion {
		p = 0.001
	}
	return evaluator.Comparison{
		Metric: metric, HigherIsBetter: true, Rows: holdoutRows, Champion: champion, Challenger: challenger,
		AbsoluteChange: challenger - champion, Improvement: challenger - champion, Test: evaluator.PairedBootstrap, PValue: p,
	}
}

func mustUUID(t *testing.T, s string) gocql.UUID {
	t.Helper()
	u, err := gocql.ParseUUID(s)
	if err != nil {
		t.Fatalf("%q is not a version id: %v", s, err)
	}
	return u
}

// run executes the workflow to its end and returns its result (nil when it
// failed) and error.
func (h *harness) run(in workflows.RetrainInput) (*workflows.RetrainResult, error) {
	h.t.Helper()
	return h.execute(workflows.RetrainWorkflowName, in)
}

// execute runs the workflow name (retrain or challenge) with in to its end.
func (h *harness) execute(name string, in any) (*workflows.RetrainResult, error) {
	h.t.Helper()
	h.env.ExecuteWorkflow(name, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res workflows.RetrainResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatalf("decode the result: %v", err)
	}
	return &res, nil
}

// mustRun is run for a run that must succeed.
func (h *harness) mustRun(in workflows.RetrainInput) *workflows.RetrainResult {
	h.t.Helper()
	res, err := h.run(in)
	if err != nil {
		h.t.Fatalf("the run failed: %v", err)
	}
	return res
}

// version returns the version the mocked TrainCandidate gave a candidate.
func (h *harness) version(candidate string) string {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for v, name := range h.versions {
		if name == candidate {
			return v
		}
	}
	h.t.Fatalf("candidate %s was never trained", candidate)
	return ""
}

// progress asks the running workflow its progress query.
func (h *harness) progress() workflows.Progress {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryProgress)
	if err != nil {
		h.t.Fatalf("progress query: %v", err)
	}
	var p workflows.Progress
	if err := v.Get(&p); err != nil {
		h.t.Fatalf("decode progress: %v", err)
	}
	return p
}

// onlyRecord returns the run's one decision record.
func (h *harness) onlyRecord() activities.RecordInput {
	h.t.Helper()
	if len(h.recorded) != 1 {
		h.t.Fatalf("Record was called %d times, want once", len(h.recorded))
	}
	return h.recorded[0]
}

// update sends an approval Update and reports how the workflow answered it.
type updateAnswer struct {
	rejected error
	result   string
	err      error
	done     bool
}

func (h *harness) update(name string, in workflows.ApprovalInput) *updateAnswer {
	ans := &updateAnswer{}
	h.env.UpdateWorkflow(name, name+"-1", &testsuite.TestUpdateCallback{
		OnReject: func(err error) { ans.rejected, ans.done = err, true },
		OnComplete: func(v any, err error) {
			ans.err, ans.done = err, true
			if s, ok := v.(string); ok {
				ans.result = s
			}
		},
	}, in)
	return ans
}

func retrainInput() workflows.RetrainInput {
	return workflows.RetrainInput{Model: "churn", Reason: workflows.ReasonManual, RequestedBy: "tester"}
}

// oldChampion is a pointer at generation 4, for runs that have one.
func oldChampion() *registry.Champion {
	return &registry.Champion{Model: "churn", Version: registry.VersionID(runStart.Add(-48*time.Hour), "old/forest"), Generation: 4, PromotedBy: "kingmaker:old"}
}

func containsAny(reasons []string, want string) bool {
	for _, r := range reasons {
		if strings.Contains(r, want) {
			return true
		}
	}
	return false
}

func TestFirstRunPromotesTheBestPassingCandidateIfNoneExists(t *testing.T) {
	h := newHarness(t, nil)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.55, 0.74}, "forest": {0.83, 0.82}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != h.version("forest") {
		t.Fatalf("outcome %s, winner %s; want promote of the forest %s (reasons: %q)", res.Outcome, res.Winner, h.version("forest"), res.Reasons)
	}
	if !h.env.AssertActivityNumberOfCalls(t, "Promote", 1) {
		t.FailNow()
	}
	p := h.promoted[0]
	if p.Expected != nil {
		t.Errorf("the first promotion expected champion %+v, want nil (INSERT IF NOT EXISTS)", p.Expected)
	}
	if p.Version != res.Winner || p.Action != registry.ActionPromote || p.By != "kingmaker:"+workflows.RetrainWorkflowID("churn", runStart) {
		t.Errorf("Promote got version %s action %s by %q; want the winner, promote, by the run", p.Version, p.Action, p.By)
	}
	if res.Champion == nil || res.Champion.Generation != 1 || res.Previous != nil {
		t.Errorf("champion after the run %+v (previous %+v), want generation 1 with no previous", res.Champion, res.Previous)
	}
	if !containsAny(res.Reasons, "as the first champion") {
		t.Errorf("reasons do not say this is the first champion: %q", res.Reasons)
	}
	if !containsAny(res.Reasons, "roc_auc 0.55 is below the minimum 0.6") {
		t.Errorf("reasons do not say why id3 did not pass: %q", res.Reasons)
	}
	rec := h.onlyRecord()
	if rec.Outcome != string(evaluator.OutcomePromote) || rec.Winner != res.Winner || rec.Champion == nil || rec.HoldoutRows != holdoutRows {
		t.Errorf("record: outcome %s winner %s champion %+v holdout %d", rec.Outcome, rec.Winner, rec.Champion, rec.HoldoutRows)
	}
	if len(h.evaluated) != 1 || h.evaluated[0].Champion != "" || len(h.evaluated[0].Candidates) != 3 {
		t.Errorf("Evaluate got %+v, want the 3 candidates and no champion", h.evaluated)
	}
}

func TestTheWindowEndsAtAsOfOrAtTheRunsStart(t *testing.T) {
	asOf := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		asOf *time.Time
		to   time.Time
	}{
		{"a run with as_of ends its window there", &asOf, asOf},
		{"a run without as_of ends its window when it starts", nil, runStart},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
			in := retrainInput()
			in.AsOf = tc.asOf
			res := h.mustRun(in)
			from := tc.to.Add(-7 * 24 * time.Hour) // window.length: 7d
			if !res.Window.From.Equal(from) || !res.Window.To.Equal(tc.to) {
				t.Errorf("window %s, want [%s, %s)", res.Window, from, tc.to)
			}
			if len(h.snapshots) != 1 || !h.snapshots[0].Window.To.Equal(tc.to) || !h.snapshots[0].Window.From.Equal(from) {
				t.Errorf("SnapshotWindow got %+v, want the same window", h.snapshots)
			}
			for _, tr := range h.trained {
				if !tr.Window.To.Equal(tc.to) || !tr.Window.From.Equal(from) {
					t.Errorf("candidate %s trained on %s, want the run's window", tr.Candidate, tr.Window)
				}
			}
			if rec := h.onlyRecord(); !rec.Window.To.Equal(tc.to) {
				t.Errorf("the record's window %s, want the run's", rec.Window)
			}
		})
	}
}

func TestAChampionNoCandidateBeatsIsKept(t *testing.T) {
	h := newHarness(t, nil)
	h.champion = oldChampion()
	h.championHas = score{0.86, 0.84}
	h.scores = map[string]score{"logistic": {0.80, 0.82}, "id3": {0.70, 0.78}, "forest": {0.862, 0.84}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomeKeep) || res.Winner != "" {
		t.Fatalf("outcome %s winner %q, want keep (reasons: %q)", res.Outcome, res.Winner, res.Reasons)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if len(h.promoted) != 0 {
		t.Errorf("Promote was called: %+v", h.promoted)
	}
	if res.Champion == nil || res.Champion.Version != h.champion.Version || res.Champion.Generation != 4 {
		t.Errorf("champion after the run %+v, want the unchanged generation 4", res.Champion)
	}
	if !containsAny(res.Reasons, "keep champion "+h.champion.Version.String()) {
		t.Errorf("reasons do not say the champion is kept: %q", res.Reasons)
	}
	if !containsAny(res.Reasons, "(< 0.005 required)") {
		t.Errorf("reasons do not say the forest's improvement is too small: %q", res.Reasons)
	}
	if ev := h.evaluated[0]; ev.Champion != h.champion.Version.String() {
		t.Errorf("Evaluate scored champion %q, want %s", ev.Champion, h.champion.Version)
	}
	if rec := h.onlyRecord(); rec.Outcome != string(evaluator.OutcomeKeep) {
		t.Errorf("recorded outcome %s, want keep", rec.Outcome)
	}
	if h.attrs["KingmakerDecision"] != "keep" || h.attrs["KingmakerChampion"] != h.champion.Version.String() {
		t.Errorf("search attributes %v, want decision keep and the old champion", h.attrs)
	}
}

func TestACandidateThatFailsToTrainIsReportedAndTheOthersDecide(t *testing.T) {
	h := newHarness(t, nil)
	h.trainErr["forest"] = errors.New("worker lost its disk")
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != h.version("logistic") {
		t.Fatalf("outcome %s winner %s, want logistic promoted (reasons: %q)", res.Outcome, res.Winner, res.Reasons)
	}
	var forest *workflows.CandidateProgress
	for i := range res.Candidates {
		if res.Candidates[i].Name == "forest" {
			forest = &res.Candidates[i]
		}
	}
	if forest == nil || forest.Stage != "failed" || !strings.Contains(forest.Error, "worker lost its disk") || forest.Version != "" {
		t.Fatalf("forest's progress %+v, want failed with the error", forest)
	}
	if !containsAny(res.Reasons, "candidate forest (forest) failed") {
		t.Errorf("reasons do not report the failed candidate: %q", res.Reasons)
	}
	if got := h.evaluated[0].Candidates; len(got) != 2 {
		t.Errorf("Evaluate got %d candidates, want the 2 that trained", len(got))
	}
	// A retryable error is retried by the activity's policy (3 attempts).
	attempts := 0
	for _, tr := range h.trained {
		if tr.Candidate == "forest" {
			attempts++
		}
	}
	if attempts != 3 {
		t.Errorf("forest was attempted %d times, want 3 (the training retry policy)", attempts)
	}
}

func TestParallelTrainingsBoundsHowManyCandidatesTrainAtOnce(t *testing.T) {
	// Each training takes 10 minutes of workflow time, so the run's length
	// says how many ran at once: three rounds for one at a time, two for
	// two, one for all.
	for _, tc := range []struct {
		parallel int
		rounds   time.Duration
	}{{0, 1}, {1, 3}, {2, 2}, {5, 1}} {
		h := newHarness(t, func(m *config.Model) { m.ParallelTrainings = tc.parallel })
		h.trainTakes = 10 * time.Minute
		h.trainErr["id3"] = temporal.NewNonRetryableApplicationError("one-class sample", activities.ErrTypeInvalidData, nil)
		h.scores = map[string]score{"logistic": {0.78, 0.80}, "forest": {0.76, 0.79}}
		res := h.mustRun(retrainInput())
		took := h.env.Now().Sub(runStart)
		if took < tc.rounds*10*time.Minute || took >= (tc.rounds+1)*10*time.Minute {
			t.Errorf("parallel_trainings %d: the run took %s of workflow time, want %d rounds of 10m", tc.parallel, took, tc.rounds)
		}
		var order []string
		for _, tr := range h.trained {
			order = append(order, tr.Candidate)
			if tr.Spec == nil || tr.Spec.Name != "churn" || tr.Spec.ParallelTrainings != tc.parallel {
				t.Errorf("TrainCandidate got spec %+v, want the one LoadSpec recorded", tr.Spec)
			}
		}
		if h.snapshots[0].Spec == nil || h.evaluated[0].Spec == nil {
			t.Error("SnapshotWindow and Evaluate must get the spec LoadSpec recorded")
		}
		if tc.parallel != 1 {
			slices.Sort(order) // trainings that start together are recorded in any order
		}
		want := map[bool]string{true: "logistic,id3,forest", false: "forest,id3,logistic"}[tc.parallel == 1]
		if strings.Join(order, ",") != want {
			t.Errorf("parallel_trainings %d: trained %v, want %s (the config's order when one at a time), each once", tc.parallel, order, want)
		}
		if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != h.version("logistic") || len(res.Candidates) != 3 ||
			res.Candidates[1].Stage != "failed" || res.Candidates[2].Stage != "trained" {
			t.Errorf("parallel_trainings %d: outcome %s winner %s candidates %+v", tc.parallel, res.Outcome, res.Winner, res.Candidates)
		}
	}
}

func TestARunWhoseCandidatesAllFailFailsAndIsStillRecorded(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []string{"logistic", "id3", "forest"} {
		h.trainErr[c] = temporal.NewNonRetryableApplicationError("one class only", activities.ErrTypeInvalidData, nil)
	}
	_, err := h.run(retrainInput())
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != "AllCandidatesFailed" || !strings.Contains(err.Error(), "every candidate failed to train") {
		t.Fatalf("run error %v, want AllCandidatesFailed", err)
	}
	h.env.AssertActivityNotCalled(t, "Evaluate", mock.Anything, mock.Anything)
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	rec := h.onlyRecord()
	if rec.Outcome != workflows.OutcomeFailed {
		t.Errorf("recorded outcome %q, want failed", rec.Outcome)
	}
	if !strings.Contains(string(rec.Decision), "every candidate failed to train") || !strings.Contains(string(rec.Decision), "one class only") {
		t.Errorf("the decision record does not say why: %s", rec.Decision)
	}
	if h.attrs["KingmakerDecision"] != workflows.OutcomeFailed {
		t.Errorf("KingmakerDecision %q, want failed", h.attrs["KingmakerDecision"])
	}
}

func TestAFirstRunWhereNothingPassesPromotesNothingAndSaysWhy(t *testing.T) {
	h := newHarness(t, nil)
	h.scores = map[string]score{"logistic": {0.58, 0.70}, "id3": {0.52, 0.66}, "forest": {0.59, 0.71}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomeNone) || res.Winner != "" || res.Champion != nil {
		t.Fatalf("outcome %s winner %q champion %+v, want none", res.Outcome, res.Winner, res.Champion)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if !containsAny(res.Reasons, "nothing promoted (no champion yet): none of the 3 candidates passed") {
		t.Errorf("reasons do not say nothing passed: %q", res.Reasons)
	}
	if rec := h.onlyRecord(); rec.Outcome != string(evaluator.OutcomeNone) || !strings.Contains(string(rec.Decision), "is below the minimum 0.6") {
		t.Errorf("record %s %s, want none with the reasons", rec.Outcome, rec.Decision)
	}
	if _, ok := h.attrs["KingmakerChampion"]; ok {
		t.Errorf("KingmakerChampion set to %q for a model with no champion", h.attrs["KingmakerChampion"])
	}
}

func TestAChampionThatCannotBeScoredIsReplacedThroughTheSamePointer(t *testing.T) {
	h := newHarness(t, nil)
	h.champion = oldChampion()
	h.championProblem = "champion " + h.champion.Version.String() + " could not be loaded (corrupt artifact); candidates are judged as for a first champion"
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != h.version("forest") {
		t.Fatalf("outcome %s winner %s, want the forest promoted (reasons: %q)", res.Outcome, res.Winner, res.Reasons)
	}
	// Judged as a first champion, but promoted by compare-and-set on the
	// pointer the run saw: the run must not try INSERT IF NOT EXISTS.
	if p := h.promoted[0]; p.Expected == nil || p.Expected.Version != h.champion.Version || p.Expected.Generation != 4 {
		t.Errorf("Promote expected %+v, want the unscorable champion at generation 4", p.Expected)
	}
	if res.Champion == nil || res.Champion.Generation != 5 {
		t.Errorf("champion after the run %+v, want generation 5", res.Champion)
	}
	if !containsAny(res.Reasons, "could not be loaded (corrupt artifact)") {
		t.Errorf("reasons do not carry the champion's problem: %q", res.Reasons)
	}
}

func TestAModelTheWorkerDoesNotKnowFailsTheRun(t *testing.T) {
	h := newHarness(t, nil)
	in := retrainInput()
	in.Model = "fraud"
	_, err := h.run(in)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidSpec {
		t.Fatalf("run error %v, want InvalidSpec", err)
	}
	h.env.AssertActivityNotCalled(t, "SnapshotWindow", mock.Anything, mock.Anything)
	// Even a run that fails at LoadSpec leaves its decision record and says
	// so in the Temporal UI.
	if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeFailed || rec.Model != "fraud" || !strings.Contains(string(rec.Decision), "no such model") {
		t.Errorf("record %s of %s: %s, want the failure recorded", rec.Outcome, rec.Model, rec.Decision)
	}
	if h.attrs["KingmakerDecision"] != workflows.OutcomeFailed {
		t.Errorf("KingmakerDecision %q, want failed", h.attrs["KingmakerDecision"])
	}
}

func TestInvalidDataInTheWindowFailsTheRunWithItsMessage(t *testing.T) {
	h := newHarness(t, nil)
	msg := "model churn: window holds 12 rows, fewer than window.min_rows 1000"
	h.snapshotErr = temporal.NewNonRetryableApplicationError(msg, activities.ErrTypeInvalidData, nil)
	_, err := h.run(retrainInput())
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidData || !strings.Contains(err.Error(), "window.min_rows 1000") {
		t.Fatalf("run error %v, want InvalidData naming window.min_rows", err)
	}
	if len(h.snapshots) != 1 {
		t.Errorf("SnapshotWindow was called %d times, want once: the error is non-retryable", len(h.snapshots))
	}
	h.env.AssertActivityNotCalled(t, "TrainCandidate", mock.Anything, mock.Anything)
	if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeFailed || !strings.Contains(string(rec.Decision), "window.min_rows") {
		t.Errorf("record %s %s, want failed with the message", rec.Outcome, rec.Decision)
	}
}

func requireApproval(m *config.Model) { m.Policy.RequireApproval = true }

func TestARunAwaitingApprovalIsPromotedByTheApprover(t *testing.T) {
	h := newHarness(t, requireApproval)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	var waiting workflows.Progress
	var ans *updateAnswer
	h.env.RegisterDelayedCallback(func() {
		waiting = h.progress()
		ans = h.update(workflows.UpdateApprove, workflows.ApprovalInput{By: "alice", Reason: "looks right"})
	}, time.Hour)
	res := h.mustRun(retrainInput())

	if waiting.Stage != workflows.StageAwaiting || waiting.Decision == nil || waiting.Decision.Outcome != evaluator.OutcomeAwaitApproval {
		t.Fatalf("progress while waiting: stage %s decision %+v, want awaiting_approval", waiting.Stage, waiting.Decision)
	}
	if ans == nil || !ans.done || ans.rejected != nil || ans.err != nil || !strings.Contains(ans.result, "approved") {
		t.Fatalf("the approve update was answered %+v, want accepted and completed", ans)
	}
	if res.Outcome != string(evaluator.OutcomePromote) || len(h.promoted) != 1 {
		t.Fatalf("outcome %s with %d promotions, want one promotion", res.Outcome, len(h.promoted))
	}
	if p := h.promoted[0]; p.By != "alice" || p.Version != h.version("forest") {
		t.Errorf("promoted %s by %q, want the forest by alice", p.Version, p.By)
	}
	if res.Approval == nil || !res.Approval.Approved || res.Approval.By != "alice" {
		t.Errorf("result's approval %+v, want alice's", res.Approval)
	}
	if !containsAny(res.Reasons, "approved by alice: looks right") {
		t.Errorf("reasons do not say who approved: %q", res.Reasons)
	}
}

func TestARejectedRunPromotesNothing(t *testing.T) {
	h := newHarness(t, requireApproval)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	var ans *updateAnswer
	h.env.RegisterDelayedCallback(func() {
		ans = h.update(workflows.UpdateReject, workflows.ApprovalInput{By: "bob", Reason: "holiday freeze"})
	}, time.Hour)
	res := h.mustRun(retrainInput())

	if ans == nil || ans.rejected != nil || ans.err != nil {
		t.Fatalf("the reject update was answered %+v, want accepted", ans)
	}
	if res.Outcome != workflows.OutcomeRejected {
		t.Fatalf("outcome %s, want rejected (reasons: %q)", res.Outcome, res.Reasons)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeRejected || !strings.Contains(string(rec.Decision), "holiday freeze") {
		t.Errorf("record %s %s, want rejected with bob's reason", rec.Outcome, rec.Decision)
	}
	if !containsAny(res.Reasons, "rejected by bob: holiday freeze") {
		t.Errorf("reasons do not say who rejected: %q", res.Reasons)
	}
}

func TestARunNobodyAnswersExpiresAfterTheApprovalTimeout(t *testing.T) {
	h := newHarness(t, func(m *config.Model) {
		requireApproval(m)
		m.Policy.ApprovalTimeout = config.Duration(2 * time.Hour)
	})
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	var before workflows.Progress
	h.env.RegisterDelayedCallback(func() { before = h.progress() }, 119*time.Minute)
	res := h.mustRun(retrainInput())
	after := h.progress()

	if res.Outcome != workflows.OutcomeApprovalExpired {
		t.Fatalf("outcome %s, want approval_expired (reasons: %q)", res.Outcome, res.Reasons)
	}
	if before.Stage != workflows.StageAwaiting {
		t.Errorf("stage just before the timeout %s, want awaiting_approval", before.Stage)
	}
	if after.Stage != workflows.StageDone {
		t.Errorf("stage after the timeout %s, want done", after.Stage)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if !containsAny(res.Reasons, "nobody approved within 2h") {
		t.Errorf("reasons do not say the approval expired: %q", res.Reasons)
	}
	if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeApprovalExpired {
		t.Errorf("recorded outcome %s, want approval_expired", rec.Outcome)
	}
}

func TestTheApprovalValidatorRejectsUpdatesItCannotUse(t *testing.T) {
	cases := []struct {
		name     string
		approval bool // the policy requires approval
		update   string
		in       workflows.ApprovalInput
		want     string
	}{
		{"an approval while candidates train is rejected", false, workflows.UpdateApprove,
			workflows.ApprovalInput{By: "alice", Reason: "eager"}, "is not awaiting approval (stage training)"},
		{"a rejection while candidates train is rejected", true, workflows.UpdateReject,
			workflows.ApprovalInput{By: "bob", Reason: "eager"}, "is not awaiting approval (stage training)"},
		{"an approval without a reason is rejected", true, workflows.UpdateApprove,
			workflows.ApprovalInput{By: "alice"}, "who (by) and why (reason) are required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var edit func(*config.Model)
			if tc.approval {
				edit = requireApproval
			}
			h := newHarness(t, edit)
			h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
			// Training takes an hour of workflow time; the update comes
			// during it, or (for the missing reason) once the run awaits.
			h.trainTakes = time.Hour
			at := 30 * time.Minute
			if !strings.Contains(tc.want, "stage training") {
				at = 3 * time.Hour
			}
			var ans *updateAnswer
			h.env.RegisterDelayedCallback(func() { ans = h.update(tc.update, tc.in) }, at)
			res := h.mustRun(retrainInput())

			if ans == nil || ans.rejected == nil || !strings.Contains(ans.rejected.Error(), tc.want) {
				t.Fatalf("the update was answered %+v, want rejected with %q", ans, tc.want)
			}
			want := string(evaluator.OutcomePromote)
			if tc.approval {
				want = workflows.OutcomeApprovalExpired // the rejected update did not count as an answer
			}
			if res.Outcome != want {
				t.Errorf("outcome %s, want %s", res.Outcome, want)
			}
		})
	}
}

func TestALostCompareAndSetEndsAsLostRaceNotAFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.champion = oldChampion()
	h.championHas = score{0.76, 0.80}
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	winner := &registry.Champion{Model: "churn", Version: registry.VersionID(runStart, "someone/else"), Generation: 5, PromotedBy: "carol"}
	h.lostTo = winner
	res := h.mustRun(retrainInput())

	if res.Outcome != workflows.OutcomeLostRace {
		t.Fatalf("outcome %s, want lost_race (reasons: %q)", res.Outcome, res.Reasons)
	}
	if len(h.promoted) != 1 || h.promoted[0].Expected == nil || h.promoted[0].Expected.Generation != 4 {
		t.Fatalf("Promote got %+v, want one attempt expecting generation 4", h.promoted)
	}
	if res.Champion == nil || res.Champion.Version != winner.Version || res.Champion.Generation != 5 {
		t.Errorf("champion after the run %+v, want the race's winner at generation 5", res.Champion)
	}
	if !containsAny(res.Reasons, "not promoted: champion of churn changed concurrently") {
		t.Errorf("reasons do not say the race was lost: %q", res.Reasons)
	}
	if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeLostRace {
		t.Errorf("recorded outcome %s, want lost_race", rec.Outcome)
	}
	if h.attrs["KingmakerDecision"] != workflows.OutcomeLostRace || h.attrs["KingmakerChampion"] != winner.Version.String() {
		t.Errorf("search attributes %v, want lost_race and the winner", h.attrs)
	}
}

func TestARunSetsItsSearchAttributes(t *testing.T) {
	h := newHarness(t, nil)
	h.champion = oldChampion()
	h.championHas = score{0.76, 0.80}
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil || res.Champion.Generation != 5 {
		t.Fatalf("outcome %s champion %+v, want a promotion to generation 5", res.Outcome, res.Champion)
	}
	want := map[string]string{
		"KingmakerModel":    "churn",
		"KingmakerDecision": "promote",
		"KingmakerChampion": h.version("forest"),
	}
	for k, v := range want {
		if h.attrs[k] != v {
			t.Errorf("search attribute %s = %q, want %q", k, h.attrs[k], v)
		}
	}
	if !containsAny(res.Reasons, "over champion "+h.champion.Version.String()) || !containsAny(res.Reasons, "vs champion 0.76") {
		t.Errorf("reasons do not mention the comparison with the champion: %q", res.Reasons)
	}
}
