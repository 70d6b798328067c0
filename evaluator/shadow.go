package evaluator

import "fmt"

// ShadowRules are the thresholds of a shadow period (a model's
// policy.shadow); the package doc states how JudgeShadow applies them.
type ShadowRules struct {
	// MinRequests is the fewest live rows both models must have scored.
	MinRequests int `json:"min_requests"`
	// MinAgreement is the least share of rows on which the shadow predicts
	// the champion's class, when too few rows have labels to judge by.
	MinAgreement float64 `json:"min_agreement"`
	// MinLabelledRows is how many shadowed rows need a label before live
	// accuracy decides instead of agreement.
	MinLabelledRows int `json:"min_labelled_rows"`
	// MaxAccuracyDrop is how much lower than the champion's the shadow's
	// live accuracy may be on those rows.
	MaxAccuracyDrop float64 `json:"max_accuracy_drop"`
}

// ShadowEvidence is what a shadow period saw live: how many rows both
// models scored and how often they agreed, and both models' metrics on the
// rows whose labels arrived.
type ShadowEvidence struct {
	// Version is the shadowed version, named in the reasons.
	Version string `json:"version"`
	// Rows is how many live rows both models scored; Agreement the share
	// of them given the same class by both (nil: no rows).
	Rows      int64    `json:"rows"`
	Agreement *float64 `json:"agreement,omitempty"`
	// Champions is how many champion generations answered during the
	// period: more than one means the champion changed under it.
	Champions int `json:"champions"`
	// LabelledRows is how many of the rows have a label; ChampionLive and
	// ShadowLive are both models' metrics on them (nil without any).
	LabelledRows int      `json:"labelled_rows"`
	ChampionLive *Metrics `json:"champion_live,omitempty"`
	ShadowLive   *Metrics `json:"shadow_live,omitempty"`
}

// ShadowVerdict is whether a shadow passed its period, and why: the
// deciding rule's sentence first, then any warning.
type ShadowVerdict struct {
	Passed  bool     `json:"passed"`
	Reasons []string `json:"reasons"`
}

// JudgeShadow applies the shadow rules to a shadow period's live evidence
// (see "Shadow rules" in the package doc). It is deterministic, so a
// workflow calls it.
func JudgeShadow(r ShadowRules, ev ShadowEvidence) ShadowVerdict {
	var warnings []string
	if ev.Champions > 1 {
		warnings = append(warnings, fmt.Sprintf("%d champions answered during the shadow period: the champion changed, so the promotion will lose its compare-and-set", ev.Champions))
	}
	verdict := func(passed bool, format string, args ...any) ShadowVerdict {
		return ShadowVerdict{Passed: passed, Reasons: append([]string{fmt.Sprintf(format, args...)}, warnings...)}
	}
	agreement := "no rows"
	if ev.Agreement != nil {
		agreement = fmt.Sprintf("%.4f", *ev.Agreement)
	}
	if ev.Rows < int64(r.MinRequests) {
		return verdict(false, "shadow %s scored %d live rows, fewer than policy.shadow.min_requests %d: too little evidence to promote (is `kingmaker serve` running with --shadow-sample above 0?)",
			ev.Version, ev.Rows, r.MinRequests)
	}
	if ev.LabelledRows >= r.MinLabelledRows && ev.ChampionLive != nil && ev.ShadowLive != nil {
		champ, shadow := ev.ChampionLive.Accuracy, ev.ShadowLive.Accuracy
		drop := champ - shadow
		if drop > r.MaxAccuracyDrop+tolerance {
			return verdict(false, "shadow %s on %d labelled live rows: accuracy %.4f vs champion %.4f, %.4f lower, more than policy.shadow.max_accuracy_drop %g (agreement %s on %d rows)",
				ev.Version, ev.LabelledRows, shadow, champ, drop, r.MaxAccuracyDrop, agreement, ev.Rows)
		}
		return verdict(true, "shadow %s on %d labelled live rows: accuracy %.4f vs champion %.4f, within policy.shadow.max_accuracy_drop %g (agreement %s on %d rows)",
			ev.Version, ev.LabelledRows, shadow, champ, r.MaxAccuracyDrop, agreement, ev.Rows)
	}
	labels := fmt.Sprintf("%d labelled rows, fewer than policy.shadow.min_labelled_rows %d: agreement decides", ev.LabelledRows, r.MinLabelledRows)
	if ev.Agreement != nil && *ev.Agreement >= r.MinAgreement {
		return verdict(true, "shadow %s agreed with the champion on %s of %d live rows, at least policy.shadow.min_agreement %g (%s)",
			ev.Version, agreement, ev.Rows, r.MinAgreement, labels)
	}
	return verdict(false, "shadow %s agreed with the champion on %s of %d live rows, below policy.shadow.min_agreement %g (%s)",
		ev.Version, agreement, ev.Rows, r.MinAgreement, labels)
}
