package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
	"github.com/kingmaker-ml/kingmaker/demo"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

// serveChildEnv makes the test binary run `kingmaker` itself (main) with
// its arguments, so that a test can start a real serve process.
const serveChildEnv = "KINGMAKER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(serveChildEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// hostileToken is the prediction token of the hostile-load test's clients.
const hostileToken = "hostile-load-test-token-0123456789"

// TestServeStaysBoundedUnderHostileLoad starts a real serve process with
// the example churn model (9 features), measures good clients alone, then
// again while hostile clients send, on loopback: 20 concurrent requests
// just under the 1 MiB body limit (one input of 520,000 zeros, as the audit
// sent, and valid batches of 10,000 rows), JSON nested a million deep,
// repeated row ids, bad tokens, and slow clients that stall in their
// headers or their body. The server's RSS must rise by at most 150 MiB and
// the good clients must keep being answered. It runs twice: with the
// default limits, and with all 20 large requests admitted at once, so that
// what bounds memory is each request's own cost, not admission.
func TestServeStaysBoundedUnderHostileLoad(t *testing.T) {
	s, c := testenv.Cassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	promoteExampleChurn(ctx, t, s, c)
	for _, run := range []struct {
		name   string
		limits string
		// p50 is the most the good clients' median may be under attack;
		// 0 when the run only shows memory (all large requests admitted
		// share the cores with the good ones).
		p50 time.Duration
	}{
		{"with the default limits", "", 20 * time.Millisecond},
		{"with all 20 large requests admitted at once", "  limits: {max_concurrent_large: 24}\n", 0},
	} {
		t.Run(run.name, func(t *testing.T) { hostileLoad(ctx, t, c, run.limits, run.p50) })
	}
}

func hostileLoad(ctx context.Context, t *testing.T, c config.Cassandra, limits string, p50 time.Duration) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "kingmaker.yaml")
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	serveSection := `
serve:
  metrics_listen: 127.0.0.1:0
  auth: {mode: token, tokens_env: KM_HOSTILE_TOKENS}
` + limits
	if err := os.WriteFile(cfgFile, append(example, serveSection...), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeProcess(t, ctx, cfgFile, c)

	good := newGoodClients(srv.api, 4)
	baseline := good.run(4 * time.Second)
	rssBefore := srv.rss(t)

	attack := newAttack(t, srv.api)
	stopAttack := attack.start()
	var peak atomic.Int64
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		for attack.running() {
			if r := srv.rss(t); r > peak.Load() {
				peak.Store(r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second) // the attack in full swing
	under := good.run(6 * time.Second)
	stopAttack()
	<-sampling
	hwm := srv.hwm(t)

	rise := float64(max(peak.Load(), hwm)-rssBefore) / (1 << 20)
	t.Logf("RSS: %.1f MiB before the attack, peak %.1f MiB during it (VmHWM %.1f MiB): +%.1f MiB",
		mibOf(rssBefore), mibOf(peak.Load()), mibOf(hwm), rise)
	t.Logf("good clients alone:      %s", baseline)
	t.Logf("good clients, attacked:  %s", under)
	t.Logf("hostile requests: %s", attack.summary())
	if rise > 150 {
		t.Errorf("RSS rose by %.1f MiB under the attack, want at most 150 MiB", rise)
	}
	if under.ok < 50 || under.failed > under.ok/20 {
		t.Errorf("good clients under attack: %s; want nearly all answered", under)
	}
	if p50 > 0 && under.p50 > p50 {
		t.Errorf("good clients under attack: median %.1f ms, want at most %s (alone: %.2f ms)", ms(under.p50), p50, ms(baseline.p50))
	}
	if attack.bigSent.Load() < 20 {
		t.Errorf("only %d just-under-limit requests were answered: the attack did not run", attack.bigSent.Load())
	}
	for _, m := range []string{`kingmaker_serving_auth_failures_total{reason="bad_token"}`, `kingmaker_serving_requests_total{code="413",model="churn"`} {
		if !strings.Contains(srv.metrics(t), m) {
			t.Errorf("the ops listener's metrics lack %s", m)
		}
	}
}

func mibOf(b int64) float64 { return float64(b) / (1 << 20) }

// promoteExampleChurn seeds a day of demo rows, trains logistic on them and
// promotes it as the champion of churn.
func promoteExampleChurn(ctx context.Context, t *testing.T, s *gocql.Session, c config.Cassandra) {
	t.Helper()
	spec := demo.Spec{Dataset: "churn", Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Days: 1, RowsPerDay: 600, Seed: 5}
	if err := demo.Write(ctx, s, c.Keyspace, spec, 2, nil); err != nil {
		t.Fatalf("seed the demo data: %v", err)
	}
	churn := testenv.ExampleModel(t, "churn")
	window := dataset.Window{From: spec.Start, To: spec.DayDate(spec.Days)}
	data, _, err := (&dataset.Source{Session: s, Keyspace: c.Keyspace, Model: churn}).LoadTrain(ctx, window, 1, 1)
	if err != nil {
		t.Fatalf("load the training rows: %v", err)
	}
	logistic, _ := trainer.Lookup("logistic")
	m, err := logistic.Train(ctx, data, trainer.Params{"l2": 1})
	if err != nil {
		t.Fatal(err)
	}
	artifact, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	schema, _ := json.Marshal(m.Schema())
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	v := &registry.Version{Model: "churn", ID: registry.VersionID(window.To, "hostile"), Candidate: "logistic", Algorithm: "logistic",
		Params: m.Params(), RunID: "hostile", WindowFrom: window.From, WindowTo: window.To, TrainRows: int64(len(data.X)), Schema: schema}
	if err := reg.SaveVersion(ctx, v, artifact); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(ctx, registry.PromoteRequest{Model: "churn", Version: v.ID, Action: registry.ActionManual, By: "test", Reason: "hostile load"}); err != nil {
		t.Fatal(err)
	}
}

// serveProcess is a `kingmaker serve` child process.
type serveProcess struct {
	cmd      *exec.Cmd
	api, ops string
}

func startServeProcess(t *testing.T, ctx context.Context, cfgFile string, c config.Cassandra) *serveProcess {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "--config", cfgFile, "serve", "--listen", "127.0.0.1:0", "--poll", "1s")
	cmd.Env = append(os.Environ(), serveChildEnv+"=1", "KM_HOSTILE_TOKENS=load "+hostileToken,
		"KINGMAKER_CASSANDRA_KEYSPACE="+c.Keyspace, "KINGMAKER_CASSANDRA_HOSTS="+strings.Join(c.Hosts, ","),
		"KINGMAKER_CASSANDRA_PORT="+strconv.Itoa(c.Port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("serve's log:\n%s", tail(stderr.String(), 3000))
		}
	})
	lines := bufio.NewScanner(stdout)
	addr := regexp.MustCompile(`serving churn on (http://127\.0\.0\.1:\d+)`)
	metricsAt := regexp.MustCompile(`GET (http://127\.0\.0\.1:\d+)/metrics`)
	p := &serveProcess{cmd: cmd}
	for p.ops == "" && lines.Scan() {
		if m := addr.FindStringSubmatch(lines.Text()); m != nil {
			p.api = m[1]
		}
		if m := metricsAt.FindStringSubmatch(lines.Text()); m != nil {
			p.ops = m[1]
		}
	}
	if p.api == "" || p.ops == "" {
		t.Fatalf("serve printed no addresses:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(p.ops + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready within 20s:\n%s", stderr.String())
		}
	}
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// procStatus reads a field of /proc/PID/status in bytes.
func (p *serveProcess) procStatus(t *testing.T, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read the server's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/PID/status", field)
	return 0
}

func (p *serveProcess) rss(t *testing.T) int64 { return p.procStatus(t, "VmRSS") }
func (p *serveProcess) hwm(t *testing.T) int64 { return p.procStatus(t, "VmHWM") }

func (p *serveProcess) metrics(t *testing.T) string {
	resp, err := http.Get(p.ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// goodBody is a valid two-row v2 request of the example churn model.
var goodBody = []byte(`{"inputs": [
 {"name": "tenure_months", "datatype": "FP64", "shape": [2], "data": [5, 40]},
 {"name": "monthly_charges", "datatype": "FP64", "shape": [2], "data": [70.5, 30]},
 {"name": "support_calls", "datatype": "FP64", "shape": [2], "data": [3, 0]},
 {"name": "logins_30d", "datatype": "FP64", "shape": [2], "data": [4, 25]},
 {"name": "avg_session_minutes", "datatype": "FP64", "shape": [2], "data": [12.5, 30]},
 {"name": "payment_delays", "datatype": "FP64", "shape": [2], "data": [1, 0]},
 {"name": "plan", "datatype": "BYTES", "shape": [2], "data": ["basic", "premium"]},
 {"name": "region", "datatype": "BYTES", "shape": [2], "data": ["south", "north"]},
 {"name": "device", "datatype": "BYTES", "shape": [2], "data": ["android", "ios"]}]}`)

// goodClients are keep-alive clients sending goodBody one after another.
type goodClients struct {
	url    string
	n      int
	client *http.Client
}

func newGoodClients(base string, n int) *goodClients {
	return &goodClients{url: base + "/v2/models/churn/infer", n: n,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}}
}

// latencies summarises what the good clients saw.
type latencies struct {
	ok, failed    int
	p50, p99, max time.Duration
	codes         map[int]int
}

func (l latencies) String() string {
	return fmt.Sprintf("%d answered, %d failed %v, p50 %.2f ms, p99 %.2f ms, max %.1f ms",
		l.ok, l.failed, l.codes, ms(l.p50), ms(l.p99), ms(l.max))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (g *goodClients) run(d time.Duration) latencies {
	var (
		mu    sync.Mutex
		took  []time.Duration
		res   = latencies{codes: map[int]int{}}
		wg    sync.WaitGroup
		until = time.Now().Add(d)
	)
	for range g.n {
		wg.Go(func() {
			for time.Now().Before(until) {
				req, _ := http.NewRequest("POST", g.url, bytes.NewReader(goodBody))
				req.Header.Set("Authorization", "Bearer "+hostileToken)
				began := time.Now()
				resp, err := g.client.Do(req)
				code := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				elapsed := time.Since(began)
				mu.Lock()
				if code == 200 {
					res.ok++
					took = append(took, elapsed)
				} else {
					res.failed++
					res.codes[code]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(took)
	if len(took) > 0 {
		at := func(q float64) time.Duration { return took[min(len(took)-1, int(math.Ceil(q*float64(len(took))))-1)] }
		res.p50, res.p99, res.max = at(0.5), at(0.99), took[len(took)-1]
	}
	return res
}

// attack sends hostile requests until stopped.
type attack struct {
	t       *testing.T
	base    string
	stop    chan struct{}
	wg      sync.WaitGroup
	live    atomic.Bool
	bigSent atomic.Int64
	mu      sync.Mutex
	codes   map[string]map[int]int
}

func newAttack(t *testing.T, base string) *attack {
	return &attack{t: t, base: base, stop: make(chan struct{}), codes: map[string]map[int]int{}}
}

func (a *attack) running() bool { return a.live.Load() }

func (a *attack) count(kind string, code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.codes[kind] == nil {
		a.codes[kind] = map[int]int{}
	}
	a.codes[kind][code]++
}

func (a *attack) summary() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a.codes)) {
		parts = append(parts, fmt.Sprintf("%s %v", k, a.codes[k]))
	}
	return strings.Join(parts, "; ")
}

// Bodies just under the 1 MiB limit.
var (
	zerosBody = []byte(`{"inputs": [{"name": "tenure_months", "datatype": "FP64", "shape": [520000], "data": [` +
		strings.TrimSuffix(strings.Repeat("0,", 520_000), ",") + `]}]}`)
	deepBody = bytes.Repeat([]byte("["), 1<<20-100)
)

// maxRowsBody is a valid request of 10,000 rows (the default max_rows)
// that stays under 1 MiB.
func maxRowsBody() []byte {
	const n = 10_000
	col := func(v string) string { return strings.TrimSuffix(strings.Repeat(v+",", n), ",") }
	var inputs []string
	for _, f := range []string{"tenure_months", "monthly_charges", "support_calls", "logins_30d", "avg_session_minutes", "payment_delays"} {
		inputs = append(inputs, fmt.Sprintf(`{"name": %q, "datatype": "FP64", "shape": [%d], "data": [%s]}`, f, n, col("12.5")))
	}
	for f, v := range map[string]string{"plan": `"basic"`, "region": `"north"`, "device": `"ios"`} {
		inputs = append(inputs, fmt.Sprintf(`{"name": %q, "datatype": "BYTES", "shape": [%d], "data": [%s]}`, f, n, col(v)))
	}
	return []byte(`{"inputs": [` + strings.Join(inputs, ",") + `]}`)
}

// repeatedIDsBody names both rows "r1".
var repeatedIDsBody = bytes.Replace(goodBody, []byte(`{"inputs": [`), []byte(`{"inputs": [{"name": "id", "datatype": "BYTES", "shape": [2], "data": ["r1", "r1"]},`), 1)

func (a *attack) start() (stop func()) {
	a.live.Store(true)
	rows := maxRowsBody()
	if len(rows) >= 1<<20 || len(zerosBody) >= 1<<20 {
		a.t.Fatalf("bodies of %d and %d bytes: not under the 1 MiB limit", len(rows), len(zerosBody))
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	sender := func(kind string, body []byte, token string, big bool) {
		a.wg.Go(func() {
			for {
				select {
				case <-a.stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", a.base+"/v2/models/churn/infer", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				a.count(kind, code)
				if big && code != 0 {
					a.bigSent.Add(1)
				}
			}
		})
	}
	for i := range 20 { // 20 concurrent requests just under the body limit
		if i%2 == 0 {
			sender("520,000 zeros", zerosBody, hostileToken, true)
		} else {
			sender("10,000 rows", rows, hostileToken, true)
		}
	}
	sender("deep JSON", deepBody, hostileToken, false)
	sender("repeated ids", repeatedIDsBody, hostileToken, false)
	sender("bad token", goodBody, "not-the-token-of-anyone-at-all", false)
	for range 8 { // slow clients: stalled in their headers
		a.slow("stalled headers", "POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+hostileToken+"\r\n")
	}
	for range 4 { // and in their body, holding a slot until body_timeout
		a.slow("stalled body", fmt.Sprintf("POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n{\"inputs\": [", hostileToken, len(goodBody)))
	}
	return func() {
		close(a.stop)
		a.wg.Wait()
		a.live.Store(false)
	}
}

// slow opens connections that send the start of a request and then a byte
// a second, one after another, until stopped.
func (a *attack) slow(kind, start string) {
	a.wg.Go(func() {
		for {
			conn, err := net.Dial("tcp", strings.TrimPrefix(a.base, "http://"))
			if err != nil {
				a.count(kind, 0)
				return
			}
			conn.Write([]byte(start))
			closed := make(chan int, 1)
			go func() {
				conn.SetReadDeadline(time.Now().Add(time.Minute))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					closed <- 0
					return
				}
				resp.Body.Close()
				closed <- resp.StatusCode
			}()
			t := time.NewTicker(time.Second)
		trickle:
			for {
				select {
				case <-a.stop:
					t.Stop()
					conn.Close()
					return
				case code := <-closed:
					a.count(kind, code)
					break trickle
				case <-t.C:
					conn.Write([]byte(" "))
				}
			}
			t.Stop()
			conn.Close()
		}
	})
}
