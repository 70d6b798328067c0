package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// byomDir holds model files of Python's xgboost for the demo model churn, with their expect CSVs
// (written by make_byom.py there).
const byomDir = "../../trainer/testdata/byom/"

// byomStack gives a test its keyspace with a week of demo rows from first (a model's window) and
// the example config pointed at it, for the bring-your-own-model tests of both builds.
func byomStack(t *testing.T, ctx context.Context, first time.Time) (*gocql.Session, config.Cassandra, string) {
	t.Helper()
	s, c := testenv.Cassandra(t)
	path := stackConfig(t, c.Keyspace, c, func(b string) string { return b })
	if err := demo.Write(ctx, s, c.Keyspace, demo.Spec{Dataset: "churn", Start: first, Days: 7, RowsPerDay: 600, Seed: 9}, 4, nil); err != nil {
		t.Fatal(err)
	}
	return s, c, path
}

func TestModelsRegisterRefusesBadInputWithOneLineAndWritesNothing(t *testing.T) {
	_, c := testenv.Cassandra(t)
	useCassandra(t, c)
	good, err := os.ReadFile(byomDir + "churn_good.json")
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "churn_truncated.json")
	if err := os.WriteFile(truncated, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	register := func(file, format string, extra ...string) []string {
		return append([]string{"--config", exampleConfig, "models", "register", "churn", "--file", file, "--format", format,
			"--candidate", "xgb-python", "--reason", "trained in the notebook"}, extra...)
	}
	_, notBuilt := trainer.Lookup("xgboost")
	built := !errors.Is(notBuilt, trainer.ErrXGBoostNotBuilt)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a truncated file", register(truncated, "xgboost"), 1, "not a complete XGBoost JSON model"},
		{"a file for another feature set", register(byomDir+"churn_other_features.json", "xgboost"), 1, `the file has no input "device=ios"`},
		{"an XGBoost file given as onnx", register(byomDir+"churn_good.json", "onnx"), 1, "is an XGBoost model, not ONNX: use --format xgboost"},
		{"a file that is not an XGBoost model", register(byomDir+"churn_rows.csv", "xgboost"), 1, "not an XGBoost model"},
		{"an unknown format", register(byomDir+"churn_good.json", "pickle"), 1, `--format must be xgboost or onnx, got "pickle"`},
		{"a model of another number of classes", register(byomDir+"churn_multiclass.json", "xgboost"), 1, "objective multi:softprob does not fit task binary"},
		{"no reason", []string{"--config", exampleConfig, "models", "register", "churn", "--file", byomDir + "churn_good.json", "--format", "xgboost", "--candidate", "x"}, 2, "--reason is required"},
	}
	if built {
		cases = append(cases, struct {
			name string
			args []string
			code int
			want string
		}{"predictions that differ from the producer's", register(byomDir+"churn_good.json", "xgboost", "--expect", byomDir+"churn_good_expect_wrong.csv"), 1, "row 8 (line 9) differs"})
	} else {
		cases = append(cases, struct {
			name string
			args []string
			code int
			want string
		}{"a good file in a build without xgboost", register(byomDir+"churn_good.json", "xgboost"), 1, "model file of xgboost 1.7.6: xgboost: this kingmaker was built without XGBoost support: install libxgboost-dev and build with -tags xgboost"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := kingmaker(t, tc.args...)
			if got.code != tc.code || !strings.Contains(got.stderr, tc.want) || (tc.code == 1 && len(lines(got.stderr)) != 1) || got.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d with one line saying %q", got.code, got.stdout, got.stderr, tc.code, tc.want)
			}
		})
	}
	list := kingmaker(t, "--config", exampleConfig, "models", "list", "churn", "-o", "json")
	if list.code != 0 || strings.TrimSpace(list.stdout) != "null" && strings.TrimSpace(list.stdout) != "[]" {
		t.Fatalf("after refusals: exit %d, versions %s; want none written", list.code, list.stdout)
	}
}
