package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

const exampleConfig = "../../kingmaker.example.yaml"

// invocation is the outcome of one run of the CLI.
type invocation struct {
	code           int
	stdout, stderr string
}

// kingmaker runs the CLI in-process, as main would.
func kingmaker(t *testing.T, args ...string) invocation {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr)
	return invocation{code, stdout.String(), stderr.String()}
}

// useCassandra points the CLI runs of the test at the test's keyspace.
func useCassandra(t *testing.T, c config.Cassandra) {
	t.Helper()
	t.Setenv("KINGMAKER_CASSANDRA_KEYSPACE", c.Keyspace)
	t.Setenv("KINGMAKER_CASSANDRA_HOSTS", strings.Join(c.Hosts, ","))
	t.Setenv("KINGMAKER_CASSANDRA_PORT", fmt.Sprint(c.Port))
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// invalidConfig writes the example config with two mistakes in it.
func invalidConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "holdout_fraction: 0.25", "holdout_fraction: 1.5", 1)
	s = strings.Replace(s, "parallelism: 8", "parallelism: 999", 1)
	if s == string(b) {
		t.Fatal("the example config no longer has the fields this test breaks")
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTheCLIExitsWithACodeAndAReason(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere.yaml")
	broken := invalidConfig(t)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		// want are strings stderr must hold; lines is how many lines it may
		// have (0: any).
		want  []string
		lines int
	}{
		{"an unknown command exits 2", nil, []string{"frobnicate", "churn"}, 2,
			[]string{`unknown command "frobnicate churn"`}, 1},
		{"no command at all exits 2 with the usage", nil, nil, 2, []string{"kingmaker: no command given", "usage: kingmaker"}, 0},
		{"promote without --reason exits 2 and shows its usage", nil, []string{"--config", exampleConfig, "promote", "churn", "X"}, 2,
			[]string{"kingmaker promote: --reason is required", "usage: kingmaker promote MODEL VERSION"}, 2},
		{"an unknown output format exits 2", nil, []string{"--config", exampleConfig, "models", "list", "churn", "-o", "yaml"}, 2,
			[]string{`invalid value "yaml" for flag -o: use table or json`, "usage: kingmaker models list MODEL"}, 2},
		{"a missing config file exits 1 naming it and the example", nil, []string{"--config", missing, "status"}, 1,
			[]string{missing, "kingmaker.example.yaml"}, 1},
		{"an invalid config exits 1 listing every bad field", nil, []string{"--config", broken, "status"}, 1,
			[]string{broken + " is invalid", "models[0].window.holdout_fraction: 1.5 is not between 0 and 1", "models[0].window.parallelism: 999 is not between 1 and 256"}, 0},
		{"status exits 1 when cassandra is unreachable", map[string]string{"KINGMAKER_CASSANDRA_PORT": "1"},
			[]string{"--config", exampleConfig, "status"}, 1, []string{"kingmaker status: cassandra is unreachable", "(port 1)"}, 1},
		{"retrain exits 1 when temporal is unreachable", map[string]string{"KINGMAKER_TEMPORAL_HOST_PORT": "127.0.0.1:1"},
			[]string{"--config", exampleConfig, "retrain", "churn"}, 1, []string{"kingmaker retrain: temporal is unreachable at 127.0.0.1:1"}, 1},
		{"retrain of a model the config lacks exits 1 naming the configured ones", nil,
			[]string{"--config", exampleConfig, "retrain", "fraud"}, 1, []string{`model "fraud" is not in the config (configured: churn)`}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got := kingmaker(t, tc.args...)
			if got.code != tc.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s", got.code, tc.code, got.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, got.stderr)
				}
			}
			if n := len(lines(got.stderr)); tc.lines > 0 && n != tc.lines {
				t.Errorf("stderr has %d lines, want %d:\n%s", n, tc.lines, got.stderr)
			}
			if got.stdout != "" {
				t.Errorf("a failing command printed to stdout: %q", got.stdout)
			}
		})
	}
}

func TestHelpExitsZeroWithTheUsageOnStdout(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		got := kingmaker(t, args...)
		if got.code != 0 || !strings.HasPrefix(got.stdout, "usage: kingmaker") || got.stderr != "" {
			t.Errorf("kingmaker %s: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", args[0], got.code, first(lines(got.stdout)), got.stderr)
		}
	}
}

// listed is a row of `models list -o json`.
type listed struct {
	Version   string `json:"version"`
	Candidate string `json:"candidate"`
	Champion  bool   `json:"champion"`
	Status    string `json:"status"`
}

// championOf returns the versions `models list` marks as champion.
func championOf(t *testing.T, model string) []string {
	t.Helper()
	got := kingmaker(t, "--config", exampleConfig, "models", "list", model, "-o", "json")
	if got.code != 0 {
		t.Fatalf("models list: exit %d: %s", got.code, got.stderr)
	}
	var rows []listed
	if err := json.Unmarshal([]byte(got.stdout), &rows); err != nil {
		t.Fatalf("models list -o json printed no JSON list: %v\n%s", err, got.stdout)
	}
	var out []string
	for _, r := range rows {
		if r.Champion {
			out = append(out, r.Version)
		}
	}
	return out
}

func TestSchemaVersionReadsTheKeyspace(t *testing.T) {
	_, c := testenv.Cassandra(t) // a fresh keyspace with the schema applied
	useCassandra(t, c)
	got := kingmaker(t, "--config", exampleConfig, "schema", "version", "-o", "json")
	var v struct {
		Keyspace        string
		Version, Latest int
	}
	if got.code != 0 || json.Unmarshal([]byte(got.stdout), &v) != nil || v.Keyspace != c.Keyspace || v.Version != v.Latest || v.Latest < 2 {
		t.Fatalf("schema version -o json: exit %d, %q (stderr %q); want the keyspace at the latest version", got.code, got.stdout, got.stderr)
	}
	if got := kingmaker(t, "--config", exampleConfig, "schema", "version", "extra"); got.code != 2 {
		t.Errorf("schema version with an argument exits %d, want 2", got.code)
	}
}

func TestModelsPromoteAndRollbackThroughTheCLI(t *testing.T) {
	s, c := testenv.Cassandra(t)
	useCassandra(t, c)
	ctx := context.Background()
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	made := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	save := func(key string, metrics string) gocql.UUID {
		t.Helper()
		v := &registry.Version{
			Model: "churn", ID: registry.VersionID(made, key), Candidate: key, Algorithm: "logistic", RunID: "run-" + key,
			WorkflowID: "retrain-churn-" + key, WindowFrom: made.AddDate(0, 0, -7), WindowTo: made, TrainRows: 900, HoldoutRows: 300,
			Metrics: []byte(metrics),
		}
		if err := reg.SaveVersion(ctx, v, testenv.ChurnArtifact(t)); err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	v1 := save("first", `{"rows":300,"classes":2,"accuracy":0.8,"roc_auc":0.81}`)
	v2 := save("second", `{"rows":300,"classes":2,"accuracy":0.82,"roc_auc":0.84}`)
	v3 := save("unevaluated", "")
	misfit := &registry.Version{Model: "churn", ID: registry.VersionID(made, "misfit"), Candidate: "misfit", Algorithm: "logistic", RunID: "run-misfit",
		Metrics: []byte(`{"rows":300,"classes":2,"accuracy":0.9,"roc_auc":0.9}`)}
	oneFeature := trainer.Schema{Features: []trainer.Feature{{Name: "tenure_months", Kind: trainer.Numeric}}, Classes: []string{"false", "true"}}
	if err := reg.SaveVersion(ctx, misfit, testenv.Artifact(t, "logistic", oneFeature)); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name     string
		args     []string
		code     int
		stdout   string // a string stdout must hold (exit 0) or stderr (otherwise)
		champion gocql.UUID
	}{
		{"models list shows three versions and no champion yet", []string{"models", "list", "churn", "-o", "json"}, 0, `"candidate": "unevaluated"`, gocql.UUID{}},
		{"the first promotion makes generation 1", []string{"promote", "churn", v1.String(), "--reason", "first model", "--by", "alice"}, 0,
			"is now champion of churn (generation 1, promoted by alice)", v1},
		{"a second promotion makes generation 2", []string{"promote", "churn", v2.String(), "--reason", "better auc", "--by", "bob"}, 0,
			"is now champion of churn (generation 2, promoted by bob)", v2},
		{"promoting the champion again is refused", []string{"promote", "churn", v2.String(), "--reason", "again"}, 1,
			"is already the champion of churn (generation 2)", v2},
		{"promoting a version never evaluated needs --force", []string{"promote", "churn", v3.String(), "--reason", "untested"}, 1,
			"was never evaluated (no holdout metrics): pass --force", v2},
		{"a version trained on other features than the config's is refused", []string{"promote", "churn", misfit.ID.String(), "--reason", "looks good"}, 1,
			"it does not fit the config of model churn: it has 1 features, the config declares 9", v2},
		{"a version id that is not one exits 2", []string{"promote", "churn", "not-a-uuid", "--reason", "typo"}, 2,
			`"not-a-uuid" is not a version id`, v2},
		{"rollback restores the first champion as generation 3", []string{"rollback", "churn", "--reason", "second misbehaves", "--by", "carol"}, 0,
			fmt.Sprintf("rolled back churn: version %s is champion again (generation 3)", v1), v1},
		{"a second rollback has nothing to go back to", []string{"rollback", "churn", "--reason", "again"}, 1,
			"no previous champion", v1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := kingmaker(t, append([]string{"--config", exampleConfig}, st.args...)...)
			if got.code != st.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", got.code, st.code, got.stdout, got.stderr)
			}
			out := got.stdout
			if st.code != 0 {
				out = got.stderr
			}
			if !strings.Contains(out, st.stdout) {
				t.Errorf("output lacks %q:\n%s", st.stdout, out)
			}
			want := []string(nil)
			if st.champion != (gocql.UUID{}) {
				want = []string{st.champion.String()}
			}
			if got := championOf(t, "churn"); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("models list marks %v as champion, want %v", got, want)
			}
		})
	}

	t.Run("models list derives each version's status from the pointer and the ledger", func(t *testing.T) {
		got := kingmaker(t, "--config", exampleConfig, "models", "list", "churn", "-o", "json")
		var rows []listed
		if err := json.Unmarshal([]byte(got.stdout), &rows); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{v1.String(): "champion", v2.String(): "retired", v3.String(): "candidate", misfit.ID.String(): "candidate"}
		for _, r := range rows {
			if r.Status != want[r.Version] {
				t.Errorf("%s (%s): status %q, want %q", r.Version, r.Candidate, r.Status, want[r.Version])
			}
		}
		table := kingmaker(t, "--config", exampleConfig, "models", "list", "churn")
		if !strings.Contains(table.stdout, "STATUS") || !strings.Contains(table.stdout, "retired") || !strings.Contains(table.stdout, "champion (gen 3)") {
			t.Errorf("the table lacks the status column:\n%s", table.stdout)
		}
	})

	t.Run("status -o json reports the champion and who put it there", func(t *testing.T) {
		got := kingmaker(t, "--config", exampleConfig, "status", "churn", "-o", "json")
		if got.code != 0 {
			t.Fatalf("exit %d: %s", got.code, got.stderr)
		}
		var rep statusReport
		if err := json.Unmarshal([]byte(got.stdout), &rep); err != nil {
			t.Fatalf("status -o json: %v\n%s", err, got.stdout)
		}
		if rep.Keyspace != c.Keyspace || len(rep.Models) != 1 {
			t.Fatalf("status of keyspace %s with %d models, want %s with churn", rep.Keyspace, len(rep.Models), c.Keyspace)
		}
		ch := rep.Models[0].Champion
		if ch == nil || ch.Version != v1 || ch.Generation != 3 || ch.PromotedBy != "carol" || ch.Reason != "second misbehaves" {
			t.Errorf("status champion %+v, want %s at generation 3 by carol", ch, v1)
		}
	})
}

func TestPromoteRollbackAndShadowRecordTheIdentityTheDeploymentEstablishes(t *testing.T) {
	s, c := testenv.Cassandra(t)
	useCassandra(t, c)
	t.Setenv("KINGMAKER_TEMPORAL_IDENTITY", "release-bot")
	ctx := context.Background()
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	made := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for _, key := range []string{"a", "b"} {
		v := &registry.Version{Model: "churn", ID: registry.VersionID(made, key), Candidate: key, Algorithm: "logistic", RunID: key,
			Metrics: []byte(`{"rows":300,"classes":2,"accuracy":0.8}`)}
		if err := reg.SaveVersion(ctx, v, testenv.ChurnArtifact(t)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID.String())
	}
	cli := func(args ...string) invocation {
		t.Helper()
		return kingmaker(t, append([]string{"--config", exampleConfig}, args...)...)
	}
	if got := cli("promote", "churn", ids[0], "--reason", "first", "--by", "mallory"); got.code != 2 || !strings.Contains(got.stderr, "records who acts from its temporal.identity (release-bot)") {
		t.Fatalf("promote --by someone else: exit %d, want 2\n%s", got.code, got.stderr)
	}
	if cur, _ := reg.Champion(ctx, "churn"); cur != nil {
		t.Fatalf("a refused promote set the champion: %+v", cur)
	}
	for _, args := range [][]string{
		{"promote", "churn", ids[0], "--reason", "first"},
		{"promote", "churn", ids[1], "--reason", "second"},
		{"rollback", "churn", "--reason", "back"},
		{"shadow", "churn", "--set", ids[1], "--reason", "watch it"},
		{"shadow", "churn", "--clear", "--reason", "enough"},
	} {
		if got := cli(args...); got.code != 0 {
			t.Fatalf("kingmaker %s: exit %d\n%s", strings.Join(args, " "), got.code, got.stderr)
		}
	}
	ledger, err := reg.History(ctx, "churn", 10)
	if err != nil || len(ledger) != 3 {
		t.Fatalf("ledger %+v, %v", ledger, err)
	}
	for _, p := range ledger {
		if p.PromotedBy != "release-bot" {
			t.Errorf("ledger generation %d (%s) promoted by %q, want release-bot", p.Generation, p.Action, p.PromotedBy)
		}
	}
	hist, err := reg.ShadowHistory(ctx, "churn", 10)
	if err != nil || len(hist) != 2 || hist[0].By != "release-bot" || hist[1].By != "release-bot" {
		t.Fatalf("shadow history %+v, %v: want the set and the clear by release-bot", hist, err)
	}
}

// A rollback of a named generation is safe to repeat: the same command run
// again after it succeeded (its answer lost) changes nothing, where a plain
// rollback would go back one more generation; the same generation asked
// with other words after that is a lost race.
func TestARepeatedRollbackOfAGenerationChangesNothing(t *testing.T) {
	s, c := testenv.Cassandra(t)
	useCassandra(t, c)
	ctx := context.Background()
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	made := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var ids []gocql.UUID
	for i, key := range []string{"first", "second", "third"} {
		v := &registry.Version{
			Model: "churn", ID: registry.VersionID(made, key), Candidate: key, Algorithm: "logistic", RunID: "run-" + key,
			WorkflowID: "retrain-churn-" + key, WindowFrom: made.AddDate(0, 0, -7), WindowTo: made, TrainRows: 900, HoldoutRows: 300,
			Metrics: []byte(fmt.Sprintf(`{"rows":300,"classes":2,"accuracy":0.8,"roc_auc":0.8%d}`, i)),
		}
		if err := reg.SaveVersion(ctx, v, testenv.ChurnArtifact(t)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
		if got := kingmaker(t, "--config", exampleConfig, "promote", "churn", v.ID.String(), "--reason", "step "+key, "--by", "alice"); got.code != 0 {
			t.Fatalf("promote %s: exit %d: %s", key, got.code, got.stderr)
		}
	}
	rollback := func(args ...string) invocation {
		return kingmaker(t, append([]string{"--config", exampleConfig, "rollback", "churn", "--by", "carol"}, args...)...)
	}
	for i := range 2 {
		got := rollback("--generation", "3", "--reason", "third misbehaves")
		want := fmt.Sprintf("rolled back churn: version %s is champion again (generation 4)", ids[1])
		if got.code != 0 || !strings.Contains(got.stdout, want) {
			t.Fatalf("rollback --generation 3, call %d: exit %d\nstdout: %s\nstderr: %s\nwant %q", i+1, got.code, got.stdout, got.stderr, want)
		}
	}
	if ch, err := reg.Champion(ctx, "churn"); err != nil || ch.Generation != 4 || ch.Version != ids[1] {
		t.Fatalf("champion %+v (%v) after the repeat, want generation 4 = %s", ch, err, ids[1])
	}
	if hist, err := reg.History(ctx, "churn", 10); err != nil || len(hist) != 4 {
		t.Fatalf("ledger of %d rows (%v), want 4: one rollback", len(hist), err)
	}
	got := rollback("--generation", "3", "--reason", "another reason")
	if got.code != 1 || !strings.Contains(got.stderr, "changed concurrently: generation 4 is now version "+ids[1].String()) || len(lines(got.stderr)) != 1 {
		t.Errorf("the same generation with another reason: exit %d, stderr %q; want one line naming generation 4", got.code, got.stderr)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--generation", "9", "--reason", "typo"}, 1, "generation 9 is not in its promotion ledger"},
		{[]string{"--generation", "-1", "--reason", "typo"}, 2, "--generation -1: a generation is 1 or more"},
	} {
		if got := rollback(tc.args...); got.code != tc.code || !strings.Contains(got.stderr, tc.want) {
			t.Errorf("rollback %v: exit %d, stderr %q; want %d and %q", tc.args, got.code, got.stderr, tc.code, tc.want)
		}
	}
	if ch, _ := reg.Champion(ctx, "churn"); ch == nil || ch.Generation != 4 {
		t.Errorf("champion %+v, want generation 4 unchanged by the refusals", ch)
	}
}

func TestVersionPrintsTheBuildWithoutAConfig(t *testing.T) {
	got := kingmaker(t, "--config", "/nonexistent/kingmaker.yaml", "version", "-o", "json")
	var v struct {
		ID        string `json:"id"`
		Version   string `json:"version"`
		GoVersion string `json:"go_version"`
	}
	if got.code != 0 || json.Unmarshal([]byte(got.stdout), &v) != nil || v.ID == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Fatalf("version -o json: exit %d, %q (stderr %q); want the build's id and Go version", got.code, got.stdout, got.stderr)
	}
	table := kingmaker(t, "version")
	if table.code != 0 || !strings.HasPrefix(table.stdout, "kingmaker "+v.ID+"\n") {
		t.Errorf("version: exit %d, %q; want it to start with kingmaker %s", table.code, table.stdout, v.ID)
	}
	if bad := kingmaker(t, "version", "extra"); bad.code != 2 {
		t.Errorf("version extra: exit %d, want 2", bad.code)
	}
}
