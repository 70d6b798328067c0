package chaos

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// root is the repository root (tests run in chaos/).
const root = ".."

// kingmaker is the path of the binary under test, built by TestMain.
var kingmaker string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kingmaker-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kingmaker = filepath.Join(dir, "kingmaker")
	build := exec.Command(goTool(), "build", "-o", kingmaker, "./cmd/kingmaker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: go build ./cmd/kingmaker: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopClusterIfStartedHere()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command that runs these tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// integration marks a test as needing the real stack; it skips only under -short.
func integration(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("chaos test: needs the real stack (run make chaos)")
	}
}

// The three-node cluster of scripts/cassandra-cluster.sh.
var (
	clusterHosts   = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	clusterOnce    sync.Once
	clusterErr     error
	clusterStarted bool // by these tests, which then stop it at the end
	clusterStartup time.Duration
)

// clusterScript runs scripts/cassandra-cluster.sh with args and returns its
// combined output.
func clusterScript(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "scripts", "cassandra-cluster.sh"), args...)
	if os.Getenv("KINGMAKER_CLUSTER_WAIT_SECS") == "" {
		// A node rejoining beside other tests' load took up to 164 s; the
		// script's default wait is 240 s a node.
		cmd.Env = append(os.Environ(), "KINGMAKER_CLUSTER_WAIT_SECS=480")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("scripts/cassandra-cluster.sh %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// threeNodeCluster makes sure every node of the chaos cluster runs, starting
// the cluster when needed (once per test binary), and returns its hosts.
func threeNodeCluster(t *testing.T) []string {
	t.Helper()
	clusterOnce.Do(func() {
		if _, err := clusterScript("status"); err == nil {
			return
		}
		began := time.Now()
		out, err := clusterScript("start")
		clusterStartup = time.Since(began)
		clusterStarted = true
		if err != nil {
			clusterErr = fmt.Errorf("%w\n%s", err, tail(out, 40))
		}
	})
	if clusterErr != nil {
		t.Fatalf("the three-node cluster did not start: %v\n(run scripts/cassandra-cluster.sh start and read .stack/cassandra-cluster/node*/logs/stdout.log)", clusterErr)
	}
	if clusterStarted {
		t.Logf("started the three-node cluster in %s", clusterStartup.Round(time.Second))
	}
	return clusterHosts
}

func stopClusterIfStartedHere() {
	if !clusterStarted {
		return
	}
	if out, err := clusterScript("stop"); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: stopping the cluster these tests started: %v\n%s", err, out)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
