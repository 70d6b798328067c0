package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/registry"
	"github.com/kingmaker-ml/kingmaker/serving"
	"github.com/kingmaker-ml/kingmaker/trainer"
)

var (
	flagDuration    = flag.Duration("kmbench.duration", 0, "BenchmarkServe: measured time of each load point (after a warm-up of a quarter of it, at most 1s); 0: 2s")
	flagConcurrency = flag.String("kmbench.concurrency", "1,8", "BenchmarkServe: concurrent keep-alive clients of each load point, comma-separated")
	flagBatches     = flag.String("kmbench.batches", "1", "BenchmarkServe: rows per v2 infer request, comma-separated")
	flagServeModels = flag.String("kmbench.serve.models", "", "TestServeChild (started by BenchmarkServe): serve these models of the registry; empty: skip")
)

// servePoint is one load point: one model, one batch size, one number of
// clients, for a bounded time.
type servePoint struct {
	Algorithm   string `json:"algorithm"`
	Concurrency int    `json:"concurrency"`
	Batch       int    `json:"batch"`
	// RequestBytes is the mean size of the request bodies sent.
	RequestBytes int     `json:"request_bytes"`
	Seconds      float64 `json:"seconds"`
	Requests     int     `json:"requests"`
	ReqPerSecond float64 `json:"req_per_second"`
	RowsPerSec   float64 `json:"rows_per_second"`
	// Latency is from writing the request to having read the whole
	// response, in microseconds, over the requests of the measured stretch.
	Latency serveLatencies `json:"latency_us"`
	// Errors counts failed requests (transport errors, a status other than
	// 200, an answer from another version or of the wrong shape) over the
	// warm-up and the measured stretch.
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// ServerCPUPerReq and ClientCPUPerReq are the CPU time of the server
	// process and of this (the clients') process per request over the
	// measured stretch, every thread included.
	ServerCPUPerReq float64 `json:"server_cpu_us_per_req"`
	ClientCPUPerReq float64 `json:"client_cpu_us_per_req"`
}

// serveLatencies summarises a latency sample in microseconds.
type serveLatencies struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func latenciesUS(ds []time.Duration) serveLatencies {
	us := make([]float64, len(ds))
	for i, d := range ds {
		us[i] = float64(d) / float64(time.Microsecond)
	}
	slices.Sort(us)
	l := serveLatencies{N: len(us)}
	if len(us) > 0 {
		l.P50, l.P90, l.P99, l.P999, l.Max = Percentile(us, 0.5), Percentile(us, 0.9), Percentile(us, 0.99), Percentile(us, 0.999), us[len(us)-1]
	}
	return l
}

// servedModel is a champion BenchmarkServe trained and promoted.
type servedModel struct {
	Algorithm     string         `json:"algorithm"`
	Model         string         `json:"model"`
	Version       string         `json:"version"`
	Params        trainer.Params `json:"params"`
	TrainSeconds  float64        `json:"train_seconds"`
	ArtifactBytes int            `json:"artifact_bytes"`
	Accuracy      float64        `json:"accuracy"`
}

// serveResult is BenchmarkServe's output.
type serveResult struct {
	Rows        int           `json:"rows"`
	TrainRows   int           `json:"train_rows"`
	Features    int           `json:"features"`
	Keyspace    string        `json:"keyspace"`
	Poll        float64       `json:"poll_seconds"`
	Warmup      float64       `json:"warmup_seconds"`
	Models      []servedModel `json:"models"`
	Points      []servePoint  `json:"points"`
	ServerProcs int           `json:"server_gomaxprocs"`
	ClientProcs int           `json:"client_gomaxprocs"`
	// ServerPeakRSSMiB is the server process's peak RSS (VmHWM) after the
	// last point, every model loaded.
	ServerPeakRSSMiB float64 `json:"server_peak_rss_mib"`
}

// BenchmarkServe is a load test of `kingmaker serve` on loopback. It trains
// one model per algorithm of this build on the benchmark grid (10,000 rows
// by default) with the example config's parameters, stores each as a
// version in the registry (the keyspace -kmbench.keyspace) and promotes it,
// then starts the serving code as `kingmaker serve` runs it (serving.New
// over the registry, Serve on 127.0.0.1:0) in a child process, the test
// binary itself running TestServeChild. Once every champion is loaded it
// drives POST /v2/models/{model}/infer with -kmbench.concurrency keep-alive
// clients for -kmbench.duration per point, for each batch size of
// -kmbench.batches. Client and server share the machine's cores.
func BenchmarkServe(b *testing.B) {
	s, c := benchCassandra(b)
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	g := gridFor(b, *flagData, orDefault(*flagRows, 10_000), false)
	train, holdout := g.Split()
	concurrency, err := intList(*flagConcurrency)
	if err != nil {
		b.Fatalf("-kmbench.concurrency: %v", err)
	}
	batches, err := intList(*flagBatches)
	if err != nil {
		b.Fatalf("-kmbench.batches: %v", err)
	}
	dur := *flagDuration
	if dur <= 0 {
		dur = 2 * time.Second
	}
	warmup := min(dur/4, time.Second)
	algos := trainer.AlgorithmsFor(trainer.Binary)
	if *flagAlgo != "" {
		algos = strings.Split(*flagAlgo, ",")
	}
	res := serveResult{Rows: g.Rows(), TrainRows: len(train.X), Features: len(train.Schema.Features), Keyspace: c.Keyspace,
		Poll: serving.DefaultPoll.Seconds(), Warmup: warmup.Seconds(), ClientProcs: runtime.GOMAXPROCS(0)}
	params := map[string]trainer.Params{}
	for _, cand := range exampleConfig(b).Models[0].Candidates {
		params[cand.Algorithm] = cand.Params
	}
	ctx := context.Background()
	prefix := uniqueName("serve")
	for _, algo := range algos {
		res.Models = append(res.Models, promoteTrained(ctx, b, reg, prefix+"_"+algo, algo, params[algo], train, holdout))
	}
	for b.Loop() {
		srv := startServeChild(b, res.Models)
		res.ServerProcs = srv.procs
		for _, sm := range res.Models {
			for _, batch := range batches {
				bodies := inferBodies(holdout.X, batch)
				if len(bodies) == 0 {
					b.Fatalf("-kmbench.batches %d: larger than the %d holdout rows of the grid", batch, len(holdout.X))
				}
				for _, n := range concurrency {
					p := srv.load(b, sm, bodies, batch, n, warmup, dur)
					b.Logf("%s batch %d, %d clients: %.0f req/s, p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, server %.0f + client %.0f µs CPU/req, %d errors",
						sm.Algorithm, batch, n, p.ReqPerSecond, p.Latency.P50, p.Latency.P99, p.Latency.P999, p.ServerCPUPerReq, p.ClientCPUPerReq, p.Errors)
					res.Points = append(res.Points, p)
				}
			}
		}
		res.ServerPeakRSSMiB = MiB(srv.stop(b))
	}
	writeResult(b, res)
	for _, p := range res.Points {
		if p.Errors > 0 {
			b.Errorf("%s batch %d, %d clients: %d failed requests, e.g. %s", p.Algorithm, p.Batch, p.Concurrency, p.Errors, p.ErrorSamples[0])
		}
	}
}

// promoteTrained trains algo on train, saves it as a version of model and
// makes it the model's champion, as a retrain would.
func promoteTrained(ctx context.Context, tb testing.TB, reg *registry.Registry, model, algo string, p trainer.Params, train, holdout *trainer.Data) servedModel {
	tb.Helper()
	tr, err := trainer.Lookup(algo)
	if err != nil {
		tb.Fatal(err)
	}
	began := time.Now()
	m, err := tr.Train(ctx, train, p)
	if err != nil {
		tb.Fatalf("train %s on %d rows: %v", algo, len(train.X), err)
	}
	sm := servedModel{Algorithm: algo, Model: model, Params: m.Params(), TrainSeconds: time.Since(began).Seconds()}
	if pred, _, err := m.Predict(holdout.X); err == nil {
		right := 0
		for i, y := range pred {
			if y == holdout.Y[i] {
				right++
			}
		}
		sm.Accuracy = float64(right) / float64(len(pred))
	}
	art, err := m.MarshalBinary()
	if err != nil {
		tb.Fatalf("encode the %s model: %v", algo, err)
	}
	sm.ArtifactBytes = len(art)
	v := &registry.Version{Model: model, ID: registry.VersionID(time.Now(), algo), Candidate: algo, Algorithm: algo, Params: m.Params(),
		RunID: "bench-serve", WindowFrom: Start, WindowTo: Start.AddDate(0, 0, Days), TrainRows: int64(len(train.X)),
		HoldoutRows: int64(len(holdout.X))}
	if err := reg.SaveVersion(ctx, v, art); err != nil {
		tb.Fatalf("save the %s version: %v", algo, err)
	}
	if _, err := reg.Promote(ctx, registry.PromoteRequest{Model: model, Version: v.ID, Action: registry.ActionManual,
		By: "bench", Reason: "BenchmarkServe"}); err != nil {
		tb.Fatalf("promote the %s version: %v", algo, err)
	}
	sm.Version = v.ID.String()
	return sm
}

// inferBodies are v2 infer requests of batch holdout rows each, up to 512
// of them, each from different rows (fewer when the holdout is short).
func inferBodies(rows [][]float64, batch int) [][]byte {
	schema := Schema()
	var bodies [][]byte
	for start := 0; start+batch <= len(rows) && len(bodies) < 512; start += batch {
		type input struct {
			Name     string `json:"name"`
			Datatype string `json:"datatype"`
			Shape    []int  `json:"shape"`
			Data     []any  `json:"data"`
		}
		var req struct {
			Inputs []input `json:"inputs"`
		}
		for j, f := range schema.Features {
			in := input{Name: f.Name, Datatype: "FP64", Shape: []int{batch}}
			if f.Kind == trainer.Categorical {
				in.Datatype = "BYTES"
			}
			for _, x := range rows[start : start+batch] {
				if f.Kind == trainer.Categorical {
					in.Data = append(in.Data, f.Categories[int(x[j])])
				} else {
					in.Data = append(in.Data, x[j])
				}
			}
			req.Inputs = append(req.Inputs, in)
		}
		b, err := json.Marshal(req)
		if err != nil {
			panic(err) // plain strings and finite numbers
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// serveChild is the server process of BenchmarkServe. It answers "cpu" and
// "rss" on its stdin with its CPU time and peak RSS; closing stdin stops it.
type serveChild struct {
	cmd   *exec.Cmd
	addr  string
	procs int
	in    io.WriteCloser
	// lines are the child's stdout lines after its address.
	lines chan string
}

// startServeChild starts TestServeChild of this binary serving models and
// waits until every champion is loaded.
func startServeChild(tb testing.TB, models []servedModel) *serveChild {
	tb.Helper()
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Model
	}
	cfg, err := filepath.Abs(*flagConfig)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestServeChild$", "-test.count", "1", "-kmbench.serve.models", strings.Join(names, ","),
		"-kmbench.keyspace", *flagKeyspace, "-kmbench.config", cfg)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the server process: %v", err)
	}
	ch := &serveChild{cmd: cmd, in: in, lines: make(chan string, 16)}
	tb.Cleanup(func() {
		if ch.cmd.ProcessState == nil {
			ch.cmd.Process.Kill()
			ch.cmd.Wait()
		}
	})
	sc := bufio.NewScanner(out)
	var said []string // what the test said before listening: a failure's reason
	for sc.Scan() {
		addr, ok := strings.CutPrefix(sc.Text(), "kmbench-serve listening ")
		if !ok {
			said = append(said, sc.Text())
			continue
		}
		fields := strings.Fields(addr)
		ch.addr = fields[0]
		if len(fields) > 1 {
			ch.procs, _ = strconv.Atoi(fields[1])
		}
		break
	}
	if ch.addr == "" {
		tb.Fatalf("the server process exited before listening (%v):\n%s", sc.Err(), strings.Join(said, "\n"))
	}
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "kmbench-serve ") {
				ch.lines <- strings.TrimPrefix(sc.Text(), "kmbench-serve ")
			}
		}
		close(ch.lines)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + ch.addr + "/v2/health/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return ch
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the server on %s did not load every champion within a minute (last: %v)", ch.addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ask sends a command to the server process and returns its number answer.
func (ch *serveChild) ask(tb testing.TB, what string) int64 {
	tb.Helper()
	if _, err := fmt.Fprintln(ch.in, what); err != nil {
		tb.Fatalf("ask the server process for %s: %v", what, err)
	}
	line, ok := <-ch.lines
	v, err := strconv.ParseInt(strings.TrimPrefix(line, what+" "), 10, 64)
	if !ok || err != nil {
		tb.Fatalf("the server process answered %q to %s", line, what)
	}
	return v
}

// stop shuts the server down gracefully and returns its peak RSS.
func (ch *serveChild) stop(tb testing.TB) int64 {
	tb.Helper()
	rss := ch.ask(tb, "rss")
	ch.in.Close()
	if err := ch.cmd.Wait(); err != nil {
		tb.Errorf("the server process: %v", err)
	}
	return rss
}

// load drives sm's infer endpoint with n keep-alive clients sending bodies
// of batch rows: warmup unmeasured, then dur measured.
func (ch *serveChild) load(tb testing.TB, sm servedModel, bodies [][]byte, batch, n int, warmup, dur time.Duration) servePoint {
	tb.Helper()
	url := "http://" + ch.addr + "/v2/models/" + sm.Model + "/infer"
	p := servePoint{Algorithm: sm.Algorithm, Concurrency: n, Batch: batch}
	size := 0
	for _, b := range bodies {
		size += len(b)
	}
	p.RequestBytes = size / len(bodies)
	const (
		warming = iota
		measuring
		stopped
	)
	var (
		phase   atomic.Int32
		mu      sync.Mutex
		all     []time.Duration
		errs    int
		samples []string
		wg      sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs++
		if len(samples) < 3 {
			samples = append(samples, fmt.Sprintf(format, args...))
		}
	}
	for k := range n {
		wg.Go(func() {
			// One transport per client: one keep-alive connection each.
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}, Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			var (
				mine    []time.Duration
				buf     bytes.Buffer
				checked bool
			)
			for i := k * 7919; ; i++ {
				ph := phase.Load()
				if ph == stopped {
					break
				}
				body := bodies[i%len(bodies)]
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					fail("%v", err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				began := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail("%v", err)
					continue
				}
				buf.Reset()
				_, err = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				took := time.Since(began)
				switch {
				case err != nil:
					fail("read the response: %v", err)
					continue
				case resp.StatusCode != http.StatusOK:
					fail("status %d: %.200s", resp.StatusCode, buf.String())
					continue
				case resp.Header.Get(serving.HeaderVersion) != sm.Version:
					fail("answered by version %q, want %s", resp.Header.Get(serving.HeaderVersion), sm.Version)
					continue
				}
				if !checked {
					if err := checkInferResponse(buf.Bytes(), batch); err != nil {
						fail("%v", err)
					}
					checked = true
				}
				if ph == measuring {
					mine = append(mine, took)
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	time.Sleep(warmup)
	srv0, cli0 := ch.ask(tb, "cpu"), CPUTime()
	began := time.Now()
	phase.Store(measuring)
	time.Sleep(dur)
	phase.Store(stopped)
	measured := time.Since(began)
	srv1, cli1 := ch.ask(tb, "cpu"), CPUTime()
	wg.Wait()
	p.Seconds = measured.Seconds()
	p.Requests = len(all)
	p.Latency = latenciesUS(all)
	p.Errors, p.ErrorSamples = errs, samples
	if p.Requests > 0 {
		p.ReqPerSecond = float64(p.Requests) / p.Seconds
		p.RowsPerSec = p.ReqPerSecond * float64(batch)
		p.ServerCPUPerReq = float64(srv1-srv0) / 1e3 / float64(p.Requests)
		p.ClientCPUPerReq = float64(cli1-cli0) / 1e3 / float64(p.Requests)
	}
	return p
}

// checkInferResponse checks that a v2 response has one prediction per row
// in each of its outputs.
func checkInferResponse(resp []byte, rows int) error {
	var out struct {
		Outputs []struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return fmt.Errorf("decode the response: %v: %.200s", err, resp)
	}
	if len(out.Outputs) == 0 {
		return fmt.Errorf("the response has no outputs: %.200s", resp)
	}
	for _, o := range out.Outputs {
		if len(o.Shape) == 0 || o.Shape[0] != rows {
			return fmt.Errorf("output %s has shape %v for %d rows", o.Name, o.Shape, rows)
		}
	}
	return nil
}

// TestServeChild is the server process of BenchmarkServe (which starts it
// with -kmbench.serve.models): the models' champions served from the
// registry as `kingmaker serve` serves them, on 127.0.0.1:0. It prints
// "kmbench-serve listening ADDR GOMAXPROCS", answers "cpu" and "rss" lines
// on stdin, and shuts down when stdin closes.
//
// Run on its own (without -kmbench.serve.models) it checks that protocol
// as BenchmarkServe uses it: it promotes a small model, starts itself as
// the server process, has it answer an infer request, "cpu" and "rss", and
// shut down cleanly when stdin closes.
func TestServeChild(t *testing.T) {
	if *flagServeModels == "" {
		testServeChildProtocol(t)
		return
	}
	s, c := benchCassandra(t)
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	base := exampleConfig(t).Models[0]
	var models []config.Model
	for name := range strings.SplitSeq(*flagServeModels, ",") {
		m := base
		m.Name = name
		models = append(models, m)
	}
	srv, err := serving.New(serving.Options{Models: models, Source: serving.RegistrySource(reg),
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		ShadowSample: serving.DefaultShadowSample, ShadowSink: reg})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	fmt.Printf("kmbench-serve listening %s %d\n", ln.Addr(), runtime.GOMAXPROCS(0))
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "cpu":
			fmt.Printf("kmbench-serve cpu %d\n", CPUTime())
		case "rss":
			fmt.Printf("kmbench-serve rss %d\n", PeakRSS())
		}
	}
	cancel()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// intList parses comma-separated positive integers.
func intList(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func testServeChildProtocol(t *testing.T) {
	s, c := benchCassandra(t)
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	g := gridFor(t, "", 2000, false)
	train, holdout := g.Split()
	sm := promoteTrained(context.Background(), t, reg, uniqueName("servechild"), "logistic", nil, train, holdout)
	srv := startServeChild(t, []servedModel{sm}) // returns once the champion is loaded
	if srv.procs < 1 {
		t.Errorf("the server process said it runs on %d procs", srv.procs)
	}
	const rows = 4
	resp, err := http.Post("http://"+srv.addr+"/v2/models/"+sm.Model+"/infer", "application/json", bytes.NewReader(inferBodies(holdout.X, rows)[0]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("infer: HTTP %d: %.300s", resp.StatusCode, body)
	}
	if err := checkInferResponse(body, rows); err != nil {
		t.Fatal(err)
	}
	if cpu := srv.ask(t, "cpu"); cpu <= 0 {
		t.Errorf("the server process reports %d µs of CPU after loading a model and answering a request", cpu)
	}
	if rss := srv.stop(t); rss <= 0 { // stop fails the test unless the process exits cleanly
		t.Errorf("the server process reports a peak RSS of %d bytes", rss)
	}
	if !srv.cmd.ProcessState.Success() {
		t.Errorf("the server process exited with %v after stdin closed", srv.cmd.ProcessState)
	}
}
