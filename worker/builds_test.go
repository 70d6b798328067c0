package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/worker"
)

func TestBuildOfReadsTheBuildAWorkerIdentityNames(t *testing.T) {
	for identity, want := range map[string]string{
		"4242@host-a@kingmaker/54ef80d1a2b3+xgboost": "54ef80d1a2b3+xgboost",
		"4242@host-a@kingmaker/unknown":              "unknown",
		"4242@host-a@":                               "unknown", // a worker of a release before builds were named
		"4242@host-a@kingmaker/":                     "unknown",
		"python-trainer":                             "unknown",
		"":                                           "unknown",
	} {
		if got := worker.BuildOf(identity); got != want {
			t.Errorf("BuildOf(%q) = %q, want %q", identity, got, want)
		}
	}
}

// warnings keeps the messages and attributes of the warnings logged.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (h *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *warnings) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *warnings) WithGroup(string) slog.Handler                { return h }
func (h *warnings) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	h.mu.Lock()
	h.seen = append(h.seen, b.String())
	h.mu.Unlock()
	return nil
}

func (h *warnings) find(sub ...string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
next:
	for _, w := range h.seen {
		for _, s := range sub {
			if !strings.Contains(w, s) {
				continue next
			}
		}
		return w
	}
	return ""
}

// TestWorkersOfTwoBuildsOnOneQueueAreCountedAndWarnedAbout runs two workers
// of different builds on the same task queues of the Temporal dev server:
// each counts both builds on its queue (kingmaker_task_queue_builds 2) and
// logs a warning naming them; each names its own build in
// kingmaker_worker_build_info.
func TestWorkersOfTwoBuildsOnOneQueueAreCountedAndWarnedAbout(t *testing.T) {
	_, cass := testenv.Cassandra(t)
	cfg := testConfig(t, cass)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type running struct {
		st       *worker.Stack
		warnings *warnings
	}
	start := func(build string) running {
		t.Helper()
		w := &warnings{}
		logger := slog.New(w)
		st, err := worker.Open(ctx, cfg, logger)
		if err != nil {
			t.Fatalf("open the stack: %v", err)
		}
		wctx, stop := context.WithCancel(ctx)
		stopped := make(chan error, 1)
		go func() {
			stopped <- worker.Run(wctx, st, worker.Options{Roles: []string{worker.RoleMain, worker.RoleTraining}, StopTimeout: 5 * time.Second,
				Build: build, BuildCheck: 500 * time.Millisecond, Logger: logger})
		}()
		t.Cleanup(func() {
			stop()
			if err := <-stopped; err != nil {
				t.Errorf("worker %s: %v", build, err)
			}
			st.Close()
		})
		return running{st, w}
	}
	old, cur := start("0000000aaaaa"), start("1111111bbbbb+xgboost")

	gauge := func(r running, name, label, value string) float64 {
		t.Helper()
		families, err := r.st.Metrics.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == label && l.GetValue() == value {
						return m.GetGauge().GetValue()
					}
				}
			}
		}
		return -1
	}
	for _, r := range []running{old, cur} {
		for _, queue := range []string{cfg.Temporal.TaskQueue, cfg.Temporal.TrainingTaskQueue} {
			deadline := time.Now().Add(time.Minute)
			for gauge(r, "kingmaker_task_queue_builds", "task_queue", queue) != 2 && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
			}
			if got := gauge(r, "kingmaker_task_queue_builds", "task_queue", queue); got != 2 {
				t.Errorf("kingmaker_task_queue_builds{task_queue=%q} is %v, want 2 (two builds poll it)", queue, got)
			}
			if r.warnings.find("different builds", "task_queue="+queue, "builds=0000000aaaaa,1111111bbbbb+xgboost") == "" {
				t.Errorf("no warning naming both builds on %s; warnings: %q", queue, r.warnings.seen)
			}
		}
	}
	if gauge(old, "kingmaker_worker_build_info", "build", "0000000aaaaa") != 1 || gauge(cur, "kingmaker_worker_build_info", "build", "1111111bbbbb+xgboost") != 1 {
		t.Error("kingmaker_worker_build_info does not name each worker's build")
	}
}
