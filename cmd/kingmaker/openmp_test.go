package main

import (
	"slices"
	"testing"
)

func TestPassiveOpenMPIsAddedOnlyWhenTheOperatorSetNone(t *testing.T) {
	env := []string{"PATH=/usr/bin", "HOME=/root"}
	got, again := passiveOpenMP(env)
	if !again || !slices.Equal(got, []string{"PATH=/usr/bin", "HOME=/root", "OMP_WAIT_POLICY=PASSIVE"}) {
		t.Errorf("passiveOpenMP(%q) = %q, %v; want OMP_WAIT_POLICY=PASSIVE added and a new exec", env, got, again)
	}
	if len(env) != 2 {
		t.Errorf("passiveOpenMP changed its argument: %q", env)
	}
	for _, set := range [][]string{{"OMP_WAIT_POLICY=ACTIVE", "PATH=/usr/bin"}, {"PATH=/usr/bin", "OMP_WAIT_POLICY="}} {
		if got, again := passiveOpenMP(set); again || !slices.Equal(got, set) {
			t.Errorf("passiveOpenMP(%q) = %q, %v; want the operator's setting kept and no new exec", set, got, again)
		}
	}
}
