package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Rows in chunks. A run reads its window once and keeps its training sample
// and its holdout as chunks of encoded rows (see the registry's run data);
// a chunk is a gzip stream of a header (magic, feature count, row count)
// followed by each row's class index (int32) and features (float64), all
// little-endian. The same rows in the same order always encode to the same
// bytes, so a retried write of a chunk writes what the first one did.

// ChunkRows is the most rows a chunk holds unless told otherwise.
const ChunkRows = 8192

var chunkMagic = [4]byte{'K', 'M', 'R', '1'}

// ChunkWriter collects rows of one part and one day and hands each full
// chunk, encoded, to emit; Flush hands over the last, partial one. It holds
// at most one chunk of rows (encoded) at a time.
type ChunkWriter struct {
	width int
	limit int
	rows  int
	raw   bytes.Buffer
	zbuf  bytes.Buffer
	zw    *gzip.Writer
	emit  func(rows int, data []byte) error
	row   []byte
}

// NewChunkWriter returns a writer of rows of width features, at most limit
// rows a chunk (ChunkRows when limit is 0 or less).
func NewChunkWriter(width, limit int, emit func(rows int, data []byte) error) *ChunkWriter {
	if limit <= 0 {
		limit = ChunkRows
	}
	return &ChunkWriter{width: width, limit: limit, emit: emit, row: make([]byte, 4+8*width)}
}

// Add appends one row; when the chunk is full it is emitted.
func (w *ChunkWriter) Add(x []float64, y int) error {
	if len(x) != w.width {
		return fmt.Errorf("row of %d features in a chunk of %d", len(x), w.width)
	}
	binary.LittleEndian.PutUint32(w.row, uint32(int32(y)))
	for j, v := range x {
		binary.LittleEndian.PutUint64(w.row[4+8*j:], math.Float64bits(v))
	}
	w.raw.Write(w.row)
	w.rows++
	if w.rows >= w.limit {
		return w.Flush()
	}
	return nil
}

// Flush emits the rows collected so far as a chunk (nothing when there are none).
func (w *ChunkWriter) Flush() error {
	if w.rows == 0 {
		return nil
	}
	w.zbuf.Reset()
	if w.zw == nil {
		w.zw, _ = gzip.NewWriterLevel(&w.zbuf, gzip.BestSpeed)
	} else {
		w.zw.Reset(&w.zbuf)
	}
	var head [12]byte
	copy(head[:4], chunkMagic[:])
	binary.LittleEndian.PutUint32(head[4:], uint32(w.width))
	binary.LittleEndian.PutUint32(head[8:], uint32(w.rows))
	w.zw.Write(head[:])
	w.zw.Write(w.raw.Bytes())
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("compress a chunk: %w", err)
	}
	rows := w.rows
	w.rows = 0
	w.raw.Reset()
	return w.emit(rows, w.zbuf.Bytes())
}

// ErrBadChunk means a chunk's bytes do not decode as rows of the expected
// width and count.
var ErrBadChunk = errors.New("chunk does not decode")

// DecodeChunk decodes a chunk written by ChunkWriter into rows of width
// features; it must hold exactly rows rows.
func DecodeChunk(data []byte, width, rows int) (x [][]float64, y []int, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadChunk, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, int64(12+rows*(4+8*width))+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadChunk, err)
	}
	if len(raw) < 12 || !bytes.Equal(raw[:4], chunkMagic[:]) {
		return nil, nil, fmt.Errorf("%w: no chunk header", ErrBadChunk)
	}
	if w, n := int(binary.LittleEndian.Uint32(raw[4:])), int(binary.LittleEndian.Uint32(raw[8:])); w != width || n != rows {
		return nil, nil, fmt.Errorf("%w: %d rows of %d features, expected %d of %d", ErrBadChunk, n, w, rows, width)
	}
	body := raw[12:]
	if len(body) != rows*(4+8*width) {
		return nil, nil, fmt.Errorf("%w: %d bytes of rows, expected %d", ErrBadChunk, len(body), rows*(4+8*width))
	}
	flat := make([]float64, rows*width)
	x, y = make([][]float64, rows), make([]int, rows)
	for i := range rows {
		r := body[i*(4+8*width):]
		y[i] = int(int32(binary.LittleEndian.Uint32(r)))
		xi := flat[i*width : (i+1)*width : (i+1)*width]
		for j := range xi {
			xi[j] = math.Float64frombits(binary.LittleEndian.Uint64(r[4+8*j:]))
		}
		x[i] = xi
	}
	return x, y, nil
}
