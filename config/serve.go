package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Serve configures `kingmaker serve`: where it listens, TLS, who may call
// it, and the limits that keep a request from costing more memory or time
// than the server can give. Every limit left out of the file takes its
// default; a limit written as 0 is refused, never read as "the default".
type Serve struct {
	// Listen is the address of the prediction API.
	Listen string `yaml:"listen" json:"listen"`
	// MetricsListen, when set, serves /metrics and the health endpoints on
	// a second address of their own, without authentication, so that
	// Prometheus and probes need no prediction credential. The prediction
	// address then serves predictions and metadata only.
	MetricsListen string `yaml:"metrics_listen" json:"metrics_listen,omitempty"`
	// TLS of the prediction address (and of MetricsListen).
	TLS ServeTLS `yaml:"tls" json:"tls"`
	// Auth says who may call the prediction address.
	Auth ServeAuth `yaml:"auth" json:"auth"`
	// Limits bound what one request, and all of them at once, may cost.
	Limits ServeLimits `yaml:"limits" json:"limits"`
}

// Client certificate policies of serve.tls.client_auth.
const (
	ClientAuthNone    = "none"
	ClientAuthVerify  = "verify_if_given"
	ClientAuthRequire = "require"
)

// ServeTLS names the server certificate of `kingmaker serve` and, for
// client certificates, the CA that signs them.
type ServeTLS struct {
	CertFile string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file" json:"key_file,omitempty"`
	// ClientCAFile is the CA whose certificates clients may present.
	ClientCAFile string `yaml:"client_ca_file" json:"client_ca_file,omitempty"`
	// ClientAuth is none (no client certificates asked), verify_if_given
	// (a certificate is checked against ClientCAFile when a client sends
	// one) or require (no connection without one). It defaults to
	// verify_if_given when ClientCAFile is set, none otherwise.
	ClientAuth string `yaml:"client_auth" json:"client_auth,omitempty"`
}

// Enabled reports whether serve speaks TLS.
func (t ServeTLS) Enabled() bool { return t.CertFile != "" }

// Authentication modes of serve.auth.mode.
const (
	AuthNone        = "none"
	AuthToken       = "token"
	AuthMTLS        = "mtls"
	AuthTokenOrMTLS = "token_or_mtls"
)

// ServeAuth says how callers of the prediction address prove who they are.
// Tokens are never written to the config: they come from a file or an
// environment variable, one "name token" pair per line; the name is the
// actor recorded with the caller's shadow rows.
type ServeAuth struct {
	// Mode is none, token (a bearer token), mtls (a client certificate
	// signed by serve.tls.client_ca_file) or token_or_mtls (either).
	Mode string `yaml:"mode" json:"mode"`
	// TokensFile holds "name token" lines (# starts a comment).
	TokensFile string `yaml:"tokens_file" json:"tokens_file,omitempty"`
	// TokensEnv names an environment variable holding "name token" pairs,
	// one per line or separated by commas.
	TokensEnv string `yaml:"tokens_env" json:"tokens_env,omitempty"`
	// OpenMetrics serves /metrics and the health endpoints of the
	// prediction address without credentials (for a Prometheus or a probe
	// that has none, when MetricsListen is not used).
	OpenMetrics bool `yaml:"open_metrics" json:"open_metrics,omitempty"`
}

// Defaults of serve.limits.
const (
	DefaultServeMaxBody          = 1 << 20
	DefaultServeMaxRows          = 10_000
	DefaultServeMaxFeatures      = 1_000
	DefaultServeMaxConcurrent    = 32
	DefaultServeLargeBody        = 64 << 10
	DefaultServeMaxIDBytes       = 128
	DefaultServeQueueWait        = 100 * time.Millisecond
	DefaultServeBodyTimeout      = 10 * time.Second
	DefaultServeShadowQueueBytes = 64 << 20
)

// ServeLimits bound one request and the requests in flight. Each is checked
// before anything is allocated for it.
type ServeLimits struct {
	// MaxBody is the largest request body; larger ones get 413.
	MaxBody *ByteSize `yaml:"max_body" json:"max_body"`
	// MaxRows is the most rows of one request; more get 413.
	MaxRows *int `yaml:"max_rows" json:"max_rows"`
	// MaxFeatures is the most members of any JSON object of a request (a
	// v1 instance, a v2 input) and the most inputs of a v2 request.
	MaxFeatures *int `yaml:"max_features" json:"max_features"`
	// MaxConcurrent is how many prediction requests are read and answered
	// at once; past it a request waits at most QueueWait, then gets 503.
	MaxConcurrent *int `yaml:"max_concurrent" json:"max_concurrent"`
	// MaxConcurrentLarge is how many of them may be large (a body over
	// LargeBody, or of unknown length); left out, half the CPU cores, at
	// least 1, so that large batches cannot take every core from small
	// requests.
	MaxConcurrentLarge *int `yaml:"max_concurrent_large" json:"max_concurrent_large,omitempty"`
	// LargeBody is the body size past which a request is large.
	LargeBody *ByteSize `yaml:"large_body" json:"large_body"`
	// QueueWait is how long a request waits for one of MaxConcurrent.
	QueueWait *Duration `yaml:"queue_wait" json:"queue_wait"`
	// BodyTimeout is how long a client may take to send its body once it
	// holds one of MaxConcurrent (slow clients would hold it otherwise).
	BodyTimeout *Duration `yaml:"body_timeout" json:"body_timeout"`
	// MaxIDBytes is the longest row id or request id.
	MaxIDBytes *int `yaml:"max_id_bytes" json:"max_id_bytes"`
	// ShadowQueueBytes bounds the memory of the requests waiting to be
	// scored by a shadow; past it sampled requests are dropped and counted.
	ShadowQueueBytes *ByteSize `yaml:"shadow_queue_bytes" json:"shadow_queue_bytes"`
}

// setDefaults fills the serve fields left out of the file.
func (s *Serve) setDefaults(explicit fieldSet) {
	setStr := explicit.setStr
	setStr(&s.Listen, "127.0.0.1:8080")
	if s.TLS.ClientAuth == "" {
		s.TLS.ClientAuth = ClientAuthNone
		if s.TLS.ClientCAFile != "" {
			s.TLS.ClientAuth = ClientAuthVerify
		}
	}
	setStr(&s.Auth.Mode, AuthNone)
	l := &s.Limits
	fillPtr(&l.MaxBody, ByteSize(DefaultServeMaxBody))
	fillPtr(&l.MaxRows, DefaultServeMaxRows)
	fillPtr(&l.MaxFeatures, DefaultServeMaxFeatures)
	fillPtr(&l.MaxConcurrent, DefaultServeMaxConcurrent)
	fillPtr(&l.LargeBody, ByteSize(DefaultServeLargeBody))
	fillPtr(&l.QueueWait, Duration(DefaultServeQueueWait))
	fillPtr(&l.BodyTimeout, Duration(DefaultServeBodyTimeout))
	fillPtr(&l.MaxIDBytes, DefaultServeMaxIDBytes)
	fillPtr(&l.ShadowQueueBytes, ByteSize(DefaultServeShadowQueueBytes))
}

// fillPtr sets *p to v when the field was left out (nil); an explicit value,
// zero included, stays for validation to judge.
func fillPtr[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}

var (
	clientAuths = []string{ClientAuthNone, ClientAuthVerify, ClientAuthRequire}
	authModes   = []string{AuthNone, AuthToken, AuthMTLS, AuthTokenOrMTLS}
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (v *validator) serve(s *Serve) {
	v.hostPort("serve.listen", s.Listen)
	if s.MetricsListen != "" {
		v.hostPort("serve.metrics_listen", s.MetricsListen)
		if s.MetricsListen == s.Listen {
			v.add("serve.metrics_listen", "%q is serve.listen too: give it an address of its own, or leave it out", s.MetricsListen)
		}
	}
	t := s.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("serve.tls", "cert_file and key_file go together (the server's certificate and its key)")
	}
	v.oneOf("serve.tls.client_auth", t.ClientAuth, clientAuths)
	if t.ClientAuth != ClientAuthNone && t.ClientCAFile == "" {
		v.add("serve.tls.client_ca_file", "client_auth %s needs the CA that signs client certificates", t.ClientAuth)
	}
	if t.ClientCAFile != "" && !t.Enabled() {
		v.add("serve.tls.client_ca_file", "client certificates need TLS: set serve.tls.cert_file and key_file")
	}
	a := s.Auth
	v.oneOf("serve.auth.mode", a.Mode, authModes)
	tokens := a.Mode == AuthToken || a.Mode == AuthTokenOrMTLS
	switch {
	case tokens && a.TokensFile == "" && a.TokensEnv == "":
		v.add("serve.auth.tokens_file", "auth mode %s needs tokens: set tokens_file or tokens_env", a.Mode)
	case !tokens && (a.TokensFile != "" || a.TokensEnv != ""):
		v.add("serve.auth.mode", "tokens are configured but mode is %s: set mode token or token_or_mtls", a.Mode)
	}
	if a.TokensEnv != "" && !envName.MatchString(a.TokensEnv) {
		v.add("serve.auth.tokens_env", "%q is not an environment variable name", a.TokensEnv)
	}
	if (a.Mode == AuthMTLS || a.Mode == AuthTokenOrMTLS) && t.ClientAuth == ClientAuthNone {
		v.add("serve.auth.mode", "%s needs client certificates: set serve.tls.client_ca_file", a.Mode)
	}
	if a.OpenMetrics && a.Mode == AuthNone {
		v.add("serve.auth.open_metrics", "nothing is protected (mode none): leave it out")
	}
	l := s.Limits
	positive := func(field string, n int64, most int64) {
		if n < 1 || n > most {
			v.add("serve.limits."+field, "%d: want a whole number from 1 to %d", n, most)
		}
	}
	if l.MaxBody != nil {
		positive("max_body", int64(*l.MaxBody), 1<<30)
	}
	if l.LargeBody != nil {
		positive("large_body", int64(*l.LargeBody), 1<<30)
	}
	if l.ShadowQueueBytes != nil {
		positive("shadow_queue_bytes", int64(*l.ShadowQueueBytes), 1<<40)
	}
	for _, f := range []struct {
		name string
		p    *int
		most int64
	}{
		{"max_rows", l.MaxRows, 1 << 24}, {"max_features", l.MaxFeatures, 1 << 16},
		{"max_concurrent", l.MaxConcurrent, 1 << 16}, {"max_concurrent_large", l.MaxConcurrentLarge, 1 << 16}, {"max_id_bytes", l.MaxIDBytes, 1 << 16},
	} {
		if f.p != nil {
			positive(f.name, int64(*f.p), f.most)
		}
	}
	if l.QueueWait != nil && (*l.QueueWait < 0 || *l.QueueWait > Duration(time.Minute)) {
		v.add("serve.limits.queue_wait", "%s: want 0 (refuse at once when busy) up to 1m", *l.QueueWait)
	}
	if l.BodyTimeout != nil && (*l.BodyTimeout <= 0 || *l.BodyTimeout > Duration(10*time.Minute)) {
		v.add("serve.limits.body_timeout", "%s: want a positive duration up to 10m", *l.BodyTimeout)
	}
}

// ByteSize is a number of bytes, written as 1048576, 512KiB, 1MiB or 4MB.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	factor int64
}{ // longest suffixes first
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// ParseByteSize reads a size such as 1048576, 512KiB, 1MiB or 4MB.
func ParseByteSize(s string) (ByteSize, error) {
	num, factor := s, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<40)/factor {
		return 0, fmt.Errorf("%q is not a size: want a whole number of bytes, KiB, MiB or GiB (e.g. 1MiB)", s)
	}
	return ByteSize(n * factor), nil
}

// String writes the size in the largest binary unit that divides it.
func (b ByteSize) String() string {
	v := int64(b)
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

// UnmarshalYAML reads a number of bytes or a size with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes the size with its unit.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// MarshalText writes the size with its unit.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// Set reads a size, for a command-line flag.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("%q is not a size: want a positive size such as 1MiB", s)
	}
	*b = v
	return nil
}
