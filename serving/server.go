package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kingmaker-ml/kingmaker/config"
)

// Defaults of Options.
const (
	DefaultPoll            = 2 * time.Second
	DefaultMaxBody         = 1 << 20
	DefaultShutdownTimeout = 10 * time.Second
	// loadTimeout bounds one refresh: a pointer read and, when it moved, the
	// load of a version (artifacts reach tens of MB).
	loadTimeout = 2 * time.Minute
)

// Options configure a Server.
type Options struct {
	// Models are the models to serve, as the config declares them.
	Models []config.Model
	// Source gives champion pointers and versions (RegistrySource in production).
	Source Source
	// Poll is how often each model's champion pointer is read (DefaultPoll when 0).
	Poll time.Duration
	// MaxBody is the largest request body in bytes; larger ones get 413
	// (DefaultMaxBody when 0).
	MaxBody int64
	// ShutdownTimeout is how long requests in flight get to finish when
	// Serve stops (DefaultShutdownTimeout when 0).
	ShutdownTimeout time.Duration
	// Logger receives swaps and load failures (slog.Default when nil).
	Logger *slog.Logger
	// Metrics, when set, receives the serving metrics instead of a registry
	// of the Server's own; either way /metrics serves them.
	Metrics *prometheus.Registry

	// ShadowSample is the share of prediction requests (0 to 1) that each
	// model's shadow version also scores, after the response, when the
	// model has one; 0 turns shadow scoring off. It needs a Source that is
	// a ShadowSource and a ShadowSink.
	ShadowSample float64
	// ShadowSink records the shadow predictions (the registry in production).
	ShadowSink ShadowSink
	// ShadowQueue is how many sampled requests may wait for the shadow
	// workers (DefaultShadowQueue when 0); past it they are dropped and
	// counted, never waited for.
	ShadowQueue int
	// ShadowWorkers score and record shadow rows (DefaultShadowWorkers when 0).
	ShadowWorkers int
	// ShadowQueueBytes bounds the memory of the sampled requests waiting
	// for the shadow workers (config.DefaultServeShadowQueueBytes when 0);
	// past it they are dropped and counted, like past ShadowQueue.
	ShadowQueueBytes int64

	// MaxRows is the most rows of one request; more get 413
	// (config.DefaultServeMaxRows when 0).
	MaxRows int
	// MaxFeatures is the most members of a JSON object of a request and
	// the most inputs of a v2 request (config.DefaultServeMaxFeatures when 0).
	MaxFeatures int
	// MaxIDBytes is the longest request id or row id
	// (config.DefaultServeMaxIDBytes when 0).
	MaxIDBytes int
	// MaxConcurrent is how many prediction requests are read and answered
	// at once (config.DefaultServeMaxConcurrent when 0).
	MaxConcurrent int
	// MaxConcurrentLarge is how many of them may be large: bodies over
	// LargeBody, or of unknown length (half the CPUs, at least 1, when 0).
	MaxConcurrentLarge int
	// LargeBody is the body size past which a request is large
	// (config.DefaultServeLargeBody when 0).
	LargeBody int64
	// QueueWait is how long a prediction request waits for one of
	// MaxConcurrent before it gets 503 (config.DefaultServeQueueWait when
	// 0; negative: no wait).
	QueueWait time.Duration
	// BodyTimeout is how long a client may take to send its body once it
	// holds one of MaxConcurrent; slower ones get 408
	// (config.DefaultServeBodyTimeout when 0).
	BodyTimeout time.Duration

	// Auth says who may call the server; the zero Auth lets everyone in.
	Auth Auth
	// SeparateOps leaves /metrics and the health endpoints out of Handler:
	// OpsHandler serves them, on a listener of their own (ServeWithOps).
	SeparateOps bool
}

// Server answers predictions with the champion of each configured model and
// follows the champion pointers. Its handler is safe for concurrent use.
type Server struct {
	source  Source
	opts    Options
	models  map[string]*model
	order   []*model
	logger  *slog.Logger
	gather  *prometheus.Registry
	metrics *metrics
	handler http.Handler

	limits limits
	ops    http.Handler

	// shadows and shadowJobs are nil when shadow scoring is off (shadow.go).
	shadows    ShadowSource
	shadowJobs chan shadowJob
	// shadowBytes is the memory of the queued shadow jobs (jobBytes).
	shadowBytes atomic.Int64
}

// New makes a Server of opts. It does no I/O: Serve (or Refresh) loads the
// champions.
func New(opts Options) (*Server, error) {
	if opts.Source == nil {
		return nil, errors.New("serving: no champion source")
	}
	if len(opts.Models) == 0 {
		return nil, errors.New("serving: the config declares no models (add one under models:)")
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.ShadowSample < 0 || opts.ShadowSample > 1 {
		return nil, fmt.Errorf("serving: shadow sample %g is not a share between 0 and 1", opts.ShadowSample)
	}
	if opts.ShadowQueue <= 0 {
		opts.ShadowQueue = DefaultShadowQueue
	}
	if opts.ShadowWorkers <= 0 {
		opts.ShadowWorkers = DefaultShadowWorkers
	}
	orDefault(&opts.ShadowQueueBytes, config.DefaultServeShadowQueueBytes)
	orDefault(&opts.MaxRows, config.DefaultServeMaxRows)
	orDefault(&opts.MaxFeatures, config.DefaultServeMaxFeatures)
	orDefault(&opts.MaxIDBytes, config.DefaultServeMaxIDBytes)
	orDefault(&opts.MaxConcurrent, config.DefaultServeMaxConcurrent)
	orDefault(&opts.MaxConcurrentLarge, max(1, runtime.GOMAXPROCS(0)/2))
	orDefault(&opts.LargeBody, config.DefaultServeLargeBody)
	orDefault(&opts.QueueWait, config.DefaultServeQueueWait)
	orDefault(&opts.BodyTimeout, config.DefaultServeBodyTimeout)
	s := &Server{source: opts.Source, opts: opts, models: map[string]*model{}, logger: opts.Logger, gather: opts.Metrics,
		limits: limits{body: opts.MaxBody, rows: opts.MaxRows, features: opts.MaxFeatures, idBytes: opts.MaxIDBytes,
			queueWait: opts.QueueWait, bodyTimeout: opts.BodyTimeout, slots: make(chan struct{}, opts.MaxConcurrent),
			largeBody: opts.LargeBody, largeSlots: make(chan struct{}, opts.MaxConcurrentLarge)}}
	if shadows, ok := opts.Source.(ShadowSource); ok && opts.ShadowSample > 0 && opts.ShadowSink != nil {
		s.shadows, s.shadowJobs = shadows, make(chan shadowJob, opts.ShadowQueue)
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	for i := range opts.Models {
		m := newModel(&opts.Models[i])
		if _, dup := s.models[m.name]; dup {
			return nil, fmt.Errorf("serving: model %s is configured twice", m.name)
		}
		s.models[m.name] = m
		s.order = append(s.order, m)
	}
	if s.gather == nil {
		s.gather = prometheus.NewRegistry()
		s.gather.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.metrics = newMetrics(s.gather, s.order)
	s.metrics.thresholds(opts.Models)
	s.handler, s.ops = s.routes()
	return s, nil
}

// orDefault sets *p to def when it is 0.
func orDefault[T int | int64 | time.Duration](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}

// Handler returns the HTTP API of the server, with /metrics and the health
// endpoints unless Options.SeparateOps.
func (s *Server) Handler() http.Handler { return s.handler }

// OpsHandler returns /metrics and the health endpoints, without
// authentication: serve it where only Prometheus and probes reach.
func (s *Server) OpsHandler() http.Handler { return s.ops }

// Refresh reads every model's champion pointer (and shadow pointer, when
// shadow scoring is on) once and swaps in the versions that changed; it
// returns the failures joined. Serve does this every poll interval;
// Refresh is for callers that drive it themselves.
func (s *Server) Refresh(ctx context.Context) error {
	var errs []error
	for _, m := range s.order {
		if err := s.refresh(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", m.name, err))
		}
		s.noteReady(m)
		if err := s.refreshShadow(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("model %s shadow: %w", m.name, err))
		}
	}
	return errors.Join(errs...)
}

// noteReady exports whether the model holds readiness back.
func (s *Server) noteReady(m *model) {
	v := 0.0
	if ok, _ := m.ready(); ok {
		v = 1
	}
	s.metrics.ready.WithLabelValues(m.name).Set(v)
}

// follow refreshes one model at once and then every poll interval until ctx
// is done. Each model has its own, so a slow load holds up no other model.
func (s *Server) follow(ctx context.Context, m *model) {
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, loadTimeout)
		s.refresh(rctx, m) // failures are recorded, logged and counted
		s.noteReady(m)
		s.refreshShadow(rctx, m)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Serve follows the champion pointers and answers requests on ln until ctx
// is done, then stops gracefully: no new connections, and requests in
// flight get ShutdownTimeout to finish. It returns nil after a clean stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.ServeWithOps(ctx, ln, nil)
}

// ServeWithOps is Serve with OpsHandler on a second listener, ops (none
// when nil).
func (s *Server) ServeWithOps(ctx context.Context, ln, ops net.Listener) error {
	pollCtx, stopPolling := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, m := range s.order {
		wg.Go(func() { s.follow(pollCtx, m) })
	}
	wg.Go(func() { s.RunShadow(pollCtx) })
	defer func() {
		stopPolling()
		wg.Wait()
	}()
	servers := []*http.Server{s.httpServer(s.handler)}
	listeners := []net.Listener{ln}
	if ops != nil {
		servers, listeners = append(servers, s.httpServer(s.ops)), append(listeners, ops)
	}
	served := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { served <- hs.Serve(listeners[i]) }()
	}
	attrs := []any{"addr", ln.Addr().String(), "models", len(s.order), "poll", s.opts.Poll, "auth", s.opts.Auth.Required()}
	if ops != nil {
		attrs = append(attrs, "ops_addr", ops.Addr().String())
	}
	s.logger.Info("serving", attrs...)
	select {
	case err := <-served:
		for _, hs := range servers {
			hs.Close()
		}
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	for range servers {
		<-served // http.ErrServerClosed
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shut down within %s: %w", s.opts.ShutdownTimeout, err)
	}
	return nil
}

// httpServer bounds what a connection may cost before a handler runs:
// headers within 5s and 64 KiB; the body has its own deadline (limits).
func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

// routes returns the API and the ops handler. Predictions and metadata
// need credentials when Options.Auth asks for them; /metrics and health
// need them too unless Auth.OpenMetrics, and are left to the ops handler
// alone with Options.SeparateOps.
func (s *Server) routes() (api, ops http.Handler) {
	protected := http.NewServeMux()
	protected.HandleFunc("GET /v2", s.serverMetadata)
	protected.HandleFunc("GET /v2/models/{model}", s.modelMetadata)
	protected.HandleFunc("GET /v2/models/{model}/ready", s.modelReady)
	protected.Handle("POST /v2/models/{model}/infer", s.prediction("infer", inferDepth, pathModel, s.serveInfer))
	// ServeMux wildcards take whole segments: v1Model splits "{model}:predict".
	protected.Handle("POST /v1/models/{spec}", s.prediction("predict", predictDepth, v1Model, s.servePredict))

	opsMux := http.NewServeMux()
	opsMux.HandleFunc("GET /v2/health/live", s.live)
	opsMux.HandleFunc("GET /v2/health/ready", s.ready)
	opsMux.Handle("GET /metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{Registry: s.gather}))

	mux := http.NewServeMux()
	mux.Handle("/", s.authenticate(protected))
	for _, p := range []string{"GET /v2/health/live", "GET /v2/health/ready", "GET /metrics"} {
		switch {
		case s.opts.SeparateOps:
			mux.Handle(p, http.NotFoundHandler())
		case s.opts.Auth.OpenMetrics:
			mux.Handle(p, opsMux)
		default:
			mux.Handle(p, s.authenticate(opsMux))
		}
	}
	return mux, opsMux
}
