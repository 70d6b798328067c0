// Package worker wires Kingmaker together: the Temporal client and workers
// (the main task queue for workflows and light activities, the training
// queue for TrainCandidate and Evaluate), the Cassandra session and
// registry, and the Prometheus endpoint; and it stops them gracefully.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gocql/gocql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/temporalclient"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/schema"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// Queue roles a worker process can serve.
const (
	RoleMain     = "main"
	RoleTraining = "training"
)

// Dial connects to Temporal as temporalclient.Dial does, for the callers
// of this package that dial beside a worker.
func Dial(ctx context.Context, t config.Temporal, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	return temporalclient.Dial(ctx, t, logger, metrics)
}

// Options choose what one worker process does.
type Options struct {
	// Roles are the queues to serve: RoleMain, RoleTraining or both.
	Roles []string
	// StopTimeout is how long running activities get to finish on stop.
	StopTimeout time.Duration
	// MaxConcurrentTrainings bounds trainings at once on this process.
	MaxConcurrentTrainings int
	// Identity names this worker in workflow histories (default:
	// pid@host@kingmaker/BUILD, see BuildOf).
	Identity string
	// Build names this worker's build in its default identity (default:
	// the binary's, buildinfo.Read().ID).
	Build string
	// BuildCheck is how often the worker counts the builds polling its task
	// queues (DefaultBuildCheck when 0).
	BuildCheck time.Duration
	Logger     *slog.Logger
}

// Stack is what a worker runs on: sessions, clients, the registry and the
// Prometheus registry its metrics go to.
type Stack struct {
	Config   *config.Config
	Session  *gocql.Session
	Registry *registry.Registry
	Temporal client.Client
	Metrics  *prometheus.Registry
}

// Open connects to Cassandra (checking the schema version) and Temporal.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Stack, error) {
	if logger == nil {
		logger = slog.Default()
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s, err := schema.Connect(ctx, cfg.Cassandra)
	if err != nil {
		return nil, err
	}
	tc := cfg.Temporal
	tc.Identity = "" // each worker names itself (pid@host@kingmaker/BUILD), so that each one is told apart
	c, err := temporalclient.Dial(ctx, tc, logger, newSDKMetrics(metrics))
	if err != nil {
		s.Close()
		return nil, err
	}
	reg := registry.New(s, cfg.Cassandra.Keyspace, cql.Serial(cfg.Cassandra))
	reg.CheckVersionsWith(activities.FitsConfig(cfg))
	metrics.MustRegister(newRegistryCollector(reg, cfg.Models, 10*time.Second, logger))
	return &Stack{Config: cfg, Session: s, Registry: reg, Temporal: c, Metrics: metrics}, nil
}

// Close releases the stack's connections.
func (s *Stack) Close() {
	s.Temporal.Close()
	s.Session.Close()
}

// Run serves the configured queues and the metrics endpoint until ctx is
// cancelled, then stops gracefully: no new tasks are taken and running
// activities get StopTimeout to finish.
func Run(ctx context.Context, st *Stack, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	reg := st.Metrics
	obs := NewMetrics(reg)
	names := make([]string, len(st.Config.Models))
	for i, m := range st.Config.Models {
		names[i] = m.Name
	}
	obs.Init(names)
	acts := &activities.Activities{Config: st.Config, Session: st.Session, Registry: st.Registry, Temporal: st.Temporal, Logger: logger, Observer: obs}

	srv, err := serveMetrics(st.Config.Metrics.Listen, reg, logger)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	build := ownBuild(opts)
	id := opts.Identity
	if id == "" {
		id = identity(build)
	}
	builds := newBuildWatch(st.Temporal, reg, build, logger)
	var workers []worker.Worker
	for _, role := range opts.Roles {
		wo := worker.Options{WorkerStopTimeout: opts.StopTimeout, Identity: id}
		var queue string
		switch role {
		case RoleMain:
			queue = st.Config.Temporal.TaskQueue
		case RoleTraining:
			queue = st.Config.Temporal.TrainingTaskQueue
			wo.MaxConcurrentActivityExecutionSize = max(1, opts.MaxConcurrentTrainings)
		default:
			return fmt.Errorf("unknown worker role %q (known: main, training)", role)
		}
		w := worker.New(st.Temporal, queue, wo)
		if role == RoleMain {
			w.RegisterWorkflowWithOptions(workflows.RetrainWorkflow, workflow.RegisterOptions{Name: workflows.RetrainWorkflowName})
			w.RegisterWorkflowWithOptions(workflows.ChallengeWorkflow, workflow.RegisterOptions{Name: workflows.ChallengeWorkflowName})
			w.RegisterWorkflowWithOptions(workflows.DriftWorkflow, workflow.RegisterOptions{Name: workflows.DriftWorkflowName})
			w.RegisterWorkflowWithOptions(workflows.BatchScoreWorkflow, workflow.RegisterOptions{Name: workflows.BatchScoreWorkflowName})
			w.RegisterWorkflowWithOptions(workflows.ProbationWorkflow, workflow.RegisterOptions{Name: workflows.ProbationWorkflowName})
		}
		w.RegisterActivity(acts)
		if err := w.Start(); err != nil {
			for _, started := range workers {
				started.Stop()
			}
			return fmt.Errorf("start worker on task queue %s: %w", queue, err)
		}
		logger.Info("worker started", "task_queue", queue, "role", role, "build", build)
		workers = append(workers, w)
		if role == RoleMain {
			builds.watch(queue, enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		} else {
			builds.watch(queue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		}
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		builds.run(watchCtx, cmp.Or(opts.BuildCheck, DefaultBuildCheck))
	}()
	<-ctx.Done()
	stopWatch()
	<-watched
	logger.Info("stopping workers", "timeout", opts.StopTimeout)
	for _, w := range workers {
		w.Stop()
	}
	return nil
}

func serveMetrics(addr string, reg *prometheus.Registry, logger *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen %s: %w (is another worker using it? set metrics.listen or KINGMAKER_METRICS_LISTEN)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "error", err)
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}
