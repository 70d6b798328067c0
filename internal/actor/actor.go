// Package actor says who runs a command that changes what is served or
// decided (promote, rollback, shadow, approve, reject), for the promotion
// ledger, the shadow history and the decision records.
//
// Where the deployment establishes an identity the actor is that identity,
// and a --by flag cannot name someone else: the subject of the client
// certificate the command connects with (cassandra.tls for the registry,
// temporal.tls for runs), else temporal.identity, the name the deployment
// gives its Temporal clients. Otherwise it is --by, or the OS user@host.
// It does not authenticate anyone itself: a certificate's subject is only
// as trustworthy as the server that checks it.
package actor

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/user"

	"github.com/kingmaker-ml/kingmaker/config"
)

// Sources of an actor's name.
const (
	SourceCertificate = "client certificate"
	SourceIdentity    = "temporal.identity"
	SourceFlag        = "--by"
	SourceOS          = "os user"
)

// Actor is who a command acts as.
type Actor struct {
	// Name is what the ledger and the records keep.
	Name string
	// Source says where Name comes from (one of the Source constants).
	Source string
}

// Established reports whether the deployment, not the person typing the
// command, names the actor.
func (a Actor) Established() bool { return a.Source == SourceCertificate || a.Source == SourceIdentity }

func (a Actor) String() string { return a.Name + " (" + a.Source + ")" }

// Registry is the actor of a command that writes to the registry through
// cassandra: promote, rollback, shadow.
func Registry(cfg *config.Config, by string) (Actor, error) {
	return resolve(cfg.Cassandra.TLS, "cassandra.tls", cfg.Temporal.Identity, by)
}

// Temporal is the actor of a command that talks to runs through Temporal:
// approve, reject, retrain, schedule pause and resume.
func Temporal(cfg *config.Config, by string) (Actor, error) {
	return resolve(cfg.Temporal.TLS, "temporal.tls", cfg.Temporal.Identity, by)
}

func resolve(tls config.TLS, block, identity, by string) (Actor, error) {
	var a Actor
	switch {
	case tls.Enabled && tls.CertFile != "":
		name, err := Subject(tls.CertFile)
		if err != nil {
			return Actor{}, fmt.Errorf("%s.cert_file: %w", block, err)
		}
		a = Actor{Name: name, Source: SourceCertificate}
	case identity != "":
		a = Actor{Name: identity, Source: SourceIdentity}
	case by != "":
		return Actor{Name: by, Source: SourceFlag}, nil
	default:
		return Actor{Name: osUser(), Source: SourceOS}, nil
	}
	if by != "" && by != a.Name {
		return Actor{}, fmt.Errorf("--by %q: this deployment records who acts from its %s (%s); leave --by out", by, a.Source, a.Name)
	}
	return a, nil
}

// Subject returns the name a client certificate gives its holder: the
// subject's common name, or the whole subject when it has none.
func Subject(certFile string) (string, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", certFile, err)
	}
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName, nil
	}
	if s := cert.Subject.String(); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("%s: the certificate names no subject", certFile)
}

// osUser is user@host of the process, the actor when nothing better is known.
func osUser() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
