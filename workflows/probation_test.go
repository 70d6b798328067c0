package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// probationPeriod is the policy.probation.period of the probation tests.
const probationPeriod = 24 * time.Hour

func probationPolicy() config.Probation {
	return config.Probation{
		Period: config.Duration(probationPeriod), Metric: evaluator.MetricAccuracy, MinLabelledRows: 200,
		MaxDrop: 0.01, SignificanceLevel: 0.05, CheckEvery: config.Duration(time.Hour),
	}
}

// probationHarness runs ProbationWorkflow on mocked activities: the pointer
// CheckProbation reads is champion (changed by the test at will), the
// evidence is evidence, and Promote answers as the registry would.
type probationHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	in  workflows.ProbationInput

	mu        sync.Mutex
	champion  *registry.Champion
	check     func(activities.ProbationCheck) activities.ProbationCheck
	checkErr  func() error
	evidence  evaluator.ProbationEvidence
	promoteFn func(activities.PromoteInput) (*activities.PromoteResult, error)

	shadows   []activities.SetShadowInput
	clears    []activities.ClearShadowInput
	checks    int
	evidences []activities.ProbationEvidenceInput
	promotes  []activities.PromoteInput
	records   []activities.RecordProbationInput
	ended     []activities.ProbationEndedInput
}

func newProbationHarness(t *testing.T, edit func(p *config.Probation)) *probationHarness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	p := probationPolicy()
	if edit != nil {
		edit(&p)
	}
	previous := oldChampion()
	promoted := registry.Champion{Model: "churn", Version: registry.VersionID(runStart, "run/forest"), Generation: previous.Generation + 1, PromotedBy: "kingmaker:run"}
	h := &probationHarness{
		t: t, env: suite.NewTestWorkflowEnvironment(),
		in: workflows.ProbationInput{Model: "churn", Champion: promoted, Previous: previous.Version.String(), Probation: p},
	}
	c := promoted
	h.champion = &c
	env := h.env
	env.SetStartTime(runStart)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.ProbationID("churn", promoted.Generation)})
	env.RegisterWorkflowWithOptions(workflows.ProbationWorkflow, workflow.RegisterOptions{Name: workflows.ProbationWorkflowName})
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	env.OnActivity(acts.SetShadow, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SetShadowInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.shadows = append(h.shadows, in)
		return nil
	})
	env.OnActivity(acts.ClearShadow, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ClearShadowInput) (*activities.ClearedShadow, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.clears = append(h.clears, in)
		return &activities.ClearedShadow{Cleared: true}, nil
	})
	env.OnActivity(acts.CheckProbation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ProbationCheckInput) (*activities.ProbationCheck, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.checks++
		if h.checkErr != nil {
			if err := h.checkErr(); err != nil {
				return nil, err
			}
		}
		out := activities.ProbationCheck{}
		if h.champion != nil {
			c := *h.champion
			out.Champion = &c
		}
		if h.check != nil {
			out = h.check(out)
		}
		return &out, nil
	})
	env.OnActivity(acts.ProbationEvidence, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ProbationEvidenceInput) (*activities.ProbationEvidence, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.evidences = append(h.evidences, in)
		ev := h.evidence
		ev.New, ev.Previous = in.New, in.Previous
		return &activities.ProbationEvidence{ProbationEvidence: ev, Rows: int64(ev.LabelledRows) * 2}, nil
	})
	env.OnActivity(acts.Promote, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PromoteInput) (*activities.PromoteResult, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.promotes = append(h.promotes, in)
		if h.promoteFn != nil {
			return h.promoteFn(in)
		}
		c := registry.Champion{Model: in.Model, Version: mustUUID(t, in.Version), Generation: in.Expected.Generation + 1, PromotedBy: in.By, Reason: in.Reason}
		h.champion = &c
		return &activities.PromoteResult{Champion: &c}, nil
	})
	env.OnActivity(acts.RecordProbation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordProbationInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.records = append(h.records, in)
		return nil
	})
	env.OnActivity(acts.ProbationEnded, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ProbationEndedInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.ended = append(h.ended, in)
		return nil
	})
	return h
}

// paired is evidence on rows labelled rows where the previous champion did
// drop better (accuracy), with one-sided p-value p.
func paired(rows int, drop, p float64) evaluator.ProbationEvidence {
	return evaluator.ProbationEvidence{LabelledRows: rows, Comparison: &evaluator.Comparison{
		Metric: evaluator.MetricAccuracy, HigherIsBetter: true, Rows: rows, Champion: 0.80, Challenger: 0.80 + drop,
		AbsoluteChange: drop, Improvement: drop, Test: evaluator.McNemarOneSided, PValue: p,
	}}
}

func (h *probationHarness) run() *workflows.ProbationState {
	h.t.Helper()
	h.env.ExecuteWorkflow(workflows.ProbationWorkflowName, h.in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("the probation did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("the probation failed: %v", err)
	}
	var st workflows.ProbationState
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.t.Fatalf("decode the result: %v", err)
	}
	return &st
}

// ended checks the bookkeeping every probation does at its end: the shadow
// pointer it set cleared, one record and one count of outcome.
func (h *probationHarness) endedAs(st *workflows.ProbationState, outcome string) {
	h.t.Helper()
	if st.Outcome != outcome {
		h.t.Fatalf("outcome %q, want %q (reasons: %q)", st.Outcome, outcome, st.Reasons)
	}
	if len(h.shadows) != 1 || h.shadows[0].Version != h.in.Previous || h.shadows[0].StartedBy != workflows.ProbationID("churn", h.in.Champion.Generation) {
		h.t.Fatalf("shadow pointers set %+v, want the previous champion %s set once by the probation", h.shadows, h.in.Previous)
	}
	if len(h.clears) != 1 || h.clears[0].StartedBy != h.shadows[0].StartedBy {
		h.t.Fatalf("shadow clears %+v, want the probation's own pointer cleared once", h.clears)
	}
	if len(h.records) != 1 || h.records[0].Outcome != outcome {
		h.t.Fatalf("records %+v, want one with outcome %s", h.records, outcome)
	}
	if len(h.ended) != 1 || h.ended[0].Outcome != outcome || h.ended[0].Model != "churn" {
		h.t.Fatalf("outcomes counted %+v, want one %s of churn", h.ended, outcome)
	}
}

func TestAProbationWithoutASignificantDropConfirmsTheNewChampion(t *testing.T) {
	h := newProbationHarness(t, nil)
	h.evidence = paired(500, 0.02, 0.20) // worse by more than max_drop, but not significantly
	var during workflows.ProbationState
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryProbation)
		if err != nil {
			t.Errorf("probation query: %v", err)
			return
		}
		if err := v.Get(&during); err != nil {
			t.Errorf("decode the probation query: %v", err)
		}
	}, 5*time.Hour+30*time.Minute)
	st := h.run()

	h.endedAs(st, evaluator.ProbationConfirmed)
	if len(h.promotes) != 0 {
		t.Fatalf("a confirmed probation moved the pointer: %+v", h.promotes)
	}
	if during.State != workflows.ProbationWatching || during.Checks != 5 {
		t.Fatalf("during the period the query said %q after %d checks, want watching after 5", during.State, during.Checks)
	}
	if h.checks != 24 {
		t.Fatalf("%d checks in a day checked hourly, want 24", h.checks)
	}
	if len(h.evidences) != 1 || !h.evidences[0].From.Equal(runStart) || h.evidences[0].To.Sub(runStart) < probationPeriod {
		t.Fatalf("evidence asked %+v, want once for the whole period from %s", h.evidences, runStart)
	}
	if !strings.Contains(st.Reasons[0], "not significant") {
		t.Fatalf("the reason %q does not say the drop was not significant", st.Reasons[0])
	}
}

func TestASignificantDropRollsBackByCompareAndSetOnce(t *testing.T) {
	h := newProbationHarness(t, nil)
	h.evidence = paired(500, 0.05, 0.001)
	attempts := 0
	h.promoteFn = func(in activities.PromoteInput) (*activities.PromoteResult, error) {
		attempts++
		if attempts == 1 { // the first attempt times out after committing
			return nil, errors.New("timeout")
		}
		c := registry.Champion{Model: in.Model, Version: mustUUID(t, in.Version), Generation: in.Expected.Generation + 1, PromotedBy: in.By}
		return &activities.PromoteResult{Champion: &c}, nil
	}
	st := h.run()

	h.endedAs(st, evaluator.ProbationRolledBack)
	if len(h.promotes) != 2 {
		t.Fatalf("Promote was tried %d times, want 2 (one retry)", len(h.promotes))
	}
	for _, p := range h.promotes {
		if p.Action != registry.ActionRollback || p.Version != h.in.Previous || p.Expected == nil ||
			p.Expected.Generation != h.in.Champion.Generation || p.Expected.Version != h.in.Champion.Version {
			t.Fatalf("rollback asked %+v, want the previous champion by compare-and-set from generation %d", p, h.in.Champion.Generation)
		}
		if p.RequestID != h.promotes[0].RequestID || p.RequestID == "" {
			t.Fatalf("the retry's request id %q differs from the first %q: the registry could not recognise its own success", p.RequestID, h.promotes[0].RequestID)
		}
	}
	rec := h.records[0]
	if rec.Kept != h.in.Previous || rec.Champion == nil || rec.Champion.Generation != h.in.Champion.Generation+1 {
		t.Fatalf("record keeps %s at %+v, want the previous champion at generation %d", rec.Kept, rec.Champion, h.in.Champion.Generation+1)
	}
}

func TestAManualPromotionDuringProbationEndsItSuperseded(t *testing.T) {
	h := newProbationHarness(t, nil)
	h.evidence = paired(500, 0.05, 0.001)
	h.env.RegisterDelayedCallback(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.champion = &registry.Champion{Model: "churn", Version: registry.VersionID(runStart, "someone/else"), Generation: h.in.Champion.Generation + 1, PromotedBy: "alice", Reason: "hotfix"}
	}, 2*time.Hour+30*time.Minute)
	st := h.run()

	h.endedAs(st, workflows.ProbationSuperseded)
	if len(h.promotes) != 0 || len(h.evidences) != 0 {
		t.Fatalf("a superseded probation judged (%d) or rolled back (%d)", len(h.evidences), len(h.promotes))
	}
	if h.checks != 3 {
		t.Fatalf("%d checks, want the third (the first after the change) to end it", h.checks)
	}
	if !strings.Contains(st.Reasons[0], "alice") {
		t.Fatalf("the reason %q does not say who moved the pointer", st.Reasons[0])
	}
}

func TestARollbackThatLosesItsCompareAndSetEndsSuperseded(t *testing.T) {
	h := newProbationHarness(t, nil)
	h.evidence = paired(500, 0.05, 0.001)
	h.promoteFn = func(activities.PromoteInput) (*activities.PromoteResult, error) {
		return &activities.PromoteResult{Lost: true, Message: "champion of churn changed concurrently"}, nil
	}
	st := h.run()

	h.endedAs(st, workflows.ProbationSuperseded)
	if len(h.promotes) != 1 {
		t.Fatalf("Promote was called %d times, want once: losing is an outcome, not a retry", len(h.promotes))
	}
}

func TestTooFewLabelledRowsKeepTheNewChampionAsInconclusive(t *testing.T) {
	h := newProbationHarness(t, nil)
	h.evidence = paired(40, 0.3, 0.0001) // a huge drop, on too few rows to judge
	st := h.run()

	h.endedAs(st, evaluator.ProbationInconclusive)
	if len(h.promotes) != 0 {
		t.Fatalf("an inconclusive probation moved the pointer: %+v", h.promotes)
	}
	if !strings.Contains(st.Reasons[0], "min_labelled_rows 200") {
		t.Fatalf("the reason %q does not name policy.probation.min_labelled_rows", st.Reasons[0])
	}
}

func TestServingErrorsOverTheLimitRollBackEarly(t *testing.T) {
	h := newProbationHarness(t, func(p *config.Probation) {
		p.MaxErrorRate, p.MetricsURL = 0.05, "http://127.0.0.1:9090"
	})
	h.evidence = paired(500, 0, 0.5)
	h.check = func(c activities.ProbationCheck) activities.ProbationCheck {
		if h.checks >= 4 {
			requests, rate := 100.0, 0.2
			c.Requests, c.ErrorRate = &requests, &rate
		}
		return c
	}
	st := h.run()

	h.endedAs(st, evaluator.ProbationRolledBack)
	if h.checks != 4 || len(h.evidences) != 0 {
		t.Fatalf("%d checks and %d evidence reads, want the fourth check to roll back without waiting for labels", h.checks, len(h.evidences))
	}
	if len(h.promotes) != 1 || h.promotes[0].Action != registry.ActionRollback || !strings.Contains(h.promotes[0].Reason, "max_error_rate") {
		t.Fatalf("rollbacks %+v, want one saying policy.probation.max_error_rate", h.promotes)
	}
}

func TestAFewFailedRequestsAreNoErrorRate(t *testing.T) {
	h := newProbationHarness(t, func(p *config.Probation) {
		p.MaxErrorRate, p.MetricsURL = 0.05, "http://127.0.0.1:9090"
	})
	h.evidence = paired(500, 0, 0.5)
	h.check = func(c activities.ProbationCheck) activities.ProbationCheck {
		requests, rate := 3.0, 1.0/3
		c.Requests, c.ErrorRate = &requests, &rate
		return c
	}
	h.endedAs(h.run(), evaluator.ProbationConfirmed)
}

func TestLatencyOverTheLimitRollsBackEarly(t *testing.T) {
	h := newProbationHarness(t, func(p *config.Probation) {
		p.MaxLatencyP99, p.MetricsURL = config.Duration(50*time.Millisecond), "http://127.0.0.1:9090"
	})
	h.check = func(c activities.ProbationCheck) activities.ProbationCheck {
		p99 := 0.2
		c.LatencyP99 = &p99
		return c
	}
	st := h.run()
	h.endedAs(st, evaluator.ProbationRolledBack)
	if h.checks != 1 || !strings.Contains(st.Reasons[0], "max_latency_p99") {
		t.Fatalf("%d checks, reason %q: want the first check to roll back on policy.probation.max_latency_p99", h.checks, st.Reasons[0])
	}
}

func withProbation(m *config.Model) { m.Policy.Probation = probationPolicy() }

func TestAPromotionOverAChampionStartsItsProbation(t *testing.T) {
	h := challenged(t, withProbation)
	var started []workflows.ProbationInput
	h.env.OnWorkflow(workflows.ProbationWorkflow, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in workflows.ProbationInput) (*workflows.ProbationState, error) {
			started = append(started, in)
			return &workflows.ProbationState{}, nil
		})
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil {
		t.Fatalf("outcome %s, want the forest promoted (reasons %q)", res.Outcome, res.Reasons)
	}
	want := workflows.ProbationID("churn", res.Champion.Generation)
	if res.Probation != want || len(started) != 1 {
		t.Fatalf("probation %q started %d times, want %s once", res.Probation, len(started), want)
	}
	if in := started[0]; in.Previous != oldChampion().Version.String() || in.Champion.Generation != res.Champion.Generation || !in.Probation.Enabled() {
		t.Fatalf("probation input %+v, want the new champion against %s", in, oldChampion().Version)
	}
}

func TestAFirstChampionHasNoProbation(t *testing.T) {
	h := newHarness(t, withProbation)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	res := h.mustRun(retrainInput())
	if res.Probation != "" || !containsAny(res.Reasons, "no previous champion") {
		t.Fatalf("probation %q reasons %q, want none for a first champion, said so", res.Probation, res.Reasons)
	}
}

func TestAFailedCheckCostsACheckNotTheProbation(t *testing.T) {
	h := newProbationHarness(t, nil)
	h.evidence = paired(500, 0, 0.5)
	h.checkErr = func() error {
		if h.checks == 3 {
			return temporal.NewNonRetryableApplicationError("registry down", "test", nil)
		}
		return nil
	}
	st := h.run()
	h.endedAs(st, evaluator.ProbationConfirmed)
	if st.MissedChecks != 1 || st.Checks != 23 {
		t.Fatalf("%d checks and %d missed, want 23 and the failed one counted", st.Checks, st.MissedChecks)
	}
}
