package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

func TestServeSizesReadAsBytes(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want int64
		bad  bool
	}{
		{"a plain number is bytes", "2048", 2048, false},
		{"KiB are 1024 bytes", "512KiB", 512 << 10, false},
		{"MiB are 1024 KiB", "1MiB", 1 << 20, false},
		{"MB are a million bytes", "4MB", 4_000_000, false},
		{"a B suffix is bytes", "100B", 100, false},
		{"zero is refused", "0", 0, true},
		{"a negative size is refused", "-1MiB", 0, true},
		{"a fraction is refused", "1.5MiB", 0, true},
		{"an unknown unit is refused", "1TB", 0, true},
		{"words are refused", "lots", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b config.ByteSize
			err := b.Set(c.in)
			if c.bad {
				if err == nil {
					t.Errorf("%q read as %d bytes, want an error", c.in, b)
				}
				return
			}
			if err != nil || int64(b) != c.want {
				t.Errorf("%q read as %d (%v), want %d", c.in, b, err, c.want)
			}
		})
	}
	if d := config.ByteSize(1 << 20); d.String() != "1MiB" {
		t.Errorf("the default prints as %q, want 1MiB", d.String())
	}
}

func TestServeRefusesBadFlagsBeforeConnecting(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a size that is not one", []string{"serve", "--max-body", "lots"}, `"lots" is not a size`},
		{"a poll interval of zero", []string{"serve", "--poll", "0s"}, "--poll 0s: want a positive duration"},
		{"an argument", []string{"serve", "churn"}, "serve takes no arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := kingmaker(t, append([]string{"--config", exampleConfig}, c.args...)...)
			if got.code != 2 || !strings.Contains(got.stderr, c.want) || !strings.Contains(got.stderr, "usage: kingmaker serve") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 with %q and the usage", got.code, got.stderr, c.want)
			}
		})
	}
}

// serveOutput is a buffer serve writes while the test reads it.
type serveOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *serveOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *serveOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeAnswersUntilItIsStopped(t *testing.T) {
	_, c := testenv.Cassandra(t)
	t.Setenv("KINGMAKER_CASSANDRA_KEYSPACE", c.Keyspace)
	t.Setenv("KINGMAKER_CASSANDRA_HOSTS", strings.Join(c.Hosts, ","))
	t.Setenv("KINGMAKER_CASSANDRA_PORT", fmt.Sprint(c.Port))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr serveOutput
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"--config", exampleConfig, "serve", "--listen", "127.0.0.1:0", "--poll", "100ms"}, &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`serving churn on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		select {
		case code := <-exited:
			t.Fatalf("serve exited with %d before listening:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address within 20s:\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
		}
	}

	get := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// A model without a champion does not hold readiness back, once its
	// pointer was read; until then it answers "still loading", so the
	// steps below wait for readiness first.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get("GET", "/v2/health/ready", ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready within 20s")
		}
	}
	steps := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"it is live", "GET", "/v2/health/live", "", 200, `"live":true`},
		{"a model without a champion asks for a retrain", "POST", "/v1/models/churn:predict", `{"instances": [{}]}`, 503,
			"model churn has no champion yet: run `kingmaker retrain churn`"},
		{"an unknown model is 404", "POST", "/v2/models/fraud/infer", `{"inputs": []}`, 404, `model \"fraud\" is not served here (models: churn)`},
		{"metrics are served", "GET", "/metrics", "", 200, `kingmaker_serving_generation{model="churn"} 0`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, body := get(st.method, st.path, st.body)
			if code != st.code || !strings.Contains(body, st.want) {
				t.Errorf("%s %s: status %d, body:\n%s\nwant %d with %q", st.method, st.path, code, body, st.code, st.want)
			}
		})
	}

	cancel() // as SIGTERM does through main's signal context
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d after stop, want 0:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15s of being stopped")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("stderr does not say it shut down:\n%s", stderr.String())
	}
}

func TestServeRefusesCredentialsItCannotReadBeforeConnecting(t *testing.T) {
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := []struct {
		name  string
		serve string
		want  string
	}{
		{"an unset token variable", "serve:\n  auth: {mode: token, tokens_env: KM_TEST_NO_SUCH_TOKENS}\n",
			"serve.auth.tokens_env: the environment variable KM_TEST_NO_SUCH_TOKENS is not set"},
		{"a missing tokens file", "serve:\n  auth: {mode: token, tokens_file: " + dir + "/none}\n", "serve.auth.tokens_file: open " + dir + "/none"},
		{"a missing certificate", "serve:\n  tls: {cert_file: " + dir + "/c.pem, key_file: " + dir + "/k.pem}\n", "serve.tls.cert_file/key_file: open " + dir + "/c.pem"},
		{"a zero row limit", "serve:\n  limits: {max_rows: 0}\n", "serve.limits.max_rows: 0: want a whole number from 1"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := fmt.Sprintf("%s/kingmaker-%d.yaml", dir, i)
			if err := os.WriteFile(file, append(slices.Clone(example), c.serve...), 0o600); err != nil {
				t.Fatal(err)
			}
			// Cassandra is never reached: a port nothing listens on proves it.
			t.Setenv("KINGMAKER_CASSANDRA_PORT", "1")
			got := kingmaker(t, "--config", file, "serve")
			if got.code != 1 || !strings.Contains(got.stderr, c.want) || strings.Contains(got.stderr, "cassandra") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 with %q, before connecting to Cassandra", got.code, got.stderr, c.want)
			}
		})
	}
}
