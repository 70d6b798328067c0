package actor_test

import (
	"os"
	"strings"
	"testing"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/internal/actor"
	"github.com/kingmaker-ml/kingmaker/internal/testenv"
)

func TestTheActorIsWhoTheDeploymentEstablishesAndByCannotOverrideIt(t *testing.T) {
	ca := testenv.NewCA(t, "ops-ca")
	aliceCert, aliceKey := ca.Issue(t, "alice")
	workerCert, workerKey := ca.Issue(t, "kingmaker-worker")
	withCert := func(tls *config.TLS, cert, key string) {
		*tls = config.TLS{Enabled: true, CAFile: ca.CertFile, CertFile: cert, KeyFile: key}
	}
	host, _ := os.Hostname()
	cases := []struct {
		name     string
		setup    func(*config.Config)
		temporal bool // the Temporal actor, else the registry's
		by       string
		want     string
		source   string
		refused  string
	}{
		{"without an identity --by names who acts", nil, false, "bob", "bob", actor.SourceFlag, ""},
		{"without an identity or --by it is the OS user", nil, false, "", "@" + host, actor.SourceOS, ""},
		{"temporal.identity names who acts", func(c *config.Config) { c.Temporal.Identity = "release-bot" }, false, "", "release-bot", actor.SourceIdentity, ""},
		{"temporal.identity refuses a --by naming someone else", func(c *config.Config) { c.Temporal.Identity = "release-bot" }, true, "mallory", "", "",
			`--by "mallory": this deployment records who acts from its temporal.identity (release-bot); leave --by out`},
		{"a --by that repeats the identity is accepted", func(c *config.Config) { c.Temporal.Identity = "release-bot" }, true, "release-bot", "release-bot", actor.SourceIdentity, ""},
		{"cassandra's client certificate names who writes to the registry", func(c *config.Config) {
			withCert(&c.Cassandra.TLS, aliceCert, aliceKey)
			c.Temporal.Identity = "release-bot"
		}, false, "", "alice", actor.SourceCertificate, ""},
		{"the certificate refuses a --by naming someone else", func(c *config.Config) { withCert(&c.Cassandra.TLS, aliceCert, aliceKey) }, false, "bob", "", "",
			`--by "bob": this deployment records who acts from its client certificate (alice)`},
		{"temporal's client certificate names who answers a run", func(c *config.Config) {
			withCert(&c.Cassandra.TLS, aliceCert, aliceKey)
			withCert(&c.Temporal.TLS, workerCert, workerKey)
		}, true, "", "kingmaker-worker", actor.SourceCertificate, ""},
		{"a certificate file that is not one is named", func(c *config.Config) { withCert(&c.Cassandra.TLS, aliceKey, aliceKey) }, false, "", "", "",
			"cassandra.tls.cert_file: " + aliceKey + " holds no PEM certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := &config.Config{}
			cfg.SetDefaults()
			if c.setup != nil {
				c.setup(cfg)
			}
			resolve := actor.Registry
			if c.temporal {
				resolve = actor.Temporal
			}
			a, err := resolve(cfg, c.by)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("got %v, %v; want the error %q", a, err, c.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(a.Name, c.want) || (c.source != actor.SourceOS && a.Name != c.want) || a.Source != c.source {
				t.Fatalf("got %s, want %q from %s", a, c.want, c.source)
			}
			if a.Established() != (c.source == actor.SourceCertificate || c.source == actor.SourceIdentity) {
				t.Fatalf("%s: Established() = %v", a, a.Established())
			}
		})
	}
}
