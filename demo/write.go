package demo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gocql/gocql"
)

// batchRows is how many rows of one partition go into one unlogged batch (about
// 5 KiB, Cassandra's batch warning threshold):
// single-partition batches are applied as one mutation by Cassandra.
const batchRows = 40

// Write inserts every churn row of spec into keyspace.events: WriteTable
// of EventsTable.
func Write(ctx context.Context, s *gocql.Session, keyspace string, spec Spec, parallelism int, progress func(written int64)) error {
	return WriteTable(ctx, s, keyspace, EventsTable, spec, parallelism, progress)
}

// WriteTable inserts every row of spec into keyspace.table (the churn rows
// into events, the delivery rows into deliveries), one day partition per
// worker with at most parallelism partitions in flight. progress, when not
// nil, is called with the number of rows written so far (from several
// goroutines). Rewriting the same spec overwrites the same rows.
func WriteTable(ctx context.Context, s *gocql.Session, keyspace string, table Table, spec Spec, parallelism int, progress func(written int64)) error {
	if spec.Days < 1 || spec.RowsPerDay < 1 {
		return fmt.Errorf("seed: --days and --rows-per-day must be at least 1 (got %d and %d)", spec.Days, spec.RowsPerDay)
	}
	def, err := table.def()
	if err != nil {
		return err
	}
	insert := fmt.Sprintf(def.insert, keyspace)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	days := make(chan int)
	var (
		written  atomic.Int64
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for range max(1, parallelism) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for day := range days {
				if err := writeDay(ctx, s, insert, def.args, spec, day, func(n int) {
					total := written.Add(int64(n))
					if progress != nil {
						progress(total)
					}
				}); err != nil {
					fail(fmt.Errorf("seed day %s: %w", spec.DayDate(day).Format("2006-01-02"), err))
				}
			}
		}()
	}
loop:
	for day := range spec.Days {
		select {
		case days <- day:
		case <-ctx.Done():
			break loop
		}
	}
	close(days)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func writeDay(ctx context.Context, s *gocql.Session, insert string, args func(Spec, int, int) []any, spec Spec, day int, done func(int)) error {
	for from := 0; from < spec.RowsPerDay; from += batchRows {
		to := min(from+batchRows, spec.RowsPerDay)
		b := s.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
		for i := from; i < to; i++ {
			b.Query(insert, args(spec, day, i)...)
		}
		if err := s.ExecuteBatch(b); err != nil {
			return err
		}
		done(to - from)
	}
	return nil
}
