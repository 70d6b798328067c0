package workflows_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// registered is a version registered from a file, as the harness's ChallengerVersion knows it.
func (h *harness) registered(candidate string, s score) string {
	v := registry.VersionID(runStart.Add(-time.Hour), "register/"+candidate).String()
	h.versions[v] = candidate
	h.scores[candidate] = s
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.ChallengeWorkflowID("churn", runStart)})
	return v
}

func (h *harness) challenge(version string) (*workflows.RetrainResult, error) {
	h.t.Helper()
	return h.execute(workflows.ChallengeWorkflowName, workflows.ChallengeInput{Model: "churn", Version: version, Reason: "python model", RequestedBy: "tester"})
}

func decisionOf(t *testing.T, rec activities.RecordInput) workflows.DecisionRecord {
	t.Helper()
	var d workflows.DecisionRecord
	if err := json.Unmarshal(rec.Decision, &d); err != nil {
		t.Fatalf("decision record: %v", err)
	}
	return d
}

func TestChallengePromotesABetterRegisteredVersionByCASWithoutTraining(t *testing.T) {
	h := newHarness(t, nil)
	h.champion, h.championHas = oldChampion(), score{auc: 0.80, accuracy: 0.80}
	v := h.registered("xgb-python", score{auc: 0.86, accuracy: 0.84})
	res, err := h.challenge(v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != v || res.Champion == nil || res.Champion.Version.String() != v {
		t.Fatalf("outcome %s, winner %s, champion %+v; want %s promoted", res.Outcome, res.Winner, res.Champion, v)
	}
	if len(h.trained) != 0 || len(h.staged) != 1 || len(h.evaluated) != 1 {
		t.Fatalf("trained %d, staged %d, evaluated %d; want 0, 1, 1", len(h.trained), len(h.staged), len(h.evaluated))
	}
	if len(h.profiled) != 1 || h.profiled[0].Version != v || h.profiled[0].Data == nil {
		t.Fatalf("profiled %+v; want the registered version profiled on the run's data", h.profiled)
	}
	ev := h.evaluated[0]
	if ev.Champion != oldChampion().Version.String() || len(ev.Candidates) != 1 || ev.Candidates[0] != v || ev.Data == nil {
		t.Fatalf("Evaluate got champion %s, candidates %v, data %v; want the champion and the version on the run's staged rows", ev.Champion, ev.Candidates, ev.Data)
	}
	if len(h.promoted) != 1 || h.promoted[0].Expected == nil || h.promoted[0].Expected.Generation != 4 || !strings.HasPrefix(h.promoted[0].Reason, "challenge (python model): ") {
		t.Fatalf("promotions %+v; want one CAS from generation 4 with a challenge reason", h.promoted)
	}
	rec := h.onlyRecord()
	if rec.Outcome != string(evaluator.OutcomePromote) || rec.WorkflowID != workflows.ChallengeWorkflowID("churn", runStart) {
		t.Fatalf("record %+v", rec)
	}
	if d := decisionOf(t, rec); d.Decision == nil || len(d.Candidates) != 1 || d.Candidates[0].Stage != "registered" || d.Candidates[0].Name != "xgb-python" {
		t.Fatalf("decision record %+v; want the registered version as the one candidate", d)
	}
	if h.attrs[workflows.AttrDecision.GetName()] != string(evaluator.OutcomePromote) || h.attrs[workflows.AttrChampion.GetName()] != v {
		t.Fatalf("search attributes %v", h.attrs)
	}
}

func TestChallengeKeepsTheChampionAgainstAWorseVersionAndSaysWhy(t *testing.T) {
	h := newHarness(t, nil)
	h.champion, h.championHas = oldChampion(), score{auc: 0.80, accuracy: 0.80}
	v := h.registered("xgb-shuffled", score{auc: 0.51, accuracy: 0.70})
	res, err := h.challenge(v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != string(evaluator.OutcomeKeep) || len(h.promoted) != 0 || res.Champion.Version != oldChampion().Version {
		t.Fatalf("outcome %s, promotions %d; want keep and none", res.Outcome, len(h.promoted))
	}
	rec := h.onlyRecord()
	if d := decisionOf(t, rec); rec.Outcome != string(evaluator.OutcomeKeep) || d.Decision == nil || len(d.Decision.Reasons) == 0 {
		t.Fatalf("record %s with %+v; want keep with reasons", rec.Outcome, d.Decision)
	}
}

func TestChallengeRefusesTheChampionAndUnknownVersionsAndRecordsTheFailure(t *testing.T) {
	t.Run("the champion itself", func(t *testing.T) {
		h := newHarness(t, nil)
		h.champion = oldChampion()
		_, err := h.challenge(oldChampion().Version.String())
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != "AlreadyChampion" || !strings.Contains(err.Error(), "already the champion of churn") {
			t.Fatalf("got %v, want AlreadyChampion", err)
		}
		if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeFailed || len(h.evaluated) != 0 {
			t.Fatalf("record %s, evaluations %d; want failed, none", rec.Outcome, len(h.evaluated))
		}
	})
	t.Run("a version the model does not have", func(t *testing.T) {
		h := newHarness(t, nil)
		h.champion = oldChampion()
		_, err := h.challenge(registry.VersionID(runStart, "nowhere").String())
		if err == nil || !strings.Contains(err.Error(), "model churn has no version") {
			t.Fatalf("got %v", err)
		}
		if rec := h.onlyRecord(); rec.Outcome != workflows.OutcomeFailed || len(h.evaluated) != 0 || len(h.staged) != 0 {
			t.Fatalf("record %s, evaluations %d, staged %d; want failed, none, none", rec.Outcome, len(h.evaluated), len(h.staged))
		}
	})
}

func TestChallengeOfAFirstModelPromotesItWhenItPassesTheThresholds(t *testing.T) {
	h := newHarness(t, nil)
	v := h.registered("xgb-python", score{auc: 0.86, accuracy: 0.84})
	res, err := h.challenge(v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != string(evaluator.OutcomePromote) || len(h.promoted) != 1 || h.promoted[0].Expected != nil {
		t.Fatalf("outcome %s, promotions %+v; want a first promotion", res.Outcome, h.promoted)
	}
}
