package dataset

import "hash/fnv"

// The holdout split. Scan marks a row as holdout (Batch.Holdout) when
// Holdout says so for its key and window.holdout_fraction, or when it falls
// in the last window.out_of_time of the window; every other labelled row
// is a training row. The split is by key, not drawn, so the candidates and
// the champion of a run are scored on the same rows.

// Holdout reports whether the row with this key belongs to the holdout: a
// stable hash of the key, the same on every worker and every run.
func Holdout(key string, fraction float64) bool {
	h := fnv.New64a()
	h.Write([]byte(key))
	return float64(h.Sum64()>>11)/float64(1<<53) < fraction
}
