package worker

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kingmaker-ml/kingmaker/internal/buildinfo"
)

// A worker's Temporal identity names its build: "pid@host@kingmaker/BUILD"
// (BUILD as buildinfo.Info.ID). Workers of different builds on the same
// task queues are a deployment half upgraded: an older worker may take an
// activity of a newer workflow, whose input or run data it does not know,
// and fail the run. Each worker therefore looks, every minute, at the
// pollers Temporal lists on its task queues (those seen in the last few
// minutes) and exports how many builds it sees
// (kingmaker_task_queue_builds); it logs a warning when they are more than
// one.

// buildMark separates a worker identity's pid@host from its build.
const buildMark = "@kingmaker/"

// DefaultBuildCheck is how often a worker looks at its queues' pollers.
const DefaultBuildCheck = time.Minute

// unknownBuild is the build of a poller whose identity names none: a
// worker of a release before builds were named, or another program.
const unknownBuild = "unknown"

// identity is a worker's Temporal identity for build.
func identity(build string) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%d@%s%s%s", os.Getpid(), host, buildMark, build)
}

// BuildOf is the build a worker identity names, "unknown" when it names
// none.
func BuildOf(identity string) string {
	if i := strings.LastIndex(identity, buildMark); i >= 0 && i+len(buildMark) < len(identity) {
		return identity[i+len(buildMark):]
	}
	return unknownBuild
}

// polledQueue is a task queue a worker polls, and for which kinds of task.
type polledQueue struct {
	name  string
	types []enumspb.TaskQueueType
}

// buildWatch counts the builds polling a worker's task queues.
type buildWatch struct {
	temporal client.Client
	queues   []polledQueue
	own      string
	builds   *prometheus.GaugeVec
	logger   *slog.Logger
	// warned is, per queue, the builds seen at the last check, joined by
	// commas.
	warned map[string]string
}

func newBuildWatch(c client.Client, reg prometheus.Registerer, own string, logger *slog.Logger) *buildWatch {
	w := &buildWatch{temporal: c, own: own, logger: logger, warned: map[string]string{},
		builds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kingmaker_task_queue_builds",
			Help: "Distinct worker builds polling the task queue in the last few minutes, this worker's included: above 1, workers of different builds share the queue (an upgrade half done).",
		}, []string{"task_queue"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "kingmaker_worker_build_info",
		Help:        "This worker's build (the commit it was built from and its build tags); always 1.",
		ConstLabels: prometheus.Labels{"build": own},
	})
	info.Set(1)
	reg.MustRegister(w.builds, info)
	return w
}

// watch adds queue, polled for tasks of types.
func (w *buildWatch) watch(queue string, types ...enumspb.TaskQueueType) {
	w.queues = append(w.queues, polledQueue{name: queue, types: types})
	w.builds.WithLabelValues(queue).Set(1)
}

// run checks the queues every interval until ctx is done, the first time
// soon after the start (once this worker's own polls show).
func (w *buildWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTimer(min(every, 5*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.check(ctx)
		t.Reset(every)
	}
}

// check counts the builds polling each queue now. A queue Temporal cannot
// describe keeps its last count; the failure is logged at debug level (the
// worker's own polls report an unreachable server).
func (w *buildWatch) check(ctx context.Context) {
	for _, q := range w.queues {
		seen := map[string]bool{w.own: true}
		ok := true
		for _, typ := range q.types {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			resp, err := w.temporal.DescribeTaskQueue(dctx, q.name, typ)
			cancel()
			if err != nil {
				w.logger.Debug("cannot list the pollers of a task queue", "task_queue", q.name, "error", err)
				ok = false
				break
			}
			for _, p := range resp.GetPollers() {
				seen[BuildOf(p.GetIdentity())] = true
			}
		}
		if !ok {
			continue
		}
		builds := slices.Sorted(maps.Keys(seen))
		w.builds.WithLabelValues(q.name).Set(float64(len(builds)))
		list := strings.Join(builds, ",")
		switch last := w.warned[q.name]; {
		case len(builds) > 1 && last != list:
			w.logger.Warn("workers of different builds poll the same task queue: an older worker may fail a newer run's activities; replace all workers of a deployment together",
				"task_queue", q.name, "builds", list, "this_worker", w.own)
		case len(builds) == 1 && strings.Contains(last, ","):
			w.logger.Info("one build polls the task queue again", "task_queue", q.name, "build", w.own)
		}
		w.warned[q.name] = list
	}
}

// ownBuild is the build this worker names: opts.Build, else the binary's.
func ownBuild(opts Options) string {
	if opts.Build != "" {
		return opts.Build
	}
	return buildinfo.Read().ID
}
