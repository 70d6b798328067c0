package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// The three-node cluster tests run one after another: one kills a node, the
// other stops them all.
func TestOnAThreeNodeCluster(t *testing.T) {
	integration(t)
	t.Parallel()
	hosts := threeNodeCluster(t)
	t.Run("promotions at QUORUM and SERIAL keep working with one node down, and 100 races each have exactly one winner", func(t *testing.T) {
		racesWithOneNodeDown(t, hosts)
	})
	t.Run("the champion pointer's history stays linearizable over thousands of promotions, rollbacks and reads while nodes are killed", func(t *testing.T) {
		linearizableWhileNodesAreKilled(t, hosts)
	})
	t.Run("a plain write instead of the compare-and-set is flagged by the same check", func(t *testing.T) {
		aPlainWriteIsFlagged(t, hosts)
	})
	t.Run("with every node stopped while a run promotes, Promote retries and the run completes after they return", func(t *testing.T) {
		outageWhilePromoting(t, hosts)
	})
}

const (
	raceRounds  = 100 // after the first promotion
	racers      = 5
	raceRetries = 20 // attempts of one racer whose outcome is unknown (timeouts)
)

func racesWithOneNodeDown(t *testing.T, hosts []string) {
	d := newDeployment(t, target{hosts: hosts, replication: 3}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var replication map[string]string
	if err := d.session.Query(`SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?`, d.keyspace()).
		WithContext(ctx).Scan(&replication); err != nil {
		t.Fatal(err)
	}
	if replication["replication_factor"] != "3" || !strings.HasSuffix(replication["class"], "SimpleStrategy") {
		t.Fatalf("schema apply made keyspace %s with replication %v, want SimpleStrategy with factor 3", d.keyspace(), replication)
	}
	versions := make([]gocql.UUID, racers)
	for i := range versions {
		v := &registry.Version{
			Model: "churn", ID: registry.VersionID(time.Now(), fmt.Sprintf("racer-%d", i)), Candidate: fmt.Sprintf("racer%d", i),
			Algorithm: "logistic", RunID: "chaos-races", WorkflowID: "chaos-races", WindowFrom: seedStart, WindowTo: weekEnd,
		}
		if err := d.reg.SaveVersion(ctx, v, []byte(fmt.Sprintf("the artifact of racer %d", i))); err != nil {
			t.Fatal(err)
		}
		versions[i] = v.ID
	}

	if out, err := clusterScript("kill", "3"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	nodeBack := false
	defer func() {
		if !nodeBack {
			if out, err := clusterScript("start", "3"); err != nil {
				t.Errorf("bring node3 back: %v\n%s", err, out)
			}
		}
	}()

	began := time.Now()
	var retried, lost int
	var slowest time.Duration
	winners := make([]int, raceRounds+1) // racer that won each generation - 1
	for round := 0; round <= raceRounds; round++ {
		cur, err := readChampion(ctx, d.reg)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var gen int64
		if cur != nil {
			gen = cur.Generation
		}
		if gen != int64(round) {
			t.Fatalf("round %d starts at generation %d, want %d", round, gen, round)
		}
		roundBegan := time.Now()
		results := race(ctx, d.reg, cur, versions, round)
		slowest = max(slowest, time.Since(roundBegan))
		won := -1
		for i, r := range results {
			retried += r.attempts - 1
			switch {
			case r.err != nil:
				t.Fatalf("round %d: racer %d: %v", round, i, r.err)
			case r.won != nil:
				if won >= 0 {
					t.Fatalf("round %d: racers %d and %d both won (generations %d and %d)", round, won, i, results[won].won.Generation, r.won.Generation)
				}
				won = i
			default:
				lost++
			}
		}
		if won < 0 {
			t.Fatalf("round %d: nobody won", round)
		}
		w := results[won].won
		if w.Generation != gen+1 || w.Version != versions[won] {
			t.Fatalf("round %d: the winner got generation %d of %s, want %d of %s", round, w.Generation, w.Version, gen+1, versions[won])
		}
		for i, r := range results {
			if r.lost != nil && (r.lost.Current == nil || r.lost.Current.Generation != gen+1 || r.lost.Current.Version != versions[won]) {
				t.Fatalf("round %d: racer %d was told the champion is now %+v, want racer %d's generation %d", round, i, r.lost.Current, won, gen+1)
			}
		}
		winners[round] = won
	}
	elapsed := time.Since(began)

	champ, ledger, err := checkPointerAndLedger(ctx, d.reg, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if champ.Generation != raceRounds+1 || len(ledger) != raceRounds+1 {
		t.Fatalf("after %d rounds: generation %d with %d ledger rows, want %d of each", raceRounds+1, champ.Generation, len(ledger), raceRounds+1)
	}
	for _, p := range ledger {
		want := winners[p.Generation-1]
		if p.PromotedBy != fmt.Sprintf("racer-%d", want) || p.Version != versions[want] {
			t.Errorf("ledger generation %d: %s by %s, want racer-%d's %s", p.Generation, p.Version, p.PromotedBy, want, versions[want])
		}
	}
	t.Logf("node3 down: %d promotion rounds of %d racers in %.1fs (%.0f ms a round, slowest %.0f ms): one winner each, %d losers told who won, %d attempts retried after an unknown outcome; generation %d, ledger of %d rows agrees",
		raceRounds+1, racers, elapsed.Seconds(), elapsed.Seconds()*1000/float64(raceRounds+1), float64(slowest.Milliseconds()), lost, retried, champ.Generation, len(ledger))

	restarted := time.Now()
	if out, err := clusterScript("start", "3"); err != nil {
		t.Fatalf("bring node3 back: %v\n%s", err, out)
	}
	nodeBack = true
	t.Logf("node3 back Up/Normal in %.1fs", time.Since(restarted).Seconds())
	// With every node up again, one more promotion and the same story.
	results := race(ctx, d.reg, champ, versions, raceRounds+1)
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("after node3 returned, racer %d: %v", i, r.err)
		}
	}
	if champ, _, err := checkPointerAndLedger(ctx, d.reg, "churn"); err != nil || champ.Generation != raceRounds+2 {
		t.Fatalf("after node3 returned: generation %v (%v), want %d", champ, err, raceRounds+2)
	}
}

// readChampion reads the pointer, retrying what a down node may cost.
func readChampion(ctx context.Context, reg *registry.Registry) (*registry.Champion, error) {
	var err error
	for range raceRetries {
		var c *registry.Champion
		if c, err = reg.Champion(ctx, "churn"); err == nil {
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

// raceResult is how one racer's promotion ended.
type raceResult struct {
	won      *registry.Champion
	lost     *registry.CASLostError
	err      error
	attempts int
}

// race has every racer promote its version from cur at the same moment.
// A racer retries an attempt whose outcome is unknown (a timeout) with the
// very same request, as the Promote activity would.
func race(ctx context.Context, reg *registry.Registry, cur *registry.Champion, versions []gocql.UUID, round int) []raceResult {
	out := make([]raceResult, len(versions))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, v := range versions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := registry.PromoteRequest{
				Model: "churn", Version: v, Expected: cur, Action: registry.ActionManual,
				By: fmt.Sprintf("racer-%d", i), Reason: fmt.Sprintf("race round %d", round), RunID: fmt.Sprintf("round-%d-racer-%d", round, i),
			}
			<-start
			r := &out[i]
			for r.attempts < raceRetries {
				r.attempts++
				c, err := reg.Promote(ctx, req)
				var lost *registry.CASLostError
				switch {
				case err == nil:
					r.won = c
					return
				case errors.As(err, &lost):
					r.lost = lost
					return
				}
				r.err = err
				time.Sleep(50 * time.Millisecond)
			}
			r.err = fmt.Errorf("no decision after %d attempts: %w", r.attempts, r.err)
		}()
	}
	close(start)
	wg.Wait()
	for i := range out {
		if out[i].won != nil || out[i].lost != nil {
			out[i].err = nil
		}
	}
	return out
}

func outageWhilePromoting(t *testing.T, hosts []string) {
	d := newDeployment(t, target{hosts: hosts, replication: 3}, churn(candidates(logistic), func(m *config.Model) { m.Policy.RequireApproval = true }))
	d.seed(7, 800)
	// A ceiling: stopping, 15-90 s of outage, restarting three nodes one by
	// one (up to KINGMAKER_CLUSTER_WAIT_SECS each), the session reconnecting
	// and Promote's backoff (capped at 30 s), beside other tests.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	d.mustStartWorker()
	run, err := d.startRetrain(ctx, d.runID("outage"), "churn", weekEnd)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.waitStage(ctx, run, workflows.StageAwaiting); err != nil {
		t.Fatal(err)
	}

	stopping := time.Now()
	if out, err := clusterScript("stop"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	down := time.Now()
	stopTook := down.Sub(stopping)
	upAgain := false
	defer func() {
		if !upAgain {
			if out, err := clusterScript("start"); err != nil {
				t.Errorf("restart the cluster: %v\n%s", err, out)
			}
		}
	}()

	t.Run("the CLI says in one line that cassandra is unreachable", func(t *testing.T) {
		for _, args := range [][]string{{"status", "churn"}, {"models", "list", "churn"}, {"rollback", "churn", "--reason", "outage"}} {
			r := d.cli(ctx, args...)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "cassandra is unreachable") {
				t.Errorf("kingmaker %s with every node down: exit %d, stderr %q; want exit 1 and one line saying cassandra is unreachable",
					strings.Join(args, " "), r.code, r.stderr)
			} else {
				t.Logf("kingmaker %s: %s", strings.Join(args, " "), lines[0])
			}
		}
	})

	// Approve now: the run goes to promoting while no node answers.
	h, err := d.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: workflows.UpdateApprove, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.ApprovalInput{By: "chaos", Reason: "approved during a cassandra outage"}},
	})
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if err := h.Get(ctx, nil); err != nil {
		t.Fatalf("approve: %v", err)
	}
	// Keep the nodes down at least 15 s, and until Promote has failed at
	// least once and is retrying (how soon depends on the machine's load),
	// the run still running.
	var (
		attempts int32
		failure  string
		status   enumspb.WorkflowExecutionStatus
	)
	approved := time.Now()
	for {
		var pending []*workflowpb.PendingActivityInfo
		status, pending, err = d.describe(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		attempts, failure = 0, ""
		for _, pa := range pending {
			if pa.GetActivityType().GetName() == "Promote" {
				attempts, failure = pa.GetAttempt(), pa.GetLastFailure().GetMessage()
			}
		}
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || attempts >= 2 && time.Since(approved) >= 15*time.Second {
			break
		}
		if time.Since(approved) > 90*time.Second {
			break
		}
		time.Sleep(time.Second)
	}
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || attempts < 2 {
		t.Fatalf("%s into the outage after the approval: run %s, Promote at attempt %d (last failure %q); want it running and Promote retrying", time.Since(approved).Round(time.Second), status, attempts, failure)
	}
	if p, err := d.progress(ctx, run); err != nil || p.Stage != workflows.StagePromoting {
		t.Fatalf("%s into the outage the run is at stage %v (%v), want %s", time.Since(approved).Round(time.Second), p, err, workflows.StagePromoting)
	}
	t.Logf("every node down; Promote at attempt %d, last failure: %s", attempts, failure)

	// Wait for the run while the nodes come back one by one: at QUORUM the
	// promotion may go through before the last one is up.
	type ended struct {
		res *workflows.RetrainResult
		err error
		at  time.Time
	}
	done := make(chan ended, 1)
	go func() {
		res, err := wait(ctx, run)
		done <- ended{res, err, time.Now()}
	}()
	restarting := time.Now()
	if out, err := clusterScript("start"); err != nil {
		t.Fatalf("restart the cluster: %v\n%s", err, out)
	}
	upAgain = true
	up := time.Now()
	end := <-done
	res, err := end.res, end.err
	if err != nil {
		t.Fatalf("the run failed after the outage: %v", err)
	}
	completed := end.at.Sub(restarting)
	if res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil || res.Champion.Generation != 1 {
		t.Fatalf("outcome %s, champion %+v; want the approved winner at generation 1 (reasons %q)", res.Outcome, res.Champion, res.Reasons)
	}
	champ, ledger, err := checkPointerAndLedger(ctx, d.reg, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if champ.Version.String() != res.Winner || champ.PromotedBy != "chaos" || len(ledger) != 1 {
		t.Fatalf("champion %+v with %d ledger rows, want %s promoted by the approver", champ, len(ledger), res.Winner)
	}
	acts, err := d.activities(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	idx := slices.IndexFunc(acts, func(a *activityRun) bool { return a.Type == "Promote" })
	if idx < 0 {
		t.Fatal("no Promote in the run's history")
	}
	if err := checkOneRecord(ctx, d, "churn", run.GetRunID(), string(evaluator.OutcomePromote)); err != nil {
		t.Fatal(err)
	}
	t.Logf("outage: stopping every node took %.1fs, they were down %.1fs, restarting took %.1fs; Promote succeeded in attempt %d and the run completed %.1fs after the restart began; pointer and ledger agree",
		stopTook.Seconds(), restarting.Sub(down).Seconds(), up.Sub(restarting).Seconds(), acts[idx].Attempt, completed.Seconds())
}
