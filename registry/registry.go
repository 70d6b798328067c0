// Package registry is the Cassandra model registry: immutable model versions
// with their metadata, artifacts in checksummed chunks, the champion pointer
// changed only by lightweight-transaction compare-and-set, the append-only
// promotion ledger, and the decision record of every run.
//
// The champion pointer is the single source of truth for what is live; the
// ledger and version rows are history. Structured documents (feature schema,
// metrics, reference profile, decisions) are stored as JSON and passed
// through as json.RawMessage: the registry does not interpret them.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// ChunkSize is the largest artifact chunk stored in one cell.
const ChunkSize = 1 << 20

var (
	// ErrNotFound means the model or version does not exist in the registry.
	ErrNotFound = errors.New("not found")
	// ErrCASLost means the champion pointer changed since it was read: another
	// run or a person promoted first. The error says who.
	ErrCASLost = errors.New("champion changed concurrently")
	// ErrCorruptArtifact means stored artifact bytes do not match their
	// recorded size, chunk count or SHA-256. Such an artifact is never used.
	ErrCorruptArtifact = errors.New("corrupt artifact")
	// ErrNoPrevious means there is no earlier champion to roll back to.
	ErrNoPrevious = errors.New("no previous champion")
)

// Registry reads and writes the registry tables of one keyspace.
type Registry struct {
	s      *gocql.Session
	ks     string
	serial gocql.SerialConsistency
	fits   VersionCheck
}

// New returns a registry over the tables of keyspace, using serial for the
// Paxos phase of champion updates (gocql.Serial, or gocql.LocalSerial when
// each data centre decides on its own).
func New(s *gocql.Session, keyspace string, serial gocql.SerialConsistency) *Registry {
	return &Registry{s: s, ks: keyspace, serial: serial}
}

func (r *Registry) q(stmt string, args ...any) *gocql.Query {
	return r.s.Query(fmt.Sprintf(stmt, r.ks), args...)
}

// Version is one immutable trained model.
type Version struct {
	Model          string             `json:"model"`
	ID             gocql.UUID         `json:"version"`
	Candidate      string             `json:"candidate"`
	Algorithm      string             `json:"algorithm"`
	Params         map[string]float64 `json:"params,omitempty"`
	RunID          string             `json:"run_id"`
	WorkflowID     string             `json:"workflow_id"`
	WindowFrom     time.Time          `json:"window_from"`
	WindowTo       time.Time          `json:"window_to"`
	TrainRows      int64              `json:"train_rows"`
	HoldoutRows    int64              `json:"holdout_rows"`
	Schema         json.RawMessage    `json:"feature_schema,omitempty"`
	Profile        json.RawMessage    `json:"profile,omitempty"`
	Metrics        json.RawMessage    `json:"metrics,omitempty"`
	ArtifactSHA256 string             `json:"artifact_sha256"`
	ArtifactSize   int64              `json:"artifact_size"`
	ArtifactChunks int                `json:"artifact_chunks"`
	// MetadataSHA256 is the SHA-256 of the identity fields above (see
	// metadataSHA256); empty on rows written before it was recorded.
	MetadataSHA256 string    `json:"metadata_sha256,omitempty"`
	TrainSeconds   float64   `json:"train_seconds"`
	CreatedAt      time.Time `json:"created_at"`
	// Provenance says where a version made outside Kingmaker's trainers
	// came from (a Provenance as JSON); nil for versions Kingmaker trained.
	Provenance json.RawMessage `json:"provenance,omitempty"`
}

// Provenance is where a registered version came from: the file as given,
// what the file says made it, who registered it and why.
type Provenance struct {
	Source          string `json:"source"` // "file" (models register) or "external" (an external trainer in a retrain run)
	FileName        string `json:"file_name,omitempty"`
	FileSHA256      string `json:"file_sha256"`
	FileSize        int64  `json:"file_size"`
	Format          string `json:"format"`
	Producer        string `json:"producer"`
	ProducerVersion string `json:"producer_version"`
	RegisteredBy    string `json:"registered_by"`
	Reason          string `json:"reason"`
	// Parity is how the producer's own predictions were checked (the
	// rows and the tolerance), empty when none were given.
	Parity string `json:"parity,omitempty"`
}

// VersionID returns the timeuuid of a version made at t by the work named
// key (a workflow run and candidate). The same (t, key) always gives the same
// id, so a retried training activity finds the version it already wrote
// instead of writing another.
func VersionID(t time.Time, key string) gocql.UUID {
	// 100-ns intervals since 1582-10-15, the UUID version 1 epoch.
	const epochOffset = 122192928000000000
	ts := uint64(t.UTC().UnixNano()/100) + epochOffset
	var u gocql.UUID
	binary.BigEndian.PutUint32(u[0:4], uint32(ts))
	binary.BigEndian.PutUint16(u[4:6], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:8], uint16(ts>>48)&0x0fff|0x1000)
	h := sha256.Sum256([]byte(key))
	copy(u[8:], h[:8])
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// SaveVersion stores the artifact in chunks and then the version row, so a
// version row never names chunks that are not there. Saving the same version
// again replaces it whole (stale chunks of an earlier attempt are removed
// first); callers check GetVersion to avoid retraining.
func (r *Registry) SaveVersion(ctx context.Context, v *Version, artifact []byte) error {
	sum := sha256.Sum256(artifact)
	v.ArtifactSHA256 = hex.EncodeToString(sum[:])
	v.ArtifactSize = int64(len(artifact))
	v.ArtifactChunks = (len(artifact) + ChunkSize - 1) / ChunkSize
	if v.CreatedAt.IsZero() {
		v.CreatedAt = time.Now().UTC()
	}
	// Cassandra keeps milliseconds: hash what will be read back.
	v.WindowFrom, v.WindowTo, v.CreatedAt = ms(v.WindowFrom), ms(v.WindowTo), ms(v.CreatedAt)
	meta, err := v.metadataSHA256()
	if err != nil {
		return err
	}
	v.MetadataSHA256 = meta
	if err := r.q(`DELETE FROM %s.model_artifacts WHERE model = ? AND version = ?`, v.Model, v.ID).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("clear artifact chunks of %s/%s: %w", v.Model, v.ID, err)
	}
	for i := range v.ArtifactChunks {
		chunk := artifact[i*ChunkSize : min((i+1)*ChunkSize, len(artifact))]
		csum := sha256.Sum256(chunk)
		if err := r.q(`INSERT INTO %s.model_artifacts (model, version, chunk, data, sha256) VALUES (?, ?, ?, ?, ?)`,
			v.Model, v.ID, i, chunk, hex.EncodeToString(csum[:])).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("write artifact chunk %d of %s/%s: %w", i, v.Model, v.ID, err)
		}
	}
	params, err := json.Marshal(v.Params)
	if err != nil {
		return err
	}
	err = r.q(`INSERT INTO %s.model_versions (model, version, candidate, algorithm, params, run_id, workflow_id,
		window_from, window_to, train_rows, holdout_rows, feature_schema, profile, metrics,
		artifact_sha256, artifact_size, artifact_chunks, metadata_sha256, train_seconds, created_at, provenance)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Model, v.ID, v.Candidate, v.Algorithm, string(params), v.RunID, v.WorkflowID,
		v.WindowFrom, v.WindowTo, v.TrainRows, v.HoldoutRows, string(v.Schema), string(v.Profile), string(v.Metrics),
		v.ArtifactSHA256, v.ArtifactSize, v.ArtifactChunks, v.MetadataSHA256, v.TrainSeconds, v.CreatedAt, nilIfEmpty(v.Provenance)).WithContext(ctx).Exec()
	if err != nil {
		return fmt.Errorf("write version %s/%s: %w", v.Model, v.ID, err)
	}
	return nil
}

// SetProfile records the reference profile of a version that had none (one
// registered from a file gets the profile of its first challenge's rows).
func (r *Registry) SetProfile(ctx context.Context, model string, id gocql.UUID, profile json.RawMessage) error {
	return r.q(`UPDATE %s.model_versions SET profile = ? WHERE model = ? AND version = ?`, string(profile), model, id).WithContext(ctx).Exec()
}

// SetMetrics records a version's holdout metrics after evaluation.
func (r *Registry) SetMetrics(ctx context.Context, model string, id gocql.UUID, metrics json.RawMessage) error {
	return r.q(`UPDATE %s.model_versions SET metrics = ? WHERE model = ? AND version = ?`, string(metrics), model, id).WithContext(ctx).Exec()
}

const versionColumns = `model, version, candidate, algorithm, params, run_id, workflow_id, window_from, window_to,
	train_rows, holdout_rows, feature_schema, profile, metrics, artifact_sha256, artifact_size, artifact_chunks,
	metadata_sha256, train_seconds, created_at, provenance`

func scanVersion(scan func(...any) bool) (*Version, bool, error) {
	v := &Version{}
	var params, schema, profile, metrics string
	var meta, prov *string
	if !scan(&v.Model, &v.ID, &v.Candidate, &v.Algorithm, &params, &v.RunID, &v.WorkflowID, &v.WindowFrom, &v.WindowTo,
		&v.TrainRows, &v.HoldoutRows, &schema, &profile, &metrics, &v.ArtifactSHA256, &v.ArtifactSize, &v.ArtifactChunks,
		&meta, &v.TrainSeconds, &v.CreatedAt, &prov) {
		return nil, false, nil
	}
	v.MetadataSHA256 = deref(meta)
	if params != "" && params != "null" {
		if err := json.Unmarshal([]byte(params), &v.Params); err != nil {
			return nil, false, fmt.Errorf("version %s/%s: params: %w", v.Model, v.ID, err)
		}
	}
	v.Schema = rawOrNil(schema)
	v.Profile = rawOrNil(profile)
	v.Metrics = rawOrNil(metrics)
	v.Provenance = rawOrNil(deref(prov))
	return v, true, nil
}

// nilIfEmpty writes an absent provenance as null, not as an empty string.
func nilIfEmpty(b json.RawMessage) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// collect reads rows with next until it reports none is left, then closes iter.
func collect[T any](iter *gocql.Iter, next func() (T, bool)) ([]T, error) {
	var out []T
	for {
		v, ok := next()
		if !ok {
			break
		}
		out = append(out, v)
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// GetVersion returns one version, ErrNotFound when there is none.
func (r *Registry) GetVersion(ctx context.Context, model string, id gocql.UUID) (*Version, error) {
	iter := r.q(`SELECT `+versionColumns+` FROM %s.model_versions WHERE model = ? AND version = ?`, model, id).WithContext(ctx).Iter()
	v, ok, err := scanVersion(iter.Scan)
	if cerr := iter.Close(); cerr != nil {
		return nil, fmt.Errorf("read version %s/%s: %w", model, id, cerr)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("version %s of model %s: %w", id, model, ErrNotFound)
	}
	if err := v.checkMetadata(); err != nil {
		return nil, err
	}
	return v, nil
}

// ListVersions returns a model's versions, newest first, at most limit.
func (r *Registry) ListVersions(ctx context.Context, model string, limit int) ([]*Version, error) {
	iter := r.q(`SELECT `+versionColumns+` FROM %s.model_versions WHERE model = ? LIMIT ?`, model, limit).WithContext(ctx).Iter()
	var out []*Version
	for {
		v, ok, err := scanVersion(iter.Scan)
		if err != nil {
			iter.Close()
			return nil, err
		}
		if !ok {
			break
		}
		out = append(out, v)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", model, err)
	}
	return out, nil
}

// LoadArtifact reads a version's artifact and checks the version row's
// identity hash, the recorded size and chunk count, each chunk's SHA-256 and
// the whole artifact's. Any mismatch, or a size no artifact can have, is
// ErrCorruptArtifact: the bytes are never returned for prediction.
func (r *Registry) LoadArtifact(ctx context.Context, v *Version) ([]byte, error) {
	if err := v.checkMetadata(); err != nil {
		return nil, err
	}
	if err := v.checkSize(); err != nil {
		return nil, err
	}
	iter := r.q(`SELECT chunk, data, sha256 FROM %s.model_artifacts WHERE model = ? AND version = ?`, v.Model, v.ID).WithContext(ctx).Iter()
	// Grow as chunks arrive rather than trust the recorded size up front.
	buf := make([]byte, 0, min(v.ArtifactSize, preallocate))
	var (
		chunk int
		data  []byte
		sum   *string
		next  int
	)
	for iter.Scan(&chunk, &data, &sum) {
		if chunk != next {
			iter.Close()
			return nil, fmt.Errorf("%w: %s/%s: chunk %d missing", ErrCorruptArtifact, v.Model, v.ID, next)
		}
		if int64(len(buf))+int64(len(data)) > v.ArtifactSize {
			iter.Close()
			return nil, fmt.Errorf("%w: %s/%s: chunks hold more than the recorded %d bytes", ErrCorruptArtifact, v.Model, v.ID, v.ArtifactSize)
		}
		if want := deref(sum); want != "" {
			if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
				iter.Close()
				return nil, fmt.Errorf("%w: %s/%s: chunk %d sha256 %s, recorded %s", ErrCorruptArtifact, v.Model, v.ID, chunk, hex.EncodeToString(got[:6]), short(want))
			}
		}
		buf = append(buf, data...)
		next++
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("read artifact %s/%s: %w", v.Model, v.ID, err)
	}
	if next != v.ArtifactChunks || int64(len(buf)) != v.ArtifactSize {
		return nil, fmt.Errorf("%w: %s/%s: have %d chunks, %d bytes; recorded %d chunks, %d bytes",
			ErrCorruptArtifact, v.Model, v.ID, next, len(buf), v.ArtifactChunks, v.ArtifactSize)
	}
	sum256 := sha256.Sum256(buf)
	if got := hex.EncodeToString(sum256[:]); got != v.ArtifactSHA256 {
		return nil, fmt.Errorf("%w: %s/%s: sha256 %s, recorded %s", ErrCorruptArtifact, v.Model, v.ID, got[:12], short(v.ArtifactSHA256))
	}
	return buf, nil
}

func short(s string) string { return s[:min(12, len(s))] }
