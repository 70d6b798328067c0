// Package tlsconf builds the client TLS configuration of a config.TLS block
// (cassandra.tls, temporal.tls) from its PEM files, and tells apart, when a
// connection fails, a server that wanted a client certificate it did not get.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/kingmaker-ml/kingmaker/config"
)

// Config reads the files of t. Its errors start with the field to fix
// (ca_file, cert_file/key_file), for the caller to prefix with the block.
// The probe notes what the server asked for during handshakes.
func Config(t config.TLS) (*tls.Config, *Probe, error) {
	tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("ca_file: %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	var cert *tls.Certificate
	if t.CertFile != "" || t.KeyFile != "" {
		c, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		cert = &c
	}
	p := &Probe{}
	tc.GetClientCertificate = p.clientCertificate(cert)
	return tc, p, nil
}

// Probe notes whether a server asked for a client certificate during a TLS
// handshake, and whether none of the configured one's CA would do. With TLS
// 1.3 a server refuses a client certificate after the handshake, and the
// client often sees only a closed connection or a timeout, not the alert:
// the probe still tells which setting to fix.
type Probe struct {
	asked, unmatched atomic.Bool
}

// Asked reports whether a server asked for a client certificate.
func (p *Probe) Asked() bool { return p != nil && p.asked.Load() }

// Unmatched reports whether a server asked for a client certificate and
// there was none it would accept (none configured, or of another CA).
func (p *Probe) Unmatched() bool { return p != nil && p.unmatched.Load() }

// clientCertificate answers the server's request as crypto/tls does by
// itself (the configured certificate if the server accepts its CA, else
// none), noting what it saw.
func (p *Probe) clientCertificate(cert *tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		p.asked.Store(true)
		if cert == nil || cri.SupportsCertificate(cert) != nil {
			p.unmatched.Store(true)
			return &tls.Certificate{}, nil
		}
		return cert, nil
	}
}

// ClientCertRefused reports whether an error message is the TLS alert of a
// server that refused our client certificate (or the lack of one).
func ClientCertRefused(msg string) bool {
	for _, alert := range []string{"certificate required", "bad certificate", "unknown certificate", "unsupported certificate", "expired certificate", "revoked certificate"} {
		if strings.Contains(msg, "remote error: tls: "+alert) {
			return true
		}
	}
	return false
}
