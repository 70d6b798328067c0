package drift

import (
	"testing"
	"time"
)

func TestActMatchesGoldenSteps(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// drifted is a scheduled check of a drifted model whose config retrains
	// on drift with a 6h cooldown, the last drift retrain 7h ago.
	drifted := Situation{HasChampion: true, FeaturesDrifted: true, RetrainOnDrift: true, Cooldown: 6 * time.Hour, Now: now, LastDriftRetrain: now.Add(-7 * time.Hour)}
	with := func(change func(*Situation)) Situation {
		s := drifted
		change(&s)
		return s
	}
	cases := []struct {
		name string
		in   Situation
		want Step
	}{
		{"a model without a champion has nothing to act on", Situation{FeaturesDrifted: true, RetrainOnDrift: true},
			Step{Action: ActionNoChampion}},
		{"a model that did not drift is stable", with(func(s *Situation) { s.FeaturesDrifted = false }),
			Step{Action: ActionStable}},
		{"drifted features start a retrain", drifted,
			Step{Action: ActionRetrain, Drifted: true}},
		{"a dropped live quality alone starts a retrain", with(func(s *Situation) { s.FeaturesDrifted, s.QualityDropped = false, true }),
			Step{Action: ActionRetrain, Drifted: true}},
		{"a model never retrained on drift is not cooled down", with(func(s *Situation) { s.LastDriftRetrain = time.Time{} }),
			Step{Action: ActionRetrain, Drifted: true}},
		{"drift.retrain_on_drift off starts no retrain", with(func(s *Situation) { s.RetrainOnDrift = false }),
			Step{Action: ActionRetrainDisabled, Drifted: true, Reason: "drift.retrain_on_drift is off: no retrain started"}},
		{"drift.retrain_on_drift off is said before the cooldown", with(func(s *Situation) { s.RetrainOnDrift, s.LastDriftRetrain = false, now.Add(-time.Hour) }),
			Step{Action: ActionRetrainDisabled, Drifted: true, Reason: "drift.retrain_on_drift is off: no retrain started"}},
		{"a scheduled check within the cooldown starts no retrain", with(func(s *Situation) { s.LastDriftRetrain = now.Add(-90*time.Minute - 400*time.Millisecond) }),
			Step{Action: ActionCooldown, Drifted: true, Reason: "a drift-triggered retrain started 1h30m0s ago, within drift.cooldown 6h0m0s: no retrain started"}},
		{"the cooldown names a whole number of days as the config does", with(func(s *Situation) { s.Cooldown, s.LastDriftRetrain = 48*time.Hour, now.Add(-25*time.Hour) }),
			Step{Action: ActionCooldown, Drifted: true, Reason: "a drift-triggered retrain started 25h0m0s ago, within drift.cooldown 2d: no retrain started"}},
		{"a check exactly the cooldown after the last retrain starts one", with(func(s *Situation) { s.LastDriftRetrain = now.Add(-6 * time.Hour) }),
			Step{Action: ActionRetrain, Drifted: true}},
		{"a check a person asked for is not held back by the cooldown", with(func(s *Situation) { s.Manual, s.LastDriftRetrain = true, now.Add(-time.Minute) }),
			Step{Action: ActionRetrain, Drifted: true}},
		{"a zero cooldown never holds a retrain back", with(func(s *Situation) { s.Cooldown, s.LastDriftRetrain = 0, now }),
			Step{Action: ActionRetrain, Drifted: true}},
		{"a running retrain stops a second one", with(func(s *Situation) { s.Running = []string{"retrain-churn-drift-1", "retrain-churn-manual-2"} }),
			Step{Action: ActionRetrainRunning, Drifted: true, Reason: "retrain retrain-churn-drift-1 is already running: no second one started"}},
		{"the cooldown is said before a running retrain", with(func(s *Situation) {
			s.LastDriftRetrain, s.Running = now.Add(-time.Hour), []string{"retrain-churn-drift-1"}
		}),
			Step{Action: ActionCooldown, Drifted: true, Reason: "a drift-triggered retrain started 1h0m0s ago, within drift.cooldown 6h0m0s: no retrain started"}},
		{"a running retrain does not matter to a stable model", with(func(s *Situation) { s.FeaturesDrifted, s.Running = false, []string{"retrain-churn-drift-1"} }),
			Step{Action: ActionStable}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Act(tc.in); got != tc.want {
				t.Errorf("Act = %+v\nwant   %+v", got, tc.want)
			}
		})
	}
}
