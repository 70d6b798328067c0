// Package evaluator scores classifiers and regression models on a holdout, compares a challenger
// with the champion on the same rows, decides with a promotion policy
// whether a candidate replaces the champion, and judges a winner's shadow
// period before it does.
//
// It is pure Go over slices: no I/O, no clock, no global randomness, and it
// imports nothing of Kingmaker (a test in internal/archtest holds that).
// Reading rows, running models, gathering live evidence and storing results
// belong to the activities and the registry. Score and Compare take per-row
// data and run in activities; Decide and JudgeShadow take only compact
// results (Metrics, Comparison, ShadowEvidence) and are deterministic, so
// they run inside a workflow. Every result type is JSON-serialisable and never holds NaN or
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
// # Ties
//
// Two values a and b of a metric are a tie when
//
//	|a - b| <= 1e-12 × max(1, |a|, |b|)
//
// and a tie is a change and an improvement of exactly 0, wherever a sign
// decides: the improvement Decide judges, the ranking of candidates, and
// each bootstrap resample's difference. Rounding is the reason: a macro
// average adds per-class values in class order, so the same values in
// another order can differ by a step of 2⁻⁵³ (recall_macro
// 0.19999999999999998 vs 0.20000000000000004). The worst rounding of a mean
// of K values in [0, 1] is about K × 1.1e-16, below the tolerance up to
// some 9,000 classes, while one holdout row moves accuracy, precision,
// recall and their macro averages by at least 1/(K·n), above it for any
// holdout of fewer than 10¹²/K rows.
//
// # Tests: one-sided, for "is the challenger better?"
//
// Every p-value is one-sided, for the null hypothesis "the challenger is
// not better", and comes with the one-sided interval dual to it.
// γ = 1 - Confidence (CompareOptions.Confidence, default 0.95; the retrain
// activity passes 1 - significance_level, so γ is the policy's α).
//
// Accuracy: McNemar's test, one-sided and exact, on the discordant rows: b
// rows where only the champion is right, c where only the challenger is.
// Under the null, c ~ Binomial(b + c, 1/2):
//
//	p = P(X >= c) = Σ_{k=c}^{b+c} C(b+c, k) / 2^(b+c)
//
// as scipy.stats.binomtest(c, b+c, 0.5, alternative="greater") computes it,
// at any b + c (there is no normal approximation: the sum is done term by
// term, outward from the mode). The one-sided interval of challenger -
// champion is [L, +inf) with
//
//	L = (b + c) (2 θ_L - 1) / n,   P(X >= c; b + c, θ_L) = γ
//
// θ_L the exact (Clopper-Pearson) lower bound of the chance that a
// discordant row favours the challenger; L > 0 exactly when p < γ.
//
// Every other metric: a paired bootstrap. Compare draws B resamples
// (CompareOptions.Resamples, default 1000): resample b takes n row indices
// uniformly with replacement from math/rand/v2's PCG seeded with
// (CompareOptions.Seed, b), and weights both models' rows with them. With
// D_b = challenger - champion on resample b (0 for a tie) and I_b its
// improvement (D_b, or -D_b for a loss):
//
//	p = (1 + #{b : I_b <= 0}) / (1 + B)
//	one-sided interval: [D_(r), +inf) for a score, (-inf, D_(B+1-r)] for a loss,
//	                    D_(r) the r-th smallest, r = ⌈γ (1 + B)⌉ - 1
//
// so the bound lies beyond 0 exactly when p < γ (no bound, nil, when r < 1:
// then p can never be below γ). For the record Compare also keeps the
// two-sided percentile interval [Q(γ/2), Q(1 - γ/2)] of the D_b (Q: linear
// interpolation, numpy's default), and for accuracy the bootstrap p-value
// beside McNemar's. Resamples on which a metric is undefined (roc_auc with
// one class) are left out; if more than 10% are, Compare fails.
//
// Comparisons recorded by earlier versions carry a two-sided McNemar
// p-value (Test McNemarExact or McNemarChi2) and no Bound; Decide reads them
// as they are and shows their two-sided interval.
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
//  4. I > 0 and I >= MinAbsoluteImprovement, I being 0 for a tie (see
//     Ties): a candidate never replaces the champion on a tie, even with
//     zero thresholds.
//  5. R >= MinRelativeImprovement; when the champion's value is 0, R is
//     undefined and any I > 0 meets it.
//  6. SignificanceLevel = 0, or the primary Comparison's one-sided PValue <
//     SignificanceLevel (McNemar's for accuracy, the bootstrap's
//     otherwise). A configuration that names no level gets
//     DefaultSignificanceLevel, 0.05; 0 turns the test off.
//  7. For each guardrail: -Improvement on its metric <= MaxDrop.
//
// Threshold comparisons in 1, 3, 4, 5 and 7 allow 1e-12 of floating-point
// noise, so 0.85 - 0.80 meets a required 0.05. A missing comparison (primary
// or guardrail) fails its condition.
//
// The winner is the passing candidate with the best primary metric (higher,
// or lower for a loss); tied values go to the lowest version string. The
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
//	one-sided p=0.003 < 0.05, 95% one-sided interval of challenger - champion
//	[+0.01164, +inf)
//
// The golden decisions in testdata/decide hold these rules. Decide applies
// today's rules (RulesTieTolerance); DecideBy applies an earlier version,
// for a workflow replaying a decision it made before ties had a tolerance
// (RulesExactSign: I > 0 compared with exact zero).
//
// # Shadow rules (JudgeShadow)
//
// With a shadow period (a model's policy.shadow), the winner Decide would
// promote first scores live traffic beside the champion. JudgeShadow
// applies ShadowRules to the ShadowEvidence of the period, in order:
//
//  1. Fewer than MinRequests rows scored by both models fail: too little
//     evidence.
//  2. With at least MinLabelledRows labelled rows and both models' live
//     metrics on them, labels decide: the shadow passes when its live
//     accuracy is at most MaxAccuracyDrop below the champion's (1e-12 of
//     floating-point noise allowed), and fails otherwise, whatever the
//     agreement: labels veto a look-alike that is worse.
//  3. Otherwise agreement decides: the shadow passes when it predicts the
//     champion's class on at least MinAgreement of the rows; with no rows
//     there is no agreement, and it fails.
//
// The first reason is the deciding rule's sentence, with its numbers; when
// more than one champion generation answered during the period, a second
// reason says the champion changed, so the promotion's compare-and-set will
// lose. The golden verdicts in testdata/shadow hold these rules.
//
// # Regression and multiclass metrics (ScoreRegression, ScoreMulticlass)
//
// A regression model predicts ŷ_i for label y_i (both finite), n rows:
//
//	rmse      = sqrt((1/n) Σ_i (y_i - ŷ_i)²)
//	mae       = (1/n) Σ_i |y_i - ŷ_i|
//	median_ae = median_i |y_i - ŷ_i|   (mean of the two middle values for even n)
//	r2        = 1 - Σ_i (y_i - ŷ_i)² / Σ_i (y_i - ȳ)²
//	mape      = (1/|Z|) Σ_{i∈Z} |y_i - ŷ_i| / |y_i|,   Z = {i : y_i ≠ 0}
//
// r2 is undefined when every label is the same (scikit-learn's r2_score
// with force_finite=False gives NaN or -inf). mape is a fraction, not a
// percentage; rows with a label of exactly 0 are left out and counted
// (RegressionMetrics.MAPEZeroLabels), and mape is undefined when no row
// is left. On the rows of Z it equals scikit-learn's
// mean_absolute_percentage_error.
//
// A multiclass model gives a probability matrix P: one row per sample, one
// column per class 0..K-1, entries in [0, 1], each row summing to 1 within
// 1e-5 (numpy.allclose's default, as scikit-learn's roc_auc_score checks).
// With y_i the true class:
//
//	log_loss       = -(1/n) Σ_i ln clip(P[i][y_i])
//	brier          = (1/(n K)) Σ_i Σ_c (1[y_i = c] - P[i][c])²
//	roc_auc_ovr    = (1/K) Σ_c AUC_c
//	top_k_accuracy = (1/n) #{i : #{c : P[i][c] > P[i][y_i], or = and c > y_i} < k}
//
// clip is log_loss's clip above (scikit-learn's log_loss with
// labels=range(K)). brier is the mean over classes of the one-vs-rest
// squared error: scikit-learn's multiclass brier_score_loss (a sum over
// classes) divided by K, and for K = 2 the binary brier. AUC_c is the binary
// roc_auc of column c with class c positive, midranks for ties; the mean is
// roc_auc_score(multi_class="ovr", average="macro"), undefined when a class
// has no row in the truth. top_k_accuracy is top_k_accuracy_score: among
// tied probabilities the higher class ranks first.
//
// Direction: rmse, mae, median_ae, mape, log_loss and brier are lower is
// better; r2, roc_auc_ovr and top_k_accuracy higher is better
// (TaskMetricHigherIsBetter). testdata/task_reference.json, from
// testdata/make_task_reference.py, holds them within 1e-9 (relative) of
// scikit-learn 1.9.1.
//
// # Paired tests on per-row losses (PairedTTest, WilcoxonSignedRank)
//
// Both models predict the same rows; RowLosses gives each row's squared
// error (y - ŷ)² or absolute error |y - ŷ|. With d_i = champion loss -
// challenger loss, 0 when the two losses tie (see Ties), both tests are
// one-sided, for the null hypothesis "the challenger's loss is not lower":
//
//	paired t:  t = mean(d) / (sd(d) / √n),  sd with n - 1,  p = P(T_{n-1} >= t)
//	Wilcoxon:  W+ = Σ_{d_i > 0} rank(|d_i|)  over the m rows with d_i ≠ 0
//	           (average ranks for ties), p = P(W >= W+)
//
// as scipy.stats.ttest_rel(champion, challenger, alternative="greater") and
// scipy.stats.wilcoxon(champion, challenger, alternative="greater") with
// its defaults zero_method="wilcox" (zero differences left out) and
// correction=False. Wilcoxon's p is exact (the null distribution of W+ over
// the 2^m sign patterns) when m <= 50 and there is neither a zero nor a tied
// |d_i|; otherwise it is the normal approximation
//
//	z = (W+ - m(m+1)/4) / sqrt((m(m+1)(2m+1) - Σ_g (t_g³ - t_g)/2) / 24),  p = 1 - Φ(z)
//
// t_g the sizes of the groups of tied |d_i|. That is scipy's method="auto"
// except with zeros or ties on at most 13 rows, where scipy runs a
// permutation test and this is its method="asymptotic". Where SciPy gives
// NaN these give an answer: when every difference is 0, t = W+ = 0 and
// p = 1 (nothing favours the challenger); with one row the t-test is
// undefined (nil); when every d_i is the same non-zero value t is ±Inf,
// left nil, and p is 0 (an improvement) or 1. A NaN or infinite loss is an
// error naming its row. testdata/task_reference.json holds both tests
// within 1e-9 (relative) of SciPy 1.17.
//
// # Tasks in comparisons and decisions
//
// A model's task (TaskBinary, TaskMulticlass, TaskRegression) decides the
// metrics its policy may name (MetricsFor, CheckMetricTask) and how its
// holdout is scored and compared:
//
//   - binary: Score and CompareAll, as above.
//   - multiclass: MulticlassMetricsOf (Score of the predicted classes plus
//     ScoreMulticlass of the probability matrix, top_k_accuracy with
//     k = DefaultTopK) and CompareMulticlass: the metrics of predicted
//     classes by CompareAll, those of the probability matrix by the paired
//     bootstrap above, each resample weighting the rows of both models.
//   - regression: RegressionMetricsOf and CompareRegression: every metric
//     has the paired bootstrap's interval, and rmse and r2 are decided by
//     the one-sided paired t-test on squared errors (PairedTSquared), mae by
//     the one on absolute errors (PairedTAbsolute); median_ae and mape by
//     the bootstrap p-value. rmse is monotone in the mean squared error and
//     r2 = 1 - SSE/SST with SST the same for both models on the same rows,
//     so "not better" on either is exactly "mean(d) <= 0" for the squared
//     errors, the t-test's null; likewise mae for absolute errors. Wilcoxon's
//     null (d symmetric about 0) is another question: a challenger better
//     on most rows and far worse on a few would pass it with a worse rmse.
//     A comparison decided by a t-test has no one-sided Bound (the
//     bootstrap's two-sided interval is kept) and records the test in
//     Comparison.Paired.
//
// Metrics.Value reads a regression model's metrics from Metrics.Regression
// and a multiclass model's log_loss, brier, roc_auc_ovr and top_k_accuracy
// from Metrics.Multiclass; a binary model's Metrics are as before (Task
// empty), so binary decisions, and the records of them, are unchanged.
package evaluator
