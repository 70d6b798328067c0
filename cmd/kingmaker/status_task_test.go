package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestStatusNamesTheTaskOfEveryModel(t *testing.T) {
	rep := &statusReport{Keyspace: "k", Days: 7, Models: []modelStatus{
		{Task: "regression", Metric: "rmse", Data: modelData{Model: "amount", Table: "k.tasks", Rows: 10}},
		{Task: "multiclass", Metric: "log_loss", Data: modelData{Model: "grade", Table: "k.tasks", Rows: 10,
			Classes: []string{"a", "b", "c"}, ByClass: []int64{5, 3, 2}}},
	}}
	var b bytes.Buffer
	printStatus(&b, rep)
	out := b.String()
	for _, want := range []string{"model amount (regression)", "(a numeric label)", "model grade (multiclass)", "a 50.0%, b 30.0%, c 20.0%"} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}
	j, _ := json.Marshal(rep.Models[0])
	if !strings.Contains(string(j), `"task":"regression"`) {
		t.Errorf("status -o json of a regression model is %s, want its task", j)
	}
}
