package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/workflows"
)

// TestHistoriesOfEarlierVersionsReplay replays, with today's workflow code,
// the histories in testdata/replay: real runs on the Temporal dev server
// made by an earlier version of Kingmaker (testdata/replay/README.md says
// which and how). A change that would make a run in flight fail after an
// upgrade (a command added, removed or reordered) fails here with the
// event where replay diverged.
func TestHistoriesOfEarlierVersionsReplay(t *testing.T) {
	files, err := filepath.Glob("testdata/replay/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories in testdata/replay (%v)", err)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.RetrainWorkflow, workflow.RegisterOptions{Name: workflows.RetrainWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.DriftWorkflow, workflow.RegisterOptions{Name: workflows.DriftWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.BatchScoreWorkflow, workflow.RegisterOptions{Name: workflows.BatchScoreWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.ProbationWorkflow, workflow.RegisterOptions{Name: workflows.ProbationWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.ChallengeWorkflow, workflow.RegisterOptions{Name: workflows.ChallengeWorkflowName})
			if err := r.ReplayWorkflowHistoryFromJSONFile(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)), f); err != nil {
				t.Fatalf("replaying %s with today's code: %v", f, err)
			}
		})
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{workflows.RetrainWorkflowName, workflows.DriftWorkflowName, workflows.BatchScoreWorkflowName, workflows.ProbationWorkflowName, workflows.ChallengeWorkflowName} {
			if strings.Contains(string(b), `"name": "`+name+`"`) {
				kinds[name] = true
			}
		}
	}
	if len(kinds) != 5 {
		t.Errorf("the recorded histories cover %v; want a run of each of the five workflows", kinds)
	}
}
