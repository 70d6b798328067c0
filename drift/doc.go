// Package drift owns the reference profiles of training data and the
// statistics that tell whether a recent window of data has drifted away from
// them: the population stability index (PSI), the Jensen-Shannon distance,
// the two-sample Kolmogorov-Smirnov test, Pearson's two-sample chi-squared
// test, the Benjamini-Hochberg and Bonferroni adjustments of p-values, and
// the alarm built on them, calibrated to the sample sizes.
//
// It also concludes a drift check (Judge): whether the model drifted, from
// its features and from the champion's live quality on labelled rows.
//
// It is pure computation over slices: no I/O, no clock, no globals, no
// import of the rest of Kingmaker (a test in internal/archtest holds that).
// Reading rows from Cassandra, scoring the champion, storing profiles and
// reports, exporting metrics and acting on a verdict (retrain_on_drift, the
// cooldown, a retrain already running) belong to the callers (activities
// and workflows).
//
// # Use
//
// At training time, a ProfileBuilder receives the training rows (numeric
// values, categories, and optionally labels and model scores) and Build
// returns a Profile, stored as JSON with the model version. Later, a drift
// run makes one Tally per partition of its time window with
// NewTally(profile), feeds it rows with AddRow, merges the tallies with
// Merge, and calls Report.
//
//	b, _ := drift.NewProfileBuilder([]string{"age", "income"}, []string{"country"}, drift.ProfileOptions{})
//	for _, r := range training { _ = b.AddRow(r.Num, r.Cat) }
//	profile := b.Build()
//
//	w, _ := drift.NewTally(profile)
//	for _, r := range recent { _ = w.AddRow(r.Num, r.Cat) }
//	report, _ := w.Report(drift.ReportOptions{})
//	if report.Drifted { /* report.Reasons say why */ }
//
// NaN and ±Inf are missing numbers, the empty string a missing category;
// they are counted, never fatal.
//
// # Profiles
//
// For each numeric feature with n finite values sorted as s[0..n-1], the
// profile keeps count, missing count, mean, population standard deviation,
// minimum and maximum, and:
//
//   - bin edges e_k = s[floor(k*n/B)] for k = 1..B-1 (B = 10 by default),
//     without duplicates and without edges <= s[0], so a discrete feature
//     gets as many bins as its deciles tell apart, never an empty first bin.
//     Bins are [e_(i-1), e_i) with open-ended first and last bins: a value x
//     falls in the bin numbered by how many edges are <= x (numpy's
//     searchsorted(edges, x, side='right'));
//   - the count of reference values in each bin;
//   - a sketch for the Kolmogorov-Smirnov test: every distinct value if there
//     are at most S of them (S = 500 by default), otherwise the quantiles
//     s[floor(k*n/S)] for k = 0..S-1 without duplicates; with, for each
//     sketch point, the number of reference values strictly below it.
//
// For each categorical feature it keeps the count of each of the most
// frequent categories (1000 by default), sorted by name, an unseen bucket
// for the rows of the categories left out, and the missing count.
//
// A profile holds no map and depends only on the multiset of rows, not on
// their order, so its JSON is deterministic.
//
// # Windows
//
// A window counts rows into cells of a grid per numeric feature: the bin
// edges and sketch points merged, plus the float just above the reference
// maximum; cell i is [g_(i-1), g_i). A row costs one binary search per
// numeric value (without data-dependent branches) and one map look-up per
// category, allocates nothing, and memory does not grow with rows. Merge
// adds counts, so windows filled in parallel and merged give exactly the
// counts, and so the statistics, of one window; only the window's mean and
// standard deviation, float sums, can differ in the last bits.
//
// # Statistics
//
// PSI, over the B' bins of a distribution (numeric: the profile's bins and a
// missing bucket; categorical: the categories, the unseen bucket and a
// missing bucket), with p the reference proportions and q the window's:
//
//	p'_i = max(p_i, eps), q'_i = max(q_i, eps)     eps = 1e-4 by default
//	PSI  = sum_i (q'_i - p'_i) ln(q'_i / p'_i)
//
// The floor keeps a bin that is empty on one side finite (it then adds
// about q ln(q/eps): a category 5% of the window that training never saw
// adds 0.31, major on its own); floored proportions are not renormalised.
//
// With no change at all PSI is not 0: two samples of one distribution give
// about (K-1)(1/n_ref + 1/n_win) over K well-filled bins, 0.8 for 200
// categories and 500 rows on each side, more where bins are sparse and the
// floor scores an empty bin as eps. ExpectedPSI computes that no-change
// level for the sizes at hand, with the distribution estimated by pooling
// both sides and each bin's counts taken as binomials (exact sums over the
// binomials, or the second-order expansion where a bin expects 100 rows or
// more on a side and the floor cannot matter). Severity grades the excess,
// PSI - ExpectedPSI: none below 0.10, moderate from 0.10, major from 0.25.
// It is a grade for reports and metrics; the alarm has its own, smaller
// effect floor (below).
//
// Jensen-Shannon distance, over the same buckets, in bits (as
// scipy.spatial.distance.jensenshannon(p, q, base=2)):
//
//	m = (p+q)/2,  JS = sqrt((KL(p||m) + KL(q||m)) / 2),  KL(a||b) = sum a_i log2(a_i/b_i)
//
// Kolmogorov-Smirnov, D = sup_x |F_ref(x) - F_win(x)| over present values.
// KS2Samp computes it exactly on two samples with scipy.stats.ks_2samp's
// default p-value: exact (Hodges' lattice-path count in Viehmann's stable
// form, or the closed alternating sum for equal sizes) when both samples
// have at most 10000 values, otherwise asymptotic,
//
//	p = Pr(D_N >= D) with N = round(n1*n2/(n1+n2)),
//
// the distribution of the one-sample statistic computed as scipy.stats.kstwo
// does (Simard and L'Ecuyer's choice among Durbin's matrix, Pomeranz's
// recursion, the Pelz-Good expansion and the one-sided Smirnov sum doubled).
//
// In a Window the reference sample is gone, so the report approximates:
//
//   - the statistic is the largest |F_ref - F_win| at the left limits of the
//     grid points, where both functions are known exactly (the profile
//     stores how many reference values lie below each sketch point). It
//     never exceeds the exact statistic. It equals it (KSResult.Exact) when
//     the sketch holds every distinct reference value and every window value
//     is a grid point or lies outside the reference's range: discrete
//     features up to S distinct values;
//   - KSResult.UpperBound bounds the exact statistic: inside a cell where
//     the reference gains r and the window w, D moves from D_l to D_r within
//     [max(D_l - w, D_r - r), min(D_l + r, D_r + w)]. With the default
//     sketch the gap is about 1/500 plus the window's mass in one cell;
//   - the p-value is always the asymptotic one above, for the grid
//     statistic, with n1 and n2 the present values of the reference and the
//     window; never the exact one.
//
// Chi-squared, for categorical features and labels, is the two-sample test
// of homogeneity (ChiSquareTwoSample, scipy.stats.chi2_contingency) on the
// 2 x K table of reference and window counts over the buckets (categories,
// unseen, missing): both samples vary, neither's proportions are taken as
// exact. The table has a column per category: each category of the window
// that the profile does not list gets its own, with a reference count of 0
// (a window counts up to MaxUnseenNames of them one by one; when the
// profile folded categories away, the window's unseen rows face its Unseen
// count as one column instead). Before the test, columns that expect fewer
// than one row in the smaller sample are pooled into one (PoolSparse):
// Pearson's statistic over many such columns has a heavier tail than its
// chi-squared law. For PSI and Jensen-Shannon the reference's unseen bucket
// counts, besides the rows folded away by MaxCategories, Good and Turing's
// estimate of its rows in categories it never saw (the number of categories
// it saw once), because a window of the same distribution does have rows
// there. For a numeric feature whose
// reference or window has missing values, the share of missing values is
// tested too (2 x 2, with Yates' correction as scipy) and the feature's
// p-value is min(1, 2 min(p_KS, p_missing)).
//
// Multiple testing: a report holds one p-value per distribution (KS for
// numeric ones, chi-squared for categorical ones, 1 when a test cannot run),
// adjusted across them with Benjamini-Hochberg by default,
//
//	adj_(i) = min_{k>=i} min(1, p_(k) * m/k)     (p sorted ascending, m p-values)
//
// as scipy.stats.false_discovery_control(p, method='bh'), or Bonferroni,
// min(1, p*m).
//
// # Verdict
//
// A p-value alone flags everything on large windows; PSI alone flags noise
// on small windows and many categories. A distribution drifts when all
// three hold:
//
//   - it has at least MinRows rows (1000 by default);
//   - its p-value, adjusted across the report's distributions (features,
//     prediction, label) with Benjamini-Hochberg, is at most
//     FalseAlarmRate (0.01 by default): a window with no change raises an
//     alarm with at most that probability, whatever the sizes;
//   - its effect is large enough: the PSI excess is at least MinPSIExcess
//     (0.02 by default; 0 is no floor), or an optional KSAlarm or JSAlarm
//     is reached.
//
// The floor is not a severity band. A mean shift of 0.2 standard
// deviations moves a numeric feature's PSI over its deciles by 0.038, a
// standard deviation 1.3 times as large by 0.087, a binary label from 30%
// to 38% by 0.029, 2% of the rows in a new category by 0.106: shifts worth
// knowing, all below the moderate band, so a floor at a severity band would
// silence them at every size. A mean shift of 0.1 standard deviations moves
// PSI by 0.0096: significant in a million rows, and held back by the floor.
//
// The report is Drifted when the window has at least MinRows rows and a
// distribution drifts; Reasons say which and by how much, in sentences.
//
// simulation_test.go holds these rules to their level on unchanged windows
// (numeric features and 2 to 500 categories, windows of 500 to 1,000,000
// rows): the level is the test's, not the floor's. It requires clear shifts
// (a mean shift of one standard deviation, a new category with 10% of the
// rows, a mix change) to be detected in at least 95% of windows from 500
// rows up, and the drift-detection benchmark's shifts at 10,000 rows as
// well; the README reports what it measures. Past MaxCategories the profile
// keeps the most frequent categories, a choice made on the reference's own
// counts, and the test rejects more often than its level. A mean shift of
// 0.1 standard deviations in 1,000,000 rows is significant but never
// drifts: its PSI excess stays below MinPSIExcess.
//
// # What a check concludes
//
// A check concludes in two pure steps, both deterministic: Judge turns the
// window's Report and the champion's LiveQuality into a Verdict, and Act
// turns the Verdict and the model's retrain settings into a Step, what the
// check does.
//
// Judge takes the model's VerdictOptions (drift.max_drifted_features,
// drift.min_rows, drift.quality_drop):
//
//   - features drift when the report is sufficient and more than
//     MaxDriftedFeatures features drifted. Only features count: a drifted
//     label or prediction is in the reasons but drifts nothing on its own;
//   - the live quality counts from MinLabelledRows labelled rows. Its drop
//     is QualityDrop(holdout, live) = holdout - live for a score, live -
//     holdout for a loss (positive is worse), and the quality dropped when
//     the drop is over MaxQualityDrop by more than rounding (below).
//     Without both values (roc_auc of one class) the verdict rests on
//     features, as with too few labels;
//   - the model drifted (Verdict.Drifted) when features drifted or the
//     quality dropped.
//
// A drop is a difference of two metric values and rounds on its own, so it
// is compared with the allowed drop as evaluator compares metrics for ties:
// the quality dropped when
//
//	drop > MaxQualityDrop  and  |drop - MaxQualityDrop| > 1e-12 × max(1, |drop|, |MaxQualityDrop|)
//
// A drop equal to drift.quality_drop up to rounding is within it: with 0.05
// allowed, 0.90 - 0.85 (0.050000000000000044) and 0.84 - 0.79
// (0.04999999999999993) both count as the allowed drop, so neither is an
// alarm.
//
// Act then takes the rules in this order; the first that applies is the
// Step:
//
//  1. no champion: ActionNoChampion (nothing was compared);
//  2. not drifted: ActionStable;
//  3. drift.retrain_on_drift off: ActionRetrainDisabled;
//  4. a scheduled check (not one a person asked for with drift --now) less
//     than drift.cooldown after the last drift-triggered retrain started:
//     ActionCooldown. A cooldown of 0 holds nothing back;
//  5. a retrain of the model already running: ActionRetrainRunning;
//  6. otherwise ActionRetrain: start a retrain with reason drift.
//
// The reasons are the report's, then one sentence per rule that had
// something to say, with its numbers, then the step's. The golden verdicts
// in testdata/verdict and the table of steps in action_test.go hold these
// rules.
//
// # Agreement with scipy
//
// testdata/make_reference.py computes reference values with scipy (1.17) on
// the same arrays, and the tests require agreement within 1e-9, absolute and
// relative. Measured: the KS statistic and exact p-values are bit for bit
// equal; asymptotic KS p-values and scipy.stats.kstwo.sf agree to about
// 1e-12 relative (where 1 - CDF cancels), scipy.special.smirnov to 1e-14,
// chi-squared and Jensen-Shannon to 1e-15, PSI (against numpy) and
// Benjamini-Hochberg exactly. Deliberate differences: NaN or out-of-range
// p-values are left NaN by the adjustments instead of failing the whole
// call; ChiSquare refuses non-positive expected counts; JensenShannon returns
// 0 where rounding makes scipy's divergence negative and its result NaN.
package drift
