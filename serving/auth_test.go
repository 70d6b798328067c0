package serving_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/serving"
)

const (
	secretA = "a-secret-of-the-app-0123456789"
	secretB = "b-secret-of-the-batch-job-9876"
)

func mustTokens(t *testing.T, text string) []serving.Token {
	t.Helper()
	tokens, err := serving.ParseTokens("test tokens", text)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// send sends one request with optional headers to h.
func send(h http.Handler, method, path, body string, header ...string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Result().Header, rec.Body.Bytes()}
}

func TestBearerTokensGuardPredictionsAndNameTheActor(t *testing.T) {
	sf := newShadowFixture(t, func(o *serving.Options) {
		o.Auth = serving.Auth{Tokens: mustTokens(t, "app "+secretA+"\nbatch "+secretB)}
	})
	sf.runShadow()
	h := sf.srv.Handler()
	cases := []struct {
		name   string
		method string
		path   string
		header []string
		code   int
		want   string
	}{
		{"a prediction without credentials", "POST", "/v1/models/churn:predict", nil, 401,
			"no credentials: this server takes a bearer token (Authorization: Bearer TOKEN)"},
		{"a prediction with an unknown token", "POST", "/v1/models/churn:predict", []string{"Authorization", "Bearer not-a-token-of-this-server"}, 401,
			"the bearer token is not one this server accepts: check the client's token (serve.auth.tokens_file or tokens_env on the server)"},
		{"a prediction with a token one character short", "POST", "/v1/models/churn:predict", []string{"Authorization", "Bearer " + secretA[:len(secretA)-1]}, 401,
			"the bearer token is not one this server accepts"},
		{"basic authentication", "POST", "/v1/models/churn:predict", []string{"Authorization", "Basic YTpi"}, 401,
			"Authorization: this server takes a bearer token (Authorization: Bearer TOKEN)"},
		{"model metadata without credentials", "GET", "/v2/models/churn", nil, 401, "no credentials"},
		{"metrics without credentials", "GET", "/metrics", nil, 401, "no credentials"},
		{"readiness without credentials", "GET", "/v2/health/ready", nil, 401, "no credentials"},
		{"a prediction with a token", "POST", "/v1/models/churn:predict", []string{"Authorization", "Bearer " + secretB}, 200, `"predictions"`},
		{"metrics with a token", "GET", "/metrics", []string{"Authorization", "bearer " + secretA}, 200, "kingmaker_serving_auth_failures_total"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := ""
			if c.method == "POST" {
				body = shadowPredict
			}
			r := send(h, c.method, c.path, body, c.header...)
			if got := errorOf(r); r.code != c.code || !strings.Contains(got, c.want) {
				t.Errorf("status %d: %s\nwant %d with %q", r.code, clipped(r.body), c.code, c.want)
			}
			if c.code == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="kingmaker"` {
				t.Errorf("401 without WWW-Authenticate: Bearer: %v", r.header)
			}
		})
	}
	waitFor(t, 5*time.Second, "the shadow rows of the authenticated request", func() bool { return len(sf.sink.written()) == 2 })
	for _, p := range sf.sink.written() {
		if p.Actor != "token:batch" {
			t.Errorf("shadow row %d: actor %q, want token:batch (the token's name, not anything of the request)", p.Row, p.Actor)
		}
	}
	m := send(h, "GET", "/metrics", "", "Authorization", "Bearer "+secretA)
	for _, want := range []string{`kingmaker_serving_auth_failures_total{reason="bad_token"} 3`, `kingmaker_serving_auth_failures_total{reason="missing"} 4`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if logs := sf.logs.String(); strings.Contains(logs, secretA) || strings.Contains(logs, secretB) || strings.Contains(logs, "not-a-token") {
		t.Errorf("a token was logged:\n%s", logs)
	}
}

func TestMetricsAndHealthCanBeSeparatedFromPredictions(t *testing.T) {
	t.Run("open metrics are served without a token beside guarded predictions", func(t *testing.T) {
		_, srv := limitedServer(t, func(o *serving.Options) {
			o.Auth = serving.Auth{Tokens: mustTokens(t, "app "+secretA), OpenMetrics: true}
		})
		for _, p := range []string{"/metrics", "/v2/health/live", "/v2/health/ready"} {
			if r := send(srv.Handler(), "GET", p, ""); r.code != 200 {
				t.Errorf("GET %s without a token: status %d, want 200", p, r.code)
			}
		}
		if r := send(srv.Handler(), "POST", "/v2/models/churn/infer", churnInputs()); r.code != 401 {
			t.Errorf("a prediction without a token: status %d, want 401", r.code)
		}
	})
	t.Run("separate ops leave metrics and health to the ops handler alone", func(t *testing.T) {
		_, srv := limitedServer(t, func(o *serving.Options) {
			o.Auth = serving.Auth{Tokens: mustTokens(t, "app "+secretA)}
			o.SeparateOps = true
		})
		for _, p := range []string{"/metrics", "/v2/health/ready"} {
			if r := send(srv.Handler(), "GET", p, "", "Authorization", "Bearer "+secretA); r.code != 404 {
				t.Errorf("GET %s on the API: status %d, want 404", p, r.code)
			}
			if r := send(srv.OpsHandler(), "GET", p, ""); r.code != 200 {
				t.Errorf("GET %s on the ops handler without a token: status %d, want 200", p, r.code)
			}
		}
		if r := send(srv.OpsHandler(), "POST", "/v2/models/churn/infer", churnInputs()); r.code != 404 {
			t.Errorf("a prediction on the ops handler: status %d, want 404", r.code)
		}
	})
}

func TestClientCertificatesAuthenticateOverTLS(t *testing.T) {
	ca := testenv.NewCA(t, "clients")
	other := testenv.NewCA(t, "other")
	serverCA := testenv.NewCA(t, "server")
	certFile, keyFile := serverCA.Issue(t, "serve", "127.0.0.1")
	appCert, appKey := ca.Issue(t, "app-1")
	strangerCert, strangerKey := other.Issue(t, "stranger")

	for _, mode := range []struct {
		name       string
		clientAuth string
		tokens     bool
	}{
		{"certificates verified when given, or a token", config.ClientAuthVerify, true},
		{"certificates required", config.ClientAuthRequire, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			tc, err := serving.TLSConfig(config.ServeTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: ca.CertFile, ClientAuth: mode.clientAuth})
			if err != nil {
				t.Fatal(err)
			}
			sf := newShadowFixture(t, func(o *serving.Options) {
				o.Auth = serving.Auth{ClientCertificates: true}
				if mode.tokens {
					o.Auth.Tokens = mustTokens(t, "app "+secretA)
				}
			})
			sf.runShadow()
			ts := httptest.NewUnstartedServer(sf.srv.Handler())
			ts.TLS = tc
			ts.StartTLS()
			defer ts.Close()
			client := func(cert, key string) *http.Client {
				cfg := &tls.Config{RootCAs: serverCA.Pool}
				if cert != "" {
					c, err := tls.LoadX509KeyPair(cert, key)
					if err != nil {
						t.Fatal(err)
					}
					cfg.Certificates = []tls.Certificate{c}
				}
				return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
			}
			post := func(c *http.Client) (int, string, error) {
				resp, err := c.Post(ts.URL+"/v1/models/churn:predict", "application/json", strings.NewReader(shadowPredict))
				if err != nil {
					return 0, "", err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), nil
			}
			if code, body, err := post(client(appCert, appKey)); err != nil || code != 200 {
				t.Fatalf("a client certificate of the CA: status %d, %v: %s", code, err, body)
			}
			waitFor(t, 5*time.Second, "the shadow rows", func() bool { return len(sf.sink.written()) == 2 })
			if a := sf.sink.written()[0].Actor; a != "cert:CN=app-1" {
				t.Errorf("actor %q, want cert:CN=app-1 (the certificate's subject)", a)
			}
			// A client offers no certificate the server's CA list rules out,
			// so a stranger is refused at the handshake or answered 401.
			if code, body, err := post(client(strangerCert, strangerKey)); err == nil && code != 401 {
				t.Errorf("a certificate of another CA: status %d: %s", code, body)
			}
			code, body, err := post(client("", ""))
			switch {
			case mode.clientAuth == config.ClientAuthRequire && err == nil:
				t.Errorf("no certificate, though required: status %d: %s", code, body)
			case mode.clientAuth == config.ClientAuthVerify && (err != nil || code != 401 || !strings.Contains(body, "no credentials: this server takes a bearer token (Authorization: Bearer TOKEN) or a client certificate")):
				t.Errorf("no certificate and no token: status %d, %v: %s\nwant 401 naming both credentials", code, err, body)
			}
		})
	}
}

func TestTokenListsAreCheckedWithoutQuotingATokenBack(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"a line of one word", "app", `test tokens, entry 1: want "name token" (two words), got 1 words`},
		{"a short token", "app short-token", "test tokens, entry 1 (app): the token must be at least 16 printable ASCII characters"},
		{"a name used twice", "app " + secretA + "\napp " + secretB, "test tokens, entry 2: name app is also entry 1's"},
		{"a token shared by two names", "app " + secretA + ",job " + secretA, "test tokens, entry 2 (job): the same token as app"},
		{"a name with a space-free bad character", "a/b " + secretA, `test tokens, entry 1: name "a/b"`},
		{"nothing but comments", "# none yet\n\n", "test tokens holds no tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := serving.ParseTokens("test tokens", c.text)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), secretA) || strings.Contains(err.Error(), "short-token") {
				t.Errorf("the error quotes a token: %v", err)
			}
		})
	}
	tokens := mustTokens(t, "# clients\napp "+secretA+", job "+secretB)
	if len(tokens) != 2 || tokens[1].Name != "job" {
		t.Errorf("tokens %v, want app and job", tokens)
	}
	if s := tokens[0].String() + tokens[0].GoString(); strings.Contains(s, secretA) {
		t.Errorf("a token prints its secret: %s", s)
	}
}

func TestAuthFromConfigReadsTokensFromAFileAndTheEnvironment(t *testing.T) {
	file := t.TempDir() + "/tokens"
	if err := writeFile(file, "app "+secretA+"\n"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KM_TOKENS": "job " + secretB}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := serving.AuthFromConfig(config.ServeAuth{Mode: config.AuthToken, TokensFile: file, TokensEnv: "KM_TOKENS"}, lookup)
	if err != nil || len(a.Tokens) != 2 || a.ClientCertificates {
		t.Fatalf("auth %+v, %v: want the tokens app and job", a, err)
	}
	for _, c := range []struct {
		name string
		a    config.ServeAuth
		want string
	}{
		{"a missing tokens file", config.ServeAuth{Mode: config.AuthToken, TokensFile: file + ".gone"}, "serve.auth.tokens_file: open"},
		{"an unset variable", config.ServeAuth{Mode: config.AuthToken, TokensEnv: "KM_NONE"}, "serve.auth.tokens_env: the environment variable KM_NONE is not set"},
		{"the same client in both", config.ServeAuth{Mode: config.AuthToken, TokensFile: file, TokensEnv: "KM_TOKENS_DUP"}, "serve.auth: token app is in both tokens_file and tokens_env"},
	} {
		env["KM_TOKENS_DUP"] = "app " + secretB
		t.Run(c.name, func(t *testing.T) {
			if _, err := serving.AuthFromConfig(c.a, lookup); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }

func TestAServerOfClientCertificatesOnlyNamesTheCertificateItWants(t *testing.T) {
	_, srv := limitedServer(t, func(o *serving.Options) { o.Auth = serving.Auth{ClientCertificates: true} })
	cases := []struct {
		name   string
		header []string
		want   string
	}{
		{"no certificate", nil, "no client certificate: this server takes a client certificate signed by serve.tls.client_ca_file (over TLS)"},
		{"a bearer token instead", []string{"Authorization", "Bearer " + secretA}, "Authorization: this server takes a client certificate signed by serve.tls.client_ca_file (over TLS)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := send(srv.Handler(), "POST", "/v2/models/churn/infer", churnInputs(), c.header...)
			if got := errorOf(r); r.code != 401 || got != c.want {
				t.Errorf("status %d: %q\nwant 401 with %q", r.code, got, c.want)
			}
			if r.header.Get("WWW-Authenticate") != "" {
				t.Errorf("WWW-Authenticate %q from a server that takes no tokens", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	if got := metric(t, srv.OpsHandler(), `kingmaker_serving_auth_failures_total{reason="no_certificate"}`); got != "1" {
		t.Errorf("no_certificate failures %s, want 1", got)
	}
}
