package demo

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// demoConfig is kingmaker.example.yaml as scripts/demo.sh switches it on:
// the commented deliveries model uncommented (from its "# - name:
// deliveries" line to the next empty line), then every commented xgboost
// candidate, then the commented probation (a 90s period checked every 5s).
// The three sed expressions of scripts/demo.sh, line by line.
func demoConfig(example string) string {
	xgboost := regexp.MustCompile(`^( *)# (- \{name: xgboost, algorithm: xgboost,.*)$`)
	probation := regexp.MustCompile(`^( *)# probation: \{period: 7d, (.*)$`)
	lines := strings.Split(example, "\n")
	in := false
	for i, l := range lines {
		if l == "  # - name: deliveries" {
			in = true
		}
		if in && l == "" {
			in = false
		}
		if in {
			l = "  " + strings.TrimPrefix(strings.TrimPrefix(l, "  #"), " ")
		}
		lines[i] = probation.ReplaceAllString(xgboost.ReplaceAllString(l, "$1$2"), "${1}probation: {period: 90s, check_every: 5s, $2")
	}
	return strings.Join(lines, "\n")
}

func TestTheDemoConfigAddsADeliveriesRegressionModelOnTheSeededTable(t *testing.T) {
	b, err := os.ReadFile("../kingmaker.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := config.Parse(b)
	if err != nil {
		t.Fatalf("the example config: %v", err)
	}
	if err := example.Validate(); err != nil {
		t.Fatalf("the example config is invalid: %v", err)
	}
	if len(example.Models) != 1 || example.Models[0].Name != "churn" {
		t.Fatalf("the example config declares %d models, want churn alone (the deliveries model is the demo's, commented out)", len(example.Models))
	}

	cfg, err := config.Parse([]byte(demoConfig(string(b))))
	if err != nil {
		t.Fatalf("the demo config: %v", err)
	}
	if _, err := trainer.Lookup("xgboost"); err != nil {
		// A pure-Go build knows no xgboost; make demo builds with it.
		for i := range cfg.Models {
			cfg.Models[i].Candidates = slices.DeleteFunc(slices.Clone(cfg.Models[i].Candidates), func(c config.Candidate) bool { return c.Algorithm == "xgboost" })
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the demo config is invalid: %v", err)
	}
	cfg, err = config.Parse([]byte(demoConfig(string(b))))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Model("deliveries")
	if err != nil {
		t.Fatal(err)
	}
	if m.TaskName() != config.TaskRegression || m.Label.Column != "minutes" || m.Source.Table != string(DeliveriesTable) || m.Source.PartitionValue != "deliveries" {
		t.Errorf("deliveries: task %s, label %s, table %s/%s; want regression on minutes of the seeded deliveries rows",
			m.TaskName(), m.Label.Column, m.Source.Table, m.Source.PartitionValue)
	}
	var algorithms []string
	for _, c := range m.Candidates {
		algorithms = append(algorithms, c.Algorithm)
	}
	if !slices.Equal(algorithms, []string{"linear", "knn", "xgboost"}) {
		t.Errorf("deliveries candidates %v, want linear, knn and xgboost", algorithms)
	}
	// Every feature is a column of the table the seed writes, numeric for
	// numbers and with the generator's categories for text.
	categories := map[string][]string{"zone": Zones, "vehicle": Vehicles, "weather": Weathers}
	for _, f := range m.Features {
		var typ string
		for _, c := range deliveriesColumns {
			if name, rest, _ := strings.Cut(c, " "); name == f.Column {
				typ, _, _ = strings.Cut(rest, " ")
			}
		}
		switch {
		case typ == "":
			t.Errorf("feature %s is no column of the deliveries table", f.Name)
		case f.Type == "numeric" && typ != "double" && typ != "int":
			t.Errorf("numeric feature %s is a %s column", f.Name, typ)
		case f.Type == "categorical" && (typ != "text" || !slices.Equal(f.Categories, categories[f.Name])):
			t.Errorf("categorical feature %s (%s column) lists %v, the generator %v", f.Name, typ, f.Categories, categories[f.Name])
		}
	}
	churn, err := cfg.Model("churn")
	if err != nil || churn.Candidates[len(churn.Candidates)-1].Algorithm != "xgboost" {
		t.Errorf("the demo's churn model %v: want it with its xgboost candidate switched on", err)
	}
	// The demo's probation story: churn on probation for a period it can wait for, deliveries
	// (regression, which a probation refuses) without.
	if p := churn.Policy.Probation; p.Period.D() != 90*time.Second || p.CheckEvery.D() != 5*time.Second || p.MinLabelledRows != 200 {
		t.Errorf("the demo's churn probation %+v: want a 90s period checked every 5s on 200 labelled rows", p)
	}
	if m.Policy.Probation.Enabled() {
		t.Error("the demo's deliveries model is on probation: a regression model cannot be")
	}
}
