package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/serving"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve")
	listen := fs.String("listen", "", "address to listen on (default serve.listen of the config, 127.0.0.1:8080); 127.0.0.1 keeps the endpoint on this machine")
	poll := fs.Duration("poll", serving.DefaultPoll, "how often to read each model's champion pointer")
	maxBody := config.ByteSize(0)
	fs.Var(&maxBody, "max-body", "largest request body (e.g. 512KiB, 1MiB, 4MB; default serve.limits.max_body of the config, 1MiB); larger requests get 413")
	shadowSample := fs.Float64("shadow-sample", serving.DefaultShadowSample, "share of requests a model's shadow version also scores, after the response (0 disables)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{fmt.Sprintf("serve takes no arguments (got %q): it serves every model of the config", strings.Join(pos, " "))}
	}
	if *poll <= 0 {
		return usageError{fmt.Sprintf("--poll %s: want a positive duration such as 2s", *poll)}
	}
	if *shadowSample < 0 || *shadowSample > 1 {
		return usageError{fmt.Sprintf("--shadow-sample %g: want a share between 0 (no shadow scoring) and 1 (every request)", *shadowSample)}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	sc := cfg.Serve
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["listen"] {
		sc.Listen = *listen
	}
	if set["max-body"] {
		sc.Limits.MaxBody = &maxBody
	}
	// Credentials and certificates are read before anything connects, so
	// that a mistake in them stops serve at once.
	auth, err := serving.AuthFromConfig(sc.Auth, os.LookupEnv)
	if err != nil {
		return err
	}
	var tlsConf *tls.Config
	if sc.TLS.Enabled() {
		if tlsConf, err = serving.TLSConfig(sc.TLS); err != nil {
			return err
		}
	}
	_, reg, done, err := openRegistry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l := sc.Limits
	queueWait := l.QueueWait.D()
	if queueWait == 0 {
		queueWait = -1 // refuse at once when busy; 0 in Options is the default
	}
	srv, err := serving.New(serving.Options{
		Models: cfg.Models, Source: serving.RegistrySource(reg), Poll: *poll, Logger: logger,
		ShadowSample: *shadowSample, ShadowSink: reg, ShadowQueueBytes: int64(*l.ShadowQueueBytes),
		MaxBody: int64(*l.MaxBody), MaxRows: *l.MaxRows, MaxFeatures: *l.MaxFeatures, MaxIDBytes: *l.MaxIDBytes,
		MaxConcurrent: *l.MaxConcurrent, MaxConcurrentLarge: deref(l.MaxConcurrentLarge), LargeBody: int64(*l.LargeBody),
		QueueWait: queueWait, BodyTimeout: l.BodyTimeout.D(),
		Auth: auth, SeparateOps: sc.MetricsListen != "",
	})
	if err != nil {
		return err
	}
	ln, err := listenOn("--listen (serve.listen)", sc.Listen, tlsConf)
	if err != nil {
		return err
	}
	var ops net.Listener
	if sc.MetricsListen != "" {
		if ops, err = listenOn("serve.metrics_listen", sc.MetricsListen, tlsConf); err != nil {
			ln.Close()
			return err
		}
	}
	names := make([]string, len(cfg.Models))
	for i, m := range cfg.Models {
		names[i] = m.Name
	}
	base := baseURL(ln, tlsConf)
	fmt.Fprintf(e.stdout, "serving %s on %s\n", strings.Join(names, ", "), base)
	metricsAt := base
	if ops != nil {
		metricsAt = baseURL(ops, tlsConf)
	}
	fmt.Fprintf(e.stdout, "  POST %s/v2/models/MODEL/infer   POST %s/v1/models/MODEL:predict   GET %s/metrics\n", base, base, metricsAt)
	if !auth.Required() {
		fmt.Fprintf(e.stdout, "  no authentication (serve.auth.mode none): anyone who reaches %s can predict and send shadow rows\n", sc.Listen)
	}
	return srv.ServeWithOps(ctx, ln, ops) // until SIGINT or SIGTERM cancel ctx
}

// deref is *p, or 0 (the default of serving.Options) when p is nil.
func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// listenOn listens on addr, with TLS when tc is set.
func listenOn(field, addr string, tc *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, addr, err)
	}
	if tc != nil {
		// Handshakes happen in the connection's goroutine, under the
		// server's read-header timeout: a client that never finishes one
		// holds nothing else.
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}

func baseURL(ln net.Listener, tc *tls.Config) string {
	if tc != nil {
		return "https://" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}
