package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kingmaker-ml/kingmaker/worker"
)

func runWorker(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "worker")
	queues := fs.String("queues", "main,training", "task queues to serve: main, training or both")
	stop := fs.Duration("stop-timeout", 30*time.Second, "how long running activities get to finish on stop")
	trainings := fs.Int("max-trainings", 2, "trainings at once on this process")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if linksOpenMP {
		logger.Info("the xgboost trainer's OpenMP threads", "OMP_WAIT_POLICY", os.Getenv("OMP_WAIT_POLICY"))
	}
	st, err := worker.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	return worker.Run(ctx, st, worker.Options{
		Roles: strings.Split(*queues, ","), StopTimeout: *stop, MaxConcurrentTrainings: *trainings, Logger: logger,
	})
}
