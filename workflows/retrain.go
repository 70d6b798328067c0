package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// RetrainInput starts a retrain of one model.
type RetrainInput struct {
	Model       string `json:"model"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by"`
	// AsOf, when set, ends the window there instead of at the run's start
	// (to retrain on history, as the demo does).
	AsOf *time.Time `json:"as_of,omitempty"`
	// RequireApproval makes this run wait for a person's approval before it
	// promotes, whatever the policy says (drift.approve_retrains).
	RequireApproval bool `json:"require_approval,omitempty"`
}

// Outcomes of a run beyond evaluator's promote/keep/none.
const (
	OutcomeRejected        = "rejected"
	OutcomeApprovalExpired = "approval_expired"
	OutcomeLostRace        = "lost_race"
	OutcomeFailed          = "failed"
)

// RetrainResult is what a run did and why.
type RetrainResult struct {
	Model   string         `json:"model"`
	Outcome string         `json:"outcome"`
	Winner  string         `json:"winner,omitempty"`
	Reasons []string       `json:"reasons"`
	Window  dataset.Window `json:"window"`
	Rows    int64          `json:"rows"`
	// HoldoutRows is how many rows every model was scored on.
	HoldoutRows int64 `json:"holdout_rows"`
	// Previous and Champion are the pointer before and after the run.
	Previous   *registry.Champion  `json:"previous,omitempty"`
	Champion   *registry.Champion  `json:"champion,omitempty"`
	Candidates []CandidateProgress `json:"candidates"`
	Decision   *evaluator.Decision `json:"decision,omitempty"`
	Approval   *ApprovalInput      `json:"approval,omitempty"`
	// Shadow is the winner's shadow period (policy.shadow; shadow.go).
	Shadow *ShadowResult `json:"shadow,omitempty"`
}

// Stages of a run, as the progress query reports them.
const (
	StageStarting   = "starting"
	StageSnapshot   = "snapshot"
	StageTraining   = "training"
	StageEvaluating = "evaluating"
	StageAwaiting   = "awaiting_approval"
	StagePromoting  = "promoting"
	StageRecording  = "recording"
	StageDone       = "done"
)

// CandidateProgress is where one candidate is.
type CandidateProgress struct {
	Name      string  `json:"name"`
	Algorithm string  `json:"algorithm"`
	Stage     string  `json:"stage"` // queued, training, trained, failed
	Version   string  `json:"version,omitempty"`
	TrainRows int64   `json:"train_rows,omitempty"`
	Seconds   float64 `json:"seconds,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Progress answers the progress query.
type Progress struct {
	Model      string              `json:"model"`
	Stage      string              `json:"stage"`
	Window     dataset.Window      `json:"window"`
	Rows       int64               `json:"rows"`
	Candidates []CandidateProgress `json:"candidates"`
	Decision   *evaluator.Decision `json:"decision,omitempty"`
	Shadow     *ShadowResult       `json:"shadow,omitempty"`
	Result     *RetrainResult      `json:"result,omitempty"`
}

// ApprovalInput answers a run awaiting approval.
type ApprovalInput struct {
	By       string `json:"by"`
	Reason   string `json:"reason"`
	Approved bool   `json:"approved"`
}

// DecisionRecord is the document stored with every run's evaluation row.
type DecisionRecord struct {
	Reason     string                    `json:"reason"`
	Policy     config.Policy             `json:"policy"`
	Evaluation *activities.Evaluation    `json:"evaluation,omitempty"`
	Decision   *evaluator.Decision       `json:"decision,omitempty"`
	Approval   *ApprovalInput            `json:"approval,omitempty"`
	Promotion  *activities.PromoteResult `json:"promotion,omitempty"`
	Shadow     *ShadowResult             `json:"shadow,omitempty"`
	Candidates []CandidateProgress       `json:"candidates"`
	Failure    string                    `json:"failure,omitempty"`
}

var a *activities.Activities

// changeTieTolerance is the workflow.GetVersion change id of deciding by
// evaluator.RulesTieTolerance: version 1 decides by it, runs recorded
// without the marker by evaluator.RulesExactSign.
const changeTieTolerance = "decide-tie-tolerance"

// RetrainWorkflow retrains a model's candidates on a fresh window and
// promotes the winner when the policy says so. See DESIGN.md "Flow".
func RetrainWorkflow(ctx workflow.Context, in RetrainInput) (*RetrainResult, error) {
	info := workflow.GetInfo(ctx)
	log := workflow.GetLogger(ctx)
	res := &RetrainResult{Model: in.Model, Reasons: []string{}}
	prog := &Progress{Model: in.Model, Stage: StageStarting}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (*Progress, error) { return prog, nil }); err != nil {
		return nil, err
	}
	var approval *ApprovalInput
	answer := func(approved bool) func(workflow.Context, ApprovalInput) (string, error) {
		return func(ctx workflow.Context, in ApprovalInput) (string, error) {
			in.Approved = approved
			approval = &in
			if approved {
				return "approved: " + prog.Decision.Winner + " will be promoted", nil
			}
			return "rejected: nothing will be promoted", nil
		}
	}
	validate := func(ctx workflow.Context, in ApprovalInput) error {
		if prog.Stage != StageAwaiting {
			return fmt.Errorf("run %s is not awaiting approval (stage %s)", info.WorkflowExecution.ID, prog.Stage)
		}
		if approval != nil {
			return errors.New("this run was already answered")
		}
		if in.By == "" || in.Reason == "" {
			return errors.New("who (by) and why (reason) are required")
		}
		return nil
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove, answer(true), workflow.UpdateHandlerOptions{Validator: validate}); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReject, answer(false), workflow.UpdateHandlerOptions{Validator: validate}); err != nil {
		return nil, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrModel.ValueSet(in.Model))

	light := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	// record and fail come first, so that a run failing at any step, even
	// LoadSpec, leaves its decision record and search attribute.
	var (
		spec   activities.Spec
		window dataset.Window
	)
	record := func(outcome string, rec DecisionRecord) error {
		prog.Stage = StageRecording
		rec.Reason, rec.Policy, rec.Candidates, rec.Shadow = in.Reason, spec.Model.Policy, prog.Candidates, res.Shadow
		doc, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		ri := activities.RecordInput{
			Model: in.Model, RunID: info.WorkflowExecution.RunID, WorkflowID: info.WorkflowExecution.ID, StartedAt: info.WorkflowStartTime,
			Reason: in.Reason, Outcome: outcome, Winner: res.Winner, Champion: res.Champion, Window: window, TrainRows: trainRows(prog.Candidates),
			HoldoutRows: res.HoldoutRows, Decision: doc,
		}
		return workflow.ExecuteActivity(summary(durable(ctx), "record the decision: "+outcome), a.Record, ri).Get(ctx, nil)
	}
	fail := func(err error) (*RetrainResult, error) {
		res.Outcome = OutcomeFailed
		res.Reasons = append(res.Reasons, err.Error())
		_ = workflow.UpsertTypedSearchAttributes(ctx, AttrDecision.ValueSet(OutcomeFailed))
		if rerr := record(OutcomeFailed, DecisionRecord{Failure: err.Error()}); rerr != nil {
			log.Error("recording the failed run failed too", "error", rerr)
		}
		prog.Stage, prog.Result = StageDone, res
		return res, err
	}

	if err := workflow.ExecuteActivity(summary(light, "load the spec of "+in.Model), a.LoadSpec, activities.LoadSpecInput{Model: in.Model}).Get(ctx, &spec); err != nil {
		return fail(err)
	}
	m := spec.Model
	to := workflow.Now(ctx).UTC()
	if in.AsOf != nil {
		to = in.AsOf.UTC()
	}
	window = dataset.Window{From: to.Add(-m.Window.Length.D()), To: to}
	res.Window, prog.Window = window, window

	prog.Stage = StageSnapshot
	var snap activities.Snapshot
	if err := workflow.ExecuteActivity(summary(withTimeout(light, 5*time.Minute), "snapshot "+window.String()), a.SnapshotWindow, activities.SnapshotInput{Model: in.Model, Window: window, Spec: &spec.Model}).Get(ctx, &snap); err != nil {
		return fail(err)
	}
	res.Rows, prog.Rows = snap.Rows, snap.Rows
	res.Previous, res.Champion = snap.Champion, snap.Champion

	// Train the candidates on the training queue.
	prog.Stage = StageTraining
	trainCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           spec.TrainingTaskQueue,
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3},
	})
	rate := dataset.SampleRate(snap.Rows, m.Window.MaxTrainRows)
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
	sel := workflow.NewSelector(ctx)
	next := 0
	var train func()
	train = func() {
		i, c := next, m.Candidates[next]
		next++
		prog.Candidates[i].Stage = "training"
		f := workflow.ExecuteActivity(summary(trainCtx, fmt.Sprintf("train %s (%s)", c.Name, c.Algorithm)), a.TrainCandidate, activities.TrainInput{
			Model: in.Model, Candidate: c.Name, Window: window, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
			StartedAt: info.WorkflowStartTime, SampleRate: rate, Spec: &spec.Model,
		})
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
	var versions []string
	for _, c := range prog.Candidates {
		if c.Version != "" {
			versions = append(versions, c.Version)
		} else {
			res.Reasons = append(res.Reasons, fmt.Sprintf("candidate %s (%s) failed: %s", c.Name, c.Algorithm, c.Error))
		}
	}
	res.Candidates = prog.Candidates
	if len(versions) == 0 {
		return fail(temporal.NewNonRetryableApplicationError("every candidate failed to train", "AllCandidatesFailed", nil))
	}

	prog.Stage = StageEvaluating
	champion := ""
	if snap.Champion != nil {
		champion = snap.Champion.Version.String()
	}
	evalCtx := workflow.WithActivityOptions(trainCtx, workflow.ActivityOptions{
		TaskQueue: spec.TrainingTaskQueue, StartToCloseTimeout: time.Hour, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3},
	})
	var ev activities.Evaluation
	evalWhat := fmt.Sprintf("evaluate %d candidates on the holdout", len(versions))
	if champion != "" {
		evalWhat = fmt.Sprintf("evaluate %d candidates and champion %s on the same holdout", len(versions), champion)
	}
	if err := workflow.ExecuteActivity(summary(evalCtx, evalWhat), a.Evaluate, activities.EvaluateInput{
		Model: in.Model, Window: window, Champion: champion, Candidates: versions, Seed: seed(info.WorkflowExecution.RunID),
		Spec: &spec.Model,
	}).Get(ctx, &ev); err != nil {
		return fail(err)
	}
	res.HoldoutRows = int64(ev.HoldoutRows)

	policy := m.Policy.Evaluator()
	policy.RequireApproval = policy.RequireApproval || in.RequireApproval
	// Decide runs again on every replay: a run that decided before ties had
	// a tolerance keeps the rules it decided by.
	rules := evaluator.RulesTieTolerance
	if workflow.GetVersion(ctx, changeTieTolerance, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		rules = evaluator.RulesExactSign
	}
	decision := evaluator.DecideBy(rules, policy, ev.Champion, ev.Candidates)
	if ev.ChampionProblem != "" {
		decision.Reasons = append(decision.Reasons, ev.ChampionProblem)
	}
	decision.Reasons = append(decision.Reasons, ev.Problems...)
	prog.Decision, res.Decision = &decision, &decision
	res.Reasons = append(decision.Reasons, res.Reasons...)
	res.Winner = decision.Winner
	outcome := string(decision.Outcome)

	by := "kingmaker:" + info.WorkflowExecution.ID
	if decision.Outcome == evaluator.OutcomeAwaitApproval {
		prog.Stage = StageAwaiting
		_ = workflow.UpsertTypedSearchAttributes(ctx, AttrDecision.ValueSet(string(evaluator.OutcomeAwaitApproval)))
		ok, err := workflow.AwaitWithTimeout(ctx, m.Policy.ApprovalTimeout.D(), func() bool { return approval != nil })
		if err != nil {
			return fail(err)
		}
		res.Approval = approval
		switch {
		case !ok:
			outcome = OutcomeApprovalExpired
			res.Reasons = append(res.Reasons, fmt.Sprintf("nobody approved within %s: nothing promoted", m.Policy.ApprovalTimeout))
		case !approval.Approved:
			outcome = OutcomeRejected
			res.Reasons = append(res.Reasons, fmt.Sprintf("rejected by %s: %s", approval.By, approval.Reason))
		default:
			outcome = string(evaluator.OutcomePromote)
			by = approval.By
			res.Reasons = append(res.Reasons, fmt.Sprintf("approved by %s: %s", approval.By, approval.Reason))
		}
	}

	// Shadow period (policy.shadow.period, shadow.go): the winner is scored
	// beside the champion on live traffic before it may be promoted.
	if outcome == string(evaluator.OutcomePromote) && m.Policy.Shadow.Enabled() {
		shadowed, err := shadowWinner(ctx, m.Policy.Shadow, snap.Champion, decision.Winner, prog, res)
		if err != nil {
			return fail(err)
		}
		outcome = shadowed
	}

	var promotion *activities.PromoteResult
	if outcome == string(evaluator.OutcomePromote) {
		prog.Stage = StagePromoting
		reason := fmt.Sprintf("retrain (%s): %s", in.Reason, first(decision.Reasons))
		if approval != nil {
			reason = fmt.Sprintf("retrain (%s), approved by %s (%s): %s", in.Reason, approval.By, approval.Reason, first(decision.Reasons))
		}
		err := workflow.ExecuteActivity(summary(durable(ctx), "promote "+decision.Winner+" by compare-and-set"), a.Promote, activities.PromoteInput{
			Model: in.Model, Version: decision.Winner, Expected: snap.Champion, Action: registry.ActionPromote,
			By: by, Reason: reason, RunID: info.WorkflowExecution.RunID,
		}).Get(ctx, &promotion)
		if err != nil {
			return fail(err)
		}
		if promotion.Lost {
			outcome = OutcomeLostRace
			res.Champion = promotion.LostTo
			res.Reasons = append(res.Reasons, "not promoted: "+promotion.Message)
		} else {
			res.Champion = promotion.Champion
		}
	}
	res.Outcome = outcome
	attrs := []temporal.SearchAttributeUpdate{AttrDecision.ValueSet(outcome)}
	if res.Champion != nil {
		attrs = append(attrs, AttrChampion.ValueSet(res.Champion.Version.String()))
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, attrs...)
	_ = workflow.UpsertMemo(ctx, map[string]any{"outcome": outcome, "headline": first(res.Reasons)})

	if err := record(outcome, DecisionRecord{Evaluation: &ev, Decision: &decision, Approval: approval, Promotion: promotion}); err != nil {
		return fail(err)
	}
	prog.Stage, prog.Result = StageDone, res
	log.Info("retrain done", "model", in.Model, "outcome", outcome, "winner", res.Winner)
	return res, nil
}

// durable is for the short writes that must eventually happen (promotion,
// records): retried through a Cassandra outage for up to 30 minutes.
func durable(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
}

// summary labels the next activity in the Temporal UI.
func summary(ctx workflow.Context, text string) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = text
	return workflow.WithActivityOptions(ctx, opts)
}

func withTimeout(ctx workflow.Context, d time.Duration) workflow.Context {
	opts := workflow.GetActivityOptions(ctx)
	opts.StartToCloseTimeout = d
	return workflow.WithActivityOptions(ctx, opts)
}

func trainRows(cs []CandidateProgress) int64 {
	var n int64
	for _, c := range cs {
		n = max(n, c.TrainRows)
	}
	return n
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// seed derives the bootstrap seed from the run, so a re-evaluation of the
// same run resamples the same rows.
func seed(runID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(runID))
	return h.Sum64()
}
