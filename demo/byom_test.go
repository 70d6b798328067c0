package demo

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"strconv"
	"testing"
	"time"
)

var writeBYOMRows = flag.Bool("write-byom-rows", false, "rewrite ../trainer/testdata/byom/churn_rows.csv from the generator")

// byomRowsFile holds demo rows for the "bring your own model" fixtures: Python's xgboost trains on
// them (trainer/testdata/byom/make_byom.py), and Kingmaker judges the models on demo rows.
const byomRowsFile = "../trainer/testdata/byom/churn_rows.csv"

// byomRows renders 4000 rows of an undrifted demo week as CSV, one column per feature of the demo
// config and the label churned ("true"/"false").
func byomRows() []byte {
	s := Spec{Dataset: "churn", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 4, RowsPerDay: 1000, Seed: 11}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"tenure_months", "monthly_charges", "support_calls", "logins_30d", "avg_session_minutes", "payment_delays", "plan", "region", "device", "churned"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for day := range s.Days {
		for i := range s.RowsPerDay {
			r := s.Generate(day, i)
			w.Write([]string{strconv.Itoa(r.TenureMonths), f(r.MonthlyCharges), strconv.Itoa(r.SupportCalls), strconv.Itoa(r.Logins30d),
				f(r.AvgSessionMinutes), strconv.Itoa(r.PaymentDelays), r.Plan, r.Region, r.Device, strconv.FormatBool(r.Churned)})
		}
	}
	w.Flush()
	return buf.Bytes()
}

func TestBYOMRowsAreTheGeneratorsRows(t *testing.T) {
	want := byomRows()
	if *writeBYOMRows {
		if err := os.WriteFile(byomRowsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(byomRowsFile)
	if err != nil {
		t.Fatalf("%v (rewrite it: go test ./demo -run TestBYOMRows -write-byom-rows)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the generator's rows: rewrite it with -write-byom-rows and rerun make_byom.py", byomRowsFile)
	}
}
