package config

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse and Validate: neither may panic,
// a parse error is one error saying so, and validation reports each problem
// on a line of its own that starts with the field it names. `go test` runs
// the seeds below and the corpus in testdata/fuzz/FuzzParse; `go test
// -fuzz=FuzzParse ./config` looks for more.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../kingmaker.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, seed := range []string{
		"",
		"{}",
		"models: []",
		"models: [{name: churn}]",
		"cassandra: {port: -1, hosts: []}\nmodels: [{name: Churn!, window: {length: -3d}}]",
		"models: [{name: a, features: [{name: x, type: numeric}, {name: x, type: text}], label: {classes: [a]}}]",
		"models: [{name: a, candidates: [{algorithm: forest, params: {trees: 2}}], policy: {primary_metric: nope}}]",
		"models: [{name: a, window: {length: 99999999999999d}}]",
		"models: [{name: a, window: {holdout_fraction: .nan, length: 1e400s}}]",
		"temporal: {host_port: ':'}\nmetrics: {listen: 'nohost'}",
		"a: &a [*a]",
		"unknown_field: 1",
		"models: {name: a}",
		"models:\n  - name: a\n    schedule: {retrain: {cron: '* * *', every: 1h}}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned a config with the error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "parse yaml: ") {
				t.Fatalf("a parse error that does not say so: %q", err)
			}
			return
		}
		verr := cfg.Validate()
		if verr == nil {
			if len(cfg.Models) == 0 {
				t.Fatal("a config without models passed validation")
			}
			return
		}
		var problems []error
		if j, ok := verr.(interface{ Unwrap() []error }); ok {
			problems = j.Unwrap()
		} else {
			problems = []error{verr}
		}
		lines := strings.Split(verr.Error(), "\n")
		if len(lines) != len(problems) {
			t.Fatalf("%d problems printed on %d lines:\n%s", len(problems), len(lines), verr)
		}
		for i, p := range problems {
			var fe *FieldError
			if !errors.As(p, &fe) || fe.Path == "" {
				t.Fatalf("problem %d does not name its field: %q", i, p)
			}
			if strings.ContainsAny(p.Error(), "\r\n") || lines[i] != p.Error() {
				t.Fatalf("problem %d is not one line: %q", i, p)
			}
		}
		if again := cfg.Validate(); again == nil || again.Error() != verr.Error() {
			t.Fatalf("validating twice disagrees:\n%v\nthen\n%v", verr, again)
		}
	})
}

// FuzzParseDuration checks the durations of the config: a whole number of
// days ("14d") parses to exactly that many days or is refused (never a
// wrapped-around value), and whatever parses prints back to the same
// duration.
func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"14d", "0d", "7d", "90s", "6h", "1h30m", "-1d", "d", "1.5d", "106751d", "106752d", "213504d", "9223372036854775807ns", "-5m", "1e3s"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid duration") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q for %q does not say what is wrong in one line", err, s)
			}
			return
		}
		if n, ok := strings.CutSuffix(s, "d"); ok {
			days, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("%q parsed to %s but is not a whole number of days", s, d)
			}
			if int64(d.D()/Day) != days || d.D()%Day != 0 {
				t.Fatalf("%q parsed to %s, not %d days", s, d, days)
			}
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("%q parsed to %s, which parses back to %s (%v)", s, d, back, err)
		}
	})
}
