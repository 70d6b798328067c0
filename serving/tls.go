package serving

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/kingmaker-ml/kingmaker/config"
)

// TLSConfig is the server TLS configuration of serve.tls: its certificate
// and, with a client CA, the client certificates it asks for and checks.
// Errors name the field to fix.
func TLSConfig(t config.ServeTLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("serve.tls.cert_file/key_file: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(t.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("serve.tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("serve.tls.client_ca_file: %s holds no PEM certificate", t.ClientCAFile)
	}
	tc.ClientCAs = pool
	switch t.ClientAuth {
	case config.ClientAuthRequire:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	case config.ClientAuthVerify:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
