package workflows

import (
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// at is when the runs of these tests start: not UTC, to show ids are.
var at = time.Date(2026, 11, 25, 12, 32, 58, 123_000_000, time.FixedZone("CET", 3600))

func TestRunsStartedByHandHaveMeaningfulIdsAndFailOnATakenOne(t *testing.T) {
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		opts        client.StartWorkflowOptions
		id, summary string
	}{
		{"a retrain is named by its model and start to the millisecond, and says why it runs",
			RetrainStartOptions(RetrainInput{Model: "churn", Reason: ReasonManual}, "q", at),
			"retrain-churn-20261125t113258.123z", "Retrain churn (manual)"},
		{"a drift check is named by its model and start to the second",
			DriftStartOptions(DriftInput{Model: "churn", Reason: ReasonManual}, "q", at),
			"drift-churn-20261125t113258z", "Drift check of churn"},
		{"a scoring run is named by its model and start to the second, and says its dates",
			BatchScoreStartOptions(BatchScoreInput{Model: "churn", From: from, To: to}, "q", at),
			"score-churn-20261125t113258z", "Score churn 2026-11-01 .. 2026-11-04"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			if o.ID != c.id || o.StaticSummary != c.summary {
				t.Errorf("id %q, summary %q; want %q, %q", o.ID, o.StaticSummary, c.id, c.summary)
			}
			if o.TaskQueue != "q" {
				t.Errorf("task queue %q, want the one given (q)", o.TaskQueue)
			}
			if o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL {
				t.Errorf("conflict policy %v: a second start of a taken id must fail", o.WorkflowIDConflictPolicy)
			}
			if m, ok := o.TypedSearchAttributes.GetKeyword(AttrModel); !ok || m != "churn" || o.TypedSearchAttributes.Size() != 1 {
				t.Errorf("search attributes %v, want only %s=churn", o.TypedSearchAttributes, AttrModel.GetName())
			}
		})
	}
}

func TestTheRetrainADriftCheckStartsOutlivesItAndIsNeverStartedTwice(t *testing.T) {
	o := driftRetrainOptions("churn", "main", at)
	if o.WorkflowID != "retrain-churn-20261125t113258.123z-drift" {
		t.Errorf("id %q, want the retrain id with -drift after it", o.WorkflowID)
	}
	if o.TaskQueue != "main" || o.StaticSummary != "Retrain churn (drift)" {
		t.Errorf("task queue %q, summary %q; want main, %q", o.TaskQueue, o.StaticSummary, "Retrain churn (drift)")
	}
	if o.ParentClosePolicy != enumspb.PARENT_CLOSE_POLICY_ABANDON || o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
		t.Errorf("parent close %v, id reuse %v; want the retrain left running and its id never reused", o.ParentClosePolicy, o.WorkflowIDReusePolicy)
	}
	if m, ok := o.TypedSearchAttributes.GetKeyword(AttrModel); !ok || m != "churn" {
		t.Errorf("search attributes %v, want %s=churn", o.TypedSearchAttributes, AttrModel.GetName())
	}
}

func TestScheduledRunsSayWhichScheduleStartedThem(t *testing.T) {
	for got, want := range map[string]string{
		ScheduledRetrainSummary("churn", "retrain-churn"):              "Scheduled retrain of churn (retrain-churn)",
		ScheduledDriftSummary("churn", "drift-churn"):                  "Scheduled drift check of churn (drift-churn)",
		ScheduledScoreSummary("churn", "score-churn", "the 1d before"): "Scheduled scoring of churn (score-churn): the 1d before",
	} {
		if got != want {
			t.Errorf("summary %q, want %q", got, want)
		}
	}
}
