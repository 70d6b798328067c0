package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

func TestShadowIsSetShownAndClearedThroughTheCLI(t *testing.T) {
	s, c := testenv.Cassandra(t)
	useCassandra(t, c)
	ctx := context.Background()
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	made := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	save := func(key string) gocql.UUID {
		t.Helper()
		v := &registry.Version{Model: "churn", ID: registry.VersionID(made, key), Candidate: key, Algorithm: "logistic", RunID: "run-" + key,
			Metrics: []byte(`{"rows":300,"classes":2,"accuracy":0.8}`)}
		if err := reg.SaveVersion(ctx, v, testenv.ChurnArtifact(t)); err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	champ, challenger := save("champion"), save("challenger")
	if _, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: champ, Action: registry.ActionManual, By: "test", Reason: "first"}); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) invocation {
		t.Helper()
		return kingmaker(t, append([]string{"--config", exampleConfig, "shadow"}, args...)...)
	}

	steps := []struct {
		name string
		args []string
		code int
		want string // in stdout (exit 0) or stderr
	}{
		{"a model without a shadow says how to set one", []string{"churn"}, 0, "model churn has no shadow version"},
		{"--set needs a reason", []string{"churn", "--set", challenger.String()}, 2, "--reason is required with --set and --clear"},
		{"--set and --clear exclude each other", []string{"churn", "--set", challenger.String(), "--clear", "--reason", "x"}, 2, "exclude each other"},
		{"the champion cannot be its own shadow", []string{"churn", "--set", champ.String(), "--reason", "x"}, 1, "is the champion of churn: shadow a challenger"},
		{"a version that does not exist cannot be shadowed", []string{"churn", "--set", registry.VersionID(made, "ghost").String(), "--reason", "x"}, 1, "not found"},
		{"a challenger is set as shadow", []string{"churn", "--set", challenger.String(), "--reason", "try it live", "--by", "alice"}, 0,
			"version " + challenger.String() + " is now the shadow of churn"},
		{"the shadow shows with no live rows yet", []string{"churn"}, 0, "none yet (is `kingmaker serve` running"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := cli(st.args...)
			out := got.stdout
			if st.code != 0 {
				out = got.stderr
			}
			if got.code != st.code || !strings.Contains(out, st.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", got.code, st.code, st.want, got.stdout, got.stderr)
			}
		})
	}

	sh, err := reg.Shadow(ctx, "churn")
	if err != nil || sh == nil {
		t.Fatalf("shadow pointer %+v, %v", sh, err)
	}
	var rows []registry.ShadowPrediction
	for i := range 10 {
		p := registry.ShadowPrediction{Model: "churn", ShadowVersion: challenger, At: sh.Since.Add(time.Duration(i+1) * time.Millisecond), RequestID: "r", Row: i,
			ChampionVersion: champ, Generation: 1, ChampionClass: "false", ShadowClass: "false"}
		if i < 3 {
			p.ShadowClass = "true"
		}
		rows = append(rows, p)
	}
	if err := reg.RecordShadowPredictions(ctx, rows); err != nil {
		t.Fatal(err)
	}

	t.Run("the report shows the agreement of the live rows", func(t *testing.T) {
		got := cli("churn")
		if got.code != 0 || !strings.Contains(got.stdout, "0.7000 (7 of 10 rows got the champion's class)") || !regexp.MustCompile(`set by\s+alice`).MatchString(got.stdout) {
			t.Fatalf("exit %d:\n%s%s", got.code, got.stdout, got.stderr)
		}
		got = cli("churn", "-o", "json")
		var v shadowView
		if err := json.Unmarshal([]byte(got.stdout), &v); err != nil || v.Shadow == nil || v.Shadow.Version != challenger || v.Evidence == nil || v.Evidence.Rows != 10 || v.Champion.Version != champ {
			t.Fatalf("shadow -o json: %v\n%s", err, got.stdout)
		}
	})
	t.Run("the shadow is cleared with a reason", func(t *testing.T) {
		if got := cli("churn", "--clear", "--reason", "enough", "--by", "bob"); got.code != 0 || !strings.Contains(got.stdout, "cleared the shadow of churn (version "+challenger.String()+", set by alice) by bob: enough") {
			t.Fatalf("exit %d:\n%s%s", got.code, got.stdout, got.stderr)
		}
		if got := cli("churn", "--clear", "--reason", "again"); got.code != 0 || !strings.Contains(got.stdout, "has no shadow version: nothing cleared") {
			t.Fatalf("exit %d:\n%s%s", got.code, got.stdout, got.stderr)
		}
		got := cli("churn")
		if got.code != 0 || !strings.Contains(got.stdout, "by bob (version "+challenger.String()+"): enough") {
			t.Fatalf("the view of a cleared shadow does not say who cleared it and why: exit %d:\n%s%s", got.code, got.stdout, got.stderr)
		}
		hist, err := reg.ShadowHistory(ctx, "churn", 10)
		if err != nil || len(hist) != 2 || hist[0].Action != "clear" || hist[0].By != "bob" || hist[0].Reason != "enough" || hist[1].By != "alice" || hist[1].Reason != "try it live" {
			t.Fatalf("shadow history %+v, %v: want alice's set and bob's clear with their reasons", hist, err)
		}
	})
}

func TestServeRefusesAShadowSampleOutsideZeroToOne(t *testing.T) {
	got := kingmaker(t, "--config", exampleConfig, "serve", "--shadow-sample", "1.5")
	if got.code != 2 || !strings.Contains(got.stderr, "--shadow-sample 1.5: want a share between 0 (no shadow scoring) and 1 (every request)") {
		t.Errorf("exit %d, stderr:\n%s", got.code, got.stderr)
	}
}
