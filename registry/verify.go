package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// MaxArtifactSize is the largest artifact the registry reads: a version row
// that records more is corrupt (no model Kingmaker trains comes near it).
const MaxArtifactSize = 1 << 30

// preallocate bounds the buffer LoadArtifact reserves before any chunk has
// arrived.
const preallocate = 64 << 20

// checkSize refuses a recorded size or chunk count no artifact can have,
// before anything is allocated for it.
func (v *Version) checkSize() error {
	switch {
	case v.ArtifactSize < 0 || v.ArtifactSize > MaxArtifactSize:
		return fmt.Errorf("%w: %s/%s: recorded size %d bytes is not between 0 and %d", ErrCorruptArtifact, v.Model, v.ID, v.ArtifactSize, MaxArtifactSize)
	case int64(v.ArtifactChunks) != (v.ArtifactSize+ChunkSize-1)/ChunkSize:
		return fmt.Errorf("%w: %s/%s: recorded %d chunks for %d bytes (chunks of %d bytes)", ErrCorruptArtifact, v.Model, v.ID, v.ArtifactChunks, v.ArtifactSize, ChunkSize)
	}
	return nil
}

// versionIdentity is what MetadataSHA256 covers: the fields that say what a
// version is and which bytes are its artifact. Metrics and the profile are
// left out (evaluation adds the metrics later); so are row counts and
// timings, which describe the run rather than the model.
type versionIdentity struct {
	Model          string             `json:"model"`
	Version        string             `json:"version"`
	Candidate      string             `json:"candidate"`
	Algorithm      string             `json:"algorithm"`
	Params         map[string]float64 `json:"params"`
	RunID          string             `json:"run_id"`
	WorkflowID     string             `json:"workflow_id"`
	WindowFrom     int64              `json:"window_from_ms"`
	WindowTo       int64              `json:"window_to_ms"`
	Schema         string             `json:"feature_schema"`
	ArtifactSHA256 string             `json:"artifact_sha256"`
	ArtifactSize   int64              `json:"artifact_size"`
	ArtifactChunks int                `json:"artifact_chunks"`
	CreatedAt      int64              `json:"created_at_ms"`
	// Provenance is left out when empty, so versions written before it
	// existed hash as they did.
	Provenance string `json:"provenance,omitempty"`
}

// metadataSHA256 hashes the version's identity fields as JSON (map keys in
// sorted order, times in whole milliseconds as Cassandra keeps them).
func (v *Version) metadataSHA256() (string, error) {
	b, err := json.Marshal(versionIdentity{
		Model: v.Model, Version: v.ID.String(), Candidate: v.Candidate, Algorithm: v.Algorithm, Params: v.Params,
		RunID: v.RunID, WorkflowID: v.WorkflowID, WindowFrom: v.WindowFrom.UnixMilli(), WindowTo: v.WindowTo.UnixMilli(),
		Schema: string(v.Schema), ArtifactSHA256: v.ArtifactSHA256, ArtifactSize: v.ArtifactSize,
		ArtifactChunks: v.ArtifactChunks, CreatedAt: v.CreatedAt.UnixMilli(), Provenance: string(v.Provenance),
	})
	if err != nil {
		return "", fmt.Errorf("hash version %s/%s: %w", v.Model, v.ID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// checkMetadata compares the version row with its recorded identity hash.
// Rows written before the hash was recorded have none and pass.
func (v *Version) checkMetadata() error {
	if v.MetadataSHA256 == "" {
		return nil
	}
	got, err := v.metadataSHA256()
	if err != nil {
		return err
	}
	if got != v.MetadataSHA256 {
		return fmt.Errorf("%w: version row %s/%s was changed after it was written (metadata sha256 %s, recorded %s)",
			ErrCorruptArtifact, v.Model, v.ID, got[:12], short(v.MetadataSHA256))
	}
	return nil
}

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// VersionCheck says whether a version, whose row and artifact have verified,
// can be the champion or the shadow of its model as the deployment
// configures it: that the artifact decodes and fits the model's features
// and classes. It returns an error naming what does not fit.
type VersionCheck func(v *Version, artifact []byte) error

// CheckVersionsWith makes every promotion, rollback and shadow pointer of r
// check its version with fn as well as its hashes (see Servable). Call it
// once, before r is used.
func (r *Registry) CheckVersionsWith(fn VersionCheck) { r.fits = fn }

// Servable returns the version when it can serve its model: the row and the
// artifact verify (ErrCorruptArtifact otherwise) and the VersionCheck given
// to CheckVersionsWith, if any, accepts it. Promote, Rollback and SetShadow
// call it before they move a pointer.
func (r *Registry) Servable(ctx context.Context, model string, id gocql.UUID) (*Version, error) {
	v, err := r.GetVersion(ctx, model, id)
	if err != nil {
		return nil, err
	}
	b, err := r.LoadArtifact(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("version %s of %s cannot serve: %w", id, model, err)
	}
	if r.fits != nil {
		if err := r.fits(v, b); err != nil {
			return nil, fmt.Errorf("version %s of %s cannot serve: %w", id, model, unservable{err})
		}
	}
	return v, nil
}

// ErrNotServable means a version's artifact verifies but does not fit its
// model as the deployment configures it (the VersionCheck refused it).
var ErrNotServable = errors.New("version does not fit its model's config")

// unservable is a VersionCheck's refusal: its own message, and
// ErrNotServable to errors.Is.
type unservable struct{ err error }

func (e unservable) Error() string        { return e.err.Error() }
func (e unservable) Unwrap() error        { return e.err }
func (e unservable) Is(target error) bool { return target == ErrNotServable }
