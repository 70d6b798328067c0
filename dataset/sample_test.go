package dataset_test

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kingmaker-ml/kingmaker/dataset"
)

func TestExpectedTrainRows(t *testing.T) {
	cases := []struct {
		name                string
		labelled, outOfTime int64
		fraction            float64
		want                int64
	}{
		{"the holdout fraction is taken from every labelled row", 1000, 0, 0.2, 800},
		{"rows of the out-of-time slice are all holdout", 1000, 200, 0.25, 600},
		{"a window all out of time has no training rows", 300, 300, 0.1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := dataset.ExpectedTrainRows(tc.labelled, tc.outOfTime, tc.fraction); got != tc.want {
				t.Errorf("ExpectedTrainRows(%d, %d, %v) = %d, want %d", tc.labelled, tc.outOfTime, tc.fraction, got, tc.want)
			}
		})
	}
}

func TestARateOnExpectedTrainRowsKeepsAboutMaxTrainRows(t *testing.T) {
	// The split and the sample as Scan and LoadTrain make them, on 200,000
	// keys with a quarter held out and max_train_rows 60,000: keys with a
	// shared structure and random ones, several run seeds.
	const rows, maxRows, fraction = 200_000, 60_000, 0.25
	keys := map[string]func(i int) string{
		"numbered keys":     func(i int) string { return fmt.Sprintf("row-%07d", i) },
		"customer-day keys": func(i int) string { return fmt.Sprintf("c-%d-%d", i%1000, i/1000) },
		"random keys": func(i int) string {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			return fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
		},
	}
	rate := dataset.SampleRate(dataset.ExpectedTrainRows(rows, 0, fraction), maxRows)
	for name, key := range keys {
		for _, seed := range []uint64{1, 42, 99} {
			kept, train := 0, 0
			for i := range rows {
				k := key(i)
				if dataset.Holdout(k, fraction) {
					continue
				}
				train++
				if dataset.Sampled(k, rate, seed) {
					kept++
				}
			}
			sd := math.Sqrt(float64(train) * rate * (1 - rate))
			if d := math.Abs(float64(kept) - maxRows); d > 4*sd {
				t.Errorf("%s, seed %d: kept %d of %d training rows at rate %.4f, want max_train_rows %d within 4 standard deviations (%.0f)",
					name, seed, kept, train, rate, maxRows, 4*sd)
			}
		}
	}
}

// TestKeyHashIsTheSampledHash holds KeyHash, written out without a hasher,
// to FNV-1a of the seed's little-endian bytes and the key (the standard
// library's) and to the rows Sampled keeps: the samples of runs recorded
// before it keep the same rows.
func TestKeyHashIsTheSampledHash(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		key := fmt.Sprintf("row-%07d", i)
		if i%7 == 0 {
			key = fmt.Sprintf("%x", r.Uint64()) + "é"[:i%3]
		}
		seed := r.Uint64()
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], seed)
		h.Write(b[:])
		h.Write([]byte(key))
		if got, want := dataset.KeyHash(key, seed), murmurFinalizer(h.Sum64()); got != want {
			t.Fatalf("KeyHash(%q, %d) = %#x, want %#x", key, seed, got, want)
		}
		rate := r.Float64()
		if got, want := dataset.Sampled(key, rate, seed), float64(dataset.KeyHash(key, seed)>>11)/(1<<53) < rate; got != want {
			t.Fatalf("Sampled(%q, %v, %d) = %v, want %v", key, rate, seed, got, want)
		}
	}
}

// murmurFinalizer is MurmurHash3's 64-bit finalizer (fmix64).
func murmurFinalizer(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
