package config

import (
	"strings"
	"testing"
	"time"
)

func TestServeDefaultsFillOnlyWhatIsLeftOut(t *testing.T) {
	cfg := loadExample(t)
	s := cfg.Serve
	if s.Listen != "127.0.0.1:8080" || s.Auth.Mode != AuthNone || s.TLS.ClientAuth != ClientAuthNone {
		t.Errorf("serve defaults: listen %q, auth %q, client_auth %q", s.Listen, s.Auth.Mode, s.TLS.ClientAuth)
	}
	l := s.Limits
	if *l.MaxBody != DefaultServeMaxBody || *l.MaxRows != DefaultServeMaxRows || *l.MaxConcurrent != DefaultServeMaxConcurrent ||
		l.QueueWait.D() != DefaultServeQueueWait || *l.ShadowQueueBytes != DefaultServeShadowQueueBytes {
		t.Errorf("limit defaults: %+v", l)
	}

	// An explicit 0 stays 0, and validation names it.
	cfg, err := Parse([]byte(minimalYAML + `
serve:
  limits: {max_rows: 0, queue_wait: 0s, max_body: 4MiB}
`))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Serve.Limits.MaxRows != 0 || *cfg.Serve.Limits.QueueWait != 0 || *cfg.Serve.Limits.MaxBody != 4<<20 {
		t.Errorf("explicit values were replaced: max_rows %d, queue_wait %s, max_body %s",
			*cfg.Serve.Limits.MaxRows, *cfg.Serve.Limits.QueueWait, *cfg.Serve.Limits.MaxBody)
	}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "serve.limits.max_rows: 0: want a whole number from 1 to 16777216") {
		t.Errorf("validation: %v\nwant it to refuse max_rows 0", err)
	}
	if err != nil && strings.Contains(err.Error(), "queue_wait") {
		t.Errorf("queue_wait 0 (refuse at once when busy) is valid: %v", err)
	}
}

const minimalYAML = `
models:
  - name: m
    source: {table: t}
    features: [{name: x, type: numeric}]
    label: {column: y}
    candidates: [{algorithm: logistic}]
`

func TestServeValidationNamesTheFieldToFix(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string
	}{
		{"a listen address without a port", `listen: localhost`, `serve.listen: "localhost" is not host:port`},
		{"metrics on the prediction address", `{listen: "127.0.0.1:8080", metrics_listen: "127.0.0.1:8080"}`,
			`serve.metrics_listen: "127.0.0.1:8080" is serve.listen too`},
		{"a certificate without its key", `tls: {cert_file: c.pem}`, `serve.tls: cert_file and key_file go together`},
		{"an unknown client_auth", `tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem, client_auth: always}`,
			`serve.tls.client_auth: unknown "always" (known: none, verify_if_given, require)`},
		{"required client certificates without a CA", `tls: {cert_file: c.pem, key_file: k.pem, client_auth: require}`,
			`serve.tls.client_ca_file: client_auth require needs the CA that signs client certificates`},
		{"a client CA without TLS", `tls: {client_ca_file: ca.pem}`, `serve.tls.client_ca_file: client certificates need TLS`},
		{"an unknown auth mode", `auth: {mode: password}`, `serve.auth.mode: unknown "password" (known: none, token, mtls, token_or_mtls)`},
		{"token auth without tokens", `auth: {mode: token}`, `serve.auth.tokens_file: auth mode token needs tokens: set tokens_file or tokens_env`},
		{"tokens without token auth", `auth: {tokens_file: t}`, `serve.auth.mode: tokens are configured but mode is none`},
		{"a bad variable name", `auth: {mode: token, tokens_env: "MY-TOKENS"}`, `serve.auth.tokens_env: "MY-TOKENS" is not an environment variable name`},
		{"mtls without client certificates", `auth: {mode: mtls}`, `serve.auth.mode: mtls needs client certificates: set serve.tls.client_ca_file`},
		{"open metrics with nothing protected", `auth: {open_metrics: true}`, `serve.auth.open_metrics: nothing is protected (mode none)`},
		{"a zero body limit", `limits: {max_body: 0}`, `serve.limits.max_body: 0: want a whole number from 1 to 1073741824`},
		{"negative concurrency", `limits: {max_concurrent: -1}`, `serve.limits.max_concurrent: -1: want a whole number from 1 to 65536`},
		{"zero features", `limits: {max_features: 0}`, `serve.limits.max_features: 0`},
		{"zero large requests", `limits: {max_concurrent_large: 0}`, `serve.limits.max_concurrent_large: 0: want a whole number from 1 to 65536`},
		{"a zero large body", `limits: {large_body: 0}`, `serve.limits.large_body: 0`},
		{"zero id bytes", `limits: {max_id_bytes: 0}`, `serve.limits.max_id_bytes: 0`},
		{"a zero shadow queue", `limits: {shadow_queue_bytes: 0}`, `serve.limits.shadow_queue_bytes: 0`},
		{"a long queue wait", `limits: {queue_wait: 5m}`, `serve.limits.queue_wait: 5m0s: want 0 (refuse at once when busy) up to 1m`},
		{"a zero body timeout", `limits: {body_timeout: 0s}`, `serve.limits.body_timeout: 0s: want a positive duration up to 10m`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(minimalYAML + "serve: " + indentFlow(c.yaml)))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("validation: %v\nwant %q", err, c.want)
			}
		})
	}
}

// indentFlow writes a one-line YAML mapping as the value of serve:.
func indentFlow(s string) string {
	if strings.HasPrefix(s, "{") {
		return s + "\n"
	}
	return "{" + s + "}\n"
}

func TestServeSizesParseWithUnits(t *testing.T) {
	cfg, err := Parse([]byte(minimalYAML + "serve: {limits: {max_body: 512KiB, shadow_queue_bytes: 1GiB, body_timeout: 2s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Serve.Limits
	if *l.MaxBody != 512<<10 || *l.ShadowQueueBytes != 1<<30 || l.BodyTimeout.D() != 2*time.Second {
		t.Errorf("read max_body %d, shadow_queue_bytes %d, body_timeout %s", *l.MaxBody, *l.ShadowQueueBytes, l.BodyTimeout)
	}
	if _, err := Parse([]byte(minimalYAML + "serve: {limits: {max_body: 1.5MiB}}\n")); err == nil || !strings.Contains(err.Error(), `"1.5MiB" is not a size`) {
		t.Errorf("a fractional size: %v", err)
	}
}
