package drift

import (
	"fmt"
	"strconv"
	"time"
)

// What a drift check does about its verdict (the Action of a Step). The
// values are the ones a check's result and `kingmaker drift` show.
const (
	// ActionNoChampion: the model has no champion, so nothing was compared.
	ActionNoChampion = "no_champion"
	// ActionStable: the model did not drift.
	ActionStable = "stable"
	// ActionRetrainDisabled: the model drifted and drift.retrain_on_drift
	// is off.
	ActionRetrainDisabled = "retrain_disabled"
	// ActionCooldown: the model drifted within drift.cooldown of the last
	// drift-triggered retrain.
	ActionCooldown = "cooldown"
	// ActionRetrainRunning: the model drifted and a retrain of it is
	// already running.
	ActionRetrainRunning = "retrain_running"
	// ActionRetrain: start a retrain with reason drift; the check's result
	// then says it started one.
	ActionRetrain = "retrain_started"
)

// Situation is what a drift check knows when it decides what to do about
// its verdict; Act states the rule.
type Situation struct {
	// HasChampion is false when the model has no champion to compare with.
	HasChampion bool
	// FeaturesDrifted and QualityDropped are the Verdict's.
	FeaturesDrifted, QualityDropped bool
	// Manual is a check a person asked for (kingmaker drift --now); the
	// cooldown does not hold it back.
	Manual bool
	// RetrainOnDrift is drift.retrain_on_drift.
	RetrainOnDrift bool
	// Cooldown is drift.cooldown, the least time between two
	// drift-triggered retrains; 0 is none.
	Cooldown time.Duration
	// Now is when the check decides; LastDriftRetrain when a check last
	// started a retrain (zero: never).
	Now, LastDriftRetrain time.Time
	// Running are the ids of the model's retrains running now. Asking
	// costs a call to Temporal, so a caller asks only when Act, told of
	// none, answers ActionRetrain, and then asks Act again.
	Running []string
}

// Step is what a drift check does next.
type Step struct {
	// Action is one of the Action constants.
	Action string
	// Drifted is whether the model drifted (Verdict.Drifted); false when
	// there is no champion.
	Drifted bool
	// Reason says, as a sentence, why a drifted model is not retrained;
	// empty for the other actions.
	Reason string
}

// Act decides what a drift check does about its verdict (see "What a check
// concludes" in the package doc). It is deterministic: workflows call it.
func Act(s Situation) Step {
	if !s.HasChampion {
		return Step{Action: ActionNoChampion}
	}
	if !drifted(s.FeaturesDrifted, s.QualityDropped) {
		return Step{Action: ActionStable}
	}
	step := Step{Drifted: true}
	switch since := s.Now.Sub(s.LastDriftRetrain); {
	case !s.RetrainOnDrift:
		step.Action, step.Reason = ActionRetrainDisabled, "drift.retrain_on_drift is off: no retrain started"
	case !s.Manual && !s.LastDriftRetrain.IsZero() && since < s.Cooldown:
		step.Action = ActionCooldown
		step.Reason = fmt.Sprintf("a drift-triggered retrain started %s ago, within drift.cooldown %s: no retrain started",
			since.Round(time.Second), configDuration(s.Cooldown))
	case len(s.Running) > 0:
		step.Action = ActionRetrainRunning
		step.Reason = fmt.Sprintf("retrain %s is already running: no second one started", s.Running[0])
	default:
		step.Action = ActionRetrain
	}
	return step
}

// configDuration writes d as the config file does: in days when it is a
// whole number of them ("1d"), otherwise as Go does ("6h0m0s"), so a reason
// names drift.cooldown as the configuration shows it.
func configDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
