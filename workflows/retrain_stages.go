package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// The stages of a retrain run between its start and its finish, in the
// order RetrainWorkflow calls them (retrain.go).

// snapshot loads the model's spec, fixes the window and takes its snapshot
// (rows, classes, the champion pointer).
func (r *retrainRun) snapshot() error {
	ctx, in := r.ctx, r.in
	if err := workflow.ExecuteActivity(summary(r.light, "load the spec of "+in.Model), a.LoadSpec, activities.LoadSpecInput{Model: in.Model}).Get(ctx, &r.spec); err != nil {
		return err
	}
	m := r.spec.Model
	to := workflow.Now(ctx).UTC()
	if in.AsOf != nil {
		to = in.AsOf.UTC()
	}
	// Label maturity: the window ends label.delay before the as-of time,
	// so every row in it had that long to be labelled; labels are read as
	// known at the as-of time (the window's end plus the delay).
	if d := m.Label.Delay.D(); d > 0 && workflow.GetVersion(ctx, changeLabelMaturity, workflow.DefaultVersion, 1) == 1 {
		to = to.Add(-d)
	}
	r.window = dataset.Window{From: to.Add(-m.Window.Length.D()), To: to}
	r.res.Window, r.prog.Window = r.window, r.window

	r.prog.Stage = StageSnapshot
	r.onePass = workflow.GetVersion(ctx, changeOnePass, workflow.DefaultVersion, 1) == 1
	what := "snapshot " + r.window.String()
	if r.onePass {
		what = "check the table and read the champion of " + in.Model + " (the window is counted when it is read)"
	}
	if err := workflow.ExecuteActivity(summary(withTimeout(r.light, 5*time.Minute), what), a.SnapshotWindow,
		activities.SnapshotInput{Model: in.Model, Window: r.window, Spec: &r.spec.Model, OnePass: r.onePass}).Get(ctx, &r.snap); err != nil {
		return err
	}
	r.res.Rows, r.prog.Rows = r.snap.Rows, r.snap.Rows
	r.res.Previous, r.res.Champion = r.snap.Champion, r.snap.Champion
	r.res.Labels = r.snap.Labels
	return nil
}

// train trains the candidates on the training queue and fails when none
// of them trained.
func (r *retrainRun) train() error {
	ctx, in, info, m, prog := r.ctx, r.in, r.info, r.spec.Model, r.prog
	prog.Stage = StageTraining
	trainOpts := workflow.ActivityOptions{
		TaskQueue:           r.spec.TrainingTaskQueue,
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3},
	}
	trainCtx := workflow.WithActivityOptions(ctx, trainOpts)
	if err := r.readOnce(trainCtx); err != nil {
		return err
	}
	rate := r.sampleRate()
	prog.Stage = StageTraining
	// At most parallel_trainings at once (0: all): the next candidate starts
	// when one finishes, so it meets a free worker slot instead of waiting
	// in the task queue behind a busy one.
	limit := m.ParallelTrainings
	if limit <= 0 || limit > len(m.Candidates) {
		limit = len(m.Candidates)
	}
	for i, c := range m.Candidates {
		stage := "training"
		if i >= limit {
			stage = "queued"
		}
		prog.Candidates = append(prog.Candidates, CandidateProgress{Name: c.Name, Algorithm: c.Algorithm, Stage: stage})
	}
	// External trainers (candidates[].external) are asked only by runs
	// that recorded the marker; a spec without one asks for none.
	ext := workflow.DefaultVersion
	if slices.ContainsFunc(m.Candidates, func(c config.Candidate) bool { return c.External != nil }) {
		ext = workflow.GetVersion(ctx, changeExternalTrainer, workflow.DefaultVersion, 1)
	}
	sel := workflow.NewSelector(ctx)
	next := 0
	var train func()
	train = func() {
		i, c := next, m.Candidates[next]
		next++
		prog.Candidates[i].Stage = "training"
		var f workflow.Future
		if c.External != nil && ext == 1 && r.data != nil {
			f = r.trainExternal(trainOpts, c, rate)
		} else {
			f = workflow.ExecuteActivity(summary(trainCtx, fmt.Sprintf("train %s (%s)", c.Name, c.Algorithm)), a.TrainCandidate, activities.TrainInput{
				Model: in.Model, Candidate: c.Name, Window: r.window, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
				StartedAt: info.WorkflowStartTime, SampleRate: rate, Spec: &r.spec.Model, Data: r.data,
			})
		}
		sel.AddFuture(f, func(f workflow.Future) {
			var t activities.Trained
			cp := &prog.Candidates[i]
			if err := f.Get(ctx, &t); err != nil {
				cp.Stage, cp.Error = "failed", err.Error()
			} else {
				cp.Stage, cp.Version, cp.TrainRows, cp.Seconds = "trained", t.Version, t.TrainRows, t.Seconds
			}
			if next < len(m.Candidates) {
				train()
			}
		})
	}
	for range limit {
		train()
	}
	for range m.Candidates {
		sel.Select(ctx)
	}
	for _, c := range prog.Candidates {
		if c.Version != "" {
			r.versions = append(r.versions, c.Version)
		} else {
			r.res.Reasons = append(r.res.Reasons, fmt.Sprintf("candidate %s (%s) failed: %s", c.Name, c.Algorithm, c.Error))
		}
	}
	r.res.Candidates = prog.Candidates
	if len(r.versions) == 0 {
		return temporal.NewNonRetryableApplicationError("every candidate failed to train", "AllCandidatesFailed", nil)
	}
	return nil
}

// trainExternal asks candidate c's external trainer, on its own task queue,
// to train on the run's staged training rows and write its model file to
// run_data, then imports that file as the candidate's version on the
// training queue (activities.ImportExternal). Only names, the window and
// checksums pass through the history.
func (r *retrainRun) trainExternal(trainOpts workflow.ActivityOptions, c config.Candidate, rate float64) workflow.Future {
	f, set := workflow.NewFuture(r.ctx)
	info := r.info
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		extCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:           c.External.TaskQueue,
			StartToCloseTimeout: 2 * time.Hour,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3},
		})
		what := fmt.Sprintf("train %s with external trainer %s on task queue %s", c.Name, c.External.Activity, c.External.TaskQueue)
		ein := activities.NewExternalTrainInput(&r.spec.Model, &c, r.window, info.WorkflowExecution.RunID, rate, r.data, r.spec.Keyspace, r.spec.SourceKeyspace)
		var made activities.ExternalTrained
		if err := workflow.ExecuteActivity(summary(extCtx, what), c.External.Activity, ein).Get(ctx, &made); err != nil {
			set.Set(nil, err)
			return
		}
		var t activities.Trained
		err := workflow.ExecuteActivity(summary(workflow.WithActivityOptions(ctx, trainOpts), "import "+c.Name+"'s model file "+made.SHA256), a.ImportExternal, activities.ImportExternalInput{
			Model: r.in.Model, Candidate: c.Name, Window: r.window, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
			StartedAt: info.WorkflowStartTime, Spec: &r.spec.Model, Data: r.data, Trained: made,
		}).Get(ctx, &t)
		set.Set(t, err)
	})
	return f
}

// readOnce reads the window once: its training sample and holdout are kept
// for the candidates and the evaluation. Runs recorded before have no
// marker, and their activities read the window themselves. A run that
// reads in one pass (r.onePass) learns the window's counts here.
func (r *retrainRun) readOnce(ctx workflow.Context) error {
	if workflow.GetVersion(r.ctx, changeReadOnce, workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	// The query reports the read, not training, until the rows are kept:
	// it is no command, so replay does not see it.
	r.prog.Stage = StageReadingWindow
	r.data = new(activities.RunData)
	w := r.spec.Model.Window
	stage := activities.StageInput{Model: r.in.Model, Window: r.window, RunID: r.info.WorkflowExecution.RunID, Spec: &r.spec.Model}
	what := "read " + r.window.String() + " once: keep the training sample and the holdout"
	if r.onePass {
		stage.MaxTrainRows, stage.MaxHoldoutRows = w.MaxTrainRows, w.MaxHoldoutRows
		what = "read " + r.window.String() + " once: count it, keep the training sample and the holdout"
	} else {
		stage.SampleRate = r.snap.SampleRate(w.MaxTrainRows)
		if workflow.GetVersion(r.ctx, changeHoldoutCap, workflow.DefaultVersion, 1) == 1 {
			stage.HoldoutRate = r.snap.HoldoutRate(w.MaxHoldoutRows)
		}
	}
	if err := workflow.ExecuteActivity(summary(ctx, what), a.StageRunData, stage).Get(r.ctx, r.data); err != nil {
		return err
	}
	if r.data.Counted {
		r.snap.Rows, r.snap.Labels = r.data.Rows, r.data.Labels
		r.res.Rows, r.prog.Rows = r.data.Rows, r.data.Rows
		r.res.Labels = r.data.Labels
	}
	if l := r.res.Labels; l != nil {
		l.Skipped = r.data.Skipped
	}
	return nil
}

// sampleRate is the share of the window's training rows the candidates
// train on: the one the one-pass read kept, or the rate that keeps about
// max_train_rows of the snapshot's count.
func (r *retrainRun) sampleRate() float64 {
	if r.data != nil && r.data.Counted {
		return r.data.SampleRate
	}
	return r.snap.SampleRate(r.spec.Model.Window.MaxTrainRows)
}

// evaluate scores the trained candidates and the champion on the same
// holdout and decides by the model's policy.
func (r *retrainRun) evaluate() error {
	ctx, in, info, m, res := r.ctx, r.in, r.info, r.spec.Model, r.res
	r.prog.Stage = StageEvaluating
	champion := ""
	if r.snap.Champion != nil {
		champion = r.snap.Champion.Version.String()
	}
	evalCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: r.spec.TrainingTaskQueue, StartToCloseTimeout: time.Hour, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3},
	})
	evalWhat := fmt.Sprintf("evaluate %d candidates on the holdout", len(r.versions))
	if champion != "" {
		evalWhat = fmt.Sprintf("evaluate %d candidates and champion %s on the same holdout", len(r.versions), champion)
	}
	if err := workflow.ExecuteActivity(summary(evalCtx, evalWhat), a.Evaluate, activities.EvaluateInput{
		Model: in.Model, Window: r.window, Champion: champion, Candidates: r.versions, Seed: seed(info.WorkflowExecution.RunID),
		Spec: &r.spec.Model, Data: r.data,
	}).Get(ctx, &r.ev); err != nil {
		return err
	}
	ev := &r.ev
	res.HoldoutRows = int64(ev.HoldoutRows)

	policy := m.Policy.Evaluator()
	policy.RequireApproval = policy.RequireApproval || in.RequireApproval
	// Decide runs again on every replay: a run that decided before ties had
	// a tolerance keeps the rules it decided by.
	rules := evaluator.RulesTieTolerance
	if workflow.GetVersion(ctx, changeTieTolerance, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		rules = evaluator.RulesExactSign
	}
	r.decision = evaluator.DecideBy(rules, policy, ev.Champion, ev.Candidates)
	decision := &r.decision
	if ev.ChampionProblem != "" {
		decision.Reasons = append(decision.Reasons, ev.ChampionProblem)
	}
	decision.Reasons = append(decision.Reasons, ev.Problems...)
	r.prog.Decision, res.Decision = decision, decision
	res.Reasons = append(decision.Reasons, res.Reasons...)
	res.Winner = decision.Winner
	r.outcome = string(decision.Outcome)
	return nil
}

// awaitApproval, when the decision awaits approval, waits up to
// policy.approval_timeout for the approve or reject update.
func (r *retrainRun) awaitApproval() error {
	ctx, m, res := r.ctx, r.spec.Model, r.res
	r.by = "kingmaker:" + r.info.WorkflowExecution.ID
	if r.decision.Outcome != evaluator.OutcomeAwaitApproval {
		return nil
	}
	r.prog.Stage = StageAwaiting
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrDecision.ValueSet(string(evaluator.OutcomeAwaitApproval)))
	ok, err := workflow.AwaitWithTimeout(ctx, m.Policy.ApprovalTimeout.D(), func() bool { return r.approval != nil })
	if err != nil {
		return err
	}
	approval := r.approval
	res.Approval = approval
	switch {
	case !ok:
		r.outcome = OutcomeApprovalExpired
		res.Reasons = append(res.Reasons, fmt.Sprintf("nobody approved within %s: nothing promoted", m.Policy.ApprovalTimeout))
	case !approval.Approved:
		r.outcome = OutcomeRejected
		res.Reasons = append(res.Reasons, fmt.Sprintf("rejected by %s: %s", approval.By, approval.Reason))
	default:
		r.outcome = string(evaluator.OutcomePromote)
		r.by = approval.By
		res.Reasons = append(res.Reasons, fmt.Sprintf("approved by %s: %s", approval.By, approval.Reason))
	}
	return nil
}

// shadow runs the shadow period (policy.shadow.period, shadow.go) of a
// winner about to be promoted: it is scored beside the champion on live
// traffic before it may be promoted.
func (r *retrainRun) shadow() error {
	if r.outcome != string(evaluator.OutcomePromote) || !r.spec.Model.Policy.Shadow.Enabled() {
		return nil
	}
	shadowed, err := shadowWinner(r.ctx, r.spec.Model.Policy.Shadow, r.snap.Champion, r.decision.Winner, r.prog, r.res)
	if err != nil {
		return err
	}
	r.outcome = shadowed
	return nil
}

// promote moves the champion pointer to the winner by compare-and-set
// against the pointer the snapshot saw; losing that race is the outcome
// lost_race, not a failure.
func (r *retrainRun) promote() error {
	if r.outcome != string(evaluator.OutcomePromote) {
		return nil
	}
	ctx, in, decision, approval, res := r.ctx, r.in, &r.decision, r.approval, r.res
	r.prog.Stage = StagePromoting
	reason := fmt.Sprintf("%s (%s): %s", r.kind(), in.Reason, first(decision.Reasons))
	if approval != nil {
		reason = fmt.Sprintf("%s (%s), approved by %s (%s): %s", r.kind(), in.Reason, approval.By, approval.Reason, first(decision.Reasons))
	}
	err := workflow.ExecuteActivity(summary(durable(ctx), "promote "+decision.Winner+" by compare-and-set"), a.Promote, activities.PromoteInput{
		Model: in.Model, Version: decision.Winner, Expected: r.snap.Champion, Action: registry.ActionPromote,
		By: r.by, Reason: reason, RunID: r.info.WorkflowExecution.RunID,
	}).Get(ctx, &r.promotion)
	if err != nil {
		return err
	}
	if r.promotion.Lost {
		r.outcome = OutcomeLostRace
		res.Champion = r.promotion.LostTo
		res.Reasons = append(res.Reasons, "not promoted: "+r.promotion.Message)
	} else {
		res.Champion = r.promotion.Champion
		r.startProbation()
	}
	return nil
}
