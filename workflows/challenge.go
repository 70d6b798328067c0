package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
)

// ChallengeWorkflowName is the workflow type of a challenge run.
const ChallengeWorkflowName = "ChallengeWorkflow"

// StageChallenger is the stage of a challenge run while it checks its version.
const StageChallenger = "challenger"

// ChallengeInput starts a challenge of one version of a model.
type ChallengeInput struct {
	Model string `json:"model"`
	// Version is the version to judge against the champion (a registered
	// model file, or any version).
	Version     string `json:"version"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by"`
	// AsOf, when set, ends the window there instead of at the run's start.
	AsOf *time.Time `json:"as_of,omitempty"`
}

// ChallengeWorkflow judges one existing version (a model registered from a
// file, usually) against the champion the way a retrain judges its
// candidates, without training: it fixes a fresh window (snapshot), reads it
// once (StageRunData), scores the version and the champion on the same
// holdout rows (Evaluate), decides by the model's policy (paired tests,
// guardrails, thresholds), waits for approval when the policy asks, runs the
// shadow period, promotes by compare-and-set and records the decision, with
// the progress query, approval updates and search attributes of a retrain.
// Its result is a RetrainResult whose one candidate is the version.
func ChallengeWorkflow(ctx workflow.Context, in ChallengeInput) (*RetrainResult, error) {
	r, err := startRetrain(ctx, RetrainInput{Model: in.Model, Reason: in.Reason, RequestedBy: in.RequestedBy, AsOf: in.AsOf})
	if err != nil {
		return nil, err
	}
	r.challenger = in.Version
	for _, stage := range []func() error{r.snapshot, r.challenge, r.evaluate, r.awaitApproval, r.shadow, r.promote} {
		if err := stage(); err != nil {
			return r.fail(err)
		}
	}
	return r.finish()
}

// challenge checks the challenger (it exists and can serve the model), reads
// the window once and makes the version the run's one candidate.
func (r *retrainRun) challenge() error {
	ctx := r.ctx
	r.prog.Stage = StageChallenger
	if r.snap.Champion != nil && r.snap.Champion.Version.String() == r.challenger {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("version %s is already the champion of %s (generation %d): nothing to challenge", r.challenger, r.in.Model, r.snap.Champion.Generation),
			"AlreadyChampion", nil)
	}
	var c activities.Challenger
	if err := workflow.ExecuteActivity(summary(r.light, "check challenger "+r.challenger), a.ChallengerVersion, activities.ChallengerInput{
		Model: r.in.Model, Version: r.challenger,
	}).Get(ctx, &c); err != nil {
		return err
	}
	r.prog.Candidates = []CandidateProgress{{Name: c.Candidate, Algorithm: c.Algorithm, Stage: "registered", Version: c.Version}}
	r.res.Candidates = r.prog.Candidates
	r.versions = []string{c.Version}
	readCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           r.spec.TrainingTaskQueue,
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3},
	})
	if err := r.readOnce(readCtx); err != nil {
		return err
	}
	if c.HasProfile {
		return nil
	}
	// A registered version has no reference profile for drift checks: it
	// gets the run's training sample's, before it can be promoted.
	return workflow.ExecuteActivity(summary(readCtx, "profile "+c.Version+" on the run's training sample"), a.ProfileChallenger, activities.ProfileInput{
		Model: r.in.Model, Version: c.Version, Data: r.data,
	}).Get(ctx, nil)
}

// ChallengeWorkflowID is the meaningful id of a challenge run:
// challenge-<model>-<UTC start, to the millisecond>.
func ChallengeWorkflowID(model string, start time.Time) string {
	return "challenge" + RetrainWorkflowID(model, start)[len("retrain"):]
}

// ChallengeStartOptions start a challenge of in.Version by hand at now, on
// the main task queue.
func ChallengeStartOptions(in ChallengeInput, taskQueue string, now time.Time) client.StartWorkflowOptions {
	return startOptions(ChallengeWorkflowID(in.Model, now), taskQueue, in.Model, fmt.Sprintf("Challenge %s: version %s (%s)", in.Model, in.Version, in.Reason))
}
