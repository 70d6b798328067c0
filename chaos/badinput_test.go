package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/evaluator"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// badInput is a deployment whose churn model has a champion, with helpers
// that break its data and check that nothing moved the pointer.
type badInput struct {
	*deployment
	ctx  context.Context
	runs int
}

func TestBadInputIsRefusedClearlyAndTheChampionPointerStaysPut(t *testing.T) {
	integration(t)
	t.Parallel()
	d := newDeployment(t, sharedNode, func(c *config.Config) {
		churn(candidates(logistic))(c)
		// churn_typed declares the text column plan as a number.
		typed := c.Models[0]
		typed.Name = "churn_typed"
		typed.Features = []config.Feature{{Name: "tenure_months", Column: "tenure_months", Type: "numeric"}, {Name: "plan", Column: "plan", Type: "numeric"}}
		c.Models = append(c.Models, typed)
	})
	d.seed(7, 600)
	d.mustStartWorker()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	b := &badInput{deployment: d, ctx: ctx}

	if _, res, err := b.retrain("churn", weekEnd); err != nil || res.Outcome != string(evaluator.OutcomePromote) {
		t.Fatalf("the first run: %v, %+v; want a first champion", err, res)
	}
	inWindow := seedStart.AddDate(0, 0, 3)

	t.Run("a NaN feature fails the run naming the row", func(t *testing.T) {
		defer b.insertRow(t, inWindow, math.NaN(), 10, false)()
		b.refused(t, "churn", weekEnd, "feature monthly_charges is NaN, not a finite number")
	})
	t.Run("an infinite feature fails the run naming the row", func(t *testing.T) {
		defer b.insertRow(t, inWindow, 50, math.Inf(1), false)()
		b.refused(t, "churn", weekEnd, "feature avg_session_minutes is +Inf, not a finite number")
	})
	t.Run("a label outside the classes (null) fails the run naming the row", func(t *testing.T) {
		defer b.insertRow(t, inWindow, 50, 10, nil)()
		b.refused(t, "churn", weekEnd, `label churned = "" is not one of the classes [false true]`)
	})
	t.Run("a numeric feature on a text column is refused before any training", func(t *testing.T) {
		b.refused(t, "churn_typed", weekEnd, `features[1] (plan): column "plan" is text, not a number type`)
	})
	t.Run("an empty window is refused", func(t *testing.T) {
		b.refused(t, "churn", seedStart.AddDate(0, 0, -30), "holds 0 rows, fewer than window.min_rows 1000")
	})
	t.Run("a one-class window is refused", func(t *testing.T) {
		from := seedStart.AddDate(0, 0, 40)
		b.writeOneClassWeek(t, from)
		b.refused(t, "churn", from.AddDate(0, 0, 7), `has 0 rows of class "true", fewer than window.min_class_rows 50 (a one-class window cannot be learned)`)
	})

	t.Run("a tampered champion artifact is never loaded, promoted or rolled back to", func(t *testing.T) {
		champ, _, err := checkPointerAndLedger(ctx, d.reg, "churn")
		if err != nil {
			t.Fatal(err)
		}
		tampered := champ.Version
		b.tamper(t, tampered, func(data []byte) []byte {
			out := append([]byte(nil), data...)
			for i := 0; i < len(out); i += 97 {
				out[i] ^= 0x5a
			}
			return out
		})
		// A retrain cannot score the champion: it fails, saying which version
		// and what to do, and leaves the pointer alone (activities.Evaluate).
		run, _, err := b.retrain("churn", weekEnd)
		if err == nil || !strings.Contains(err.Error(), "champion "+tampered.String()+" of churn cannot be loaded") || !strings.Contains(err.Error(), "kingmaker rollback churn") {
			t.Fatalf("the retrain with a tampered champion: %v, want a failure naming the champion and the way out", err)
		}
		after, _, err := checkPointerAndLedger(ctx, d.reg, "churn")
		if err != nil {
			t.Fatal(err)
		}
		if after.Version != champ.Version || after.Generation != champ.Generation {
			t.Fatalf("the pointer moved from generation %d to %d over a champion nobody could compare with", champ.Generation, after.Generation)
		}
		t.Logf("retrain with a tampered champion refused (run %s), pointer unchanged at generation %d", run.GetID(), after.Generation)
		b.cliRefused(t, "promote the tampered version", []string{"promote", "churn", tampered.String(), "--reason", "try it", "--force"}, "corrupt artifact")

		// Put a sound version over the tampered one, so that a rollback would
		// restore it: the rollback must be refused and leave the sound one.
		versions, err := d.reg.ListVersions(ctx, "churn", 50)
		if err != nil {
			t.Fatal(err)
		}
		var sound *registry.Version
		for _, v := range versions {
			if _, err := d.reg.LoadArtifact(ctx, v); v.ID != tampered && err == nil {
				sound = v
				break
			}
		}
		if sound == nil {
			t.Fatal("no version with a sound artifact to promote over the tampered champion")
		}
		if r := b.cli(b.ctx, "promote", "churn", sound.ID.String(), "--reason", "replace the tampered champion", "--force"); r.code != 0 {
			t.Fatalf("promote the sound version %s: exit %d: %s", sound.ID, r.code, r.stderr)
		}
		if ledger, err := d.reg.History(ctx, "churn", 2); err != nil || len(ledger) < 2 || ledger[0].Version != sound.ID || ledger[1].Version != tampered {
			t.Fatalf("ledger %+v, %v: want the sound version on top of the tampered one, so that a rollback targets it", ledger, err)
		}
		b.cliRefused(t, "roll back to the tampered version", []string{"rollback", "churn", "--reason", "go back"}, "cannot be champion again")
		if now := b.pointer(t, "churn"); now.version != sound.ID {
			t.Fatalf("after the refused rollback the champion is %s, want the sound %s", now.version, sound.ID)
		}
	})

	t.Run("a truncated artifact is refused by promote", func(t *testing.T) {
		// Copy a sound version (the champion's artifact was tampered with above).
		versions, err := d.reg.ListVersions(ctx, "churn", 50)
		if err != nil {
			t.Fatal(err)
		}
		var v *registry.Version
		var artifact []byte
		for _, cand := range versions {
			if b, err := d.reg.LoadArtifact(ctx, cand); err == nil {
				v, artifact = cand, b
				break
			}
		}
		if v == nil {
			t.Fatal("no version with a sound artifact to copy")
		}
		cp := *v
		cp.ID = registry.VersionID(time.Now(), "truncated copy")
		cp.Candidate = "truncated"
		cp.CreatedAt = time.Time{}
		if err := d.reg.SaveVersion(ctx, &cp, artifact); err != nil {
			t.Fatal(err)
		}
		b.tamper(t, cp.ID, func(data []byte) []byte { return data[:len(data)/2] })
		b.cliRefused(t, "promote a truncated artifact", []string{"promote", "churn", cp.ID.String(), "--reason", "try it", "--force"}, "corrupt artifact")
	})

	t.Run("a feature column dropped from the table is refused before any training", func(t *testing.T) {
		if err := d.session.Query(fmt.Sprintf("ALTER TABLE %s.events DROP payment_delays", d.keyspace())).WithContext(ctx).Exec(); err != nil {
			t.Fatal(err)
		}
		b.refused(t, "churn", weekEnd, `features[5] (payment_delays): no column "payment_delays" in `+d.keyspace()+".events")
	})
}

// retrain runs a retrain of model to its end.
func (b *badInput) retrain(model string, asOf time.Time) (runRef, *workflows.RetrainResult, error) {
	b.runs++
	run, err := b.startRetrain(b.ctx, b.runID(fmt.Sprintf("%s-%d", model, b.runs)), model, asOf)
	if err != nil {
		return nil, nil, err
	}
	res, err := wait(b.ctx, run)
	return run, res, err
}

// runRef is the part of a workflow run the tests use.
type runRef interface {
	GetID() string
	GetRunID() string
}

// pointer is the champion pointer and ledger length of model.
type pointer struct {
	version    gocql.UUID
	generation int64
	ledger     int
}

func (b *badInput) pointer(t *testing.T, model string) pointer {
	t.Helper()
	champ, ledger, err := checkPointerAndLedger(b.ctx, b.reg, model)
	if err != nil {
		t.Fatal(err)
	}
	if champ == nil {
		return pointer{}
	}
	return pointer{champ.Version, champ.Generation, len(ledger)}
}

// refused runs a retrain that must fail with want in its decision record,
// leaving the pointer as it was.
func (b *badInput) refused(t *testing.T, model string, asOf time.Time, want string) {
	t.Helper()
	before := b.pointer(t, model)
	run, _, err := b.retrain(model, asOf)
	if err == nil {
		t.Fatalf("the run succeeded; want it refused with %q", want)
	}
	evals, eerr := b.reg.Evaluations(b.ctx, model, 100)
	if eerr != nil {
		t.Fatal(eerr)
	}
	var rec *registry.DecisionRecord
	for i := range evals {
		if evals[i].RunID == run.GetRunID() {
			rec = &evals[i]
		}
	}
	if rec == nil || rec.Outcome != workflows.OutcomeFailed {
		t.Fatalf("run %s: decision record %+v, want one with outcome failed", run.GetID(), rec)
	}
	var doc workflows.DecisionRecord
	if err := json.Unmarshal(rec.Decision, &doc); err != nil {
		t.Fatal(err)
	}
	reasons := []string{doc.Failure}
	for _, c := range doc.Candidates {
		reasons = append(reasons, c.Error)
	}
	said := grep(reasons, want)
	if len(said) == 0 {
		t.Fatalf("the run failed (%v) but its record does not say %q: %q", err, want, reasons)
	}
	if after := b.pointer(t, model); after != before {
		t.Fatalf("the champion pointer moved from %+v to %+v", before, after)
	}
	t.Logf("refused (%s); recorded: %s", firstLine(err.Error()), said[0])
}

// cliRefused runs a CLI command that must exit 1 with one line containing
// want, leaving the pointer as it was.
func (b *badInput) cliRefused(t *testing.T, what string, args []string, want string) {
	t.Helper()
	before := b.pointer(t, "churn")
	r := b.cli(b.ctx, args...)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("%s: kingmaker %s exited %d with %q (stdout %q); want exit 1 and one line saying %q", what, strings.Join(args, " "), r.code, r.stderr, r.stdout, want)
	}
	if after := b.pointer(t, "churn"); after != before {
		t.Errorf("%s moved the champion pointer from %+v to %+v", what, before, after)
	}
	t.Logf("%s: %s", what, lines[0])
}

// insertRow writes one churn row on day with the given values and returns
// a func that deletes it.
func (b *badInput) insertRow(t *testing.T, day time.Time, monthly, minutes float64, churned any) func() {
	t.Helper()
	ts, id := day.Add(13*time.Hour), gocql.TimeUUID()
	err := b.session.Query(fmt.Sprintf(`INSERT INTO %s.events (dataset, day, ts, id, tenure_months, monthly_charges, support_calls,
		logins_30d, avg_session_minutes, payment_delays, plan, region, device, churned)
		VALUES ('churn', ?, ?, ?, 12, ?, 1, 10, ?, 0, 'basic', 'north', 'ios', ?)`, b.keyspace()),
		day, ts, id, monthly, minutes, churned).WithContext(b.ctx).Exec()
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := b.session.Query(fmt.Sprintf(`DELETE FROM %s.events WHERE dataset = 'churn' AND day = ? AND ts = ? AND id = ?`, b.keyspace()),
			day, ts, id).WithContext(b.ctx).Exec(); err != nil {
			t.Errorf("delete the bad row: %v", err)
		}
	}
}

// writeOneClassWeek writes a week of 200 demo rows a day from from, every
// one labelled false.
func (b *badInput) writeOneClassWeek(t *testing.T, from time.Time) {
	t.Helper()
	spec := demo.Spec{Dataset: "churn", Start: from, Days: 7, RowsPerDay: 200, Seed: 5}
	insert := fmt.Sprintf(`INSERT INTO %s.events (dataset, day, ts, id, tenure_months, monthly_charges, support_calls,
		logins_30d, avg_session_minutes, payment_delays, plan, region, device, churned)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false)`, b.keyspace())
	for day := range spec.Days {
		for from := 0; from < spec.RowsPerDay; from += 40 {
			batch := b.session.NewBatch(gocql.UnloggedBatch).WithContext(b.ctx)
			for i := from; i < min(from+40, spec.RowsPerDay); i++ {
				r := spec.Generate(day, i)
				batch.Query(insert, r.Dataset, r.Day, r.TS, r.ID, r.TenureMonths, r.MonthlyCharges, r.SupportCalls,
					r.Logins30d, r.AvgSessionMinutes, r.PaymentDelays, r.Plan, r.Region, r.Device)
			}
			if err := b.session.ExecuteBatch(batch); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// tamper rewrites chunk 0 of a version's artifact with change(data),
// leaving its recorded size and SHA-256 as they were.
func (b *badInput) tamper(t *testing.T, version gocql.UUID, change func([]byte) []byte) {
	t.Helper()
	var data []byte
	if err := b.session.Query(fmt.Sprintf(`SELECT data FROM %s.model_artifacts WHERE model = 'churn' AND version = ? AND chunk = 0`, b.keyspace()),
		version).WithContext(b.ctx).Scan(&data); err != nil {
		t.Fatalf("read the artifact of %s: %v", version, err)
	}
	if err := b.session.Query(fmt.Sprintf(`UPDATE %s.model_artifacts SET data = ? WHERE model = 'churn' AND version = ? AND chunk = 0`, b.keyspace()),
		change(data), version).WithContext(b.ctx).Exec(); err != nil {
		t.Fatalf("tamper with the artifact of %s: %v", version, err)
	}
}

// grep returns the strings of ss that contain sub.
func grep(ss []string, sub string) []string {
	var out []string
	for _, s := range ss {
		if strings.Contains(s, sub) {
			out = append(out, s)
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
