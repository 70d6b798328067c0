package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/kingmaker-ml/kingmaker/serving"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on; 127.0.0.1 keeps the endpoint on this machine")
	poll := fs.Duration("poll", serving.DefaultPoll, "how often to read each model's champion pointer")
	maxBody := byteSize(serving.DefaultMaxBody)
	fs.Var(&maxBody, "max-body", "largest request body (e.g. 512KiB, 1MiB, 4MB); larger requests get 413")
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
	cfg, reg, done, err := openRegistry(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := serving.New(serving.Options{
		Models: cfg.Models, Source: serving.RegistrySource(reg), Poll: *poll, MaxBody: int64(maxBody), Logger: logger,
		ShadowSample: *shadowSample, ShadowSink: reg,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	names := make([]string, len(cfg.Models))
	for i, m := range cfg.Models {
		names[i] = m.Name
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "serving %s on %s\n", strings.Join(names, ", "), base)
	fmt.Fprintf(e.stdout, "  POST %s/v2/models/MODEL/infer   POST %s/v1/models/MODEL:predict   GET %s/metrics\n", base, base, base)
	return srv.Serve(ctx, ln) // until SIGINT or SIGTERM cancel ctx
}

// byteSize is a flag of a number of bytes: 1048576, 512KiB, 1MiB, 4MB.
type byteSize int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{ // longest suffixes first
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

func (b *byteSize) String() string {
	v := int64(*b)
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.factor && v%u.factor == 0 {
			return strconv.FormatInt(v/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	num, factor := s, int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/factor {
		return fmt.Errorf("%q is not a size: want a positive whole number of bytes, KiB, MiB or GiB (e.g. 1MiB)", s)
	}
	*b = byteSize(n * factor)
	return nil
}
