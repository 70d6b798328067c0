//go:build xgboost

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// On the real stack: XGBoost models trained by Python (trainer/testdata/byom/make_byom.py) are
// registered with their producer's predictions checked; a better one becomes champion by
// `challenge`, a worse one is kept out, the reasons are in the decision records, and `serve`
// answers with the registered champion.
func TestBringYourOwnXGBoostModelWinsOrLosesAChallenge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	first := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s, c, path := byomStack(t, ctx, first)
	asOf := first.AddDate(0, 0, 7).Format("2006-01-02")
	reg := registry.New(s, c.Keyspace, cql.Serial(c))

	register := func(t *testing.T, file, candidate string, extra ...string) gocql.UUID {
		t.Helper()
		args := append([]string{"--config", path, "models", "register", "churn", "--file", byomDir + file, "--format", "xgboost",
			"--candidate", candidate, "--reason", "trained in the notebook", "--by", "alice"}, extra...)
		got := kingmaker(t, args...)
		id, err := gocql.ParseUUID(strings.TrimSpace(got.stdout))
		if got.code != 0 || err != nil {
			t.Fatalf("register %s: exit %d\nstdout: %s\nstderr: %s", file, got.code, got.stdout, got.stderr)
		}
		return id
	}
	challenge := func(t *testing.T, id gocql.UUID) workflows.RetrainResult {
		t.Helper()
		got := kingmaker(t, "--config", path, "challenge", "churn", id.String(), "--as-of", asOf, "--wait", "--reason", "python model", "-o", "json")
		var rep struct {
			WorkflowID string                  `json:"workflow_id"`
			Status     string                  `json:"status"`
			Result     workflows.RetrainResult `json:"result"`
		}
		if got.code != 0 || json.Unmarshal([]byte(got.stdout), &rep) != nil || rep.Status != "completed" || !strings.HasPrefix(rep.WorkflowID, "challenge-churn-") {
			t.Fatalf("challenge: exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
		}
		return rep.Result
	}

	bad := register(t, "churn_bad.json", "xgb-shuffled", "--expect", byomDir+"churn_bad_expect.csv")
	t.Run("a registered version is champion only by force or by a challenge", func(t *testing.T) {
		got := kingmaker(t, "--config", path, "promote", "churn", bad.String(), "--reason", "looks fine", "--by", "alice")
		if got.code != 1 || !strings.Contains(got.stderr, "never evaluated") {
			t.Fatalf("promote without --force: exit %d, stderr %q", got.code, got.stderr)
		}
		if got := kingmaker(t, "--config", path, "promote", "churn", bad.String(), "--reason", "a first champion", "--by", "alice", "--force"); got.code != 0 {
			t.Fatalf("promote --force: exit %d, stderr %q", got.code, got.stderr)
		}
	})

	good := register(t, "churn_good.ubj", "xgb-python", "--expect", byomDir+"churn_good_expect.csv")
	t.Run("the version records its provenance", func(t *testing.T) {
		v, err := reg.GetVersion(ctx, "churn", good)
		if err != nil {
			t.Fatal(err)
		}
		var p registry.Provenance
		if err := json.Unmarshal(v.Provenance, &p); err != nil {
			t.Fatalf("provenance %s: %v", v.Provenance, err)
		}
		raw, _ := os.ReadFile(byomDir + "churn_good.ubj")
		sum := sha256.Sum256(raw)
		if p.FileSHA256 != hex.EncodeToString(sum[:]) || p.Producer != "xgboost" || p.ProducerVersion != "1.7.6" || p.Format != "xgboost-ubj" ||
			p.RegisteredBy != "alice" || p.Reason != "trained in the notebook" || !strings.Contains(p.Parity, "50 rows matched") || v.Algorithm != "xgboost" {
			t.Fatalf("version %s %s with provenance %+v", v.Candidate, v.Algorithm, p)
		}
		if _, _, err := reg.LoadModel(ctx, "churn", good); err != nil {
			t.Fatalf("the registered version does not load: %v", err)
		}
	})

	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	startCommand(workerCtx, "--config", path, "worker", "--stop-timeout", "5s")

	t.Run("a better Python model is promoted by challenge", func(t *testing.T) {
		res := challenge(t, good)
		if res.Outcome != string(evaluator.OutcomePromote) || res.Champion == nil || res.Champion.Version != good || res.Champion.Generation != 2 {
			t.Fatalf("outcome %s, champion %+v, reasons %v; want %s promoted at generation 2", res.Outcome, res.Champion, res.Reasons, good)
		}
		if v, err := reg.GetVersion(ctx, "churn", good); err != nil || len(v.Profile) == 0 {
			t.Fatalf("the challenged version has no reference profile for drift checks (%v)", err)
		}
	})
	worse := register(t, "churn_bad.json", "xgb-shuffled-again")
	t.Run("a worse one is kept out, with the reasons in the decision record", func(t *testing.T) {
		res := challenge(t, worse)
		if res.Outcome != string(evaluator.OutcomeKeep) || res.Champion == nil || res.Champion.Version != good {
			t.Fatalf("outcome %s, champion %+v; want keep, %s", res.Outcome, res.Champion, good)
		}
		recs, err := reg.Evaluations(ctx, "churn", 10)
		if err != nil || len(recs) != 2 {
			t.Fatalf("%d decision records (%v), want 2", len(recs), err)
		}
		var d workflows.DecisionRecord
		if err := json.Unmarshal(recs[0].Decision, &d); err != nil || recs[0].Outcome != "keep" || d.Decision == nil || len(d.Decision.Reasons) == 0 ||
			len(d.Candidates) != 1 || d.Candidates[0].Version != worse.String() {
			t.Fatalf("newest record %s: %s", recs[0].Outcome, recs[0].Decision)
		}
		if recs[1].Outcome != "promote" || recs[1].Winner != good {
			t.Fatalf("older record %s winner %s, want promote of %s", recs[1].Outcome, recs[1].Winner, good)
		}
		t.Logf("kept out because: %s", strings.Join(d.Decision.Reasons, "; "))
	})
	stopWorker()

	t.Run("serve answers with the registered champion", func(t *testing.T) {
		serveCtx, stopServe := context.WithCancel(ctx)
		defer stopServe()
		srv := startCommand(serveCtx, "--config", path, "serve", "--listen", "127.0.0.1:0", "--poll", "100ms")
		addr := regexp.MustCompile(`serving churn on (http://127\.0\.0\.1:\d+)`)
		var base string
		for deadline := time.Now().Add(30 * time.Second); base == ""; time.Sleep(50 * time.Millisecond) {
			if m := addr.FindStringSubmatch(srv.stdout.String()); m != nil {
				base = m[1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve printed no address:\n%s", srv.stderr.String())
			}
		}
		body := `{"instances": [{"tenure_months": 13, "monthly_charges": 103.39, "support_calls": 0, "logins_30d": 11, "avg_session_minutes": 26.6, "payment_delays": 0, "plan": "standard", "region": "south", "device": "ios"}]}`
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			resp, err := http.Post(base+"/v1/models/churn:predict", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && resp.Header.Get(serving.HeaderVersion) == good.String() {
				if !strings.Contains(string(b), "0.33150") {
					t.Fatalf("prediction %s, want the producer's 0.3315098 for this row", b)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve answered %d (version %q): %s", resp.StatusCode, resp.Header.Get(serving.HeaderVersion), b)
			}
		}
	})
}
