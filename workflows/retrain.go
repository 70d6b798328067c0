package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"go.temporal.io/sdk/log"
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
	// Labels is the window's label coverage at the run's as-of time.
	Labels *activities.LabelCoverage `json:"labels,omitempty"`
	// Probation is the workflow id of the probation the promotion started.
	Probation string `json:"probation,omitempty"`
}

// Stages of a run, as the progress query reports them.
const (
	StageStarting = "starting"
	StageSnapshot = "snapshot"
	// StageReadingWindow is StageRunData reading the run's window once and
	// keeping its training sample and holdout, before any candidate trains.
	StageReadingWindow = "reading_window"
	StageTraining      = "training"
	StageEvaluating    = "evaluating"
	StageAwaiting      = "awaiting_approval"
	StagePromoting     = "promoting"
	StageRecording     = "recording"
	StageDone          = "done"
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
	// Labels is the window's label coverage: rows, labelled, unlabelled
	// and skipped (nil when the run failed before its snapshot).
	Labels *activities.LabelCoverage `json:"labels,omitempty"`
}

var a *activities.Activities

// changeTieTolerance is the workflow.GetVersion change id of deciding by
// evaluator.RulesTieTolerance: version 1 decides by it, runs recorded
// without the marker by evaluator.RulesExactSign.
const changeTieTolerance = "decide-tie-tolerance"

// changeReadOnce is the workflow.GetVersion change id of reading the
// window once per run (activities.StageRunData): version 1 stages the run's
// rows before training, runs recorded without the marker do not.
const changeReadOnce = "read-window-once"

// changeLabelMaturity is the workflow.GetVersion change id of ending the
// window label.delay before the run's as-of time. It is asked only when the
// recorded spec has a delay, which no run recorded before it has.
const changeLabelMaturity = "label-maturity"

// changeExternalTrainer is the workflow.GetVersion change id of asking an
// external trainer for a candidate with candidates[].external. It is asked
// only when the recorded spec has such a candidate, which no run recorded
// before it has.
const changeExternalTrainer = "external-trainer"

// changeHoldoutCap is the workflow.GetVersion change id of sampling the
// staged holdout down to window.max_holdout_rows: version 1 passes
// StageRunData the rate, runs recorded without the marker keep every
// holdout row.
const changeHoldoutCap = "holdout-cap"

// changeOnePass is the workflow.GetVersion change id of reading the window
// in one pass: version 1 takes a snapshot without a count
// (SnapshotInput.OnePass), and StageRunData counts the window, refuses it
// when too small and keeps the max_train_rows training rows and the
// max_holdout_rows holdout rows of smallest key hash in the same read. Runs
// recorded without the marker count the window first and sample by rate.
const changeOnePass = "one-pass-read"

// RetrainWorkflow retrains a model's candidates on a fresh window and
// promotes the winner when the policy says so (the stages are listed in
// the package documentation).
//
// Each stage is a method of retrainRun (retrain_stages.go), called here in
// the order a run takes them; a stage that does not apply to the run (no
// approval asked, no shadow period, nothing to promote) returns at once,
// and a stage that fails ends the run through fail, which still records it.
func RetrainWorkflow(ctx workflow.Context, in RetrainInput) (*RetrainResult, error) {
	r, err := startRetrain(ctx, in)
	if err != nil {
		return nil, err
	}
	for _, stage := range []func() error{r.snapshot, r.train, r.evaluate, r.awaitApproval, r.shadow, r.promote} {
		if err := stage(); err != nil {
			return r.fail(err)
		}
	}
	return r.finish()
}

// retrainRun is one run of RetrainWorkflow: its input, what its stages have
// found so far, and what the progress query and the approval updates see.
type retrainRun struct {
	ctx   workflow.Context
	in    RetrainInput
	info  *workflow.Info
	log   log.Logger
	res   *RetrainResult
	prog  *Progress
	light workflow.Context // for the short reads: a minute a try, ten tries

	// approval is set by the approve or reject update.
	approval *ApprovalInput

	spec   activities.Spec
	window dataset.Window
	snap   activities.Snapshot
	data   *activities.RunData // the run's stored rows (nil: activities read the window)
	// onePass is set when the run counts its window in the read that keeps
	// its rows (changeOnePass).
	onePass  bool
	versions []string // of the candidates that trained
	ev       activities.Evaluation
	decision evaluator.Decision
	// challenger is the version a challenge run judges (ChallengeWorkflow);
	// empty in a retrain.
	challenger string
	// outcome is the run's outcome so far; by is who promotes.
	outcome   string
	by        string
	promotion *activities.PromoteResult
}

// startRetrain sets up a run: its progress query, its approval updates and
// its model search attribute.
func startRetrain(ctx workflow.Context, in RetrainInput) (*retrainRun, error) {
	r := &retrainRun{
		ctx:  ctx,
		in:   in,
		info: workflow.GetInfo(ctx),
		log:  workflow.GetLogger(ctx),
		res:  &RetrainResult{Model: in.Model, Reasons: []string{}},
		prog: &Progress{Model: in.Model, Stage: StageStarting},
	}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (*Progress, error) { return r.prog, nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove, r.answer(true), workflow.UpdateHandlerOptions{Validator: r.validateAnswer}); err != nil {
		return nil, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateReject, r.answer(false), workflow.UpdateHandlerOptions{Validator: r.validateAnswer}); err != nil {
		return nil, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrModel.ValueSet(in.Model))

	r.light = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
	return r, nil
}

// kind is what the run is, in its log lines and promotion reason: retrain
// or challenge.
func (r *retrainRun) kind() string {
	if r.challenger != "" {
		return "challenge"
	}
	return "retrain"
}

// answer is the handler of the approve (approved) or reject update.
func (r *retrainRun) answer(approved bool) func(workflow.Context, ApprovalInput) (string, error) {
	return func(ctx workflow.Context, in ApprovalInput) (string, error) {
		in.Approved = approved
		r.approval = &in
		if approved {
			return "approved: " + r.prog.Decision.Winner + " will be promoted", nil
		}
		return "rejected: nothing will be promoted", nil
	}
}

// validateAnswer refuses an approval update the run cannot use.
func (r *retrainRun) validateAnswer(ctx workflow.Context, in ApprovalInput) error {
	if r.prog.Stage != StageAwaiting {
		return fmt.Errorf("run %s is not awaiting approval (stage %s)", r.info.WorkflowExecution.ID, r.prog.Stage)
	}
	if r.approval != nil {
		return errors.New("this run was already answered")
	}
	if in.By == "" || in.Reason == "" {
		return errors.New("who (by) and why (reason) are required")
	}
	return nil
}

// finish sets the run's outcome, search attributes and memo, and records
// its decision.
func (r *retrainRun) finish() (*RetrainResult, error) {
	ctx, outcome, res := r.ctx, r.outcome, r.res
	res.Outcome = outcome
	attrs := []temporal.SearchAttributeUpdate{AttrDecision.ValueSet(outcome)}
	if res.Champion != nil {
		attrs = append(attrs, AttrChampion.ValueSet(res.Champion.Version.String()))
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, attrs...)
	_ = workflow.UpsertMemo(ctx, map[string]any{"outcome": outcome, "headline": first(res.Reasons)})

	if err := r.record(outcome, DecisionRecord{Evaluation: &r.ev, Decision: &r.decision, Approval: r.approval, Promotion: r.promotion}); err != nil {
		return r.fail(err)
	}
	r.prog.Stage, r.prog.Result = StageDone, res
	r.log.Info(r.kind()+" done", "model", r.in.Model, "outcome", outcome, "winner", res.Winner)
	return res, nil
}

// record stores the run's decision record. It and fail need nothing a
// stage may not have reached, so that a run failing at any step, even
// LoadSpec, leaves its decision record and search attribute.
func (r *retrainRun) record(outcome string, rec DecisionRecord) error {
	ctx, in, info, res := r.ctx, r.in, r.info, r.res
	r.prog.Stage = StageRecording
	rec.Reason, rec.Policy, rec.Candidates, rec.Shadow, rec.Labels = in.Reason, r.spec.Model.Policy, r.prog.Candidates, res.Shadow, res.Labels
	doc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ri := activities.RecordInput{
		Model: in.Model, RunID: info.WorkflowExecution.RunID, WorkflowID: info.WorkflowExecution.ID, StartedAt: info.WorkflowStartTime,
		Reason: in.Reason, Outcome: outcome, Winner: res.Winner, Champion: res.Champion, Window: r.window, TrainRows: trainRows(r.prog.Candidates),
		HoldoutRows: res.HoldoutRows, Decision: doc,
	}
	return workflow.ExecuteActivity(summary(durable(ctx), "record the decision: "+outcome), a.Record, ri).Get(ctx, nil)
}

// fail ends the run as failed with err, recorded.
func (r *retrainRun) fail(err error) (*RetrainResult, error) {
	res := r.res
	res.Outcome = OutcomeFailed
	res.Reasons = append(res.Reasons, err.Error())
	_ = workflow.UpsertTypedSearchAttributes(r.ctx, AttrDecision.ValueSet(OutcomeFailed))
	if rerr := r.record(OutcomeFailed, DecisionRecord{Failure: err.Error()}); rerr != nil {
		r.log.Error("recording the failed run failed too", "error", rerr)
	}
	r.prog.Stage, r.prog.Result = StageDone, res
	return res, err
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
