package dataset

import (
	"hash/fnv"
	"testing"
)

// TestHoldoutHashIsFNV1a pins the split to hash/fnv's FNV-1a: rows already
// split (run data, scored holdouts) must stay on their side.
func TestHoldoutHashIsFNV1a(t *testing.T) {
	for _, key := range []string{"", "a", "row-0000001", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "\xff\x00é"} {
		h := fnv.New64a()
		h.Write([]byte(key))
		if got, want := fnv1a(fnvOffset, key), h.Sum64(); got != want {
			t.Errorf("fnv1a(%q) = %#x, hash/fnv gives %#x", key, got, want)
		}
		if got, want := fnv1a(fnvOffset, []byte(key)), h.Sum64(); got != want {
			t.Errorf("fnv1a([]byte(%q)) = %#x, hash/fnv gives %#x", key, got, want)
		}
		for _, f := range []float64{0, 0.2, 0.5, 1} {
			if got, want := Holdout(key, f), float64(h.Sum64()>>11)/float64(1<<53) < f; got != want {
				t.Errorf("Holdout(%q, %v) = %v, want %v", key, f, got, want)
			}
		}
	}
}
