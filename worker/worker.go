// Package worker wires Kingmaker together: the Temporal client and workers
// (the main task queue for workflows and light activities, the training
// queue for TrainCandidate and Evaluate), the Cassandra session and
// registry, and the Prometheus endpoint; and it stops them gracefully.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kingmaker-ml/kingmaker/activities"
	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/tlsconf"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/schema"
	"github.com/kingmaker-ml/kingmaker/workflows"
)

// Queue roles a worker process can serve.
const (
	RoleMain     = "main"
	RoleTraining = "training"
)

// ErrTemporalUnreachable means no Temporal frontend answered.
var ErrTemporalUnreachable = errors.New("temporal is unreachable")

// Dial connects to Temporal with the config's address, namespace, TLS and
// API key, with an error that says what to check when it cannot.
// metrics, when not nil, receives the SDK's own metrics.
func Dial(ctx context.Context, t config.Temporal, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts := client.Options{HostPort: t.HostPort, Namespace: t.Namespace, MetricsHandler: metrics, Identity: t.Identity}
	if logger != nil {
		opts.Logger = tlog.NewStructuredLogger(logger)
	} else {
		opts.Logger = tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	}
	var probe *tlsconf.Probe // nil without TLS: it then reports nothing
	if t.TLS.Enabled {
		tc, p, err := tlsconf.Config(t.TLS)
		probe = p
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.%w", err)
		}
		opts.ConnectionOptions.TLS = tc
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey.Reveal())
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, explainDial(t, err, probe)
	}
	return c, nil
}

// explainDial turns a failed dial into one line naming the setting to fix:
// the API key, a TLS file, or the address. The API key itself is never part
// of it.
func explainDial(t config.Temporal, err error, probe *tlsconf.Probe) error {
	where := fmt.Sprintf("temporal at %s (namespace %s)", t.HostPort, t.Namespace)
	msg := firstLine(err)
	connFailed := strings.Contains(msg, "connection error") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")
	switch code := status.Code(err); {
	case code == codes.Unauthenticated && t.APIKey == "":
		return fmt.Errorf("%s wants credentials: set temporal.api_key or KINGMAKER_TEMPORAL_API_KEY (%s)", where, msg)
	case code == codes.Unauthenticated:
		return fmt.Errorf("%s refused the API key: check temporal.api_key or KINGMAKER_TEMPORAL_API_KEY (%s)", where, msg)
	case code == codes.PermissionDenied:
		return fmt.Errorf("%s denied access: check that the API key of temporal.api_key or KINGMAKER_TEMPORAL_API_KEY may use temporal.namespace (%s)", where, msg)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls: failed to verify"):
		ca := t.TLS.CAFile
		if ca == "" {
			ca = "unset: the system roots"
		}
		return fmt.Errorf("%s sent a TLS certificate that does not verify against temporal.tls.ca_file (%s): check it and temporal.tls.server_name (%s)", where, ca, msg)
	case connFailed && probe.Unmatched() && t.TLS.CertFile == "":
		return fmt.Errorf("%s asked for a TLS client certificate: set temporal.tls.cert_file and key_file (%s)", where, msg)
	case connFailed && probe.Unmatched():
		return fmt.Errorf("%s asked for a TLS client certificate of a CA that did not issue temporal.tls.cert_file: check temporal.tls.cert_file and key_file (%s)", where, msg)
	case tlsconf.ClientCertRefused(msg):
		return fmt.Errorf("%s refused the TLS client certificate: check temporal.tls.cert_file and key_file (%s)", where, msg)
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Errorf("%s does not speak TLS: check temporal.tls.enabled (an api_key turns TLS on as well) (%s)", where, msg)
	case strings.Contains(msg, "tls:"):
		return fmt.Errorf("%s: the TLS handshake failed: check temporal.tls (%s)", where, msg)
	case connFailed && probe.Asked():
		return fmt.Errorf("%s closed the connection after asking for a TLS client certificate: check temporal.tls.cert_file and key_file (%s)", where, msg)
	}
	return fmt.Errorf("%w at %s (namespace %s): is it running (make stack-up) and is temporal.host_port right? (%v)",
		ErrTemporalUnreachable, t.HostPort, t.Namespace, msg)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Options choose what one worker process does.
type Options struct {
	// Roles are the queues to serve: RoleMain, RoleTraining or both.
	Roles []string
	// StopTimeout is how long running activities get to finish on stop.
	StopTimeout time.Duration
	// MaxConcurrentTrainings bounds trainings at once on this process.
	MaxConcurrentTrainings int
	// Identity names this worker in workflow histories (default: the SDK's
	// pid@host).
	Identity string
	Logger   *slog.Logger
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
	s, err := cql.Connect(cfg.Cassandra, true)
	if err != nil {
		return nil, err
	}
	if err := schema.Check(ctx, s, cfg.Cassandra.Keyspace); err != nil {
		s.Close()
		return nil, err
	}
	tc := cfg.Temporal
	tc.Identity = "" // a worker keeps the SDK's pid@host, so that each one is told apart
	c, err := Dial(ctx, tc, logger, newSDKMetrics(metrics))
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

	var workers []worker.Worker
	for _, role := range opts.Roles {
		wo := worker.Options{WorkerStopTimeout: opts.StopTimeout, Identity: opts.Identity}
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
			w.RegisterWorkflowWithOptions(workflows.DriftWorkflow, workflow.RegisterOptions{Name: workflows.DriftWorkflowName})
			w.RegisterWorkflowWithOptions(workflows.BatchScoreWorkflow, workflow.RegisterOptions{Name: workflows.BatchScoreWorkflowName})
		}
		w.RegisterActivity(acts)
		if err := w.Start(); err != nil {
			for _, started := range workers {
				started.Stop()
			}
			return fmt.Errorf("start worker on task queue %s: %w", queue, err)
		}
		logger.Info("worker started", "task_queue", queue, "role", role)
		workers = append(workers, w)
	}
	<-ctx.Done()
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
