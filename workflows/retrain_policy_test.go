package workflows_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
)

func TestABetterSignificantChallengerReplacesTheChampion(t *testing.T) {
	h := newHarness(t, nil)
	h.champion = oldChampion()
	h.championHas = score{0.80, 0.80}
	h.scores = map[string]score{"logistic": {0.84, 0.81}, "id3": {0.70, 0.75}, "forest": {0.82, 0.80}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomePromote) || res.Winner != h.version("logistic") {
		t.Fatalf("outcome %s winner %s, want logistic promoted (reasons %q)", res.Outcome, res.Winner, res.Reasons)
	}
	if len(h.promoted) != 1 || h.promoted[0].Expected == nil || h.promoted[0].Expected.Generation != 4 {
		t.Fatalf("Promote must compare-and-set from generation 4: %+v", h.promoted)
	}
	if res.Champion == nil || res.Champion.Generation != 5 {
		t.Fatalf("champion after the run %+v, want generation 5", res.Champion)
	}
}

func TestAGainThatIsNotSignificantKeepsTheChampion(t *testing.T) {
	h := newHarness(t, nil)
	h.champion = oldChampion()
	h.championHas = score{0.80, 0.80}
	h.scores = map[string]score{"logistic": {0.84, 0.81}, "id3": {0.70, 0.75}, "forest": {0.82, 0.80}}
	p := 0.2 // a bigger holdout might show it; this one does not
	h.pValue = &p
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomeKeep) {
		t.Fatalf("outcome %s, want keep: a gain without significance must not promote (reasons %q)", res.Outcome, res.Reasons)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if !containsAny(res.Reasons, "p=0.2, not below 0.05") {
		t.Errorf("the reasons should name the p-value and the level: %q", res.Reasons)
	}
}

func TestAGuardrailBreachKeepsTheChampion(t *testing.T) {
	h := newHarness(t, nil)
	h.champion = oldChampion()
	h.championHas = score{0.80, 0.82}
	// Better ranking, but accuracy drops by 0.03 where the policy allows 0.01.
	h.scores = map[string]score{"logistic": {0.85, 0.79}, "id3": {0.70, 0.75}, "forest": {0.79, 0.80}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomeKeep) {
		t.Fatalf("outcome %s, want keep: the guardrail is breached (reasons %q)", res.Outcome, res.Reasons)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if !containsAny(res.Reasons, "guardrail accuracy") || !containsAny(res.Reasons, "(> 0.01 allowed)") {
		t.Errorf("the reasons should name the guardrail and its limit: %q", res.Reasons)
	}
}

func TestAOneClassWindowIsRefusedBeforeAnyTraining(t *testing.T) {
	h := newHarness(t, nil)
	msg := `invalid data: model churn: window 2026-11-18 .. 2026-11-25 has 0 rows of class "true", fewer than window.min_class_rows 50 (a one-class window cannot be learned)`
	h.snapshotErr = temporal.NewNonRetryableApplicationError(msg, activities.ErrTypeInvalidData, nil)
	_, err := h.run(retrainInput())
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidData || !strings.Contains(err.Error(), "one-class window") {
		t.Fatalf("run error %v, want the one-class refusal", err)
	}
	h.env.AssertActivityNotCalled(t, "TrainCandidate", mock.Anything, mock.Anything)
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
}

func TestATieByRoundingKeepsTheChampion(t *testing.T) {
	// Zero thresholds: only the sign of the improvement decides. The two
	// values are the same mean of per-class values summed in another order.
	h := newHarness(t, func(m *config.Model) {
		m.Policy.MinAbsoluteImprovement, m.Policy.MinRelativeImprovement = 0, 0
		m.Policy.Guardrails, m.Policy.MinimumValues = nil, nil
	})
	h.champion = oldChampion()
	h.championHas = score{0.19999999999999998, 0.80}
	h.scores = map[string]score{"logistic": {0.20000000000000004, 0.80}, "id3": {0.1, 0.75}, "forest": {0.15, 0.80}}
	res := h.mustRun(retrainInput())

	if res.Outcome != string(evaluator.OutcomeKeep) {
		t.Fatalf("outcome %s, want keep: a tie by rounding is no improvement (reasons %q)", res.Outcome, res.Reasons)
	}
	h.env.AssertActivityNotCalled(t, "Promote", mock.Anything, mock.Anything)
	if !containsAny(res.Reasons, "+0 absolute, not better than the champion") {
		t.Errorf("the reasons should call the tie no improvement: %q", res.Reasons)
	}
}
