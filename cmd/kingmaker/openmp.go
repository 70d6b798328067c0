package main

import (
	"os"
	"strings"
	"syscall"
)

// OpenMP's wait policy. libxgboost runs its loops on OpenMP threads, and by
// default (GNU libgomp) a thread that finishes its share of a loop spins,
// burning its core, before it sleeps. In a worker that is the wrong trade:
// its cores are shared with the other trainings it runs at once, with
// Evaluate's bootstrap and, on small machines, with Cassandra, and a
// spinning thread takes the core any of them is waiting for. Measured on 2
// cores with other work running (BENCHMARKS.md, "Scale"), xgboost trained
// on 1M rows in 20-23 s with 18 CPU seconds by default, and in 5-8 s with 7
// CPU seconds with OMP_WAIT_POLICY=PASSIVE.
//
// libgomp reads the variable once, when it is loaded, which is before main
// runs; so a kingmaker built with the xgboost trainer, started without the
// variable, executes itself again with OMP_WAIT_POLICY=PASSIVE added. A
// value set by the operator is left as it is.

// passiveOpenMP returns environ with OMP_WAIT_POLICY=PASSIVE added, and
// true, when environ does not set OMP_WAIT_POLICY; else environ and false.
func passiveOpenMP(environ []string) ([]string, bool) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "OMP_WAIT_POLICY=") {
			return environ, false
		}
	}
	return append(environ[:len(environ):len(environ)], "OMP_WAIT_POLICY=PASSIVE"), true
}

// execWithPassiveOpenMP executes this program again with passiveOpenMP's
// environment when the build links OpenMP and the variable is unset. It
// returns only when it does not (or cannot: the program then runs with the
// default policy, which changes speed, not results).
func execWithPassiveOpenMP() {
	if !linksOpenMP {
		return
	}
	env, again := passiveOpenMP(os.Environ())
	if !again {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}
