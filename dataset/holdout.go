package dataset

// The holdout split. Scan marks a row as holdout (Batch.Holdout) when
// Holdout says so for its key and window.holdout_fraction, or when it falls
// in the last window.out_of_time of the window; every other labelled row
// is a training row. The split is by key, not drawn, so the candidates and
// the champion of a run are scored on the same rows.

// Holdout reports whether the row with this key belongs to the holdout: a
// stable hash of the key, the same on every worker and every run.
func Holdout(key string, fraction float64) bool {
	return holdoutHash(fnv1a(fnvOffset, key)) < fraction
}

// holdoutHash maps a key's FNV-1a hash to [0, 1): its top 53 bits.
func holdoutHash(h uint64) float64 { return float64(h>>11) / float64(1<<53) }

// FNV-1a, 64 bits, as hash/fnv computes it, written out so that a scan
// hashes the key bytes it already holds without a hash.Hash value or a
// conversion per row.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnv1a continues the FNV-1a hash h over the bytes of key (a string or a
// byte slice).
func fnv1a[T string | []byte](h uint64, key T) uint64 {
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime
	}
	return h
}
