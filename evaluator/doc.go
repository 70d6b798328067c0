// Package evaluator scores classifiers on a holdout, compares a challenger
// with the champion on the same rows, and decides with a promotion policy
// whether a candidate replaces the champion.
//
// It is pure Go over slices: no I/O, no clock, no global randomness, and it
// imports nothing of Kingmaker. Reading rows, running models and storing
// results belong to the activities and the registry. Score and Compare take
// per-row data and run in activities; Decide takes only their compact
// results (Metrics, Comparison) and is deterministic, so it runs inside a
// workflow. Every result type is JSON-serialisable and never holds NaN or
// ±Inf: an undefined value is a nil pointer (JSON null or absent).
//
// # Metrics (Score)
//
// Classes are 0..K-1; for a binary model class 1 is the positive class. With
// n rows, confusion matrix C[t][p] (t true class, p predicted class), and
// for class c: tp = C[c][c], support = Σ_p C[c][p], predicted = Σ_t C[t][c]:
//
//	accuracy  = Σ_c C[c][c] / n
//	precision = tp / predicted                 (0 when predicted = 0)
//	recall    = tp / support                   (0 when support = 0)
//	F1        = 2 tp / (support + predicted)   (0 when both are 0)
//	X_macro   = mean of X over the classes with support > 0 or predicted > 0
//
// These are scikit-learn's precision_recall_fscore_support with
// zero_division=0 and its default label set for macro averages (classes
// present in the truth or the predictions; Metrics.MacroClasses counts them).
// "precision", "recall" and "f1" are those of class 1 of a binary model
// (average="binary", pos_label=1) and are undefined for K > 2.
//
// When a binary model gives p_i, its probability of class 1 for row i, with
// y_i the true class, P the positive rows and N the negative ones:
//
//	roc_auc  = Σ_{i∈P} Σ_{j∈N} ( [p_i > p_j] + ½ [p_i = p_j] ) / (|P| |N|)
//	log_loss = -(1/n) Σ_i ln clip(q_i),  q_i = p_i if y_i = 1, else 1 - p_i
//	brier    = (1/n) Σ_i (y_i - p_i)²
//
// roc_auc is the Mann-Whitney statistic with tied scores counting one half
// (midranks), equal to the trapezoidal area scikit-learn's roc_auc_score
// computes; it is undefined when the holdout has one class only (scikit-learn
// then warns and returns NaN). clip(q) = min(max(q, ε), 1 - ε) with
// ε = 2⁻⁵² ≈ 2.22e-16, float64's machine epsilon, as scikit-learn's log_loss
// clips today: its eps was 1e-15 until 1.2 made the default
// numpy.finfo(dtype).eps; 1.3 deprecated the parameter and 1.5 removed it.
// A confident mistake costs -ln ε ≈ 36.04, not +Inf.
//
// The reference values in testdata/reference.json come from scikit-learn
// 1.9.1, SciPy 1.17 and statsmodels 0.15 via testdata/make_reference.py; the
// tests hold the Go values within 1e-12 of them.
//
// # Paired comparison (Compare)
//
// Champion and challenger predict the same rows. Changes are challenger
// minus champion; improvements are signed so that positive is better:
//
//	AbsoluteChange      = challenger - champion
//	RelativeChange      = (challenger - champion) / |champion|
//	Improvement         = challenger - champion   for higher-is-better metrics
//	Improvement         = champion - challenger   for log_loss and brier
//	RelativeImprovement = Improvement / |champion|
//
// The relative figures are nil (JSON null) when the champion's value is 0.
//
// For accuracy the p-value is McNemar's test on the discordant rows: b rows
// where only the champion is right, c where only the challenger is. When
// b + c < 25 it is exact (statsmodels mcnemar, exact=True):
//
//	p = min(1, 2 Σ_{k=0}^{min(b,c)} C(b+c, k) / 2^(b+c))
//
// otherwise chi-squared with continuity correction (exact=False,
// correction=True): X² = (|b - c| - 1)² / (b + c), p = P(χ²₁ ≥ X²). Like
// statsmodels, the correction is not clamped at zero (b = c gives
// X² = 1/(b+c)). McNemar's p-value is two-sided.
//
// For every metric, accuracy included, Compare draws B paired bootstrap
// resamples (CompareOptions.Resamples, default 1000): resample b takes n row
// indices uniformly with replacement from math/rand/v2's PCG seeded with
// (CompareOptions.Seed, b), and weights both models' rows with them. With
// D_b = challenger - champion on resample b and α = 1 - confidence (default
// 0.95):
//
//	interval = [ Q(α/2), Q(1 - α/2) ] of the D_b   (Q: linear interpolation, numpy's default)
//	bootstrap p-value = (1 + #{b : improvement on resample b <= 0}) / (1 + B)
//
// The bootstrap p-value is one-sided, for "the challenger is not better";
// it is the Comparison's PValue for every metric but accuracy. Resamples on
// which a metric is undefined (roc_auc with one class) are left out; if more
// than 10% are, Compare fails.
//
// # Promotion policy (Decide)
//
// Decide checks each candidate, in version order, against the policy; a
// candidate passes when every condition holds:
//
//  1. Metrics.Rows >= MinHoldoutRows.
//  2. The primary metric is defined for it.
//  3. For each MinimumValues bound: value >= bound (value <= bound for a
//     loss).
//
// When there is a champion, also, with I the Improvement and R the
// RelativeImprovement on the primary metric, recomputed from the
// Comparison's Champion and Challenger values:
//
//  4. I > 0 and I >= MinAbsoluteImprovement: a candidate never replaces the
//     champion on a tie, even with zero thresholds.
//  5. R >= MinRelativeImprovement; when the champion's value is 0, R is
//     undefined and any I > 0 meets it.
//  6. SignificanceLevel = 0, or the primary Comparison's PValue <
//     SignificanceLevel. For accuracy that is McNemar's two-sided p-value,
//     which with condition 4 amounts to a one-sided test at level α/2.
//  7. For each guardrail: -Improvement on its metric <= MaxDrop.
//
// Threshold comparisons in 1, 3, 4, 5 and 7 allow 1e-12 of floating-point
// noise, so 0.85 - 0.80 meets a required 0.05. A missing comparison (primary
// or guardrail) fails its condition.
//
// The winner is the passing candidate with the best primary metric (higher,
// or lower for a loss); equal values go to the lowest version string. The
// outcome is:
//
//	champion  winner  RequireApproval  Outcome
//	none      yes     no               promote (the first champion)
//	none      yes     yes              await_approval
//	none      no      -                none
//	present   yes     no               promote
//	present   yes     yes              await_approval
//	present   no      -                keep
//
// An invalid policy (Policy.Validate) promotes nothing: keep, or none. The
// Decision's Reasons start with a headline and go on with every condition
// checked for every candidate, as sentences with their numbers, such as
//
//	candidate 01H3 (id3): roc_auc 0.871 vs champion 0.842: +0.029 absolute
//	(>= 0.005 required), +3.44% relative (>= 1% required), paired bootstrap
//	p=0.003 < 0.05, 95% interval of challenger - champion [+0.019, +0.039]
//
// The golden decisions in testdata/decide hold these rules.
package evaluator
