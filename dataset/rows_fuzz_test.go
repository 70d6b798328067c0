package dataset_test

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/kingmaker-ml/kingmaker/dataset"
)

// FuzzDecodeChunk decodes any bytes as a chunk of any width and count: it
// never panics, and either refuses them with ErrBadChunk or gives exactly
// the rows asked for. `go test` runs the seeds: a KMR2 chunk, a KMR1 one
// and bytes that are neither.
func FuzzDecodeChunk(f *testing.F) {
	data, _ := chunks(f, [][]float64{{1, 2}, {3, 4}, {5, 6}}, []int{0, 1, 0}, 0)
	f.Add(data[0], uint8(2), uint16(3))
	if v1, err := os.ReadFile("testdata/chunk-kmr1-3x11.gz"); err == nil {
		f.Add(v1, uint8(3), uint16(11))
	}
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0}, uint8(1), uint16(1))
	f.Add([]byte{0x1f, 0x8b, 8, 0}, uint8(1), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, width uint8, rows uint16) {
		x, y, err := dataset.DecodeChunk(data, int(width), int(rows))
		if err != nil {
			if !errors.Is(err, dataset.ErrBadChunk) {
				t.Fatalf("error %v is not ErrBadChunk", err)
			}
			return
		}
		if len(x) != int(rows) || len(y) != int(rows) {
			t.Fatalf("%d rows and %d classes, asked for %d", len(x), len(y), rows)
		}
		for i := range x {
			if len(x[i]) != int(width) {
				t.Fatalf("row %d of %d values, asked for %d", i, len(x[i]), width)
			}
		}
	})
}

// FuzzChunkRoundTrip encodes rows made of any bytes (any float64 bits, any
// int32 class) in chunks of any size: they decode to the same bits, and
// encoding them again gives the same bytes.
func FuzzChunkRoundTrip(f *testing.F) {
	f.Add([]byte("the same rows in the same order"), uint8(3), uint8(2))
	f.Add(make([]byte, 8*9*20), uint8(9), uint8(8))
	f.Fuzz(func(t *testing.T, raw []byte, width, limit uint8) {
		w := int(width%12) + 1
		n := len(raw) / (4 + 8*w)
		if n == 0 {
			return
		}
		x, y := make([][]float64, n), make([]int, n)
		for i := range n {
			r := raw[i*(4+8*w):]
			y[i] = int(int32(binary.LittleEndian.Uint32(r)))
			x[i] = make([]float64, w)
			for j := range x[i] {
				x[i][j] = math.Float64frombits(binary.LittleEndian.Uint64(r[4+8*j:]))
			}
		}
		data, rows := chunks(t, x, y, int(limit))
		again, _ := chunks(t, x, y, int(limit))
		at := 0
		for c := range data {
			if string(again[c]) != string(data[c]) {
				t.Fatalf("chunk %d: the same rows made other bytes", c)
			}
			gx, gy, err := dataset.DecodeChunk(data[c], w, rows[c])
			if err != nil {
				t.Fatalf("chunk %d: %v", c, err)
			}
			for i := range gx {
				if gy[i] != y[at+i] {
					t.Fatalf("row %d: class %d, want %d", at+i, gy[i], y[at+i])
				}
				for j := range gx[i] {
					if math.Float64bits(gx[i][j]) != math.Float64bits(x[at+i][j]) {
						t.Fatalf("row %d column %d: %#x, want %#x", at+i, j, math.Float64bits(gx[i][j]), math.Float64bits(x[at+i][j]))
					}
				}
			}
			at += len(gx)
		}
		if at != n {
			t.Fatalf("decoded %d rows of %d", at, n)
		}
	})
}
