// Package temporalclient dials Temporal from the config: address,
// namespace, TLS and API key, with errors that name the setting to fix when
// the frontend cannot be reached. The worker and the CLI both connect
// through it.
package temporalclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/tlsconf"
)

// ErrUnreachable means no Temporal frontend answered.
var ErrUnreachable = errors.New("temporal is unreachable")

// Dial connects to Temporal with the config's address, namespace, TLS and
// API key, with an error that says what to check when it cannot.
// metrics, when not nil, receives the SDK's own metrics.
func Dial(ctx context.Context, t config.Temporal, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts := client.Options{HostPort: t.HostPort, Namespace: t.Namespace, MetricsHandler: metrics, Identity: t.Identity}
	if logger != nil {
		opts.Logger = tlog.NewStructuredLogger(logger)
	} else {
		opts.Logger = tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	}
	var probe *tlsconf.Probe // nil without TLS: it then reports nothing
	if t.TLS.Enabled {
		tc, p, err := tlsconf.Config(t.TLS)
		probe = p
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.%w", err)
		}
		opts.ConnectionOptions.TLS = tc
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey.Reveal())
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, explainDial(t, err, probe)
	}
	return c, nil
}

// explainDial turns a failed dial into one line naming the setting to fix:
// the API key, a TLS file, or the address. The API key itself is never part
// of it.
func explainDial(t config.Temporal, err error, probe *tlsconf.Probe) error {
	where := fmt.Sprintf("temporal at %s (namespace %s)", t.HostPort, t.Namespace)
	msg := firstLine(err)
	connFailed := strings.Contains(msg, "connection error") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")
	switch code := status.Code(err); {
	case code == codes.Unauthenticated && t.APIKey == "":
		return fmt.Errorf("%s wants credentials: set temporal.api_key or KINGMAKER_TEMPORAL_API_KEY (%s)", where, msg)
	case code == codes.Unauthenticated:
		return fmt.Errorf("%s refused the API key: check temporal.api_key or KINGMAKER_TEMPORAL_API_KEY (%s)", where, msg)
	case code == codes.PermissionDenied:
		return fmt.Errorf("%s denied access: check that the API key of temporal.api_key or KINGMAKER_TEMPORAL_API_KEY may use temporal.namespace (%s)", where, msg)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls: failed to verify"):
		ca := t.TLS.CAFile
		if ca == "" {
			ca = "unset: the system roots"
		}
		return fmt.Errorf("%s sent a TLS certificate that does not verify against temporal.tls.ca_file (%s): check it and temporal.tls.server_name (%s)", where, ca, msg)
	case connFailed && probe.Unmatched() && t.TLS.CertFile == "":
		return fmt.Errorf("%s asked for a TLS client certificate: set temporal.tls.cert_file and key_file (%s)", where, msg)
	case connFailed && probe.Unmatched():
		return fmt.Errorf("%s asked for a TLS client certificate of a CA that did not issue temporal.tls.cert_file: check temporal.tls.cert_file and key_file (%s)", where, msg)
	case tlsconf.ClientCertRefused(msg):
		return fmt.Errorf("%s refused the TLS client certificate: check temporal.tls.cert_file and key_file (%s)", where, msg)
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Errorf("%s does not speak TLS: check temporal.tls.enabled (an api_key turns TLS on as well) (%s)", where, msg)
	case strings.Contains(msg, "tls:"):
		return fmt.Errorf("%s: the TLS handshake failed: check temporal.tls (%s)", where, msg)
	case connFailed && probe.Asked():
		return fmt.Errorf("%s closed the connection after asking for a TLS client certificate: check temporal.tls.cert_file and key_file (%s)", where, msg)
	}
	return fmt.Errorf("%w at %s (namespace %s): is it running (make stack-up) and is temporal.host_port right? (%v)",
		ErrUnreachable, t.HostPort, t.Namespace, msg)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
