package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/cql"
	"github.com/kingmaker-ml/kingmaker/registry"
)

// promoteResult is BenchmarkPromote's output.
type promoteResult struct {
	SerialConsistency string `json:"serial_consistency"`
	// Sequential promotions, each from the generation the previous one made.
	Sequential       Latencies `json:"sequential"`
	SequentialErrors int       `json:"sequential_errors"`
	// Rounds of Contenders goroutines promoting from the same generation.
	Rounds     int `json:"rounds"`
	Contenders int `json:"contenders"`
	// WinnersPerRound counts the successful promotions of each round:
	// exactly one is right.
	WinnersPerRound     []int     `json:"winners_per_round"`
	RoundsWithOneWinner int       `json:"rounds_with_one_winner"`
	Winners             Latencies `json:"winners"`
	Losers              Latencies `json:"losers"`
	// Errors are promotions that neither won nor lost cleanly (timeouts of
	// the Paxos round and the like), with a few of their messages.
	Errors       int       `json:"errors"`
	ErrorSamples []string  `json:"error_samples,omitempty"`
	RoundWall    Latencies `json:"round_wall"`
	// PointerMatches counts rounds after which the champion pointer holds
	// the round's winner at the next generation.
	PointerMatches int `json:"pointer_matches"`
}

// BenchmarkPromote measures registry.Promote, the champion pointer's
// compare-and-set: -kmbench.sequential promotions one after another (200 by
// default), then -kmbench.rounds rounds (20) of -kmbench.contenders
// goroutines (50) released together to promote from the same generation.
func BenchmarkPromote(b *testing.B) {
	s, c := benchCassandra(b)
	reg := registry.New(s, c.Keyspace, cql.Serial(c))
	res := promoteResult{SerialConsistency: c.SerialConsistency, Rounds: orDefault(*flagRounds, 20), Contenders: orDefault(*flagContend, 50)}
	ctx := context.Background()
	model := uniqueName("cas")
	versions := make([]gocql.UUID, res.Contenders)
	now := time.Now()
	for i := range versions {
		v := &registry.Version{Model: model, ID: registry.VersionID(now, fmt.Sprint(i)), Candidate: fmt.Sprint("c", i), Algorithm: "logistic",
			RunID: "bench", WindowFrom: Start, WindowTo: Start}
		if err := reg.SaveVersion(ctx, v, []byte("bench")); err != nil {
			b.Fatal(err)
		}
		versions[i] = v.ID
	}
	var (
		seq, won, lost, walls []float64
		champ                 *registry.Champion
	)
	for b.Loop() {
		for i := range orDefault(*flagSeq, 200) {
			began := time.Now()
			next, err := reg.Promote(ctx, registry.PromoteRequest{Model: model, Version: versions[i%len(versions)], Expected: champ,
				Action: registry.ActionManual, By: "bench", Reason: fmt.Sprint("sequential ", i)})
			seq = append(seq, ms(time.Since(began)))
			if err != nil {
				res.SequentialErrors++
				if champ, err = reg.Champion(ctx, model); err != nil {
					b.Fatal(err)
				}
				continue
			}
			champ = next
		}
		for r := range res.Rounds {
			from := champ
			go1 := make(chan struct{})
			var (
				mu      sync.Mutex
				wg      sync.WaitGroup
				winners int
				winner  gocql.UUID
			)
			began := time.Now()
			for k := range res.Contenders {
				wg.Go(func() {
					<-go1
					t0 := time.Now()
					_, err := reg.Promote(ctx, registry.PromoteRequest{Model: model, Version: versions[k], Expected: from,
						Action: registry.ActionManual, By: fmt.Sprint("contender ", k), Reason: fmt.Sprint("round ", r)})
					d := ms(time.Since(t0))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						winners++
						winner = versions[k]
						won = append(won, d)
					case errors.Is(err, registry.ErrCASLost):
						lost = append(lost, d)
					default:
						res.Errors++
						if len(res.ErrorSamples) < 5 {
							res.ErrorSamples = append(res.ErrorSamples, err.Error())
						}
					}
				})
			}
			close(go1)
			wg.Wait()
			walls = append(walls, ms(time.Since(began)))
			res.WinnersPerRound = append(res.WinnersPerRound, winners)
			if winners == 1 {
				res.RoundsWithOneWinner++
			}
			var err error
			if champ, err = reg.Champion(ctx, model); err != nil {
				b.Fatal(err)
			}
			if winners == 1 && champ != nil && champ.Version == winner && champ.Generation == from.Generation+1 {
				res.PointerMatches++
			}
		}
	}
	res.Sequential, res.Winners, res.Losers, res.RoundWall = LatenciesOf(seq), LatenciesOf(won), LatenciesOf(lost), LatenciesOf(walls)
	b.ReportMetric(res.Sequential.P50, "seq-p50-ms")
	b.ReportMetric(res.Sequential.P99, "seq-p99-ms")
	b.ReportMetric(float64(res.RoundsWithOneWinner)/float64(max(1, len(res.WinnersPerRound))), "one-winner-share")
	writeResult(b, res)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
