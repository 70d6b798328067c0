package serving

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/kingmaker-ml/kingmaker/config"
)

// Auth says who may call the server. A caller proves who it is with a
// bearer token (Authorization: Bearer TOKEN) or, on a TLS listener that
// verifies client certificates, with its certificate; its name is the
// actor recorded with the shadow rows of its requests. The zero Auth lets
// everyone in, as anonymous.
type Auth struct {
	// Tokens are the bearer tokens the server accepts, by name.
	Tokens []Token
	// ClientCertificates accepts a client certificate the TLS listener
	// verified; the caller is its subject.
	ClientCertificates bool
	// OpenMetrics serves /metrics and the health endpoints to anyone.
	OpenMetrics bool
}

// Required reports whether a caller must prove who it is.
func (a Auth) Required() bool { return len(a.Tokens) > 0 || a.ClientCertificates }

// Token is one bearer token and the name of the client that holds it.
type Token struct {
	Name   string
	secret [sha256.Size]byte
}

// String names the token, never its secret.
func (t Token) String() string { return "token " + t.Name }

// GoString names the token, never its secret.
func (t Token) GoString() string { return t.String() }

// MinTokenBytes is the shortest token ParseTokens accepts.
const MinTokenBytes = 16

var (
	tokenName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)
	tokenSecret = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

// ParseTokens reads "name token" pairs, one per line or separated by
// commas; blank lines and lines starting with # are skipped. Names are
// unique, tokens at least MinTokenBytes of printable ASCII. Errors name the
// line (from, such as "serve.auth.tokens_file /etc/kingmaker/tokens",
// starts them) and never quote a token.
func ParseTokens(from, text string) ([]Token, error) {
	var tokens []Token
	names := map[string]int{}
	secrets := map[[sha256.Size]byte]string{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, ",", "\n")))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s, entry %d: want \"name token\" (two words), got %d words", from, n, len(fields))
		}
		name, secret := fields[0], fields[1]
		if !tokenName.MatchString(name) {
			return nil, fmt.Errorf("%s, entry %d: name %q: want letters, digits, _ . @ or -, at most 64", from, n, clip(name))
		}
		if prev, dup := names[name]; dup {
			return nil, fmt.Errorf("%s, entry %d: name %s is also entry %d's: give every client its own name", from, n, name, prev)
		}
		if len(secret) < MinTokenBytes || !tokenSecret.MatchString(secret) {
			return nil, fmt.Errorf("%s, entry %d (%s): the token must be at least %d printable ASCII characters (e.g. openssl rand -hex 32)", from, n, name, MinTokenBytes)
		}
		sum := sha256.Sum256([]byte(secret))
		if other, dup := secrets[sum]; dup {
			return nil, fmt.Errorf("%s, entry %d (%s): the same token as %s: give every client its own", from, n, name, other)
		}
		names[name], secrets[sum] = n, name
		tokens = append(tokens, Token{Name: name, secret: sum})
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s holds no tokens: add \"name token\" lines", from)
	}
	return tokens, nil
}

type actorKey struct{}

// actorOf is the authenticated caller of r: "token:NAME", "cert:SUBJECT",
// or "" when the server authenticates no one.
func actorOf(r *http.Request) string {
	a, _ := r.Context().Value(actorKey{}).(string)
	return a
}

// Reasons of kingmaker_serving_auth_failures_total.
const (
	authMissing       = "missing"
	authBadToken      = "bad_token"
	authNoCertificate = "no_certificate"
)

// authenticate lets through the requests of known callers, with their
// name in the context, and answers 401 to the others. The message says
// what to send; it never quotes what was sent.
func (s *Server) authenticate(next http.Handler) http.Handler {
	a := s.opts.Auth
	if !a.Required() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, reason, msg := a.identify(r)
		if reason != "" {
			s.metrics.authFailures.WithLabelValues(reason).Inc()
			if len(a.Tokens) > 0 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kingmaker"`)
			}
			writeError(w, &apiError{http.StatusUnauthorized, msg})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, actor)))
	})
}

// identify checks r's credentials: a bearer token when it sends one, else
// a verified client certificate.
func (a Auth) identify(r *http.Request) (actor, reason, msg string) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || len(a.Tokens) == 0 {
			return "", authBadToken, "Authorization: this server takes " + a.accepts()
		}
		if name, ok := a.token(strings.TrimSpace(secret)); ok {
			return "token:" + name, "", ""
		}
		return "", authBadToken, "the bearer token is not one this server accepts: check the client's token (serve.auth.tokens_file or tokens_env on the server)"
	}
	if a.ClientCertificates && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return "cert:" + r.TLS.VerifiedChains[0][0].Subject.String(), "", ""
	}
	if a.ClientCertificates && len(a.Tokens) == 0 {
		return "", authNoCertificate, "no client certificate: this server takes " + a.accepts()
	}
	return "", authMissing, "no credentials: this server takes " + a.accepts()
}

func (a Auth) accepts() string {
	switch {
	case len(a.Tokens) > 0 && a.ClientCertificates:
		return "a bearer token (Authorization: Bearer TOKEN) or a client certificate signed by serve.tls.client_ca_file"
	case len(a.Tokens) > 0:
		return "a bearer token (Authorization: Bearer TOKEN)"
	}
	return "a client certificate signed by serve.tls.client_ca_file (over TLS)"
}

// token finds the token of secret. It compares the digest of secret with
// every token's in constant time, and goes through all of them, so the
// time taken says nothing of which token, or how much of one, matched.
func (a Auth) token(secret string) (string, bool) {
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range a.Tokens {
		if subtle.ConstantTimeCompare(sum[:], a.Tokens[i].secret[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return a.Tokens[found].Name, true
}

// AuthFromConfig reads the tokens of serve.auth (its file and its
// environment variable, through lookup) and says which credentials the
// server takes.
func AuthFromConfig(a config.ServeAuth, lookup func(string) (string, bool)) (Auth, error) {
	out := Auth{OpenMetrics: a.OpenMetrics, ClientCertificates: a.Mode == config.AuthMTLS || a.Mode == config.AuthTokenOrMTLS}
	if a.Mode != config.AuthToken && a.Mode != config.AuthTokenOrMTLS {
		return out, nil
	}
	if a.TokensFile != "" {
		b, err := os.ReadFile(a.TokensFile)
		if err != nil {
			return Auth{}, fmt.Errorf("serve.auth.tokens_file: %w", err)
		}
		tokens, err := ParseTokens("serve.auth.tokens_file "+a.TokensFile, string(b))
		if err != nil {
			return Auth{}, err
		}
		out.Tokens = append(out.Tokens, tokens...)
	}
	if a.TokensEnv != "" {
		v, ok := lookup(a.TokensEnv)
		if !ok {
			return Auth{}, fmt.Errorf("serve.auth.tokens_env: the environment variable %s is not set", a.TokensEnv)
		}
		tokens, err := ParseTokens("serve.auth.tokens_env "+a.TokensEnv, v)
		if err != nil {
			return Auth{}, err
		}
		out.Tokens = append(out.Tokens, tokens...)
	}
	names := map[string]bool{}
	secrets := map[[sha256.Size]byte]bool{}
	for _, t := range out.Tokens {
		if names[t.Name] || secrets[t.secret] {
			return Auth{}, fmt.Errorf("serve.auth: token %s is in both tokens_file and tokens_env (or two clients share a token): keep one", t.Name)
		}
		names[t.Name], secrets[t.secret] = true, true
	}
	return out, nil
}
