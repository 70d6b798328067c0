package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/gocql/gocql"
)

// Run data: the rows a retrain run reads once from its window, kept for its
// candidates and its evaluation (table run_data, rows expire after 7 days).
// A part ("train", "holdout") of a day is a sequence of chunks 0..n-1, each
// stored with its SHA-256; the run's manifest, written after every chunk,
// says how many chunks each part of each day has. The registry stores and
// checks bytes; what the bytes hold is the dataset package's business.

// ErrCorruptRunData means a run's stored chunk or manifest is missing or
// does not match its SHA-256. Such rows are never used.
var ErrCorruptRunData = errors.New("corrupt run data")

// manifestPart is the part holding a run's manifest (day 0, chunk 0).
const manifestPart = "manifest"

// PutRunChunk writes one chunk of a run's part and day, with its SHA-256.
// Writing the same chunk again overwrites it.
func (r *Registry) PutRunChunk(ctx context.Context, model, runID, part string, day, chunk, rows int, data []byte) error {
	if part == manifestPart {
		return fmt.Errorf("run data part %q is reserved for the manifest", part)
	}
	return r.putRunData(ctx, model, runID, part, day, chunk, rows, data)
}

func (r *Registry) putRunData(ctx context.Context, model, runID, part string, day, chunk, rows int, data []byte) error {
	sum := sha256.Sum256(data)
	if err := r.q(`INSERT INTO %s.run_data (model, run_id, part, day, chunk, rows, data, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		model, runID, part, day, chunk, rows, data, hex.EncodeToString(sum[:])).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("write run data %s/%s %s day %d chunk %d: %w", model, runID, part, day, chunk, err)
	}
	return nil
}

// PutRunManifest writes a run's manifest; it returns the manifest's SHA-256,
// which readers pass to RunManifest.
func (r *Registry) PutRunManifest(ctx context.Context, model, runID string, manifest []byte) (string, error) {
	if err := r.putRunData(ctx, model, runID, manifestPart, 0, 0, 0, manifest); err != nil {
		return "", err
	}
	sum := sha256.Sum256(manifest)
	return hex.EncodeToString(sum[:]), nil
}

// RunManifest reads a run's manifest and its SHA-256: ErrNotFound when the
// run wrote none (yet); ErrCorruptRunData when its bytes do not match the
// SHA-256 stored with them or, when want is not empty, want.
func (r *Registry) RunManifest(ctx context.Context, model, runID, want string) ([]byte, string, error) {
	var data []byte
	var sum string
	err := r.q(`SELECT data, sha256 FROM %s.run_data WHERE model = ? AND run_id = ? AND part = ? AND day = 0 AND chunk = 0`,
		model, runID, manifestPart).WithContext(ctx).Scan(&data, &sum)
	if errors.Is(err, gocql.ErrNotFound) {
		if want != "" {
			return nil, "", fmt.Errorf("%w: %s/%s: the manifest is missing (expired after 7 days, or deleted)", ErrCorruptRunData, model, runID)
		}
		return nil, "", fmt.Errorf("run data %s/%s: %w", model, runID, ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read run data manifest %s/%s: %w", model, runID, err)
	}
	got := sha256.Sum256(data)
	gotHex := hex.EncodeToString(got[:])
	if gotHex != sum || (want != "" && gotHex != want) {
		if want == "" {
			want = sum
		}
		return nil, "", fmt.Errorf("%w: %s/%s: manifest sha256 %s, recorded %s", ErrCorruptRunData, model, runID, gotHex[:12], short(want))
	}
	return data, gotHex, nil
}

// ReadRunChunks reads chunks 0..n-1 of a run's part and day in order,
// checking each against its SHA-256, and calls fn with each. A missing or
// damaged chunk is ErrCorruptRunData, naming it; chunks past n (left by an
// attempt that read other rows) are not read.
func (r *Registry) ReadRunChunks(ctx context.Context, model, runID, part string, day, n int, fn func(chunk, rows int, data []byte) error) error {
	if n == 0 {
		return nil
	}
	iter := r.q(`SELECT chunk, rows, data, sha256 FROM %s.run_data WHERE model = ? AND run_id = ? AND part = ? AND day = ? AND chunk < ?`,
		model, runID, part, day, n).WithContext(ctx).PageSize(16).Iter()
	var (
		chunk, rows int
		data        []byte
		sum         string
		next        int
	)
	for iter.Scan(&chunk, &rows, &data, &sum) {
		if chunk != next {
			iter.Close()
			return fmt.Errorf("%w: %s/%s %s day %d: chunk %d missing", ErrCorruptRunData, model, runID, part, day, next)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			iter.Close()
			return fmt.Errorf("%w: %s/%s %s day %d: chunk %d sha256 %s, recorded %s", ErrCorruptRunData, model, runID, part, day, chunk, hex.EncodeToString(got[:6]), short(sum))
		}
		if err := fn(chunk, rows, data); err != nil {
			iter.Close()
			return err
		}
		next++
		data = nil
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("read run data %s/%s %s day %d: %w", model, runID, part, day, err)
	}
	if next != n {
		return fmt.Errorf("%w: %s/%s %s day %d: chunk %d missing (the manifest lists %d)", ErrCorruptRunData, model, runID, part, day, next, n)
	}
	return nil
}

// Keyspace is the keyspace of the registry's tables.
func (r *Registry) Keyspace() string { return r.ks }
