package drift

import (
	"fmt"
	"math"
)

// What a drift check's verdict rests on.
const (
	// BasisFeatures is a verdict on feature drift alone: too few labels
	// arrived, or the champion's live quality could not be computed.
	BasisFeatures = "features"
	// BasisFeaturesAndQuality is a verdict on feature drift and the
	// champion's live quality.
	BasisFeaturesAndQuality = "features and quality"
)

// VerdictOptions are a model's thresholds for what a drift check concludes
// (its config's drift section); the package doc states how Judge applies
// them.
type VerdictOptions struct {
	// MaxDriftedFeatures is how many features may drift before the model
	// counts as drifted (drift.max_drifted_features).
	MaxDriftedFeatures int `json:"max_drifted_features"`
	// MinLabelledRows is how many labelled rows of the window the champion's
	// live quality needs to count (drift.min_rows).
	MinLabelledRows int `json:"min_labelled_rows"`
	// MaxQualityDrop is the largest drop of the champion's primary metric,
	// live against its holdout value, that is no alarm (drift.quality_drop);
	// a drop equal to it up to rounding is no alarm either.
	MaxQualityDrop float64 `json:"max_quality_drop"`
}

// LiveQuality is the champion's primary metric on the labelled rows of the
// window, beside its value at evaluation.
type LiveQuality struct {
	Metric         string `json:"metric"`
	HigherIsBetter bool   `json:"higher_is_better"`
	LabelledRows   int    `json:"labelled_rows"`
	// Holdout is the value at evaluation, Live on the window; nil where
	// undefined (roc_auc on one class) or unknown.
	Holdout *float64 `json:"holdout,omitempty"`
	Live    *float64 `json:"live,omitempty"`
}

// Verdict is what a drift check concludes from its Report and the
// champion's live quality.
type Verdict struct {
	// MaxPSI is the largest PSI of a feature; DriftedFeatures how many
	// features drifted.
	MaxPSI          float64 `json:"max_psi"`
	DriftedFeatures int     `json:"drifted_features"`
	// FeaturesDrifted is a sufficient window with more drifted features
	// than MaxDriftedFeatures.
	FeaturesDrifted bool `json:"features_drifted"`
	// QualityCounted is whether the window had MinLabelledRows labelled
	// rows, so that the live quality counts.
	QualityCounted bool `json:"quality_counted"`
	// Drop is QualityDrop of the live quality (nil: not counted, or a
	// value undefined); QualityDropped says it is over MaxQualityDrop by
	// more than rounding.
	Drop           *float64 `json:"drop,omitempty"`
	QualityDropped bool     `json:"quality_dropped"`
	// Basis is BasisFeatures or BasisFeaturesAndQuality.
	Basis string `json:"basis"`
	// Reasons are the report's, then the verdict's own, as sentences.
	Reasons []string `json:"reasons"`
}

// Drifted reports whether the check raises an alarm, which may start a
// retrain: features drifted or the live quality dropped.
func (v Verdict) Drifted() bool { return drifted(v.FeaturesDrifted, v.QualityDropped) }

// drifted is the alarm: features drifted or the live quality dropped.
func drifted(features, quality bool) bool { return features || quality }

// roundingTolerance is how far apart, relative to their size, a quality
// drop and drift.quality_drop may be and still count as equal (see "What a
// check concludes" in the package doc). Metrics of windows that differ by a
// labelled row differ by far more on any window of fewer than 10^12 rows.
const roundingTolerance = 1e-12

// over reports whether x is above limit by more than rounding: a value equal
// to the limit up to roundingTolerance is at the limit, not over it.
func over(x, limit float64) bool {
	return x > limit && math.Abs(x-limit) > roundingTolerance*max(1, math.Abs(x), math.Abs(limit))
}

// QualityDrop is how much worse live is than holdout for a metric: holdout
// - live when higher is better, live - holdout for a loss. Positive is
// worse.
func QualityDrop(holdout, live float64, higherIsBetter bool) float64 {
	drop := holdout - live
	if !higherIsBetter {
		drop = -drop // not live - holdout: an unchanged loss keeps the -0 its reports show
	}
	return drop
}

// Judge concludes a drift check from its report and the champion's live
// quality on the window (see "What a check concludes" in the package doc).
// It is deterministic.
func Judge(rep Report, q LiveQuality, o VerdictOptions) Verdict {
	v := Verdict{Basis: BasisFeatures}
	for _, f := range rep.Features {
		v.MaxPSI = math.Max(v.MaxPSI, f.PSI)
		if f.Drifted {
			v.DriftedFeatures++
		}
	}
	v.FeaturesDrifted = rep.Sufficient && v.DriftedFeatures > o.MaxDriftedFeatures
	v.Reasons = append(v.Reasons, rep.Reasons...)
	if rep.Sufficient && rep.Drifted && !v.FeaturesDrifted {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d features drifted, at most %d allowed (drift.max_drifted_features): not drifted", v.DriftedFeatures, o.MaxDriftedFeatures))
	}

	if q.LabelledRows < o.MinLabelledRows {
		v.Reasons = append(v.Reasons, fmt.Sprintf("only %d labelled rows (fewer than drift.min_rows %d): the verdict rests on feature drift alone", q.LabelledRows, o.MinLabelledRows))
		return v
	}
	v.QualityCounted = true
	if q.Live == nil || q.Holdout == nil {
		return v
	}
	drop := QualityDrop(*q.Holdout, *q.Live, q.HigherIsBetter)
	v.Drop, v.QualityDropped, v.Basis = &drop, over(drop, o.MaxQualityDrop), BasisFeaturesAndQuality
	verb := "within"
	if v.QualityDropped {
		verb = "over"
	}
	v.Reasons = append(v.Reasons, fmt.Sprintf("champion %s on %d labelled rows: %.4f vs %.4f at evaluation, a drop of %.4f, %s the allowed %g (drift.quality_drop)",
		q.Metric, q.LabelledRows, *q.Live, *q.Holdout, drop, verb, o.MaxQualityDrop))
	return v
}
