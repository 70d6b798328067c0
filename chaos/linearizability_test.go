package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// The history of the champion pointer, checked for linearizability: clients
// promote, roll back and read the pointers of a few models at once through
// the registry while nodes of the cluster are killed and restarted, every
// operation is recorded with when it was called and when it returned, and
// porcupine searches for an order of the operations, each taking effect at
// one instant inside its interval, that a single pointer with its ledger
// would have produced.
//
// The sequential specification is a stack of versions with a generation:
// a promotion from (generation, version) pushes its version if the pointer
// is still that, and loses otherwise; a rollback pops (the ledger walk of
// registry.RollbackTarget); a read returns the top and the generation.
// An operation whose outcome is unknown (a timeout, a node that went away)
// may have taken effect at any time after it was called, or never: it gets
// the end of the history as its return time and the model lets it either
// apply or not.

const (
	linModels         = 3 // partitions, checked separately
	linClients        = 3 // per model, racing each other
	linVersions       = 5 // per model
	linMaxOps         = 30000
	linDuration       = 90 * time.Second  // of the workload, longer while the first killed node restarts
	linMaxDuration    = 150 * time.Second // of the workload in any case
	linOpTimeout      = 10 * time.Second
	linPromoteRetries = 3 // attempts of a promotion whose outcome stays unknown
	linCheckTimeout   = 60 * time.Second
)

type linKind int

const (
	linRead linKind = iota
	linPromote
	linRollback
)

type linResult int

const (
	linOK      linResult = iota // read: what it saw; promote, rollback: won
	linLost                     // the compare-and-set found another pointer
	linNone                     // rollback: no previous champion
	linUnknown                  // may or may not have taken effect
)

// linInput is what an operation asked. Versions are numbered 1..linVersions
// per model; 0 is "no champion".
type linInput struct {
	model            string
	kind             linKind
	fromGen          int64 // promote: the pointer it expects
	fromVer, version int
}

// linOutput is how it ended: the pointer it read or made (gen, ver), or for
// a lost rollback the pointer it expected (gen, ver).
type linOutput struct {
	result linResult
	gen    int64
	ver    int
}

// linState is the model's state: the generation and the stack of versions
// the ledger describes, one byte a version, bottom first.
type linState struct {
	gen   int64
	stack string
}

func (s linState) top() int {
	if s.stack == "" {
		return 0
	}
	return int(s.stack[len(s.stack)-1])
}

// pointerModel is the sequential specification of the champion pointer.
var pointerModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range h {
			m := op.Input.(linInput).model
			by[m] = append(by[m], op)
		}
		keys := make([]string, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(by))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() []any { return []any{linState{}} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.kind {
		case linRead:
			if out.gen == s.gen && out.ver == s.top() {
				return []any{s}
			}
		case linPromote:
			matches := s.gen == in.fromGen && s.top() == in.fromVer
			next := linState{gen: s.gen + 1, stack: s.stack + string(rune(in.version))}
			switch {
			case out.result == linOK && matches && out.gen == next.gen:
				return []any{next}
			case out.result == linLost && !matches:
				return []any{s}
			case out.result == linUnknown && matches:
				return []any{s, next}
			case out.result == linUnknown:
				return []any{s}
			}
		case linRollback:
			canPop := len(s.stack) >= 2
			var popped linState
			if canPop {
				popped = linState{gen: s.gen + 1, stack: s.stack[:len(s.stack)-1]}
			}
			switch {
			case out.result == linOK && canPop && out.gen == popped.gen && out.ver == popped.top():
				return []any{popped}
			case out.result == linLost && (out.gen != s.gen || out.ver != s.top()):
				return []any{s}
			case out.result == linNone && !canPop:
				return []any{s}
			case out.result == linUnknown && canPop:
				return []any{s, popped}
			case out.result == linUnknown:
				return []any{s}
			}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		res := [...]string{"ok", "lost", "none", "unknown"}[out.result]
		switch in.kind {
		case linRead:
			return fmt.Sprintf("read() -> v%d@%d", out.ver, out.gen)
		case linPromote:
			return fmt.Sprintf("promote(v%d@%d -> v%d) -> %s %d", in.fromVer, in.fromGen, in.version, res, out.gen)
		default:
			return fmt.Sprintf("rollback() -> %s v%d@%d", res, out.ver, out.gen)
		}
	},
	DescribeState: func(state any) string {
		s := state.(linState)
		vs := make([]string, len(s.stack))
		for i := range s.stack {
			vs[i] = fmt.Sprint("v", int(s.stack[i]))
		}
		return fmt.Sprintf("gen %d [%s]", s.gen, strings.Join(vs, " "))
	},
}

// promoter moves the champion pointer: the registry, or a broken imitation.
type promoter func(ctx context.Context, req registry.PromoteRequest) (*registry.Champion, error)

// linWorkload is the models, versions and recorded history of one check.
type linWorkload struct {
	reg      *registry.Registry
	promote  promoter
	models   []string
	versions map[string][]gocql.UUID
	began    time.Time

	mu      sync.Mutex
	history []porcupine.Operation
	ops     atomic.Int64
	counts  map[string]int // "kind result" -> operations
}

func newLinWorkload(t *testing.T, reg *registry.Registry, prefix string, promote promoter) *linWorkload {
	t.Helper()
	w := &linWorkload{reg: reg, promote: promote, versions: map[string][]gocql.UUID{}, counts: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for m := range linModels {
		model := fmt.Sprintf("%s-%d", prefix, m)
		w.models = append(w.models, model)
		for i := range linVersions {
			v := &registry.Version{Model: model, ID: registry.VersionID(time.Now(), fmt.Sprintf("%s-v%d", model, i+1)),
				Candidate: fmt.Sprintf("v%d", i+1), Algorithm: "logistic", RunID: "linearizability", WorkflowID: "linearizability",
				WindowFrom: seedStart, WindowTo: weekEnd}
			if err := reg.SaveVersion(ctx, v, []byte(fmt.Sprintf("artifact of %s v%d", model, i+1))); err != nil {
				t.Fatal(err)
			}
			w.versions[model] = append(w.versions[model], v.ID)
		}
	}
	w.began = time.Now()
	return w
}

func (w *linWorkload) now() int64 { return time.Since(w.began).Nanoseconds() }

// number is a version's number in its model, 0 for none.
func (w *linWorkload) number(model string, v gocql.UUID) int {
	for i, x := range w.versions[model] {
		if x == v {
			return i + 1
		}
	}
	return -1 // a version nobody promoted: the model refuses it
}

func (w *linWorkload) record(client int, in linInput, call int64, out linOutput, ret int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.history = append(w.history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	w.counts[fmt.Sprintf("%s %s", [...]string{"read", "promote", "rollback"}[in.kind], [...]string{"ok", "lost", "none", "unknown"}[out.result])]++
	w.ops.Add(1)
}

// read records a read of the pointer and returns it; nil when it failed (a
// failed read changes nothing and is left out of the history).
func (w *linWorkload) read(ctx context.Context, client int, model string) (*registry.Champion, bool) {
	ctx, cancel := context.WithTimeout(ctx, linOpTimeout)
	defer cancel()
	call := w.now()
	c, err := w.reg.Champion(ctx, model)
	ret := w.now()
	if err != nil {
		return nil, false
	}
	out := linOutput{result: linOK}
	if c != nil {
		out.gen, out.ver = c.Generation, w.number(model, c.Version)
	}
	w.record(client, linInput{model: model, kind: linRead}, call, out, ret)
	return c, true
}

// promoteFrom records a promotion of version from what the client read,
// retried with the same request while its outcome is unknown.
func (w *linWorkload) promoteFrom(ctx context.Context, client int, model string, from *registry.Champion, version, attempt int) {
	in := linInput{model: model, kind: linPromote, version: version}
	if from != nil {
		in.fromGen, in.fromVer = from.Generation, w.number(model, from.Version)
	}
	req := registry.PromoteRequest{Model: model, Version: w.versions[model][version-1], Expected: from, Action: registry.ActionManual,
		By: fmt.Sprintf("client-%d", client), Reason: fmt.Sprintf("linearizability operation %d", attempt)}
	call := w.now()
	out := linOutput{result: linUnknown}
	for range linPromoteRetries {
		actx, cancel := context.WithTimeout(ctx, linOpTimeout)
		c, err := w.promote(actx, req)
		cancel()
		var lost *registry.CASLostError
		if err == nil {
			out = linOutput{result: linOK, gen: c.Generation, ver: w.number(model, c.Version)}
			break
		}
		if errors.As(err, &lost) {
			out = linOutput{result: linLost}
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	ret := w.now()
	if out.result == linUnknown {
		ret = -1 // set to the end of the history
	}
	w.record(client, in, call, out, ret)
}

// rollback records a rollback. It is not retried: a second rollback after an
// unseen success would roll back once more.
func (w *linWorkload) rollback(ctx context.Context, client int, model string) {
	actx, cancel := context.WithTimeout(ctx, linOpTimeout)
	defer cancel()
	call := w.now()
	c, err := w.reg.Rollback(actx, model, fmt.Sprintf("client-%d", client), "linearizability")
	ret := w.now()
	var lost *registry.CASLostError
	out := linOutput{result: linOK}
	switch {
	case err == nil:
		out.gen, out.ver = c.Generation, w.number(model, c.Version)
	case errors.As(err, &lost) && lost.Wanted.Expected != nil:
		out = linOutput{result: linLost, gen: lost.Wanted.Expected.Generation, ver: w.number(model, lost.Wanted.Expected.Version)}
	case errors.Is(err, registry.ErrNoPrevious):
		out.result = linNone
	default:
		out.result, ret = linUnknown, -1
	}
	w.record(client, linInput{model: model, kind: linRollback}, call, out, ret)
}

// run has linClients clients per model read and then promote (6 in 10) or
// roll back (2 in 10) from what they read, pausing 100-400 ms between rounds,
// until stop is closed or the operations reach maxOps.
func (w *linWorkload) run(ctx context.Context, stop <-chan struct{}, maxOps int64, seed uint64) {
	var wg sync.WaitGroup
	for mi, model := range w.models {
		for c := range linClients {
			client := mi*linClients + c
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(client)))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if w.ops.Load() >= maxOps || ctx.Err() != nil {
						return
					}
					cur, ok := w.read(ctx, client, model)
					if !ok {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					switch p := rng.IntN(10); {
					case p < 6:
						w.promoteFrom(ctx, client, model, cur, 1+rng.IntN(linVersions), i)
					case p < 8:
						w.rollback(ctx, client, model)
					}
					// Paced: with 0-60 ms pauses (about 150 operations a
					// second) a killed node took 150 s instead of 25 s to
					// rejoin, catching up on two busy cores.
					time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
}

// check runs porcupine over the recorded history and returns its verdict,
// with the path of a visualisation when the history is not linearizable.
func (w *linWorkload) check(t *testing.T) (porcupine.CheckResult, string, time.Duration) {
	t.Helper()
	var end int64
	for _, op := range w.history {
		end = max(end, op.Return, op.Call)
	}
	for i := range w.history {
		if w.history[i].Return < 0 {
			w.history[i].Return = end + 1
		}
	}
	model := pointerModel.ToModel()
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, w.history, linCheckTimeout)
	took := time.Since(began)
	if res == porcupine.Ok {
		return res, "", took
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("kingmaker-%s-%d.html", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().Unix()))
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		t.Logf("visualise the history: %v", err)
		path = ""
	}
	return res, path, took
}

func (w *linWorkload) summary() string {
	keys := make([]string, 0, len(w.counts))
	for k := range w.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, w.counts[k])
	}
	return strings.Join(parts, ", ")
}

// linFault is one fault of the nemesis, injected on one node at a time so a
// quorum of the three replicas stays.
type linFault struct {
	name   string
	inject func(stop <-chan struct{}) error
}

// linFaults are injected in turn: a node paused (SIGSTOP) for longer than an
// operation's timeout and resumed, so that operations it coordinated end
// without an answer while their proposals may still commit once it runs
// again (outcomes that are truly unknown), and it returns having missed
// rounds; and a node killed (kill -9) and started again (the script waits
// until it is Up/Normal).
var linFaults = []linFault{
	pause(2, 11*time.Second), killAndRestart(3), pause(1, 11*time.Second), killAndRestart(2), pause(3, 11*time.Second), killAndRestart(1),
}

func killAndRestart(node int) linFault {
	n := fmt.Sprint(node)
	return linFault{name: "kill node" + n, inject: func(stop <-chan struct{}) error {
		if out, err := clusterScript("kill", n); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		select {
		case <-stop:
		case <-time.After(3 * time.Second):
		}
		if out, err := clusterScript("start", n); err != nil {
			return fmt.Errorf("start it again: %w\n%s", err, out)
		}
		return nil
	}}
}

func pause(node int, d time.Duration) linFault {
	return linFault{name: fmt.Sprintf("pause node%d", node), inject: func(stop <-chan struct{}) error {
		stack := os.Getenv("KINGMAKER_STACK_DIR")
		if stack == "" {
			stack = filepath.Join(root, ".stack")
		}
		b, err := os.ReadFile(filepath.Join(stack, "cassandra-cluster", fmt.Sprintf("node%d", node), "cassandra.pid"))
		if err != nil {
			return err
		}
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err != nil {
			return fmt.Errorf("pid file of node%d: %w", node, err)
		}
		p, err := os.FindProcess(pid)
		if err != nil {
			return err
		}
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			return err
		}
		select {
		case <-stop:
		case <-time.After(d):
		}
		return p.Signal(syscall.SIGCONT)
	}}
}

// linearizableWhileNodesAreKilled runs the workload on the cluster while
// the nemesis injects linFaults one after another, then checks the history.
func linearizableWhileNodesAreKilled(t *testing.T, hosts []string) {
	c, s := registryKeyspace(t, target{hosts: hosts, replication: 3}, nil)
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	w := newLinWorkload(t, reg, "lin", reg.Promote)
	ctx, cancel := context.WithTimeout(context.Background(), linMaxDuration+2*time.Minute)
	defer cancel()

	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	restarted := make(chan struct{}) // the first killed node is back
	nemesisDone := make(chan struct{})
	var faults []string
	go func() {
		defer close(nemesisDone)
		var once sync.Once
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Second):
			}
			if time.Since(w.began) > linDuration-20*time.Second {
				<-stop // no fault that would outlast the workload
				return
			}
			f := linFaults[i%len(linFaults)]
			began := time.Now()
			if err := f.inject(stop); err != nil {
				t.Errorf("%s: %v", f.name, err)
				halt()
				return
			}
			faults = append(faults, fmt.Sprintf("%s (%.0fs)", f.name, time.Since(began).Seconds()))
			if strings.HasPrefix(f.name, "kill") {
				once.Do(func() { close(restarted) })
			}
		}
	}()
	// Stop after linDuration, or later, up to linMaxDuration, when the first
	// killed node has not rejoined yet (a loaded machine takes minutes).
	go func() {
		select {
		case <-stop:
			return
		case <-time.After(linDuration):
		}
		select {
		case <-restarted:
		case <-stop:
		case <-time.After(linMaxDuration - linDuration):
		}
		halt()
	}()
	w.run(ctx, stop, linMaxOps, 1)
	halt()
	ran := time.Since(w.began)
	<-nemesisDone
	if out, err := clusterScript("start"); err != nil {
		t.Fatalf("bring every node back: %v\n%s", err, out)
	}
	kills := 0
	for _, f := range faults {
		if strings.HasPrefix(f, "kill") {
			kills++
		}
	}
	if w.ops.Load() < 1000 || kills == 0 {
		t.Fatalf("only %d operations in %.0fs with %d nodes killed: too little to say anything (%s; faults: %s)", w.ops.Load(), ran.Seconds(), kills, w.summary(), strings.Join(faults, ", "))
	}
	res, path, took := w.check(t)
	t.Logf("%d operations on %d models by %d clients in %.1fs while %d nodes were killed and restarted (faults: %s): %s; porcupine: %s in %.2fs",
		w.ops.Load(), linModels, linModels*linClients, ran.Seconds(), kills, strings.Join(faults, ", "), w.summary(), res, took.Seconds())
	if res != porcupine.Ok {
		t.Fatalf("the history of the champion pointer is %s, not linearizable (see %s)", res, path)
	}
}

const linRounds = 15 // of the lockstep workload

// rounds runs the lockstep workload: in each round every client reads its
// model's pointer, and once all have read, all promote a version of their
// own from what they read, at the same moment.
func (w *linWorkload) rounds(ctx context.Context, n int) {
	clients := len(w.models) * linClients
	for r := range n {
		read := make([]*registry.Champion, clients)
		ok := make([]bool, clients)
		var wg sync.WaitGroup
		for client := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				read[client], ok[client] = w.read(ctx, client, w.models[client/linClients])
			}()
		}
		wg.Wait()
		for client := range clients {
			if !ok[client] {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.promoteFrom(ctx, client, w.models[client/linClients], read[client], 1+(client+r)%linVersions, r)
			}()
		}
		wg.Wait()
	}
}

// plainWritePromote is the compare-and-set broken on purpose: it reads the
// pointer and, when it is what the request expects, moves it and writes the
// ledger row with a plain UPDATE. Two promotions that read the same pointer
// both succeed.
func plainWritePromote(s *gocql.Session, keyspace string, reg *registry.Registry) promoter {
	return func(ctx context.Context, req registry.PromoteRequest) (*registry.Champion, error) {
		cur, err := reg.Champion(ctx, req.Model)
		if err != nil {
			return nil, err
		}
		if (cur == nil) != (req.Expected == nil) || cur != nil && (cur.Generation != req.Expected.Generation || cur.Version != req.Expected.Version) {
			return nil, &registry.CASLostError{Model: req.Model, Current: cur, Wanted: req}
		}
		next := &registry.Champion{Model: req.Model, Version: req.Version, Generation: 1, PromotedAt: time.Now().UTC().Truncate(time.Millisecond),
			PromotedBy: req.By, Reason: req.Reason}
		var previous any
		if cur != nil {
			next.Generation, previous = cur.Generation+1, cur.Version
		}
		err = s.Query(fmt.Sprintf(`UPDATE %s.champion_ledger SET champion_version = ?, champion_generation = ?,
			version = ?, previous_version = ?, action = ?, promoted_at = ?, promoted_by = ?, reason = ?
			WHERE model = ? AND generation = ?`, keyspace),
			next.Version, next.Generation, next.Version, previous, string(req.Action), next.PromotedAt, next.PromotedBy, next.Reason,
			req.Model, next.Generation).WithContext(ctx).Exec()
		if err != nil {
			return nil, err
		}
		return next, nil
	}
}

// aPlainWriteIsFlagged runs the lockstep workload twice on the cluster, once
// through the registry and once through plainWritePromote, and wants the
// checker to pass the first history and flag the second.
func aPlainWriteIsFlagged(t *testing.T, hosts []string) {
	c, s := registryKeyspace(t, target{hosts: hosts, replication: 3}, nil)
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cas := newLinWorkload(t, reg, "lockstep-cas", reg.Promote)
	cas.rounds(ctx, linRounds)
	res, path, took := cas.check(t)
	t.Logf("compare-and-set: %d rounds, %d operations (%s): porcupine %s in %.2fs", linRounds, cas.ops.Load(), cas.summary(), res, took.Seconds())
	if res != porcupine.Ok {
		t.Fatalf("the lockstep rounds through the registry are %s, want linearizable (see %s)", res, path)
	}

	plain := newLinWorkload(t, reg, "lockstep-plain", plainWritePromote(s, c.Keyspace, reg))
	plain.rounds(ctx, linRounds)
	res, path, took = plain.check(t)
	t.Logf("plain write: %d rounds, %d operations (%s): porcupine %s in %.2fs (%s)", linRounds, plain.ops.Load(), plain.summary(), res, took.Seconds(), path)
	if res != porcupine.Illegal {
		t.Fatalf("the lockstep rounds through a plain write are %s, want them flagged as not linearizable", res)
	}
}

// The model itself, on histories small enough to check by hand.
func TestThePointerModelAcceptsExactlyTheHistoriesOfOnePointer(t *testing.T) {
	const end = 1000 // return time of operations with an unknown outcome
	op := func(call, ret int64, in linInput, out linOutput) porcupine.Operation {
		in.model = "m"
		return porcupine.Operation{Input: in, Call: call, Output: out, Return: ret}
	}
	read := func(call, ret int64, gen int64, ver int) porcupine.Operation {
		return op(call, ret, linInput{kind: linRead}, linOutput{result: linOK, gen: gen, ver: ver})
	}
	promote := func(call, ret int64, fromGen int64, fromVer, ver int, res linResult, gen int64) porcupine.Operation {
		return op(call, ret, linInput{kind: linPromote, fromGen: fromGen, fromVer: fromVer, version: ver}, linOutput{result: res, gen: gen})
	}
	rollback := func(call, ret int64, res linResult, gen int64, ver int) porcupine.Operation {
		return op(call, ret, linInput{kind: linRollback}, linOutput{result: res, gen: gen, ver: ver})
	}
	cases := []struct {
		name    string
		history []porcupine.Operation
		ok      bool
	}{
		{"a promotion, a read of it and a rollback to the first champion", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, 3, 1, 1, 2, linOK, 2), read(4, 5, 2, 2), rollback(6, 7, linOK, 3, 1), read(8, 9, 3, 1),
		}, true},
		{"two promotions from the same generation both winning", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, 5, 1, 1, 2, linOK, 2), promote(3, 6, 1, 1, 3, linOK, 2),
		}, false},
		{"two concurrent promotions from the same generation, one winning and one losing", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, 5, 1, 1, 2, linOK, 2), promote(3, 6, 1, 1, 3, linLost, 0), read(7, 8, 2, 2),
		}, true},
		{"a read of a version nobody promoted", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), read(2, 3, 2, 3),
		}, false},
		{"a promotion with an unknown outcome that a later read shows took effect", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, end, 1, 1, 2, linUnknown, 0), read(5, 6, 1, 1), read(7, 8, 2, 2),
		}, true},
		{"a promotion with an unknown outcome that never took effect", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, end, 1, 1, 2, linUnknown, 0), read(5, 6, 1, 1), promote(7, 8, 1, 1, 3, linOK, 2),
		}, true},
		{"a promotion told it lost whose version a later read shows", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, 3, 1, 1, 2, linLost, 0), read(5, 6, 2, 2),
		}, false},
		{"a read that goes back to an older generation", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, 3, 1, 1, 2, linOK, 2), read(4, 5, 2, 2), read(6, 7, 1, 1),
		}, false},
		{"a rollback that skips a version", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, 3, 1, 1, 2, linOK, 2), promote(4, 5, 2, 2, 3, linOK, 3), rollback(6, 7, linOK, 4, 1),
		}, false},
		{"a rollback of the first champion finding no previous one", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), rollback(2, 3, linNone, 0, 0),
		}, true},
		{"a rollback that lost though the pointer was still what it expected", []porcupine.Operation{
			promote(0, 1, 0, 0, 1, linOK, 1), promote(2, 3, 1, 1, 2, linOK, 2), rollback(4, 5, linLost, 2, 2), read(6, 7, 2, 2),
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(pointerModel.ToModel(), tc.history); got != tc.ok {
				t.Fatalf("linearizable: %v, want %v", got, tc.ok)
			}
		})
	}
}
