package cql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

// The test stack runs Cassandra with PasswordAuthenticator (make stack-up
// sets KINGMAKER_CASSANDRA_AUTH=1), so credentials are really checked.
func TestCassandraRefusesMissingOrWrongCredentialsWithAClearMessage(t *testing.T) {
	testenv.Integration(t)
	good := testenv.CassandraConfig(t)
	if good.Username == "" {
		t.Fatal("the test stack runs Cassandra with authentication: export KINGMAKER_CASSANDRA_USERNAME and KINGMAKER_CASSANDRA_PASSWORD (make test does)")
	}
	s, err := cql.Connect(good, false)
	if err != nil {
		t.Fatalf("the configured credentials must work: %v", err)
	}
	s.Close()

	cases := []struct {
		name     string
		username string
		password string
	}{
		{"no credentials at all", "", ""},
		{"a wrong password", good.Username, "not-the-password"},
		{"an unknown user", "nobody", "nothing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Username, c.Password = tc.username, config.Secret(tc.password)
			s, err := cql.Connect(c, false)
			if err == nil {
				s.Close()
				t.Fatal("Cassandra accepted the connection: the test stack must run with KINGMAKER_CASSANDRA_AUTH=1 (make stack-reset, then make stack-up)")
			}
			msg := err.Error()
			if !strings.Contains(msg, "refused the credentials") || !strings.Contains(msg, "cassandra.username") {
				t.Fatalf("want a message naming the credentials to fix, got %q", msg)
			}
			if errors.Is(err, cql.ErrUnreachable) {
				t.Fatal("a refused login is not an unreachable cluster")
			}
			if tc.password != "" && strings.Contains(msg, tc.password) {
				t.Fatalf("the error leaks the password: %q", msg)
			}
		})
	}
}

func TestAMissingKeyspaceIsNamedNotReportedAsAnOutage(t *testing.T) {
	testenv.Integration(t)
	c := testenv.CassandraConfig(t)
	c.Keyspace = "kingmaker_no_such_keyspace"
	s, err := cql.Connect(c, true)
	if err == nil {
		s.Close()
		t.Fatal("connected to a keyspace that does not exist")
	}
	msg := err.Error()
	if errors.Is(err, cql.ErrUnreachable) || !strings.Contains(msg, `keyspace "kingmaker_no_such_keyspace" does not exist`) ||
		!strings.Contains(msg, "kingmaker schema apply") || strings.Contains(msg, "\n") {
		t.Fatalf("want one line naming the keyspace and schema apply, got %q", msg)
	}
}
