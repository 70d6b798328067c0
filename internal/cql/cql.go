// Package cql opens Cassandra sessions from the config, with the errors a
// user can act on when the cluster cannot be reached. It owns no queries:
// those live with the package that owns their tables.
package cql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/tlsconf"
)

// ErrUnreachable means no Cassandra host answered.
var ErrUnreachable = errors.New("cassandra is unreachable")

// Cluster turns the config into a gocql cluster config. When withKeyspace is
// false the session has no default keyspace (schema apply creates it).
func Cluster(c config.Cassandra, withKeyspace bool) (*gocql.ClusterConfig, error) {
	cl, _, err := cluster(c, withKeyspace)
	return cl, err
}

func cluster(c config.Cassandra, withKeyspace bool) (*gocql.ClusterConfig, *tlsconf.Probe, error) {
	cl := gocql.NewCluster(c.Hosts...)
	cl.Port = c.Port
	if withKeyspace {
		cl.Keyspace = c.Keyspace
	}
	cons, err := gocql.ParseConsistencyWrapper(strings.ToUpper(c.Consistency))
	if err != nil {
		return nil, nil, fmt.Errorf("cassandra.consistency: %w", err)
	}
	cl.Consistency = cons
	cl.SerialConsistency = Serial(c)
	cl.ConnectTimeout = c.ConnectTimeout.D()
	cl.Timeout = c.Timeout.D()
	cl.WriteTimeout = c.Timeout.D()
	cl.ProtoVersion = 4
	cl.Logger = quietLogger{}
	cl.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 2}
	if c.LocalDC != "" {
		cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(c.LocalDC))
	} else {
		cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	}
	if c.Username != "" {
		cl.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password.Reveal()}
	}
	var probe *tlsconf.Probe
	if c.TLS.Enabled {
		tc, p, err := tlsconf.Config(c.TLS)
		if err != nil {
			return nil, nil, fmt.Errorf("cassandra.tls.%w", err)
		}
		probe = p
		// Without a server_name the driver checks the certificate against the
		// address it dialled.
		cl.SslOpts = &gocql.SslOptions{Config: tc, EnableHostVerification: !c.TLS.InsecureSkipVerify}
	}
	return cl, probe, nil
}

// Connect opens a session. Its errors say which hosts were tried and what to
// check; a missing keyspace points at `kingmaker schema apply`.
func Connect(c config.Cassandra, withKeyspace bool) (*gocql.Session, error) {
	cl, probe, err := cluster(c, withKeyspace)
	if err != nil {
		return nil, err
	}
	s, err := cl.CreateSession()
	if err != nil {
		if msg := err.Error(); probe.Unmatched() && !strings.Contains(msg, "x509:") && !strings.Contains(msg, "tls: failed to verify") {
			// The node asked for a client certificate it did not get. With
			// TLS 1.3 its refusal often reaches us only as a closed
			// connection or a timeout, which would read as an outage.
			return nil, certWanted(c, err)
		}
		err = Explain(c, err)
		if withKeyspace && errors.Is(err, ErrUnreachable) && keyspaceMissing(c) {
			// gocql reports a keyspace it cannot USE as "no connections".
			return nil, fmt.Errorf("cassandra keyspace %q does not exist on %s: run `kingmaker schema apply`, or check cassandra.keyspace",
				c.Keyspace, strings.Join(c.Hosts, ","))
		}
		return nil, err
	}
	return s, nil
}

// keyspaceMissing reports whether the cluster answers without a keyspace
// and has no keyspace of the configured name.
func keyspaceMissing(c config.Cassandra) bool {
	cl, err := Cluster(c, false)
	if err != nil {
		return false
	}
	s, err := cl.CreateSession()
	if err != nil {
		return false
	}
	defer s.Close()
	var name string
	err = s.Query(`SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?`, c.Keyspace).Scan(&name)
	return errors.Is(err, gocql.ErrNotFound)
}

// Explain turns a session error into a one-line message naming what to fix.
func Explain(c config.Cassandra, err error) error {
	where := fmt.Sprintf("%s (port %d)", strings.Join(c.Hosts, ","), c.Port)
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Keyspace") && strings.Contains(msg, "does not exist"),
		strings.Contains(msg, "keyspace") && strings.Contains(msg, "does not exist"):
		return fmt.Errorf("cassandra keyspace %q does not exist: run `kingmaker schema apply`", c.Keyspace)
	case strings.Contains(msg, "authentication") || strings.Contains(msg, "Provided username") ||
		strings.Contains(msg, "requires authentication"):
		return fmt.Errorf("cassandra at %s refused the credentials: check cassandra.username and KINGMAKER_CASSANDRA_PASSWORD: %v", where, err)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls: failed to verify"):
		return fmt.Errorf("cassandra at %s sent a TLS certificate that does not verify against cassandra.tls.ca_file (%s): check it and cassandra.tls.server_name: %v",
			where, orNone(c.TLS.CAFile, "unset: the system roots"), err)
	case tlsconf.ClientCertRefused(msg):
		return fmt.Errorf("cassandra at %s refused the TLS client certificate: check cassandra.tls.cert_file and key_file (a certificate of a CA the node trusts): %v", where, err)
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Errorf("cassandra at %s does not speak TLS on that port: check cassandra.tls.enabled and cassandra.port: %v", where, err)
	case strings.Contains(msg, "tls:"):
		return fmt.Errorf("cassandra at %s: the TLS handshake failed: check cassandra.tls: %v", where, err)
	case errors.Is(err, gocql.ErrNoConnectionsStarted), strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "no connections"), strings.Contains(msg, "i/o timeout"),
		strings.Contains(msg, "unable to discover protocol version"), strings.Contains(msg, "unable to create session"):
		return fmt.Errorf("%w at %s: is it running (make stack-up) and are cassandra.hosts/port right? (%v)", ErrUnreachable, where, err)
	}
	return fmt.Errorf("cassandra at %s: %w", where, err)
}

// certWanted names the cassandra.tls setting to fix when the node asked for
// a client certificate and none it accepts was configured.
func certWanted(c config.Cassandra, err error) error {
	where := fmt.Sprintf("%s (port %d)", strings.Join(c.Hosts, ","), c.Port)
	if c.TLS.CertFile == "" {
		return fmt.Errorf("cassandra at %s asked for a TLS client certificate: set cassandra.tls.cert_file and key_file (%v)", where, err)
	}
	return fmt.Errorf("cassandra at %s refused the TLS client certificate: check cassandra.tls.cert_file and key_file (a certificate of a CA the node trusts) (%v)", where, err)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// quietLogger drops the driver's own log lines: they repeat what Explain says
// and would land on the CLI's stderr.
type quietLogger struct{}

func (quietLogger) Print(...any)          {}
func (quietLogger) Printf(string, ...any) {}
func (quietLogger) Println(...any)        {}

// Serial returns the serial consistency of lightweight transactions.
func Serial(c config.Cassandra) gocql.SerialConsistency {
	if strings.EqualFold(c.SerialConsistency, "LOCAL_SERIAL") {
		return gocql.LocalSerial
	}
	return gocql.Serial
}
