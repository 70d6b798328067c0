package cql_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

// portRecorder dials like net.Dialer and remembers the local port of every
// connection, so the test can find its own connections on the node.
type portRecorder struct {
	net.Dialer
	mu    sync.Mutex
	ports map[int]bool
}

func (d *portRecorder) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := d.Dialer.DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.ports[conn.LocalAddr().(*net.TCPAddr).Port] = true
		d.mu.Unlock()
	}
	return conn, err
}

// The dev node takes plain CQL and TLS on the same port (scripts/cassandra.sh
// sets client_encryption_options optional: true). The node's own view of
// its clients, system_views.clients, says whether each connection is
// encrypted: a session with cassandra.tls is, a plain one is not.
func TestASessionWithCassandraTLSIsEncryptedAndVerifiesTheNode(t *testing.T) {
	testenv.Integration(t)
	for _, tc := range []struct {
		name      string
		tls       bool
		encrypted bool
	}{
		{"with cassandra.tls and host verification", true, true},
		{"without cassandra.tls", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testenv.CassandraConfig(t)
			if tc.tls {
				c.TLS = testenv.CassandraTLS(t)
			}
			cl, err := cql.Cluster(c, false)
			if err != nil {
				t.Fatal(err)
			}
			if tc.tls && (cl.SslOpts == nil || !cl.SslOpts.EnableHostVerification || cl.SslOpts.Config.InsecureSkipVerify) {
				t.Fatal("cassandra.tls without insecure_skip_verify must verify the node's certificate and name")
			}
			rec := &portRecorder{Dialer: net.Dialer{Timeout: c.ConnectTimeout.D()}, ports: map[int]bool{}}
			cl.Dialer = rec
			s, err := cl.CreateSession()
			if err != nil {
				err = cql.Explain(c, err)
				if strings.Contains(err.Error(), "does not speak TLS") {
					t.Fatalf("%v\n(a node started by an older scripts/cassandra.sh has no TLS: scripts/cassandra.sh stop && scripts/cassandra.sh start)", err)
				}
				t.Fatal(err)
			}
			defer s.Close()

			iter := s.Query("SELECT port, ssl_enabled, ssl_protocol, connection_stage, username FROM system_views.clients").Iter()
			var (
				port           int
				ssl            bool
				proto, stage   string
				user           string
				mine, matching int
			)
			for iter.Scan(&port, &ssl, &proto, &stage, &user) {
				if !rec.ports[port] {
					continue
				}
				mine++
				if ssl == tc.encrypted && (!ssl || strings.HasPrefix(proto, "TLSv1.")) {
					matching++
				} else {
					t.Errorf("connection from port %d: ssl_enabled=%v ssl_protocol=%q, want ssl_enabled=%v", port, ssl, proto, tc.encrypted)
				}
				// A connection of the pool may still be logging in.
				if stage == "ready" && user != c.Username {
					t.Errorf("connection from port %d is logged in as %q, want %q", port, user, c.Username)
				}
			}
			if err := iter.Close(); err != nil {
				t.Fatal(err)
			}
			if mine == 0 {
				t.Fatalf("none of the session's %d connections is in system_views.clients", len(rec.ports))
			}
			t.Logf("%d of the session's connections seen by the node, ssl_enabled=%v (protocol %q)", mine, tc.encrypted, proto)
		})
	}
}

// A TLS setting that cannot work is refused with one line that names the
// field to fix, never with "is it running?".
func TestCassandraTLSFailuresNameTheFieldToFix(t *testing.T) {
	testenv.Integration(t)
	good := testenv.CassandraTLS(t)
	other := testenv.NewCA(t, "another-ca")
	otherCert, otherKey := other.Issue(t, "client-of-another-ca")

	cases := []struct {
		name   string
		change func(c *config.TLS)
		want   string
	}{
		{"a CA that did not sign the node's certificate", func(c *config.TLS) { c.CAFile = other.CertFile }, "cassandra.tls.ca_file"},
		{"a server name the node's certificate does not hold", func(c *config.TLS) { c.ServerName = "cassandra.example.com" }, "cassandra.tls.server_name"},
		{"no client certificate", func(c *config.TLS) { c.CertFile, c.KeyFile = "", "" }, "cassandra.tls.cert_file"},
		{"a client certificate of a CA the node does not trust", func(c *config.TLS) { c.CertFile, c.KeyFile = otherCert, otherKey }, "cassandra.tls.cert_file"},
		{"a CA file that does not exist", func(c *config.TLS) { c.CAFile += ".missing" }, "cassandra.tls.ca_file"},
		{"a key file that does not match the certificate", func(c *config.TLS) { c.KeyFile = otherKey }, "cassandra.tls.cert_file/key_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testenv.CassandraConfig(t)
			c.TLS = good
			tc.change(&c.TLS)
			s, err := cql.Connect(c, false)
			if err == nil {
				s.Close()
				t.Fatal("the node accepted the connection")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("want a message naming %s, got %q", tc.want, msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("want one line, got %q", msg)
			}
			if errors.Is(err, cql.ErrUnreachable) || strings.Contains(msg, "is it running") {
				t.Errorf("a refused TLS setting is not an unreachable cluster: %q", msg)
			}
		})
	}
}

// A TLS client on a port that speaks plain CQL only is told to check
// cassandra.tls.enabled. No stack needed: a listener answers like a
// plain-only node would, with a CQL frame.
func TestTLSToAPlainCQLPortNamesCassandraTLSEnabled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// An ERROR frame of protocol v4 (opcode 0x00), as a plain node
			// answers bytes it cannot parse.
			conn.Write([]byte{0x84, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0xA, 0, 0})
			conn.Close()
		}
	}()
	c := testenv.CassandraConfig(t)
	c.Hosts = []string{"127.0.0.1"}
	c.Port = ln.Addr().(*net.TCPAddr).Port
	c.Username = ""
	c.TLS.Enabled = true
	s, err := cql.Connect(c, false)
	if err == nil {
		s.Close()
		t.Fatal("connected to a listener that speaks no TLS")
	}
	msg := err.Error()
	if !strings.Contains(msg, "cassandra.tls.enabled") || !strings.Contains(msg, strconv.Itoa(c.Port)) {
		t.Fatalf("want a message naming cassandra.tls.enabled and the port, got %q", msg)
	}
}
