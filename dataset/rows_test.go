package dataset_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/kingmaker-ml/kingmaker/dataset"
)

// chunks writes rows through a ChunkWriter of limit rows a chunk.
func chunks(t testing.TB, x [][]float64, y []int, limit int) (data [][]byte, rows []int) {
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

// sameBits reports whether two grids hold the same float64 bits (NaN
// payloads and the sign of zero included), and the class indexes match.
func sameBits(t *testing.T, gx [][]float64, gy []int, x [][]float64, y []int) {
	t.Helper()
	if len(gx) != len(x) || !reflect.DeepEqual(gy, y) {
		t.Fatalf("decoded %d rows, classes %v; want %d, %v", len(gx), gy, len(x), y)
	}
	for i := range x {
		if len(gx[i]) != len(x[i]) || cap(gx[i]) != len(x[i]) {
			t.Fatalf("row %d: %d values (capacity %d), want %d", i, len(gx[i]), cap(gx[i]), len(x[i]))
		}
		for j := range x[i] {
			if math.Float64bits(gx[i][j]) != math.Float64bits(x[i][j]) {
				t.Fatalf("row %d column %d: %v (%#x), want %v (%#x)", i, j, gx[i][j], math.Float64bits(gx[i][j]), x[i][j], math.Float64bits(x[i][j]))
			}
		}
	}
}

// TestChunksKeepEveryBit encodes rows of every width up to 11 and counts
// around the 8 rows the byte shuffle takes at once, with values whose
// every byte differs (random bits, NaNs with payloads, -0, infinities) and
// class indexes of any sign.
func TestChunksKeepEveryBit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, width := range []int{0, 1, 2, 9, 10, 11} {
		for _, n := range []int{1, 7, 8, 9, 16, 17, 100} {
			x, y := make([][]float64, n), make([]int, n)
			for i := range n {
				x[i] = make([]float64, width)
				for j := range x[i] {
					switch r.IntN(6) {
					case 0:
						x[i][j] = math.Float64frombits(r.Uint64())
					case 1:
						x[i][j] = math.Float64frombits(0x7ff8000000000000 | r.Uint64()&0xfffffffffffff) // a NaN with a payload
					case 2:
						x[i][j] = math.Copysign(0, -1)
					case 3:
						x[i][j] = math.Inf(1 - 2*r.IntN(2))
					default:
						x[i][j] = math.Round(r.NormFloat64()*1000) / 100
					}
				}
				y[i] = int(int32(r.Uint32()))
			}
			data, rows := chunks(t, x, y, 0)
			if len(data) != 1 || rows[0] != n {
				t.Fatalf("width %d, %d rows: chunks of %v rows", width, n, rows)
			}
			gx, gy, err := dataset.DecodeChunk(data[0], width, n)
			if err != nil {
				t.Fatalf("width %d, %d rows: %v", width, n, err)
			}
			sameBits(t, gx, gy, x, y)
		}
	}
}

// TestAChunkAnOlderWorkerWroteStillDecodes reads a KMR1 chunk (gzip, rows
// one after another) written by the ChunkWriter before KMR2: run data
// staged before an upgrade is read after it.
func TestAChunkAnOlderWorkerWroteStillDecodes(t *testing.T) {
	data, err := os.ReadFile("testdata/chunk-kmr1-3x11.gz")
	if err != nil {
		t.Fatal(err)
	}
	x := [][]float64{{1, -2.5, 3}, {0, 1e300, math.Copysign(0, -1)}, {4, 5, 6}, {7, 8, 9.25}, {-1, -2, -3},
		{math.Inf(1), math.Inf(-1), 5e-324}, {12, 0.1, 42}, {1, 2, 3}, {9, 8, 7}, {0.5, 0.25, 0.125}, {100, 200, 300}}
	y := []int{0, 1, 1, 0, 2, -1, 3, 0, 1, 2, 1}
	gx, gy, err := dataset.DecodeChunk(data, 3, 11)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, gx, gy, x, y)
	if _, _, err := dataset.DecodeChunk(data[:len(data)-3], 3, 11); !errors.Is(err, dataset.ErrBadChunk) {
		t.Errorf("a KMR1 chunk cut short: %v, want ErrBadChunk", err)
	}
	if _, _, err := dataset.DecodeChunk(data, 3, 10); !errors.Is(err, dataset.ErrBadChunk) {
		t.Errorf("a KMR1 chunk of other rows than expected: %v, want ErrBadChunk", err)
	}
}

func TestAChunkThatIsNotWhatTheManifestSaysIsRefused(t *testing.T) {
	data, _ := chunks(t, [][]float64{{1, 2}, {3, 4}}, []int{0, 1}, 10)
	flipped := bytes.Clone(data[0])
	flipped[len(flipped)/2] ^= 0x40
	cases := []struct {
		name        string
		data        []byte
		width, rows int
	}{
		{"bytes that are not a chunk", []byte("rows"), 2, 2},
		{"no bytes", nil, 2, 2},
		{"a stream cut short", data[0][:len(data[0])-6], 2, 2},
		{"a bit flipped", flipped, 2, 2},
		{"two chunks one after the other", append(bytes.Clone(data[0]), data[0]...), 2, 2},
		{"other features than expected", data[0], 3, 2},
		{"fewer features than expected", data[0], 1, 2},
		{"other rows than expected", data[0], 2, 3},
		{"fewer rows than expected", data[0], 2, 1},
		{"a count out of range", data[0], 2, -1},
		{"a width out of range", data[0], 1 << 40, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := dataset.DecodeChunk(tc.data, tc.width, tc.rows); !errors.Is(err, dataset.ErrBadChunk) {
				t.Errorf("decode: %v, want ErrBadChunk", err)
			}
		})
	}
}

// TestAChunkIsTheSameBytesWhateverWasEncodedBefore encodes a chunk, then
// other chunks of other sizes from several goroutines (the encoder keeps
// one state per core and hands them out in turn), then the first again: a
// retried write must write what the first attempt did, whatever else the
// worker encoded in between.
func TestAChunkIsTheSameBytesWhateverWasEncodedBefore(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	rowsOf := func(n, width int) ([][]float64, []int) {
		x, y := make([][]float64, n), make([]int, n)
		for i := range n {
			x[i] = make([]float64, width)
			for j := range x[i] {
				x[i][j] = math.Round(r.NormFloat64()*float64(1+j)*100) / 100
			}
			y[i] = r.IntN(3)
		}
		return x, y
	}
	x, y := rowsOf(dataset.ChunkRows, 9) // more than one zstd block
	first, _ := chunks(t, x, y, 0)
	var wg sync.WaitGroup
	for k := range 6 {
		ox, oy := rowsOf(1000+3000*k, 3+k)
		wg.Go(func() {
			w := dataset.NewChunkWriter(len(ox[0]), 0, func(int, []byte) error { return nil })
			for i := range ox {
				if err := w.Add(ox[i], oy[i]); err != nil {
					t.Error(err)
					return
				}
			}
			if err := w.Flush(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for range 3 {
		again, _ := chunks(t, x, y, 0)
		if !reflect.DeepEqual(again, first) {
			t.Fatal("the same rows made other bytes after other chunks were encoded")
		}
	}
}

// TestTheGzipWriterWritesWhatExternalTrainersRead holds NewGzipChunkWriter,
// the writer of a run's training part, to the KMR1 bytes the writer of the
// releases before wrote (testdata/chunk-kmr1-3x11.gz): the format external
// trainers decode, as the README documents it.
func TestTheGzipWriterWritesWhatExternalTrainersRead(t *testing.T) {
	want, err := os.ReadFile("testdata/chunk-kmr1-3x11.gz")
	if err != nil {
		t.Fatal(err)
	}
	x := [][]float64{{1, -2.5, 3}, {0, 1e300, math.Copysign(0, -1)}, {4, 5, 6}, {7, 8, 9.25}, {-1, -2, -3},
		{math.Inf(1), math.Inf(-1), 5e-324}, {12, 0.1, 42}, {1, 2, 3}, {9, 8, 7}, {0.5, 0.25, 0.125}, {100, 200, 300}}
	y := []int{0, 1, 1, 0, 2, -1, 3, 0, 1, 2, 1}
	var got [][]byte
	w := dataset.NewGzipChunkWriter(3, 0, func(rows int, data []byte) error {
		got = append(got, bytes.Clone(data))
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
	if len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("the gzip writer wrote %d chunks, the first %x; want the KMR1 bytes %x", len(got), got, want)
	}
	if raw, err := gzip.NewReader(bytes.NewReader(got[0])); err != nil {
		t.Fatal(err)
	} else if head, _ := io.ReadAll(raw); !bytes.HasPrefix(head, []byte("KMR1")) {
		t.Errorf("the chunk starts %q, want the magic KMR1", head[:min(4, len(head))])
	}
}
