package temporalclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/temporalclient"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

// rawFrame is one gRPC message, passed through without decoding.
type rawFrame struct{ b []byte }

// rawCodec moves messages as bytes. It calls itself "proto" so that both
// sides keep the content type they expect.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.(*rawFrame).b, nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	v.(*rawFrame).b = bytes.Clone(data)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// authProxy stands in for a Temporal frontend with mTLS and API keys (as
// Temporal Cloud does): it serves TLS, requires a client certificate of its
// CA, requires `authorization: Bearer <key>` on every call, and forwards
// every call untouched to the dev server.
type authProxy struct {
	addr     string
	apiKey   string
	upstream *grpc.ClientConn

	mu      sync.Mutex
	methods map[string]int
	refused int
}

func startAuthProxy(t *testing.T, ca *testenv.CA, serverName, apiKey string) *authProxy {
	t.Helper()
	certFile, keyFile := ca.Issue(t, "temporal-proxy", serverName)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	up, err := grpc.NewClient(testenv.TemporalAddr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &authProxy{addr: ln.Addr().String(), apiKey: apiKey, upstream: up, methods: map[string]int{}}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.Pool,
			MinVersion:   tls.VersionTLS12,
		})),
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(p.forward),
	)
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Stop()
		up.Close()
	})
	return p
}

// forward checks the API key, then relays the call both ways until the
// dev server ends it, with the dev server's headers, trailers and status.
func (p *authProxy) forward(_ any, in grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(in)
	md, _ := metadata.FromIncomingContext(in.Context())
	if !slices.Equal(md.Get("authorization"), []string{"Bearer " + p.apiKey}) {
		p.mu.Lock()
		p.refused++
		p.mu.Unlock()
		return status.Error(codes.Unauthenticated, "missing or unknown API key")
	}
	p.mu.Lock()
	p.methods[method]++
	p.mu.Unlock()

	out := metadata.MD{}
	for k, v := range md {
		if strings.HasPrefix(k, ":") || k == "content-type" || k == "user-agent" || k == "authorization" {
			continue
		}
		out[k] = v
	}
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(in.Context(), out))
	defer cancel()
	up, err := p.upstream.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	go func() {
		for {
			var f rawFrame
			if err := in.RecvMsg(&f); err != nil {
				if errors.Is(err, io.EOF) {
					up.CloseSend()
				} else {
					cancel()
				}
				return
			}
			if up.SendMsg(&f) != nil {
				return // the status comes from up.RecvMsg
			}
		}
	}()
	for sentHeader := false; ; {
		var f rawFrame
		if err := up.RecvMsg(&f); err != nil {
			in.SetTrailer(up.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if !sentHeader {
			if h, err := up.Header(); err == nil {
				in.SendHeader(h)
			}
			sentHeader = true
		}
		if err := in.SendMsg(&f); err != nil {
			return err
		}
	}
}

func (p *authProxy) calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.methods["/temporal.api.workflowservice.v1.WorkflowService/"+method]
}

func (p *authProxy) refusals() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// echoWorkflow is the smallest workflow that needs a worker: its task is
// polled and completed through the proxy.
func echoWorkflow(_ workflow.Context, s string) (string, error) { return "echo: " + s, nil }

// temporalclient.Dial with temporal.tls (CA, client certificate, server_name) and
// temporal.api_key reaches the dev server through a frontend that insists
// on both, and a workflow runs end to end over that connection. The key
// shows in no log line and no error.
func TestDialWithMutualTLSAndAnAPIKeyRunsAWorkflowThroughAnAuthenticatingFrontend(t *testing.T) {
	testenv.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const serverName = "temporal-frontend.test"
	apiKey := fmt.Sprintf("km-test-key-%d-do-not-print", time.Now().UnixNano())
	ca := testenv.NewCA(t, "temporal-test-ca")
	proxy := startAuthProxy(t, ca, serverName, apiKey)
	clientCert, clientKey := ca.Issue(t, "kingmaker-worker")

	cfg := config.Temporal{
		HostPort:  proxy.addr,
		Namespace: "default",
		TLS:       config.TLS{Enabled: true, CAFile: ca.CertFile, CertFile: clientCert, KeyFile: clientKey, ServerName: serverName},
		APIKey:    config.Secret(apiKey),
	}
	logs := &testenv.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := temporalclient.Dial(ctx, cfg, logger, nil)
	if err != nil {
		t.Fatalf("dial through the mTLS and API key frontend: %v", err)
	}
	defer c.Close()

	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
	if err != nil {
		t.Fatalf("DescribeNamespace through the frontend: %v", err)
	}
	if got := ns.GetNamespaceInfo().GetName(); got != cfg.Namespace {
		t.Fatalf("DescribeNamespace answered for %q, want %q", got, cfg.Namespace)
	}

	queue := "kingmaker-tls-" + strings.TrimPrefix(testenv.Keyspace(t), "t_")
	w := sdkworker.New(c, queue, sdkworker.Options{})
	w.RegisterWorkflow(echoWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue, WorkflowExecutionTimeout: time.Minute}, echoWorkflow, "over mTLS")
	if err != nil {
		t.Fatalf("start a workflow through the frontend: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("the workflow did not complete through the frontend: %v", err)
	}
	if got != "echo: over mTLS" {
		t.Fatalf("workflow result %q", got)
	}

	for _, m := range []string{"GetSystemInfo", "DescribeNamespace", "StartWorkflowExecution", "PollWorkflowTaskQueue", "RespondWorkflowTaskCompleted", "GetWorkflowExecutionHistory"} {
		if proxy.calls(m) == 0 {
			t.Errorf("no %s call reached the dev server through the frontend", m)
		}
	}
	if n := proxy.refusals(); n != 0 {
		t.Errorf("the frontend refused %d calls of the configured client: some went without the API key", n)
	}
	cfgJSON, _ := json.Marshal(cfg)
	for where, text := range map[string]string{"client logs": logs.String(), "config JSON": string(cfgJSON)} {
		if strings.Contains(text, apiKey) {
			t.Errorf("the API key appears in the %s", where)
		}
	}
	t.Logf("%d calls through the frontend; DescribeNamespace, a workflow start, task polls and completion among them", proxy.total())
}

func (p *authProxy) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.methods {
		n += c
	}
	return n
}

// Every way the TLS or API key settings can be wrong ends temporalclient.Dial with
// one line that names the setting to fix and never the key.
func TestDialFailuresNameTheTemporalSettingToFix(t *testing.T) {
	testenv.Integration(t)
	const serverName = "temporal-frontend.test"
	apiKey := fmt.Sprintf("km-test-key-%d-do-not-print", time.Now().UnixNano())
	wrongKey := "km-wrong-key-do-not-print"
	ca := testenv.NewCA(t, "temporal-test-ca")
	proxy := startAuthProxy(t, ca, serverName, apiKey)
	clientCert, clientKey := ca.Issue(t, "kingmaker-worker")
	other := testenv.NewCA(t, "another-ca")
	otherCert, otherKey := other.Issue(t, "client-of-another-ca")

	good := config.Temporal{
		HostPort:  proxy.addr,
		Namespace: "default",
		TLS:       config.TLS{Enabled: true, CAFile: ca.CertFile, CertFile: clientCert, KeyFile: clientKey, ServerName: serverName},
		APIKey:    config.Secret(apiKey),
	}
	cases := []struct {
		name   string
		change func(c *config.Temporal)
		want   []string
	}{
		{"no client certificate", func(c *config.Temporal) { c.TLS.CertFile, c.TLS.KeyFile = "", "" },
			[]string{"temporal.tls.cert_file"}},
		{"a client certificate of a CA the frontend does not trust", func(c *config.Temporal) { c.TLS.CertFile, c.TLS.KeyFile = otherCert, otherKey },
			[]string{"temporal.tls.cert_file"}},
		{"a CA that did not sign the frontend's certificate", func(c *config.Temporal) { c.TLS.CAFile = other.CertFile },
			[]string{"temporal.tls.ca_file"}},
		{"a server name the frontend's certificate does not hold", func(c *config.Temporal) { c.TLS.ServerName = "elsewhere.test" },
			[]string{"temporal.tls.server_name"}},
		{"a wrong API key", func(c *config.Temporal) { c.APIKey = config.Secret(wrongKey) },
			[]string{"refused the API key", "temporal.api_key", "KINGMAKER_TEMPORAL_API_KEY"}},
		{"no API key", func(c *config.Temporal) { c.APIKey = "" },
			[]string{"temporal.api_key", "KINGMAKER_TEMPORAL_API_KEY"}},
		{"a client key file that does not exist", func(c *config.Temporal) { c.TLS.KeyFile += ".missing" },
			[]string{"temporal.tls.cert_file/key_file"}},
		{"TLS to the dev server, which has none", func(c *config.Temporal) { c.HostPort = testenv.TemporalAddr() },
			[]string{"does not speak TLS", "temporal.tls.enabled"}},
		{"an API key without TLS settings, to the dev server", func(c *config.Temporal) { c.HostPort, c.TLS = testenv.TemporalAddr(), config.TLS{} },
			[]string{"does not speak TLS", "an api_key turns TLS on"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := good
			tc.change(&c)
			logs := &testenv.Buffer{}
			logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			start := time.Now()
			cl, err := temporalclient.Dial(ctx, c, logger, nil)
			if err == nil {
				cl.Close()
				t.Fatal("the dial succeeded")
			}
			msg := err.Error()
			t.Logf("after %v: %s", time.Since(start).Round(time.Millisecond), msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("want a message containing %q, got %q", w, msg)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("want one line, got %q", msg)
			}
			if errors.Is(err, temporalclient.ErrUnreachable) {
				t.Errorf("a refused setting is not an unreachable server: %q", msg)
			}
			for _, key := range []string{apiKey, wrongKey} {
				if strings.Contains(msg, key) || strings.Contains(logs.String(), key) {
					t.Errorf("an API key appears in the error or the client logs")
				}
			}
		})
	}
}
