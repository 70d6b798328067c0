package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/drift"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

func loadExample(t *testing.T) *Config {
	t.Helper()
	b, err := os.ReadFile("../kingmaker.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(b)
	if err != nil {
		t.Fatalf("the example config does not parse: %v", err)
	}
	return cfg
}

func TestExampleConfigIsValid(t *testing.T) {
	cfg := loadExample(t)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("kingmaker.example.yaml is invalid:\n%v", err)
	}
	m, err := cfg.Model("churn")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Features) != 9 || len(m.Candidates) != 3 || m.Window.Length.D() != 7*Day {
		t.Errorf("churn model read wrong: %d features, %d candidates, window %s", len(m.Features), len(m.Candidates), m.Window.Length)
	}
}

// minimalConfig is the least a valid config says: one model without a
// policy, everything else left to the defaults.
const minimalConfig = `
models:
  - name: m
    source: {table: t}
    features: [{name: x, type: numeric}]
    label: {column: y}
    candidates: [{algorithm: logistic}]
`

func TestDefaultsFillWhatIsUnset(t *testing.T) {
	cfg, err := Parse([]byte(minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a minimal config should be valid with defaults: %v", err)
	}
	m := cfg.Models[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"cassandra hosts", cfg.Cassandra.Hosts[0], "127.0.0.1"},
		{"cassandra port", cfg.Cassandra.Port, 9042},
		{"keyspace", cfg.Cassandra.Keyspace, "kingmaker"},
		{"consistency", cfg.Cassandra.Consistency, "LOCAL_QUORUM"},
		{"temporal", cfg.Temporal.HostPort, "127.0.0.1:7233"},
		{"training queue", cfg.Temporal.TrainingTaskQueue, "kingmaker-training"},
		{"candidate name", m.Candidates[0].Name, "logistic"},
		{"feature column", m.Features[0].Column, "x"},
		{"classes", strings.Join(m.Label.Classes, ","), "false,true"},
		{"primary metric", m.Policy.PrimaryMetric, "roc_auc"},
		{"significance level", m.Policy.SignificanceLevel, 0.05},
		{"window", m.Window.Length.D(), 14 * Day},
		{"holdout", m.Window.HoldoutFraction, 0.2},
		{"psi major", m.Drift.PSIMajor, 0.25},
		{"drift effect floor", *m.Drift.MinPSIExcess, 0.02},
		{"drift false alarm rate", m.Drift.FalseAlarmRate, 0.01},
		{"no shadow period", m.Policy.Shadow.Enabled(), false},
		{"shadow rows", m.Policy.Shadow.MinRequests, 100},
		{"shadow agreement", m.Policy.Shadow.MinAgreement, 0.9},
		{"shadow labelled rows", m.Policy.Shadow.MinLabelledRows, 100},
		{"shadow accuracy drop", m.Policy.Shadow.MaxAccuracyDrop, 0.01},
		{"no score schedule", m.Schedule.Score.Enabled(), false},
		{"score window", m.Schedule.Score.Window.D(), Day},
		{"score alignment", m.Schedule.Score.Align, AlignNone},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestAnExplicitSignificanceLevelIsKeptAndZeroTurnsTheTestOff(t *testing.T) {
	cases := []struct {
		name   string
		policy string
		want   float64
	}{
		{"a policy that names no level gets the default 0.05", `{primary_metric: accuracy}`, 0.05},
		{"no policy at all gets the default 0.05", ``, 0.05},
		{"an explicit 0 stays 0: no test", `{significance_level: 0}`, 0},
		{"an explicit 0.0 stays 0: no test", `{significance_level: 0.0}`, 0},
		{"an explicit level is kept", `{significance_level: 0.01}`, 0.01},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y := minimalConfig
			if tc.policy != "" {
				y += "    policy: " + tc.policy + "\n"
			}
			cfg, err := Parse([]byte(y))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("invalid: %v", err)
			}
			if got := cfg.Models[0].Policy.SignificanceLevel; got != tc.want {
				t.Errorf("significance_level = %v, want %v", got, tc.want)
			}
			if got := cfg.Models[0].Policy.Evaluator().SignificanceLevel; got != tc.want {
				t.Errorf("the evaluator's significance level = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTheDriftEffectFloorHasADefaultAndAnExplicitZeroMeansNoFloor(t *testing.T) {
	cases := []struct {
		name      string
		drift     string
		wantFloor float64
		wantMajor float64
	}{
		{"a model without a drift section gets the default floor 0.02", ``, 0.02, 0.25},
		{"an explicit 0 stays 0: no floor", `{min_psi_excess: 0}`, 0, 0.25},
		{"an explicit floor is kept", `{min_psi_excess: 0.05}`, 0.05, 0.25},
		{"a config that sets the severity bands still parses, with the default floor", `{psi_moderate: 0.2, psi_major: 0.4}`, 0.02, 0.4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y := minimalConfig
			if tc.drift != "" {
				y += "    drift: " + tc.drift + "\n"
			}
			cfg, err := Parse([]byte(y))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("invalid: %v", err)
			}
			d := cfg.Models[0].Drift
			if d.MinPSIExcess == nil || *d.MinPSIExcess != tc.wantFloor || d.PSIMajor != tc.wantMajor {
				t.Fatalf("min_psi_excess %v, psi_major %v; want %v and %v", d.MinPSIExcess, d.PSIMajor, tc.wantFloor, tc.wantMajor)
			}
			o := d.ReportOptions()
			if o.MinPSIExcess == nil || *o.MinPSIExcess != tc.wantFloor || o.MajorPSI != tc.wantMajor {
				t.Errorf("report options: floor %v, major %v; want %v and %v", o.MinPSIExcess, o.MajorPSI, tc.wantFloor, tc.wantMajor)
			}
		})
	}

	t.Run("a spec recorded before the setting existed gets the drift package's default", func(t *testing.T) {
		var d Drift
		if err := json.Unmarshal([]byte(`{"window": "1d", "min_rows": 500, "psi_moderate": 0.1, "psi_major": 0.25, "false_alarm_rate": 0.01}`), &d); err != nil {
			t.Fatal(err)
		}
		r, err := emptyWindow(t).Report(d.ReportOptions())
		if err != nil {
			t.Fatal(err)
		}
		if got := *r.Options.MinPSIExcess; got != drift.DefaultMinPSIExcess {
			t.Errorf("the report's effect floor is %v, want the default %v", got, drift.DefaultMinPSIExcess)
		}
	})
}

// emptyWindow returns a drift window of a one-feature profile with no rows.
func emptyWindow(t *testing.T) *drift.Tally {
	t.Helper()
	b, err := drift.NewProfileBuilder([]string{"x"}, nil, drift.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := drift.NewTally(b.Build())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestAnUnknownPolicyFieldIsStillAnError(t *testing.T) {
	_, err := Parse([]byte(`
models:
  - name: m
    policy: {signifcance_level: 0.05}
`))
	if err == nil || !strings.Contains(err.Error(), "signifcance_level") {
		t.Errorf("Parse = %v, want an error naming the unknown field signifcance_level", err)
	}
}

// TestValidationNamesEveryProblem holds every validation message: each case
// breaks the example config in one way and expects exactly that message.
func TestValidationNamesEveryProblem(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"an unknown algorithm lists the known ones", func(c *Config) { c.Models[0].Candidates[1].Algorithm = "randomtree" },
			`models[0].candidates[1].algorithm: unknown "randomtree" (known: ` + strings.Join(trainer.Algorithms(), ", ") + `)`},
		{"a regression algorithm is refused for a classification model", func(c *Config) { c.Models[0].Candidates[1].Algorithm = "linear" },
			`models[0].candidates[1].algorithm: algorithm linear does not support task binary; use one of: ` + strings.Join(trainer.AlgorithmsFor(trainer.Binary), ", ")},
		{"an even forest is refused", func(c *Config) { c.Models[0].Candidates[2].Params = map[string]float64{"trees": 10} },
			`models[0].candidates[2].params.trees: must be odd`},
		{"duplicate candidate names", func(c *Config) { c.Models[0].Candidates[1].Name = "logistic" },
			`models[0].candidates[1].name: duplicate "logistic" (also candidates[0]); give each candidate a name`},
		{"no candidates", func(c *Config) { c.Models[0].Candidates = nil }, `models[0].candidates: at least one candidate is required`},
		{"negative parallel trainings", func(c *Config) { c.Models[0].ParallelTrainings = -1 }, `models[0].parallel_trainings: -1 is negative: 0 trains every candidate at once`},
		{"no models", func(c *Config) { c.Models = nil }, `models: at least one model is required`},
		{"bad model name", func(c *Config) { c.Models[0].Name = "Churn Model" },
			`models[0].name: "Churn Model" is not a model name (lowercase letter, then lowercase letters, digits, _ or -; at most 48)`},
		{"duplicate model", func(c *Config) { c.Models = append(c.Models, c.Models[0]) }, `models[1].name: duplicate "churn" (also models[0])`},
		{"bad table name", func(c *Config) { c.Models[0].Source.Table = "events;drop" },
			`models[0].source.table: "events;drop" is not a CQL identifier (a letter, then letters, digits or _; at most 48)`},
		{"partition column without value", func(c *Config) { c.Models[0].Source.PartitionValue = "" },
			`models[0].source: partition_column and partition_value go together`},
		{"unknown feature type", func(c *Config) { c.Models[0].Features[0].Type = "text" },
			`models[0].features[0].type: unknown "text" (known: categorical, numeric)`},
		{"categorical without categories", func(c *Config) { c.Models[0].Features[6].Categories = nil },
			`models[0].features[6].categories: a categorical feature needs its categories listed`},
		{"duplicate category", func(c *Config) { c.Models[0].Features[6].Categories = []string{"a", "a"} },
			`models[0].features[6].categories: duplicate "a"`},
		{"categories on a numeric feature", func(c *Config) { c.Models[0].Features[0].Categories = []string{"a"} },
			`models[0].features[0].categories: only for categorical features`},
		{"duplicate feature", func(c *Config) { c.Models[0].Features[1].Name = "tenure_months" },
			`models[0].features[1].name: duplicate "tenure_months" (also features[0])`},
		{"no features", func(c *Config) { c.Models[0].Features = nil }, `models[0].features: at least one feature is required`},
		{"one class", func(c *Config) { c.Models[0].Label.Classes = []string{"x"} }, `models[0].label.classes: at least two classes are required`},
		{"label is a feature", func(c *Config) { c.Models[0].Label.Column = "plan" }, `models[0].label.column: "plan" is also a feature`},
		{"holdout out of range", func(c *Config) { c.Models[0].Window.HoldoutFraction = 1.5 },
			`models[0].window.holdout_fraction: 1.5 is not between 0 and 1 (exclusive)`},
		{"out of time as long as the window", func(c *Config) { c.Models[0].Window.OutOfTime = c.Models[0].Window.Length },
			`models[0].window.out_of_time: must be shorter than window.length`},
		{"unknown invalid-row policy", func(c *Config) { c.Models[0].Window.InvalidRows = "impute" },
			`models[0].window.invalid_rows: unknown "impute" (known: fail, skip)`},
		{"parallelism too high", func(c *Config) { c.Models[0].Window.Parallelism = 1000 },
			`models[0].window.parallelism: 1000 is not between 1 and 256`},
		{"holdout cap below the policy's minimum", func(c *Config) { c.Models[0].Window.MaxHoldoutRows = 100 },
			`models[0].window.max_holdout_rows: 100 is below policy.min_holdout_rows (200): no run could pass`},
		{"unknown primary metric", func(c *Config) { c.Models[0].Policy.PrimaryMetric = "auc" },
			`models[0].policy.primary_metric: unknown "auc" (known: `},
		{"unknown guardrail metric", func(c *Config) { c.Models[0].Policy.Guardrails[0].Metric = "speed" },
			`models[0].policy.guardrails[0].metric: unknown "speed"`},
		{"negative guardrail", func(c *Config) { c.Models[0].Policy.Guardrails[0].MaxDrop = -1 },
			`models[0].policy.guardrails[0].max_drop: must not be negative`},
		{"significance of one", func(c *Config) { c.Models[0].Policy.SignificanceLevel = 1 },
			`models[0].policy.significance_level: 1 is not in [0, 1) (0 turns the test off)`},
		{"negative improvement", func(c *Config) { c.Models[0].Policy.MinAbsoluteImprovement = -0.1 },
			`models[0].policy.min_absolute_improvement: must not be negative`},
		{"too few resamples", func(c *Config) { c.Models[0].Policy.BootstrapResamples = 10 },
			`models[0].policy.bootstrap_resamples: 10 is not between 100 and 100000`},
		{"a negative shadow period", func(c *Config) { c.Models[0].Policy.Shadow.Period = Duration(-time.Hour) },
			`models[0].policy.shadow.period: -1h0m0s is not between 0 (no shadowing) and 30d`},
		{"a shadow period of months", func(c *Config) { c.Models[0].Policy.Shadow.Period = Duration(60 * Day) },
			`models[0].policy.shadow.period: 60d is not between 0 (no shadowing) and 30d`},
		{"a shadow agreement over one", func(c *Config) { c.Models[0].Policy.Shadow.MinAgreement = 1.5 },
			`models[0].policy.shadow.min_agreement: 1.5 is not a share in (0, 1]`},
		{"a negative shadow row count", func(c *Config) { c.Models[0].Policy.Shadow.MinRequests = -5 },
			`models[0].policy.shadow.min_requests: must be at least 1`},
		{"a negative shadow labelled row count", func(c *Config) { c.Models[0].Policy.Shadow.MinLabelledRows = -1 },
			`models[0].policy.shadow.min_labelled_rows: must be at least 1`},
		{"a shadow accuracy drop over one", func(c *Config) { c.Models[0].Policy.Shadow.MaxAccuracyDrop = 2 },
			`models[0].policy.shadow.max_accuracy_drop: 2 is not between 0 and 1`},
		{"every and cron together", func(c *Config) { c.Models[0].Schedule.Retrain.Cron = "0 3 * * *" },
			`models[0].schedule.retrain: set every or cron, not both`},
		{"a malformed cron", func(c *Config) { c.Models[0].Schedule.Drift = Trigger{Cron: "hourly"} },
			`models[0].schedule.drift.cron: "hourly" is not a 5-field cron expression (minute hour day-of-month month day-of-week)`},
		{"a score schedule without a window", func(c *Config) { c.Models[0].Schedule.Score = nightlyScore(func(s *ScoreTrigger) { s.Window = 0 }) },
			`models[0].schedule.score.window: must be positive (how far back from the run's time the scored rows reach, e.g. 1d)`},
		{"a negative score lag", func(c *Config) {
			c.Models[0].Schedule.Score = nightlyScore(func(s *ScoreTrigger) { s.Lag = Duration(-time.Hour) })
		}, `models[0].schedule.score.lag: must not be negative`},
		{"an unknown score alignment", func(c *Config) { c.Models[0].Schedule.Score = nightlyScore(func(s *ScoreTrigger) { s.Align = "week" }) },
			`models[0].schedule.score.align: unknown "week" (known: none, hour, day)`},
		{"a score version that is not an id", func(c *Config) {
			c.Models[0].Schedule.Score = nightlyScore(func(s *ScoreTrigger) { s.Version = "latest" })
		},
			`models[0].schedule.score.version: "latest" is not a version id (a UUID as ` + "`kingmaker models list`" + ` shows it); leave it empty to score with the champion`},
		{"a score schedule with every and cron", func(c *Config) {
			c.Models[0].Schedule.Score = nightlyScore(func(s *ScoreTrigger) { s.Every = Duration(Day) })
		},
			`models[0].schedule.score: set every or cron, not both`},
		{"score settings without every or cron", func(c *Config) { c.Models[0].Schedule.Score = nightlyScore(func(s *ScoreTrigger) { s.Cron = "" }) },
			`models[0].schedule.score: lag, align or version is set but neither every nor cron, so nothing is scheduled`},
		{"psi bands upside down", func(c *Config) { c.Models[0].Drift.PSIMajor = 0.05 },
			`models[0].drift.psi_major: must be greater than psi_moderate (0.1), which must be positive`},
		{"a negative drift effect floor", func(c *Config) { c.Models[0].Drift.MinPSIExcess = new(-0.01) },
			`models[0].drift.min_psi_excess: must be 0 (no floor) or a positive number, is -0.01`},
		{"a drift false alarm rate over one half", func(c *Config) { c.Models[0].Drift.FalseAlarmRate = 0.6 },
			`models[0].drift.false_alarm_rate: must be in (0, 0.5], is 0.6`},
		{"unknown consistency", func(c *Config) { c.Cassandra.Consistency = "MOST" },
			`cassandra.consistency: unknown "MOST" (known: ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE)`},
		{"unknown serial consistency", func(c *Config) { c.Cassandra.SerialConsistency = "QUORUM" },
			`cassandra.serial_consistency: unknown "QUORUM" (known: SERIAL, LOCAL_SERIAL)`},
		{"bad port", func(c *Config) { c.Cassandra.Port = 70000 }, `cassandra.port: 70000 is not a port (1-65535)`},
		{"bad keyspace", func(c *Config) { c.Cassandra.Keyspace = "1ks" },
			`cassandra.keyspace: "1ks" is not a CQL identifier (a letter, then letters, digits or _; at most 48)`},
		{"network topology without data centres", func(c *Config) { c.Cassandra.Replication = Replication{Class: "NetworkTopologyStrategy"} },
			`cassandra.replication.data_centers: NetworkTopologyStrategy needs at least one data centre: factor`},
		{"a data-centre name that is not a name", func(c *Config) {
			c.Cassandra.Replication = Replication{Class: "NetworkTopologyStrategy", DataCenters: map[string]int{"dc1': 1}; DROP": 1}}
		}, `cassandra.replication.data_centers: "dc1': 1}; DROP" is not a data-centre name (letters, digits, _, - or .; at most 64)`},
		{"a source keyspace that is not an identifier", func(c *Config) { c.Models[0].Source.Keyspace = "other-ks" },
			`models[0].source.keyspace: "other-ks" is not a CQL identifier (a letter, then letters, digits or _; at most 48)`},
		{"unknown replication class", func(c *Config) { c.Cassandra.Replication.Class = "EverywhereStrategy" },
			`cassandra.replication.class: unknown "EverywhereStrategy" (known: NetworkTopologyStrategy, SimpleStrategy)`},
		{"password without username", func(c *Config) { c.Cassandra.Username, c.Cassandra.Password = "", "s3cret" },
			`cassandra.username: a password is set but no username`},
		{"a client cert without its key", func(c *Config) { c.Cassandra.TLS = TLS{Enabled: true, CertFile: "c.pem"} },
			`cassandra.tls: cert_file and key_file go together (client certificate and its key)`},
		{"tls files while disabled", func(c *Config) { c.Temporal.TLS = TLS{CAFile: "ca.pem"} },
			`temporal.tls.enabled: TLS files or options are set but enabled is false`},
		{"temporal address without port", func(c *Config) { c.Temporal.HostPort = "localhost" },
			`temporal.host_port: "localhost" is not host:port`},
		{"no namespace", func(c *Config) { c.Temporal.Namespace = "" }, `temporal.namespace: required`},
		{"metrics address", func(c *Config) { c.Metrics.Listen = "9464" }, `metrics.listen: "9464" is not host:port`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadExample(t)
			tc.mutate(cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing\n  %s\ngot\n  %v", tc.want, err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("errors should be *FieldError, got %T", err)
			}
		})
	}
}

// nightlyScore is the score schedule the example config has commented out,
// changed by edit.
func nightlyScore(edit func(s *ScoreTrigger)) ScoreTrigger {
	s := ScoreTrigger{Trigger: Trigger{Cron: "0 2 * * *"}, Window: Duration(Day), Align: AlignDay}
	edit(&s)
	return s
}

func TestTheExamplesCommentedScoreScheduleIsValid(t *testing.T) {
	b, err := os.ReadFile("../kingmaker.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const commented = "      # score: "
	if !strings.Contains(string(b), commented) {
		t.Fatalf("kingmaker.example.yaml no longer has a line starting %q", commented)
	}
	cfg, err := Parse([]byte(strings.Replace(string(b), commented, "      score: ", 1)))
	if err != nil {
		t.Fatalf("the example config with its score schedule uncommented does not parse: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the example config with its score schedule uncommented is invalid:\n%v", err)
	}
	if got, want := cfg.Models[0].Schedule.Score, nightlyScore(func(*ScoreTrigger) {}); got != want {
		t.Errorf("the example's score schedule reads %+v, want %+v", got, want)
	}
}

func TestValidationReportsEveryProblemAtOnce(t *testing.T) {
	cfg := loadExample(t)
	cfg.Cassandra.Port = 0
	cfg.Models[0].Candidates[0].Algorithm = "nope"
	cfg.Models[0].Policy.PrimaryMetric = "nope"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	if n := len(strings.Split(strings.TrimSpace(err.Error()), "\n")); n != 3 {
		t.Fatalf("want 3 problems, one per line, got %d:\n%v", n, err)
	}
}

func TestParseRefusesUnknownFields(t *testing.T) {
	_, err := Parse([]byte("cassandra:\n  hostz: [a]\n"))
	if err == nil || !strings.Contains(err.Error(), "field hostz not found") {
		t.Fatalf("want an unknown-field error naming hostz, got %v", err)
	}
}

func TestDurationsAcceptDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"14d": 14 * Day, "6h": 6 * time.Hour, "90s": 90 * time.Second, "0d": 0} {
		got, err := ParseDuration(in)
		if err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got.D(), err, want)
		}
	}
	for _, bad := range []string{"14", "d", "-1d", "two days"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) should fail", bad)
		}
	}
	_, err := Parse([]byte("models:\n  - name: m\n    window: {length: fortnight}\n"))
	if err == nil || !strings.Contains(err.Error(), `invalid duration "fortnight"`) {
		t.Fatalf("want the bad duration named, got %v", err)
	}
}

func TestEnvironmentOverridesConnectionSettings(t *testing.T) {
	cfg := loadExample(t)
	env := map[string]string{
		"KINGMAKER_CASSANDRA_HOSTS":    "10.0.0.1, 10.0.0.2",
		"KINGMAKER_CASSANDRA_PORT":     "9142",
		"KINGMAKER_CASSANDRA_USERNAME": "km",
		"KINGMAKER_CASSANDRA_PASSWORD": "s3cret",
		"KINGMAKER_TEMPORAL_HOST_PORT": "temporal:7233",
		"KINGMAKER_TEMPORAL_API_KEY":   "key-123",
	}
	if err := cfg.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Cassandra.Hosts, "|"); got != "10.0.0.1|10.0.0.2" {
		t.Errorf("hosts = %q", got)
	}
	if cfg.Cassandra.Port != 9142 || cfg.Cassandra.Username != "km" || cfg.Cassandra.Password.Reveal() != "s3cret" || cfg.Temporal.HostPort != "temporal:7233" {
		t.Errorf("overrides not applied: %+v %+v", cfg.Cassandra, cfg.Temporal)
	}
	err := cfg.ApplyEnv(func(k string) (string, bool) {
		if k == "KINGMAKER_CASSANDRA_PORT" {
			return "ninety", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), `KINGMAKER_CASSANDRA_PORT: "ninety" is not a port number`) {
		t.Fatalf("want a bad port named, got %v", err)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	cfg := loadExample(t)
	cfg.Cassandra.Username = "km"
	cfg.Cassandra.Password = "s3cret-pass"
	cfg.Temporal.APIKey = "s3cret-key"
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(b), cfg.Cassandra.Password.String(), cfg.Temporal.APIKey.GoString()} {
		if strings.Contains(out, "s3cret") {
			t.Fatalf("a secret leaked: %s", out)
		}
	}
	if !strings.Contains(string(b), `"password":"[redacted]"`) {
		t.Errorf("JSON should show the password as redacted: %s", b)
	}
}

func TestLoadNamesTheMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "kingmaker.yaml"))
	if err == nil || !strings.Contains(err.Error(), "not found: pass --config FILE or copy kingmaker.example.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestAnExplicitZeroIsKeptAndOnlyAnAbsentFieldTakesItsDefault(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		got  func(*Config) any
		want any
	}{
		{"shadow.max_accuracy_drop 0 allows no accuracy drop at all", "    policy: {shadow: {max_accuracy_drop: 0}}\n",
			func(c *Config) any { return c.Models[0].Policy.Shadow.MaxAccuracyDrop }, 0.0},
		{"an absent shadow.max_accuracy_drop is 0.01", "",
			func(c *Config) any { return c.Models[0].Policy.Shadow.MaxAccuracyDrop }, 0.01},
		{"drift.quality_drop 0 alerts on any drop", "    drift: {quality_drop: 0}\n",
			func(c *Config) any { return c.Models[0].Drift.QualityDrop }, 0.0},
		{"an absent drift.quality_drop is 0.05", "",
			func(c *Config) any { return c.Models[0].Drift.QualityDrop }, 0.05},
		{"drift.cooldown 0s has no cooldown", "    drift: {cooldown: 0s}\n",
			func(c *Config) any { return c.Models[0].Drift.Cooldown.D() }, time.Duration(0)},
		{"drift.cooldown 0d has no cooldown either", "    drift: {cooldown: 0d}\n",
			func(c *Config) any { return c.Models[0].Drift.Cooldown.D() }, time.Duration(0)},
		{"an absent drift.cooldown is 6h", "",
			func(c *Config) any { return c.Models[0].Drift.Cooldown.D() }, 6 * time.Hour},
		{"drift.max_drifted_features 0 stays 0", "    drift: {max_drifted_features: 0}\n",
			func(c *Config) any { return c.Models[0].Drift.MaxDriftedFeatures }, 0},
		{"a zero reached through an alias is kept", "    drift: &d {quality_drop: 0}\n" + strings.Replace(minimalConfig, "models:\n  - name: m", "  - name: n\n    drift: *d", 1),
			func(c *Config) any { return c.Models[1].Drift.QualityDrop }, 0.0},
		{"a zero reached through a merge key is kept", "    drift: &d {cooldown: 0s}\n" + strings.Replace(minimalConfig, "models:\n  - name: m", "  - name: n\n    drift: {<<: *d, quality_drop: 0.1}", 1),
			func(c *Config) any { return c.Models[1].Drift.Cooldown.D() }, time.Duration(0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(minimalConfig + c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("the config should be valid: %v", err)
			}
			if got := c.got(cfg); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestAnExplicitZeroWhereZeroIsNotAllowedIsAnErrorNotTheDefault(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"drift.min_rows 0", "    drift: {min_rows: 0}\n", "models[0].drift.min_rows: must be at least 1"},
		{"window.holdout_fraction 0", "    window: {holdout_fraction: 0}\n", "models[0].window.holdout_fraction: 0 is not between 0 and 1 (exclusive)"},
		{"policy.shadow.min_agreement 0", "    policy: {shadow: {min_agreement: 0}}\n", "models[0].policy.shadow.min_agreement: 0 is not a share in (0, 1]"},
		{"policy.approval_timeout 0s", "    policy: {approval_timeout: 0s}\n", "models[0].policy.approval_timeout: must be positive"},
		{"an empty label.classes", "    label: {column: y, classes: []}\n", "models[0].label.classes: at least two classes are required (or set task: regression for a numeric label)"},
		{"cassandra.port 0", "cassandra: {port: 0}\n", "cassandra.port: 0 is not a port (1-65535)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := minimalConfig + c.yaml
			if strings.HasPrefix(c.yaml, "cassandra") {
				y = c.yaml + minimalConfig
			}
			y = strings.Replace(y, "    label: {column: y}\n    candidates", "    candidates", strings.Count(c.yaml, "label:"))
			cfg, err := Parse([]byte(y))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v, want the one problem %q", err, c.want)
			}
		})
	}
}
