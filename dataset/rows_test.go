package dataset_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/kingmaker-ml/kingmaker/dataset"
)

// chunks writes rows through a ChunkWriter of limit rows a chunk.
func chunks(t *testing.T, x [][]float64, y []int, limit int) (data [][]byte, rows []int) {
	t.Helper()
	w := dataset.NewChunkWriter(len(x[0]), limit, func(n int, b []byte) error {
		data, rows = append(data, bytes.Clone(b)), append(rows, n)
		return nil
	})
	for i := range x {
		if err := w.Add(x[i], y[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return data, rows
}

func TestChunksGiveBackTheRowsTheyWereGiven(t *testing.T) {
	x := [][]float64{{1, -2.5, 3}, {0, 1e300, -0}, {4, 5, 6}, {7, 8, 9.25}, {-1, -2, -3}}
	y := []int{0, 1, 1, 0, 2}
	data, rows := chunks(t, x, y, 2)
	if !reflect.DeepEqual(rows, []int{2, 2, 1}) {
		t.Fatalf("chunks of %v rows, want 2, 2 and the last 1", rows)
	}
	var gx [][]float64
	var gy []int
	for i, b := range data {
		cx, cy, err := dataset.DecodeChunk(b, 3, rows[i])
		if err != nil {
			t.Fatal(err)
		}
		gx, gy = append(gx, cx...), append(gy, cy...)
	}
	if !reflect.DeepEqual(gx, x) || !reflect.DeepEqual(gy, y) {
		t.Errorf("decoded %v %v, want %v %v", gx, gy, x, y)
	}
	again, _ := chunks(t, x, y, 2)
	if !reflect.DeepEqual(again, data) {
		t.Error("the same rows made other bytes: a retried write would not overwrite what the first wrote")
	}
}

func TestAChunkThatIsNotWhatTheManifestSaysIsRefused(t *testing.T) {
	data, _ := chunks(t, [][]float64{{1, 2}, {3, 4}}, []int{0, 1}, 10)
	cases := []struct {
		name        string
		data        []byte
		width, rows int
	}{
		{"bytes that are not gzip", []byte("rows"), 2, 2},
		{"a stream cut short", data[0][:len(data[0])-6], 2, 2},
		{"other features than expected", data[0], 3, 2},
		{"other rows than expected", data[0], 2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := dataset.DecodeChunk(tc.data, tc.width, tc.rows); !errors.Is(err, dataset.ErrBadChunk) {
				t.Errorf("decode: %v, want ErrBadChunk", err)
			}
		})
	}
}
