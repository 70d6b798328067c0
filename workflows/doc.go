// Package workflows holds Kingmaker's Temporal workflows and the names the
// CLI, the schedules and the worker share with them.
//
//   - RetrainWorkflow (retrain.go, its stages in retrain_stages.go):
//     snapshot a window, read it once to keep its training sample and
//     holdout, train candidates in parallel (a candidate with
//     candidates[].external by its own activity, in any SDK language, on
//     its own task queue, its model file then imported by ImportExternal),
//     evaluate them with
//     the champion on the same holdout, decide by policy, await approval
//     when asked, shadow the winner when policy.shadow says so (shadow.go),
//     promote by compare-and-set, record.
//   - ChallengeWorkflow (challenge.go): a retrain without training, for one
//     existing version (usually one registered from a model file): the same
//     snapshot, read-once, evaluation with the champion, decision, approval,
//     shadow, promotion and record stages.
//   - DriftWorkflow (drift.go): compare a recent window with the champion's
//     training profile (and its live quality, where labels have arrived)
//     and start a retrain when the model drifted.
//   - BatchScoreWorkflow (score.go): score a window of source rows, a day
//     partition at a time, into predictions.
//   - ProbationWorkflow (probation.go): started by a run's promotion over a
//     champion when policy.probation says so; the previous champion
//     shadows (or answers a canary share) for the period, then a paired
//     test on the labelled live rows confirms the promotion or rolls it
//     back by compare-and-set; a pointer moved by anyone else ends it.
//
// How a run is started (its workflow id, conflict policy, search
// attributes and summary) is built in start.go, for the CLI, the schedules
// and DriftWorkflow alike; the names of workflow types, queries, updates
// and search attributes are in names.go.
//
// Workflow code is deterministic: time comes from workflow.Now, order
// from slices, and every effect from an activity. It does not do the work
// itself: package activities does, and package worker registers both.
package workflows
