//go:build xgboost

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

// A kingmaker built with the xgboost trainer runs its worker with OpenMP
// threads that wait passively, unless the operator chose otherwise: the
// real binary, started as a process of its own without the variable (it
// executes itself again), and with OMP_WAIT_POLICY=ACTIVE (kept).
func TestAWorkerBuiltWithXGBoostRunsOpenMPThreadsThatWaitPassively(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, c := testenv.Cassandra(t)
	path := stackConfig(t, c.Keyspace, c, func(b string) string { return b })
	bin := filepath.Join(t.TempDir(), "kingmaker")
	if out, err := exec.CommandContext(ctx, "go", "build", "-tags", "xgboost", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags xgboost: %v\n%s", err, out)
	}
	for _, tc := range []struct{ name, set, want string }{
		{"unset: the worker runs with PASSIVE", "", "OMP_WAIT_POLICY=PASSIVE"},
		{"set by the operator: kept", "ACTIVE", "OMP_WAIT_POLICY=ACTIVE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, bin, "--config", path, "worker", "--stop-timeout", "1s")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "OMP_WAIT_POLICY=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			if tc.set != "" {
				cmd.Env = append(cmd.Env, "OMP_WAIT_POLICY="+tc.set)
			}
			var stderr testenv.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(os.Interrupt)
				cmd.Wait()
			}()
			deadline := time.Now().Add(time.Minute)
			for !strings.Contains(stderr.String(), "OMP_WAIT_POLICY=") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			// The line is the worker's own view of its environment, after
			// the new exec (the pid stays the same).
			if log := stderr.String(); !strings.Contains(log, tc.want) {
				t.Fatalf("the worker logged %q; want %s", log, tc.want)
			}
			if environ, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/environ"); err == nil && !strings.Contains(string(environ), tc.want+"\x00") {
				t.Errorf("/proc/%d/environ has no %s", cmd.Process.Pid, tc.want)
			}
		})
	}
}
