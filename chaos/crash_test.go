package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// crashRounds is how many times each kill is repeated, each in a deployment
// of its own (the rounds run at the same time).
const crashRounds = 3

// slowForest trains for tens of seconds on a week of 1,500 rows a day (151
// trees; about 0.1 s a tree on an idle core), so a kill lands while it trains.
var slowForest = config.Candidate{Name: "forest", Algorithm: "forest", Params: map[string]float64{"trees": 151}}

// trainKill is what one kill during TrainCandidate did.
type trainKill struct {
	trainedFor     time.Duration // how long the forest's attempt had run when the worker died
	versionsAtKill int           // versions of the run already written then
	forestAttempt  int32         // the attempt that finished the forest
	forestReused   bool          // whether that attempt found the version already written
	recovered      time.Duration // from the kill to the end of the run
}

func TestAWorkerKilledWhileTrainingIsReplacedAndTheRunEndsWithOneVersionPerCandidate(t *testing.T) {
	integration(t)
	t.Parallel()
	ds := make([]*deployment, crashRounds)
	for i := range ds {
		ds[i] = newDeployment(t, sharedNode, churn(candidates(logistic, slowForest)))
		ds[i].seed(7, 1500)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	got := make([]trainKill, crashRounds)
	errs := make([]error, crashRounds)
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = killWhileTraining(ctx, d)
		}()
	}
	wg.Wait()
	for i, k := range got {
		if errors.Is(errs[i], errMissed) {
			// Every copy of the model promoted before the poll saw Promote
			// running: no fault was injected, so there is nothing to check.
			t.Logf("round %d: every kill missed Promote (%v)", i+1, errs[i])
			continue
		}
		if errs[i] != nil {
			t.Errorf("round %d: %v", i+1, errs[i])
			continue
		}
		t.Logf("round %d: killed %.1fs into the forest's TrainCandidate (%d versions written by then, none of the forest); a new worker finished it in attempt %d (reused %v); the run ended %.1fs after the kill, pointer and ledger agree",
			i+1, k.trainedFor.Seconds(), k.versionsAtKill, k.forestAttempt, k.forestReused, k.recovered.Seconds())
	}
}

func killWhileTraining(ctx context.Context, d *deployment) (trainKill, error) {
	var k trainKill
	w, err := d.startWorker()
	if err != nil {
		return k, err
	}
	run, err := d.startRetrain(ctx, d.runID("train-kill"), "churn", weekEnd)
	if err != nil {
		return k, err
	}
	// The server knows when an attempt started; the logistic candidate takes
	// about a second, so an attempt running for 3 s is the forest training.
	for k.trainedFor == 0 {
		status, pending, err := d.describe(ctx, run)
		if err != nil {
			return k, err
		}
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return k, fmt.Errorf("the run ended (%s) before a training could be interrupted", status)
		}
		for _, pa := range pending {
			if pa.GetActivityType().GetName() == "TrainCandidate" && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED &&
				pa.GetLastStartedTime() != nil && time.Since(pa.GetLastStartedTime().AsTime()) >= 3*time.Second {
				k.trainedFor = time.Since(pa.GetLastStartedTime().AsTime())
			}
		}
		if k.trainedFor == 0 {
			select {
			case <-ctx.Done():
				return k, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	w.kill()
	killed := time.Now()
	byRun, _, err := versionsOf(ctx, d.reg, "churn")
	if err != nil {
		return k, err
	}
	k.versionsAtKill = len(byRun[run.GetRunID()])
	if byRun[run.GetRunID()]["forest"] != 0 {
		return k, errors.New("the forest's version was already written when the worker died: the kill came after training (make the forest slower)")
	}
	if _, err := d.startWorker(); err != nil {
		return k, err
	}
	res, err := wait(ctx, run)
	if err != nil {
		return k, fmt.Errorf("the run did not complete after the worker was replaced: %w", err)
	}
	k.recovered = time.Since(killed)
	if res.Outcome != string(evaluator.OutcomePromote) {
		return k, fmt.Errorf("outcome %s, want the first champion promoted (reasons: %q)", res.Outcome, res.Reasons)
	}
	if err := oneVersionPerCandidate(ctx, d.reg, "churn", run.GetRunID(), []string{"logistic", "forest"}); err != nil {
		return k, err
	}
	champ, ledger, err := checkPointerAndLedger(ctx, d.reg, "churn")
	if err != nil {
		return k, err
	}
	if champ == nil || champ.Generation != 1 || champ.Version.String() != res.Winner || champ.RunID != run.GetRunID() || len(ledger) != 1 {
		return k, fmt.Errorf("champion %+v with %d ledger rows, want the run's winner %s at generation 1", champ, len(ledger), res.Winner)
	}
	acts, err := d.activities(ctx, run)
	if err != nil {
		return k, err
	}
	for _, a := range acts {
		if a.Type == "TrainCandidate" && a.Candidate == "forest" {
			k.forestAttempt = a.Attempt
			var tr activities.Trained
			if json.Unmarshal(a.Result, &tr) == nil {
				k.forestReused = tr.Reused
			}
		}
	}
	if k.forestAttempt < 2 {
		return k, fmt.Errorf("the forest finished in attempt %d; the kill should have cost the first attempt", k.forestAttempt)
	}
	return k, checkOneRecord(ctx, d, "churn", run.GetRunID(), string(evaluator.OutcomePromote))
}

// checkOneRecord checks that a run wrote exactly one decision record, with
// the outcome.
func checkOneRecord(ctx context.Context, d *deployment, model, runID, outcome string) error {
	evals, err := d.reg.Evaluations(ctx, model, 1000)
	if err != nil {
		return err
	}
	n := 0
	for _, e := range evals {
		if e.RunID != runID {
			continue
		}
		n++
		if e.Outcome != outcome {
			return fmt.Errorf("the decision record of run %s says %s, want %s", runID, e.Outcome, outcome)
		}
	}
	if n != 1 {
		return fmt.Errorf("run %s wrote %d decision records, want 1", runID, n)
	}
	return nil
}

// promoteKill is what one kill around Promote did.
type promoteKill struct {
	at             string // what the server showed when the worker died
	pointerMoved   bool   // the compare-and-set had been applied before the kill
	ledgerWritten  bool   // and its ledger row written
	promoteAttempt int32  // the attempt that finished Promote
	recovered      time.Duration
}

// Where a kill around Promote landed.
const (
	atPromoteScheduled = "Promote scheduled, not started"
	atPromoteStarted   = "Promote running"
	atAfterPromote     = "Promote done, Record pending"
)

func TestAWorkerKilledWhilePromotingLeavesOneChampionThatTheLedgerAgreesWith(t *testing.T) {
	integration(t)
	t.Parallel()
	// Promote lasts milliseconds, so a poll can miss it; a round that missed
	// tries again with the next copy of the model.
	ds := make([]*deployment, crashRounds)
	for i := range ds {
		ds[i] = newDeployment(t, sharedNode, copiesOfChurn(raceModels, candidates(logistic, id3)))
		ds[i].seed(7, 800)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	got := make([]promoteKill, crashRounds)
	errs := make([]error, crashRounds)
	missed := make([]int, crashRounds)
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, m := range raceModels {
				got[i], errs[i] = killWhilePromoting(ctx, d, m)
				if !errors.Is(errs[i], errMissed) {
					return
				}
				missed[i]++
			}
		}()
	}
	wg.Wait()
	sides := map[string]int{}
	for i, k := range got {
		if errors.Is(errs[i], errMissed) {
			// Every copy of the model promoted before the poll saw Promote
			// running: no fault was injected, so there is nothing to check.
			t.Logf("round %d: every kill missed Promote (%v)", i+1, errs[i])
			continue
		}
		if errs[i] != nil {
			t.Errorf("round %d: %v", i+1, errs[i])
			continue
		}
		side := "before the CAS"
		switch {
		case k.pointerMoved && k.ledgerWritten:
			side = "after the CAS and the ledger row"
		case k.pointerMoved:
			side = "after the CAS, before the ledger row"
		}
		sides[side]++
		t.Logf("round %d (%d missed before): killed at %q, %s; a new worker finished Promote in attempt %d; the run ended %.1fs after the kill, pointer and ledger agree",
			i+1, missed[i], k.at, side, k.promoteAttempt, k.recovered.Seconds())
	}
	t.Logf("kills by side of the compare-and-set: %v", sides)
	if len(sides) == 0 {
		t.Fatal("no kill landed while Promote ran, in any round: nothing was tested")
	}
}

// errMissed means a run ended before the poll saw its promotion.
var errMissed = errors.New("the run ended before the kill: the promotion was missed")

// killWhilePromoting retrains model, kills the deployment's worker when
// the server shows Promote pending (or Record: just after), starts a new
// worker and checks the outcome.
func killWhilePromoting(ctx context.Context, d *deployment, model string) (promoteKill, error) {
	var k promoteKill
	w, err := d.runningWorker()
	if err != nil {
		return k, err
	}
	run, err := d.startRetrain(ctx, d.runID("promote-kill-"+model), model, weekEnd)
	if err != nil {
		return k, err
	}
	// Poll slowly until Evaluate runs, then as fast as the server answers
	// until Promote is pending: it lasts a few milliseconds.
	tight := false
	for k.at == "" {
		status, pending, err := d.describe(ctx, run)
		if err != nil {
			return k, err
		}
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return k, fmt.Errorf("%w (%s)", errMissed, status)
		}
		for _, pa := range pending {
			switch name := pa.GetActivityType().GetName(); {
			case name == "Evaluate":
				tight = true
			case name == "Promote" && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED:
				k.at = atPromoteStarted
			case name == "Promote":
				k.at = atPromoteScheduled
			case name == "Record":
				k.at = atAfterPromote
			}
		}
		if k.at != "" {
			break
		}
		pause := 200 * time.Millisecond
		if tight {
			pause = time.Millisecond
		}
		select {
		case <-ctx.Done():
			return k, ctx.Err()
		case <-time.After(pause):
		}
	}
	w.kill()
	killed := time.Now()
	champ, ledger, err := checkPointerAndLedgerLoose(ctx, d, model)
	if err != nil {
		return k, err
	}
	k.pointerMoved, k.ledgerWritten = champ != nil, len(ledger) > 0
	if _, err := d.startWorker(); err != nil {
		return k, err
	}
	res, err := wait(ctx, run)
	if err != nil {
		return k, fmt.Errorf("the run did not complete after the worker was replaced: %w", err)
	}
	k.recovered = time.Since(killed)
	if res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil {
		return k, fmt.Errorf("outcome %s, want the first champion promoted (reasons: %q)", res.Outcome, res.Reasons)
	}
	now, full, err := checkPointerAndLedger(ctx, d.reg, model)
	if err != nil {
		return k, err
	}
	if now.Generation != 1 || now.Version.String() != res.Winner || now.RunID != run.GetRunID() || len(full) != 1 {
		return k, fmt.Errorf("champion %+v with %d ledger rows, want the run's winner %s at generation 1", now, len(full), res.Winner)
	}
	if k.pointerMoved && champ.Version != now.Version {
		return k, fmt.Errorf("the pointer named %s at the kill and %s after the restart", champ.Version, now.Version)
	}
	if err := oneVersionPerCandidate(ctx, d.reg, model, run.GetRunID(), []string{"logistic", "id3"}); err != nil {
		return k, err
	}
	acts, err := d.activities(ctx, run)
	if err != nil {
		return k, err
	}
	promotes := 0
	for _, a := range acts {
		if a.Type == "Promote" {
			promotes++
			k.promoteAttempt = a.Attempt
		}
	}
	if promotes != 1 {
		return k, fmt.Errorf("the run scheduled Promote %d times, want once", promotes)
	}
	return k, checkOneRecord(ctx, d, model, run.GetRunID(), string(evaluator.OutcomePromote))
}

// checkPointerAndLedgerLoose reads the pointer and ledger right after a kill,
// when the ledger may lack the newest row (the retry writes it); anything
// else out of line is an error.
func checkPointerAndLedgerLoose(ctx context.Context, d *deployment, model string) (*registry.Champion, []registry.Promotion, error) {
	champ, ledger, err := checkPointerAndLedger(ctx, d.reg, model)
	if err == nil || (champ != nil && len(ledger) == 0 && champ.Generation == 1) {
		return champ, ledger, nil
	}
	return champ, ledger, err
}
