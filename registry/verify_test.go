package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gocql/gocql"

	"github.com/kingmaker-ml/kingmaker/internal/testenv"
	"github.com/kingmaker-ml/kingmaker/registry"
)

func TestCorruptVersionRowsAndChunksAreNamedNeverServed(t *testing.T) {
	s, c := testenv.Cassandra(t)
	reg := registry.New(s, c.Keyspace, gocql.Serial)
	ctx := context.Background()
	exec := func(t *testing.T, stmt string, args ...any) {
		t.Helper()
		if err := s.Query(stmt, args...).Exec(); err != nil {
			t.Fatal(err)
		}
	}
	wantCorrupt := func(t *testing.T, err error, says string) {
		t.Helper()
		if !errors.Is(err, registry.ErrCorruptArtifact) || !strings.Contains(err.Error(), says) {
			t.Fatalf("want ErrCorruptArtifact saying %q, got %v", says, err)
		}
	}

	for _, size := range []int64{-5, 1 << 62} {
		t.Run(fmt.Sprintf("a recorded size of %d bytes is a corrupt artifact, not a crash", size), func(t *testing.T) {
			v := newVersion(t, reg, "size", fmt.Sprint(size), []byte("artifact"))
			// A row from before version rows were hashed, so that only the
			// size check stands between it and the allocation.
			exec(t, `UPDATE model_versions SET artifact_size = ?, metadata_sha256 = null WHERE model = ? AND version = ?`, size, "size", v.ID)
			got, err := reg.GetVersion(ctx, "size", v.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, err := reg.LoadArtifact(ctx, got)
			wantCorrupt(t, err, "recorded size")
			if b != nil {
				t.Fatalf("bytes returned with the error: %d", len(b))
			}
		})
	}

	t.Run("a chunk count that does not match the size is a corrupt artifact", func(t *testing.T) {
		v := newVersion(t, reg, "count", "a", []byte("artifact"))
		exec(t, `UPDATE model_versions SET artifact_chunks = ?, metadata_sha256 = null WHERE model = ? AND version = ?`, 1<<30, "count", v.ID)
		got, err := reg.GetVersion(ctx, "count", v.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = reg.LoadArtifact(ctx, got)
		wantCorrupt(t, err, "chunks for 8 bytes")
	})

	t.Run("a chunk whose bytes changed is named by its own checksum", func(t *testing.T) {
		v := newVersion(t, reg, "chunksum", "a", bytes.Repeat([]byte{1}, registry.ChunkSize+10))
		exec(t, `UPDATE model_artifacts SET data = ? WHERE model = ? AND version = ? AND chunk = 1`, bytes.Repeat([]byte{2}, 10), "chunksum", v.ID)
		_, err := reg.LoadArtifact(ctx, v)
		wantCorrupt(t, err, "chunk 1 sha256")
	})

	t.Run("a version row edited after it was written is refused on read", func(t *testing.T) {
		v := newVersion(t, reg, "edited", "a", []byte("artifact"))
		if got, err := reg.GetVersion(ctx, "edited", v.ID); err != nil || got.MetadataSHA256 != v.MetadataSHA256 || got.MetadataSHA256 == "" {
			t.Fatalf("an untouched row must read back with its hash: %+v, %v", got, err)
		}
		exec(t, `UPDATE model_versions SET algorithm = 'id3' WHERE model = ? AND version = ?`, "edited", v.ID)
		_, err := reg.GetVersion(ctx, "edited", v.ID)
		wantCorrupt(t, err, "was changed after it was written")
		_, err = reg.LoadArtifact(ctx, &registry.Version{Model: v.Model, ID: v.ID, Algorithm: "id3", Params: v.Params, RunID: v.RunID,
			WorkflowID: v.WorkflowID, WindowFrom: v.WindowFrom, WindowTo: v.WindowTo, ArtifactSHA256: v.ArtifactSHA256,
			ArtifactSize: v.ArtifactSize, ArtifactChunks: v.ArtifactChunks, MetadataSHA256: v.MetadataSHA256, CreatedAt: v.CreatedAt})
		wantCorrupt(t, err, "was changed after it was written")
	})

	t.Run("metrics recorded after saving do not break the row's hash", func(t *testing.T) {
		v := newVersion(t, reg, "metrics", "a", []byte("artifact"))
		if err := reg.SetMetrics(ctx, "metrics", v.ID, []byte(`{"roc_auc":0.9}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.GetVersion(ctx, "metrics", v.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("promote, rollback and set shadow refuse a version the deployment's check refuses", func(t *testing.T) {
		checked := registry.New(s, c.Keyspace, gocql.Serial)
		checked.CheckVersionsWith(func(v *registry.Version, artifact []byte) error {
			if string(artifact) == "misfit" {
				return errors.New("it has 3 features, the config declares 9")
			}
			return nil
		})
		m := "fits"
		good := newVersion(t, reg, m, "good", []byte("good"))
		bad := newVersion(t, reg, m, "bad", []byte("misfit"))
		good2 := newVersion(t, reg, m, "good2", []byte("good too"))
		_, err := checked.Promote(ctx, registry.PromoteRequest{Model: m, Version: bad.ID, Action: registry.ActionManual, By: "t", Reason: "try"})
		if !errors.Is(err, registry.ErrNotServable) || !strings.Contains(err.Error(), "the config declares 9") {
			t.Fatalf("promote: want the check's refusal (ErrNotServable), got %v", err)
		}
		err = checked.SetShadow(ctx, registry.Shadow{Model: m, Version: bad.ID, Since: good.CreatedAt, StartedBy: "t", Reason: "try"})
		if err == nil || !strings.Contains(err.Error(), "the config declares 9") {
			t.Fatalf("set shadow: want the check's refusal, got %v", err)
		}
		// Without the check (an older binary) the misfit became champion
		// once; rolling back to it must be refused.
		first, err := reg.Promote(ctx, registry.PromoteRequest{Model: m, Version: bad.ID, Action: registry.ActionManual, By: "t", Reason: "old"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checked.Promote(ctx, registry.PromoteRequest{Model: m, Version: good2.ID, Expected: first, Action: registry.ActionManual, By: "t", Reason: "new"}); err != nil {
			t.Fatal(err)
		}
		_, err = checked.Rollback(ctx, m, "t", "back")
		if err == nil || !strings.Contains(err.Error(), "cannot be champion again") || !strings.Contains(err.Error(), "the config declares 9") {
			t.Fatalf("rollback: want the check's refusal, got %v", err)
		}
		if cur, _ := reg.Champion(ctx, m); cur.Version != good2.ID {
			t.Fatalf("a refused rollback moved the pointer to %s", cur.Version)
		}
	})
}
