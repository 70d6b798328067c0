package evaluator

// Names of the tests a Comparison reports in its Test field.
const (
	// McNemarOneSided is the test for accuracy: the one-sided exact
	// binomial test on the discordant rows.
	McNemarOneSided = "mcnemar-exact-one-sided"
	// PairedBootstrap is the test for every other metric: the one-sided
	// paired bootstrap.
	PairedBootstrap = "paired-bootstrap"

	// McNemarExact and McNemarChi2 name the two-sided McNemar tests of
	// earlier versions (exact below 25 discordant rows, chi-squared with
	// continuity correction from 25 on). Compare no longer reports them;
	// they remain so that Decide can read comparisons recorded before.
	McNemarExact = "mcnemar-exact"
	McNemarChi2  = "mcnemar-chi2"
)

// Defaults of CompareOptions.
const (
	// DefaultResamples is the number of bootstrap resamples when
	// CompareOptions.Resamples is 0.
	DefaultResamples = 1000
	// DefaultConfidence is the interval's coverage when
	// CompareOptions.Confidence is 0.
	DefaultConfidence = 0.95
)

// CompareOptions tunes the paired bootstrap of Compare. The zero value means
// 1000 resamples, a 95% interval and seed 0.
type CompareOptions struct {
	// Resamples is the number of bootstrap resamples; 0 means 1000.
	Resamples int `json:"resamples"`
	// Confidence is the coverage of the intervals, in (0, 1); 0 means 0.95.
	// 1 - Confidence is the level at which the one-sided bound (Bound)
	// excludes 0 exactly when the p-value is below it: Policy.Confidence.
	Confidence float64 `json:"confidence"`
	// Seed makes the resamples reproducible: the same seed, rows and
	// predictions give the same Comparison.
	Seed uint64 `json:"seed"`
}

// Comparison is the paired comparison of a challenger with the champion on
// one metric, both scored on the same holdout rows. It holds summaries only.
//
// Changes are challenger minus champion, whatever the metric's direction:
//
//	AbsoluteChange = challenger - champion
//	RelativeChange = (challenger - champion) / |champion|
//
// Improvements are signed so that positive is better:
//
//	Improvement         = AbsoluteChange                 (higher is better)
//	Improvement         = -AbsoluteChange                (lower is better: log_loss, brier)
//	RelativeImprovement = Improvement / |champion|
//
// Two values within 1e-12 × max(1, |champion|, |challenger|) of each other
// are a tie: their change and improvement are exactly 0 (rounding noise is
// no improvement). When the champion's value is 0 the relative figures have
// no finite value and are nil (JSON null); Decide then treats any positive
// improvement as meeting a relative threshold.
type Comparison struct {
	Metric         string  `json:"metric"`
	HigherIsBetter bool    `json:"higher_is_better"`
	Rows           int     `json:"rows"`
	Champion       float64 `json:"champion"`
	Challenger     float64 `json:"challenger"`
	AbsoluteChange float64 `json:"absolute_change"`
	// RelativeChange is nil when Champion is 0.
	RelativeChange *float64 `json:"relative_change"`
	Improvement    float64  `json:"improvement"`
	// RelativeImprovement is nil when Champion is 0.
	RelativeImprovement *float64 `json:"relative_improvement"`
	// IntervalLow and IntervalHigh bound AbsoluteChange (challenger -
	// champion, not Improvement) with the given Confidence: the two-sided
	// percentile interval of the paired bootstrap, for the record.
	IntervalLow  float64 `json:"interval_low"`
	IntervalHigh float64 `json:"interval_high"`
	Confidence   float64 `json:"confidence"`
	// Bound is the one-sided Confidence bound of AbsoluteChange in the
	// direction the test asks about, the interval dual to the test behind
	// PValue: a lower bound, [Bound, +inf), for a score; an upper bound,
	// (-inf, Bound], for a loss. It lies beyond 0 in the better direction
	// exactly when PValue < 1 - Confidence. For accuracy it comes from the
	// discordant rows (see mcNemarLowerBound), for the other metrics from the
	// bootstrap. nil when the resamples are too few for a bound at that
	// confidence, and in comparisons recorded by earlier versions.
	Bound *float64 `json:"bound,omitempty"`
	// Resamples is the number of bootstrap resamples the interval and
	// BootstrapPValue rest on. Resamples in which the metric is undefined
	// (roc_auc on a resample with one class) are left out; Compare fails when
	// that is more than 10% of them.
	Resamples int    `json:"resamples"`
	Seed      uint64 `json:"seed"`
	// Test names the test behind PValue: McNemarOneSided or PairedBootstrap
	// (McNemarExact or McNemarChi2 in comparisons recorded by earlier
	// versions, whose McNemar p-values were two-sided).
	Test string `json:"test"`
	// PValue is the one-sided p-value of "the challenger is not better":
	// McNemar's one-sided exact test for accuracy, the paired t-test on
	// per-row losses for rmse, r2 and mae (PairedTSquared,
	// PairedTAbsolute), BootstrapPValue for every other metric.
	PValue float64 `json:"p_value"`
	// BootstrapPValue is the one-sided p-value of "the challenger is not
	// better": (1 + resamples with Improvement <= 0) / (1 + Resamples), a
	// resample tied up to rounding noise counting as not better.
	BootstrapPValue float64 `json:"bootstrap_p_value"`
	// Discordant holds McNemar's counts; only for accuracy.
	Discordant *Discordant `json:"discordant,omitempty"`
	// Paired holds the paired t-test on per-row losses behind PValue for
	// rmse, r2 (squared errors) and mae (absolute errors); Bound is then
	// nil and the interval is the bootstrap's.
	Paired *PairedTest `json:"paired,omitempty"`
}

// Discordant counts the rows on which exactly one of the two models is right,
// the only rows McNemar's test looks at.
type Discordant struct {
	// ChampionOnly is b: the champion is right, the challenger wrong.
	ChampionOnly int `json:"champion_only"`
	// ChallengerOnly is c: the challenger is right, the champion wrong.
	ChallengerOnly int `json:"challenger_only"`
	// Statistic is c, the binomial count of the one-sided exact test (in
	// earlier versions' records: min(b, c) for the two-sided exact test,
	// (|b - c| - 1)^2 / (b + c) for the chi-squared test).
	Statistic float64 `json:"statistic"`
}

// Compare compares a challenger with the champion on metric, both having
// predicted the same holdout rows: truth[i], champPred[i] and chalPred[i]
// belong to the same row. champPos and chalPos are the probabilities of class
// 1, needed by roc_auc, log_loss and brier and ignored (may be nil) for the
// other metrics.
//
// Every p-value is one-sided, for the question Decide asks: is the
// challenger better? For accuracy it is McNemar's one-sided exact test on
// the discordant rows; for every metric, accuracy included, Compare draws
// opts.Resamples paired bootstrap resamples of the rows (the same rows for
// both models) for the interval of challenger - champion and a one-sided
// p-value. Resample b draws its rows from a PCG generator seeded with
// (opts.Seed, b), so the result does not depend on scheduling. Compare is for
// activities: it works on per-row data and uses up to GOMAXPROCS goroutines.
// It is CompareAll for one challenger and one metric; CompareAll compares
// many of either at the cost of about one.
func Compare(metric string, numClasses int, truth, champPred, chalPred []int, champPos, chalPos []float64, opts CompareOptions) (Comparison, error) {
	res, errs := CompareAll([]string{metric}, numClasses, truth, Predictions{Pred: champPred, Positive: champPos},
		[]Predictions{{Pred: chalPred, Positive: chalPos}}, opts)
	return res[0][0], errs[0][0]
}
