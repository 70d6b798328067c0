package schema

import (
	"testing"

	"github.com/kingmaker-ml/kingmaker/config"
)

func TestReplicationNamesEachDataCentreAsAStringLiteral(t *testing.T) {
	cases := []struct {
		name string
		r    config.Replication
		want string
	}{
		{"simple strategy", config.Replication{Class: "SimpleStrategy", Factor: 3},
			"{'class': 'SimpleStrategy', 'replication_factor': 3}"},
		{"data centres in name order", config.Replication{Class: "NetworkTopologyStrategy", DataCenters: map[string]int{"dc2": 2, "dc1": 3}},
			"{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"},
		{"a quote in a name stays inside its literal", config.Replication{Class: "NetworkTopologyStrategy", DataCenters: map[string]int{"dc1': 1} AND durable_writes = false; --": 1}},
			"{'class': 'NetworkTopologyStrategy', 'dc1'': 1} AND durable_writes = false; --': 1}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := replicationCQL(c.r); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
