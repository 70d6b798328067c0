// Package chaos breaks Kingmaker's dependencies for real and checks what
// survives: a worker killed with SIGKILL while it trains or promotes, every
// node of a Cassandra cluster stopped while a run promotes, one node of three
// down during a hundred promotion races, concurrent retrains and manual
// promotions decided by the champion compare-and-set, a promoting or
// rolling-back writer killed between any two of its statements, the history
// of the champion pointer checked linearizable while cluster nodes are
// killed and paused, and bad data and tampered artifacts refused without
// touching the champion pointer.
//
// The package holds only tests (RELIABILITY.md reports what they measured).
// They run the real `kingmaker` binary, built in TestMain, against the
// shared development stack (Cassandra on 127.0.0.1, the Temporal dev server)
// and against the three-node cluster of scripts/cassandra-cluster.sh, which
// they start when it is not running and stop again if they started it. Each
// test works in a keyspace and on task queues of its own. They skip only
// under `go test -short`.
package chaos
