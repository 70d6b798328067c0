package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/schema"
)

// registryKeyspace is a fresh keyspace on the target with the whole schema
// (applied in-process) and nothing else: the registry tests here need no
// Temporal. observe, when set, sees every statement of the returned session.
func registryKeyspace(t *testing.T, on target, observe *statementKiller) (config.Cassandra, *gocql.Session) {
	t.Helper()
	c := testenv.CassandraConfig(t)
	if on.hosts != nil {
		c.Hosts, c.Port = on.hosts, 9042
	}
	c.Replication = config.Replication{Class: "SimpleStrategy", Factor: on.replication}
	c.Consistency, c.SerialConsistency = "QUORUM", "SERIAL"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := cql.Connect(c, false)
	if err != nil {
		t.Fatalf("%v (start the stack with `make stack-up`, or the cluster with `scripts/cassandra-cluster.sh start`)", err)
	}
	t.Cleanup(admin.Close)
	for {
		_, err := schema.Apply(ctx, admin, c)
		if err == nil {
			break
		}
		// A node restarted by an earlier test may take a while to agree on
		// the schema; applying again once it does is what the error asks.
		if !errors.Is(err, schema.ErrSchemaDisagreement) || ctx.Err() != nil {
			t.Fatalf("schema apply on %s: %v", c.Keyspace, err)
		}
		time.Sleep(2 * time.Second)
	}
	cl, err := cql.Cluster(c, true)
	if err != nil {
		t.Fatal(err)
	}
	if observe != nil {
		cl.QueryObserver, cl.BatchObserver = observe, observe
	}
	s, err := cl.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if !t.Failed() {
			_ = admin.Query("DROP KEYSPACE IF EXISTS " + c.Keyspace).Exec()
		}
	})
	return c, s
}

// statementKiller kills a writer after its n-th statement: it panics inside
// the driver right after the statement's response arrived, so nothing of the
// operation after that statement runs, as when the process dies there. Only
// operations whose context carries a *killPoint are affected.
type statementKiller struct{}

type killPointKey struct{}

// killPoint counts the statements of one operation and kills it after the
// statement numbered after.
type killPoint struct {
	after int
	seen  []string
}

// writerKilled is the panic of a killed writer.
type writerKilled struct{ after string }

func (statementKiller) ObserveQuery(ctx context.Context, q gocql.ObservedQuery) {
	statementKiller{}.observe(ctx, q.Statement)
}

func (statementKiller) ObserveBatch(ctx context.Context, b gocql.ObservedBatch) {
	statementKiller{}.observe(ctx, "BATCH "+strings.Join(b.Statements, "; "))
}

func (statementKiller) observe(ctx context.Context, stmt string) {
	k, _ := ctx.Value(killPointKey{}).(*killPoint)
	if k == nil {
		return
	}
	k.seen = append(k.seen, strings.Join(strings.Fields(stmt), " "))
	if len(k.seen) == k.after {
		panic(writerKilled{after: k.seen[len(k.seen)-1]})
	}
}

// killAfter runs op and kills it after its n-th statement. killed says
// whether it got that far; statements are the ones it ran.
func killAfter(ctx context.Context, n int, op func(context.Context) error) (killed bool, statements []string, err error) {
	k := &killPoint{after: n}
	defer func() {
		statements = k.seen
		if r := recover(); r != nil {
			if _, ok := r.(writerKilled); !ok {
				panic(r)
			}
			killed = true
		}
	}()
	err = op(context.WithValue(ctx, killPointKey{}, k))
	return
}

// killEachStatement kills op after its first statement, then (on a fresh
// setup) after its second, and so on until op ends before the kill point;
// after each kill, check looks at what is left. It returns how many
// statements op runs.
func killEachStatement(ctx context.Context, t *testing.T, what string, setup func(n int) func(context.Context) error, check func(when string)) int {
	t.Helper()
	for n := 1; ; n++ {
		killed, stmts, err := killAfter(ctx, n, setup(n))
		if !killed {
			if err != nil {
				t.Fatalf("%s without a kill: %v", what, err)
			}
			return len(stmts)
		}
		check(fmt.Sprintf("%s killed after statement %d (%s)", what, n, shortStatement(stmts[n-1])))
	}
}

// either is yes when c holds, no otherwise.
func either[T any](c bool, yes, no T) T {
	if c {
		return yes
	}
	return no
}

// shortStatement names a statement in a log line.
func shortStatement(s string) string {
	if len(s) > 70 {
		return s[:70] + "..."
	}
	return s
}

// The issue this answers: a promotion that died between moving the pointer
// and writing its ledger row left a pointer with no ledger row, which no
// command repaired, and after the next promotion a rollback skipped a
// version; a retried promotion whose first attempt had succeeded was told it
// lost when someone else had promoted in between.
func TestAWriterKilledBetweenAnyTwoStatementsLeavesPointerAndLedgerInAgreement(t *testing.T) {
	integration(t)
	t.Parallel()
	c, s := registryKeyspace(t, sharedNode, &statementKiller{})
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	save := func(model string, n int) []gocql.UUID {
		t.Helper()
		out := make([]gocql.UUID, n)
		for i := range out {
			v := &registry.Version{Model: model, ID: registry.VersionID(time.Now(), fmt.Sprintf("%s-v%d", model, i+1)),
				Candidate: fmt.Sprintf("v%d", i+1), Algorithm: "logistic", RunID: "fault", WorkflowID: "fault", WindowFrom: seedStart, WindowTo: weekEnd}
			if err := reg.SaveVersion(ctx, v, []byte(fmt.Sprintf("artifact %d of %s", i+1, model))); err != nil {
				t.Fatal(err)
			}
			out[i] = v.ID
		}
		return out
	}
	promote := func(model string, v gocql.UUID, from *registry.Champion, by string) *registry.Champion {
		t.Helper()
		c, err := reg.Promote(ctx, registry.PromoteRequest{Model: model, Version: v, Expected: from, Action: registry.ActionManual, By: by, Reason: "set up"})
		if err != nil {
			t.Fatalf("%s: promote %s: %v", model, v, err)
		}
		return c
	}
	agree := func(model, when string) *registry.Champion {
		t.Helper()
		champ, _, err := checkPointerAndLedger(ctx, reg, model)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		return champ
	}
	name := func(vs []gocql.UUID, v gocql.UUID) string {
		for i, x := range vs {
			if x == v {
				return fmt.Sprintf("v%d", i+1)
			}
		}
		return v.String()
	}

	var model string
	var vs []gocql.UUID
	// rollBackV4 rolls the champion v4 of model back and wants the version
	// v4 replaced.
	rollBackV4 := func(when string, want gocql.UUID) {
		t.Helper()
		back, err := reg.Rollback(ctx, model, "operator", "v4 misbehaves")
		if err != nil || back.Version != want {
			t.Fatalf("%s: rolling back v4 gave %+v, %v; want %s, the champion v4 replaced", when, back, err, name(vs, want))
		}
		agree(model, when+", then the rollback of v4")
	}

	// A promotion of v3 over v1, v2, killed after each of its statements in
	// turn, then someone else promotes v4, then the killed promotion is
	// retried, then v4 is rolled back.
	var req registry.PromoteRequest
	promoteStatements := killEachStatement(ctx, t, "promote", func(n int) func(context.Context) error {
		model = fmt.Sprintf("promote-killed-%d", n)
		vs = save(model, 4)
		g2 := promote(model, vs[1], promote(model, vs[0], nil, "setup"), "setup")
		req = registry.PromoteRequest{Model: model, Version: vs[2], Expected: g2, Action: registry.ActionPromote,
			By: "run-killed", Reason: "a better challenger", RunID: "run-killed"}
		return func(ctx context.Context) error {
			_, err := reg.Promote(ctx, req)
			return err
		}
	}, func(when string) {
		cur := agree(model, when)
		applied := cur.Generation == 3 && cur.Version == vs[2]
		if !applied && (cur.Generation != 2 || cur.Version != vs[1]) {
			t.Fatalf("%s: the champion is %s at generation %d, want v3 at 3 or v2 at 2", when, name(vs, cur.Version), cur.Generation)
		}
		other := promote(model, vs[3], cur, "someone-else")
		agree(model, when+", then another promotion")
		again, err := reg.Promote(ctx, req)
		var lost *registry.CASLostError
		switch {
		case applied && (err != nil || again.Generation != 3 || again.Version != vs[2]):
			t.Fatalf("%s: the killed attempt had won, but its retry after another promotion got %+v, %v; want v3 at generation 3", when, again, err)
		case !applied && (!errors.As(err, &lost) || lost.Current == nil || lost.Current.Generation != other.Generation):
			t.Fatalf("%s: the killed attempt had not won, but its retry after another promotion got %+v, %v; want a lost race naming generation %d", when, again, err, other.Generation)
		}
		agree(model, when+", then another promotion and a retry")
		want := either(applied, vs[2], vs[1])
		rollBackV4(when, want)
		outcome := either(applied, "it had won; its retry after another promotion said so", "it had not won; its retry after another promotion lost")
		t.Logf("%s: pointer and ledger agree (%s); rolling back v4 restored %s", when, outcome, name(vs, want))
	})

	// A rollback of v3 to v2, killed after each of its statements in turn,
	// then v4 is promoted and rolled back.
	rollbackStatements := killEachStatement(ctx, t, "rollback", func(n int) func(context.Context) error {
		model = fmt.Sprintf("rollback-killed-%d", n)
		vs = save(model, 4)
		promote(model, vs[2], promote(model, vs[1], promote(model, vs[0], nil, "setup"), "setup"), "setup")
		return func(ctx context.Context) error {
			_, err := reg.Rollback(ctx, model, "operator", "v3 misbehaves")
			return err
		}
	}, func(when string) {
		cur := agree(model, when)
		applied := cur.Generation == 4 && cur.Version == vs[1]
		if !applied && (cur.Generation != 3 || cur.Version != vs[2]) {
			t.Fatalf("%s: the champion is %s at generation %d, want v2 at 4 or v3 at 3", when, name(vs, cur.Version), cur.Generation)
		}
		promote(model, vs[3], cur, "someone-else")
		want := either(applied, vs[1], vs[2])
		rollBackV4(when, want)
		outcome := either(applied, "it had rolled back", "it had not rolled back")
		t.Logf("%s: pointer and ledger agree (%s); rolling back the next promotion restored %s", when, outcome, name(vs, want))
	})
	if promoteStatements < 2 || rollbackStatements < 2 {
		t.Fatalf("promote ran %d statements and rollback %d: the kill points did not cover a write", promoteStatements, rollbackStatements)
	}
	t.Logf("promote runs %d statements and rollback %d; killed after each one, pointer and ledger always agreed and no later rollback skipped a version",
		promoteStatements, rollbackStatements)
}
