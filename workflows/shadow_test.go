package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// shadowPeriod is the policy.shadow.period of the shadow tests.
const shadowPeriod = 6 * time.Hour

func withShadow(m *config.Model) {
	m.Policy.Shadow = config.Shadow{Period: config.Duration(shadowPeriod), MinRequests: 100, MinAgreement: 0.9, MinLabelledRows: 50, MaxAccuracyDrop: 0.01}
}

// shadowMocks records the shadow activities a run calls, in order with
// Promote, and answers ShadowReport with evidence.
type shadowMocks struct {
	evidence activities.ShadowEvidence
	// reportErr, when set, is what ShadowReport fails with.
	reportErr error

	calls   []string // shadow activities and Promote, in the order they started
	set     []activities.SetShadowInput
	reports []activities.ShadowReportInput
	clears  []activities.ClearShadowInput
}

// mockShadow adds the shadow activities to a harness and watches the order
// in which they and Promote start.
func mockShadow(h *harness) *shadowMocks {
	s := &shadowMocks{}
	acts := &activities.Activities{}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		switch name := info.ActivityType.Name; name {
		case "SetShadow", "ShadowReport", "ClearShadow", "Promote":
			h.mu.Lock()
			s.calls = append(s.calls, name)
			h.mu.Unlock()
		}
	})
	h.env.OnActivity(acts.SetShadow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetShadowInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			s.set = append(s.set, in)
			return nil
		})
	h.env.OnActivity(acts.ShadowReport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ShadowReportInput) (*activities.ShadowEvidence, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			s.reports = append(s.reports, in)
			if s.reportErr != nil {
				return nil, s.reportErr
			}
			ev := s.evidence
			ev.Model, ev.Version = in.Model, in.Version
			return &ev, nil
		})
	h.env.OnActivity(acts.ClearShadow, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ClearShadowInput) (*activities.ClearedShadow, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			s.clears = append(s.clears, in)
			return &activities.ClearedShadow{Cleared: true}, nil
		})
	return s
}

// agreeing is evidence of n rows, agreed of them with the champion's class.
func agreeing(n, agreed int64) activities.ShadowEvidence {
	ev := activities.ShadowEvidence{Rows: n, Agreed: agreed}
	if n > 0 {
		r := float64(agreed) / float64(n)
		ev.Agreement = &r
	}
	return ev
}

// labelled adds live accuracies on rows labelled rows to evidence.
func labelled(ev activities.ShadowEvidence, rows int, champion, shadow float64) activities.ShadowEvidence {
	ev.LabelledRows = rows
	ev.ChampionLive = &evaluator.Metrics{Rows: rows, Classes: 2, Accuracy: champion}
	ev.ShadowLive = &evaluator.Metrics{Rows: rows, Classes: 2, Accuracy: shadow}
	return ev
}

// challenged is a harness with the old champion and a forest that beats it.
func challenged(t *testing.T, edit func(m *config.Model)) *harness {
	h := newHarness(t, edit)
	h.champion = oldChampion()
	h.championHas = score{0.76, 0.80}
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	return h
}

func TestAShadowedWinnerThatAgreesIsPromotedAfterTheShadowPeriod(t *testing.T) {
	h := challenged(t, withShadow)
	s := mockShadow(h)
	s.evidence = agreeing(500, 480)
	var during workflows.Progress
	h.env.RegisterDelayedCallback(func() { during = h.progress() }, time.Hour)
	res := h.mustRun(retrainInput())

	forest := h.version("forest")
	if res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil || res.Champion.Version.String() != forest {
		t.Fatalf("outcome %s champion %+v, want the forest promoted (reasons: %q)", res.Outcome, res.Champion, res.Reasons)
	}
	if want := []string{"SetShadow", "ShadowReport", "ClearShadow", "Promote"}; strings.Join(s.calls, ",") != strings.Join(want, ",") {
		t.Fatalf("activities called %v, want %v: shadow, report, clear, then promote", s.calls, want)
	}
	set := s.set[0]
	if set.Version != forest || set.Until.Sub(set.Since) != shadowPeriod || set.StartedBy == "" {
		t.Errorf("SetShadow got %+v, want the forest for %s, started by the run", set, shadowPeriod)
	}
	if r := s.reports[0]; r.Version != forest || !r.Since.Equal(set.Since) || r.To.Sub(r.Since) != shadowPeriod {
		t.Errorf("ShadowReport got %+v, want the forest's evidence over the %s since it was set", r, shadowPeriod)
	}
	if c := s.clears[0]; c.StartedBy != set.StartedBy || c.Model != "churn" {
		t.Errorf("ClearShadow got %+v, want only the pointer this run set (%s)", c, set.StartedBy)
	}
	if p := h.promoted[0]; p.Expected == nil || p.Expected.Generation != 4 {
		t.Errorf("Promote expected %+v, want the generation 4 the run read before its shadow period", p.Expected)
	}
	if during.Stage != workflows.StageShadowing || during.Shadow == nil || during.Shadow.Version != forest {
		t.Errorf("progress an hour into the period: stage %s shadow %+v, want shadowing the forest", during.Stage, during.Shadow)
	}
	if res.Shadow == nil || !res.Shadow.Passed || !res.Shadow.Cleared || res.Shadow.Evidence == nil || res.Shadow.Evidence.Rows != 500 {
		t.Errorf("result's shadow %+v, want passed, cleared, with the evidence", res.Shadow)
	}
	if !containsAny(res.Reasons, "agreed with the champion on 0.9600 of 500 live rows, at least policy.shadow.min_agreement 0.9") {
		t.Errorf("reasons do not give the agreement: %q", res.Reasons)
	}
	if rec := h.onlyRecord(); rec.Outcome != "promote" || !strings.Contains(string(rec.Decision), `"shadow":{"version":"`+forest) {
		t.Errorf("record %s %s, want promote with the shadow period in the decision", rec.Outcome, rec.Decision)
	}
}

func TestAShadowWithTooLittleEvidenceFailsAndNothingIsPromoted(t *testing.T) {
	h := challenged(t, withShadow)
	s := mockShadow(h)
	s.evidence = agreeing(20, 20)
	res := h.mustRun(retrainInput())

	if res.Outcome != workflows.OutcomeShadowFailed {
		t.Fatalf("outcome %s, want shadow_failed (reasons: %q)", res.Outcome, res.Reasons)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if len(s.clears) != 1 {
		t.Errorf("ClearShadow was called %d times, want once: the pointer is cleared either way", len(s.clears))
	}
	if res.Champion == nil || res.Champion.Generation != 4 {
		t.Errorf("champion after the run %+v, want the unchanged generation 4", res.Champion)
	}
	if !containsAny(res.Reasons, "scored 20 live rows, fewer than policy.shadow.min_requests 100") {
		t.Errorf("reasons do not say the evidence was too little: %q", res.Reasons)
	}
	if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeShadowFailed {
		t.Errorf("recorded outcome %s, want shadow_failed", rec.Outcome)
	}
	if h.attrs["KingmakerDecision"] != workflows.OutcomeShadowFailed {
		t.Errorf("KingmakerDecision %q, want shadow_failed", h.attrs["KingmakerDecision"])
	}
}

func TestAShadowThatLabelsShowWorseFailsDespiteAgreeing(t *testing.T) {
	h := challenged(t, withShadow)
	s := mockShadow(h)
	s.evidence = labelled(agreeing(800, 776), 120, 0.85, 0.80)
	res := h.mustRun(retrainInput())

	if res.Outcome != workflows.OutcomeShadowFailed {
		t.Fatalf("outcome %s, want shadow_failed (reasons: %q)", res.Outcome, res.Reasons)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if !containsAny(res.Reasons, "on 120 labelled live rows: accuracy 0.8000 vs champion 0.8500, 0.0500 lower, more than policy.shadow.max_accuracy_drop 0.01") {
		t.Errorf("reasons do not give the live accuracies: %q", res.Reasons)
	}
}

func TestAShadowedWinnerLosesCleanlyWhenTheChampionChangedMeanwhile(t *testing.T) {
	h := challenged(t, withShadow)
	s := mockShadow(h)
	s.evidence = agreeing(500, 490)
	s.evidence.Champions = []registry.ShadowChampion{{Generation: 4, Rows: 300}, {Generation: 5, Rows: 200}}
	winner := &registry.Champion{Model: "churn", Version: registry.VersionID(runStart.Add(time.Hour), "carol/manual"), Generation: 5, PromotedBy: "carol"}
	h.lostTo = winner
	res := h.mustRun(retrainInput())

	if res.Outcome != workflows.OutcomeLostRace {
		t.Fatalf("outcome %s, want lost_race (reasons: %q)", res.Outcome, res.Reasons)
	}
	if len(h.promoted) != 1 || h.promoted[0].Expected == nil || h.promoted[0].Expected.Generation != 4 {
		t.Fatalf("Promote got %+v, want one attempt from generation 4", h.promoted)
	}
	if res.Champion == nil || res.Champion.Version != winner.Version {
		t.Errorf("champion after the run %+v, want the race's winner", res.Champion)
	}
	if len(s.clears) != 1 || s.calls[len(s.calls)-1] != "Promote" {
		t.Errorf("activities called %v, want the pointer cleared before the promotion", s.calls)
	}
	if !res.Shadow.Passed {
		t.Errorf("the shadow did not pass: %+v", res.Shadow)
	}
	if !containsAny(res.Reasons, "2 champions answered during the shadow period") {
		t.Errorf("reasons do not say the champion changed during the period: %q", res.Reasons)
	}
}

func TestAShadowedWinnerIsPromotedByItsApproverAfterThePeriod(t *testing.T) {
	h := challenged(t, func(m *config.Model) { withShadow(m); requireApproval(m) })
	s := mockShadow(h)
	s.evidence = labelled(agreeing(300, 240), 200, 0.80, 0.84) // disagrees, but is better where labels arrived
	h.env.RegisterDelayedCallback(func() {
		h.update(workflows.UpdateApprove, workflows.ApprovalInput{By: "alice", Reason: "ship after shadow"})
	}, time.Hour)
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || len(h.promoted) != 1 || h.promoted[0].By != "alice" {
		t.Fatalf("outcome %s, promotions %+v, want one by alice (reasons: %q)", res.Outcome, h.promoted, res.Reasons)
	}
	if s.set[0].Since.Before(runStart.Add(time.Hour)) {
		t.Errorf("the shadow period began at %s, before the approval an hour into the run", s.set[0].Since)
	}
	if !containsAny(res.Reasons, "on 200 labelled live rows: accuracy 0.8400 vs champion 0.8000, within policy.shadow.max_accuracy_drop") {
		t.Errorf("reasons do not say labels decided: %q", res.Reasons)
	}
}

func TestAFirstChampionIsPromotedWithoutAShadowPeriod(t *testing.T) {
	h := newHarness(t, withShadow)
	s := mockShadow(h)
	h.scores = map[string]score{"logistic": {0.78, 0.80}, "id3": {0.70, 0.74}, "forest": {0.83, 0.82}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil || res.Champion.Generation != 1 {
		t.Fatalf("outcome %s champion %+v, want the first champion", res.Outcome, res.Champion)
	}
	if len(s.set)+len(s.reports)+len(s.clears) != 0 || res.Shadow != nil {
		t.Errorf("shadow activities %v, result shadow %+v: a first champion has nothing to be shadowed against", s.calls, res.Shadow)
	}
	if !containsAny(res.Reasons, "no champion to shadow the winner against") {
		t.Errorf("reasons do not say why there was no shadow period: %q", res.Reasons)
	}
}

func TestWithoutAShadowPeriodTheWinnerIsPromotedAtOnce(t *testing.T) {
	h := challenged(t, nil)
	s := mockShadow(h)
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || len(s.set)+len(s.reports)+len(s.clears) != 0 || res.Shadow != nil {
		t.Fatalf("outcome %s, shadow activities %v, shadow %+v: want a promotion with no shadow period", res.Outcome, s.calls, res.Shadow)
	}
}

func TestAFailedShadowReportClearsThePointerAndFailsTheRun(t *testing.T) {
	h := challenged(t, withShadow)
	s := mockShadow(h)
	s.reportErr = temporal.NewNonRetryableApplicationError("model churn is not in the config", activities.ErrTypeInvalidSpec, nil)
	_, err := h.run(retrainInput())

	if err == nil || !strings.Contains(err.Error(), "model churn is not in the config") {
		t.Fatalf("run error %v, want the report's failure", err)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if len(s.clears) != 1 {
		t.Errorf("ClearShadow was called %d times, want once", len(s.clears))
	}
	if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeFailed || !strings.Contains(string(rec.Decision), `"shadow":`) {
		t.Errorf("record %s %s, want failed with the shadow period", rec.Outcome, rec.Decision)
	}
}
