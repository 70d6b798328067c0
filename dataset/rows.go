package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Rows in chunks. A run reads its window once and keeps its training sample
// and its holdout as chunks of encoded rows (see the registry's run data).
// A chunk holds a header (magic, feature count, row count, each a
// little-endian uint32 but the magic) and the rows, in one of two formats:
//
//   - KMR2, which NewChunkWriter's writers write: a zstd frame (fastest level) of the
//     header and the rows byte-shuffled: byte 0 of every row's class index
//     (int32), then byte 1, ..., byte 3; then for each feature column byte 0
//     of every row's value (float64 bits), then byte 1, ..., byte 7.
//     Grouping the bytes of one significance makes the exponent bytes and
//     the high bytes of small integers and rounded values runs the
//     compressor finds. On the demo's rows that is 26% fewer bytes than
//     KMR1, written 2.3-2.6 times and decoded 3.4-3.9 times as fast; rows
//     of random doubles cost about 10% more CPU for 11% fewer bytes
//     (BENCHMARKS.md, section 1).
//   - KMR1, which NewGzipChunkWriter writes (and every writer did before
//     KMR2): a gzip stream of the header and the rows one after another,
//     each its class index (int32) and its features (float64),
//     little-endian. It is the format of a run's training part, which
//     external trainers read (the README documents it for them); KMR2 is
//     kept to the parts only Kingmaker reads (the holdout). DecodeChunk
//     reads both, so run data staged by an older worker is read by a newer
//     one.
//
// The same rows in the same order always encode to the same bytes (with the
// same build of the compressor), so a retried write of a chunk writes what
// the first one did.

// ChunkRows is the most rows a chunk holds unless told otherwise.
const ChunkRows = 8192

var (
	chunkMagicV1 = [4]byte{'K', 'M', 'R', '1'}
	chunkMagicV2 = [4]byte{'K', 'M', 'R', '2'}
	zstdMagic    = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

const chunkHeader = 12 // magic, width, rows

// zstdEncoder compresses every chunk. EncodeAll may be called from many
// goroutines (it takes one of GOMAXPROCS encoder states) and its output
// depends only on its input and these options. The window is 1 MiB, more
// than a chunk of ChunkRows rows of 10 columns (690 kB), so matches reach
// across the whole chunk: the default of 8 MiB made each encoder state
// hold a 16 MiB history buffer.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(0), zstd.WithWindowSize(1<<20))
	if err != nil {
		panic(err) // only invalid options fail
	}
	return e
})

// zstdDecoder decompresses every KMR2 chunk; DecodeAll decodes at most the
// capacity of the buffer it is given, so a chunk cannot make it allocate
// more than the rows the manifest says it holds.
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(err)
	}
	return d
})

// ChunkWriter collects rows of one part and one day and hands each full
// chunk, encoded, to emit; Flush hands over the last, partial one. It holds
// at most one chunk of rows (and its encoding) at a time.
type ChunkWriter struct {
	width int
	limit int
	// gzip makes the writer write KMR1 (NewGzipChunkWriter).
	gzip bool
	zw   *gzip.Writer
	zbuf bytes.Buffer
	emit func(rows int, data []byte) error
	y    []int32
	x    []float64 // the rows' features, one row after another
	raw  []byte    // the chunk before compression
	out  []byte    // the chunk compressed, handed to emit
}

// NewChunkWriter returns a writer of rows of width features, at most limit
// rows a chunk (ChunkRows when limit is 0 or less).
func NewChunkWriter(width, limit int, emit func(rows int, data []byte) error) *ChunkWriter {
	if limit <= 0 {
		limit = ChunkRows
	}
	return &ChunkWriter{width: width, limit: limit, emit: emit}
}

// NewGzipChunkWriter returns a writer of KMR1 chunks (gzip, rows one after
// another): the format external trainers read (a run's training part, see
// the README's "External trainers"), which they may not be able to read
// in KMR2.
func NewGzipChunkWriter(width, limit int, emit func(rows int, data []byte) error) *ChunkWriter {
	w := NewChunkWriter(width, limit, emit)
	w.gzip = true
	return w
}

// Add appends one row; when the chunk is full it is emitted. The row is
// copied: x may be reused once Add returns.
func (w *ChunkWriter) Add(x []float64, y int) error {
	if len(x) != w.width {
		return fmt.Errorf("row of %d features in a chunk of %d", len(x), w.width)
	}
	w.y = append(w.y, int32(y))
	w.x = append(w.x, x...)
	if len(w.y) >= w.limit {
		return w.Flush()
	}
	return nil
}

// Flush emits the rows collected so far as a chunk (nothing when there are
// none). emit must not keep the bytes it is given: they are the writer's
// buffer for the next chunk.
func (w *ChunkWriter) Flush() error {
	rows := len(w.y)
	if rows == 0 {
		return nil
	}
	if w.gzip {
		return w.flushGzip(rows)
	}
	raw := w.rawChunk(chunkMagicV2, rows)
	body := raw[chunkHeader:]
	for i, v := range w.y {
		u := uint32(v)
		body[i], body[rows+i], body[2*rows+i], body[3*rows+i] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	body = body[4*rows:]
	for from := 0; from < rows; from += shuffleTile {
		to := min(from+shuffleTile, rows)
		for j := range w.width {
			shuffleColumn(body[8*rows*j:8*rows*(j+1)], w.x, j, w.width, rows, from, to)
		}
	}
	w.out = zstdEncoder().EncodeAll(raw, w.out[:0])
	w.y, w.x = w.y[:0], w.x[:0]
	return w.emit(rows, w.out)
}

// rawChunk is the writer's buffer sized for a chunk of rows rows before
// compression, its header (magic, width, rows) written.
func (w *ChunkWriter) rawChunk(magic [4]byte, rows int) []byte {
	size := chunkHeader + rows*(4+8*w.width)
	if cap(w.raw) < size {
		w.raw = make([]byte, size)
	}
	raw := w.raw[:size]
	copy(raw, magic[:])
	binary.LittleEndian.PutUint32(raw[4:], uint32(w.width))
	binary.LittleEndian.PutUint32(raw[8:], uint32(rows))
	return raw
}

// flushGzip emits the rows collected so far as a KMR1 chunk: a gzip stream
// (fastest level) of the header and the rows one after another, each its
// class index (int32) and its values (float64), little-endian.
func (w *ChunkWriter) flushGzip(rows int) error {
	raw := w.rawChunk(chunkMagicV1, rows)
	body := raw[chunkHeader:]
	for i, y := range w.y {
		r := body[i*(4+8*w.width):]
		binary.LittleEndian.PutUint32(r, uint32(y))
		for j, v := range w.x[i*w.width : (i+1)*w.width] {
			binary.LittleEndian.PutUint64(r[4+8*j:], math.Float64bits(v))
		}
	}
	w.zbuf.Reset()
	if w.zw == nil {
		w.zw, _ = gzip.NewWriterLevel(&w.zbuf, gzip.BestSpeed)
	} else {
		w.zw.Reset(&w.zbuf)
	}
	w.zw.Write(raw)
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("compress a chunk: %w", err)
	}
	w.y, w.x = w.y[:0], w.x[:0]
	return w.emit(rows, w.zbuf.Bytes())
}

// shuffleTile is how many rows are shuffled (or unshuffled) column by
// column before the next ones: the rows of a tile stay in the first-level
// cache while their columns go to or come from their planes, where whole
// chunks column by column went through memory once a column.
const shuffleTile = 64

// shuffleColumn writes column j of rows [from, to) of the rows in x (rows
// of width values) to planes, 8 byte planes of rows bytes each: byte b of
// row i's value at planes[b*rows+i]. Eight rows at a time go through a
// transpose of 8×8 bytes held in eight words.
func shuffleColumn(planes []byte, x []float64, j, width, rows, from, to int) {
	planes = planes[:8*rows]
	i := from
	for ; i+8 <= to; i += 8 {
		v := x[i*width+j : (i+7)*width+j+1]
		a0, a1, a2, a3, a4, a5, a6, a7 := transpose8(math.Float64bits(v[0]), math.Float64bits(v[width]), math.Float64bits(v[2*width]),
			math.Float64bits(v[3*width]), math.Float64bits(v[4*width]), math.Float64bits(v[5*width]), math.Float64bits(v[6*width]),
			math.Float64bits(v[7*width]))
		binary.LittleEndian.PutUint64(planes[i:], a0)
		binary.LittleEndian.PutUint64(planes[rows+i:], a1)
		binary.LittleEndian.PutUint64(planes[2*rows+i:], a2)
		binary.LittleEndian.PutUint64(planes[3*rows+i:], a3)
		binary.LittleEndian.PutUint64(planes[4*rows+i:], a4)
		binary.LittleEndian.PutUint64(planes[5*rows+i:], a5)
		binary.LittleEndian.PutUint64(planes[6*rows+i:], a6)
		binary.LittleEndian.PutUint64(planes[7*rows+i:], a7)
	}
	for ; i < to; i++ {
		u := math.Float64bits(x[i*width+j])
		for b := range 8 {
			planes[b*rows+i] = byte(u >> (8 * b))
		}
	}
}

// unshuffleColumn is the inverse of shuffleColumn: it sets column j of rows
// [from, to) of the rows in x from its byte planes.
func unshuffleColumn(x []float64, planes []byte, j, width, rows, from, to int) {
	planes = planes[:8*rows]
	i := from
	for ; i+8 <= to; i += 8 {
		a0, a1, a2, a3, a4, a5, a6, a7 := transpose8(binary.LittleEndian.Uint64(planes[i:]), binary.LittleEndian.Uint64(planes[rows+i:]),
			binary.LittleEndian.Uint64(planes[2*rows+i:]), binary.LittleEndian.Uint64(planes[3*rows+i:]),
			binary.LittleEndian.Uint64(planes[4*rows+i:]), binary.LittleEndian.Uint64(planes[5*rows+i:]),
			binary.LittleEndian.Uint64(planes[6*rows+i:]), binary.LittleEndian.Uint64(planes[7*rows+i:]))
		v := x[i*width+j : (i+7)*width+j+1]
		v[0], v[width], v[2*width], v[3*width] = math.Float64frombits(a0), math.Float64frombits(a1), math.Float64frombits(a2), math.Float64frombits(a3)
		v[4*width], v[5*width], v[6*width], v[7*width] = math.Float64frombits(a4), math.Float64frombits(a5), math.Float64frombits(a6), math.Float64frombits(a7)
	}
	for ; i < to; i++ {
		var u uint64
		for b := range 8 {
			u |= uint64(planes[b*rows+i]) << (8 * b)
		}
		x[i*width+j] = math.Float64frombits(u)
	}
}

// transpose8 transposes the 8×8 bytes of a0..a7, byte b of ak
// (little-endian) being the element in row k and column b: byte k of the
// result b is byte b of ak. Swapping bytes, then pairs, then quads between
// rows does it in 12 masked exchanges, in registers; it is its own inverse.
func transpose8(a0, a1, a2, a3, a4, a5, a6, a7 uint64) (b0, b1, b2, b3, b4, b5, b6, b7 uint64) {
	const m1, m2, m4 = 0x00ff00ff00ff00ff, 0x0000ffff0000ffff, 0x00000000ffffffff
	t := (a0>>8 ^ a1) & m1
	a0, a1 = a0^t<<8, a1^t
	t = (a2>>8 ^ a3) & m1
	a2, a3 = a2^t<<8, a3^t
	t = (a4>>8 ^ a5) & m1
	a4, a5 = a4^t<<8, a5^t
	t = (a6>>8 ^ a7) & m1
	a6, a7 = a6^t<<8, a7^t

	t = (a0>>16 ^ a2) & m2
	a0, a2 = a0^t<<16, a2^t
	t = (a1>>16 ^ a3) & m2
	a1, a3 = a1^t<<16, a3^t
	t = (a4>>16 ^ a6) & m2
	a4, a6 = a4^t<<16, a6^t
	t = (a5>>16 ^ a7) & m2
	a5, a7 = a5^t<<16, a7^t

	t = (a0>>32 ^ a4) & m4
	a0, a4 = a0^t<<32, a4^t
	t = (a1>>32 ^ a5) & m4
	a1, a5 = a1^t<<32, a5^t
	t = (a2>>32 ^ a6) & m4
	a2, a6 = a2^t<<32, a6^t
	t = (a3>>32 ^ a7) & m4
	a3, a7 = a3^t<<32, a7^t
	return a0, a1, a2, a3, a4, a5, a6, a7
}

// ErrBadChunk means a chunk's bytes do not decode as rows of the expected
// width and count.
var ErrBadChunk = errors.New("chunk does not decode")

// rawBuffers keeps the decompressed bytes of KMR2 chunks between decodes:
// the rows are converted out of them, so the buffer is free again at once.
var rawBuffers sync.Pool

// DecodeChunk decodes a chunk written by ChunkWriter (either format) into
// rows of width features; it must hold exactly rows rows.
func DecodeChunk(data []byte, width, rows int) (x [][]float64, y []int, err error) {
	// A manifest's counts are small; these bounds keep the sizes below
	// from overflowing whatever they say.
	if width < 0 || rows < 0 || width > 1<<20 || rows > 1<<30/(4+8*width) {
		return nil, nil, fmt.Errorf("%w: %d rows of %d features is out of range", ErrBadChunk, rows, width)
	}
	size := chunkHeader + rows*(4+8*width)
	if !bytes.HasPrefix(data, zstdMagic) {
		return decodeV1(data, width, rows, size)
	}
	var buf []byte
	if p, ok := rawBuffers.Get().(*[]byte); ok && cap(*p) >= size {
		buf = *p
	} else {
		buf = make([]byte, 0, size)
	}
	defer func() { rawBuffers.Put(&buf) }()
	raw, err := zstdDecoder().DecodeAll(data, buf[:0:size])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadChunk, err)
	}
	if err := checkHeader(raw, chunkMagicV2, width, rows, size); err != nil {
		return nil, nil, err
	}
	body := raw[chunkHeader:]
	flat := make([]float64, rows*width)
	x, y = splitRows(flat, width, rows), make([]int, rows)
	for i := range y {
		y[i] = int(int32(uint32(body[i]) | uint32(body[rows+i])<<8 | uint32(body[2*rows+i])<<16 | uint32(body[3*rows+i])<<24))
	}
	body = body[4*rows:]
	for from := 0; from < rows; from += shuffleTile {
		to := min(from+shuffleTile, rows)
		for j := range width {
			unshuffleColumn(flat, body[8*rows*j:8*rows*(j+1)], j, width, rows, from, to)
		}
	}
	return x, y, nil
}

// decodeV1 decodes a KMR1 chunk (gzip, rows one after another).
func decodeV1(data []byte, width, rows, size int) (x [][]float64, y []int, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadChunk, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, int64(size)+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadChunk, err)
	}
	if err := checkHeader(raw, chunkMagicV1, width, rows, size); err != nil {
		return nil, nil, err
	}
	body := raw[chunkHeader:]
	flat := make([]float64, rows*width)
	x, y = splitRows(flat, width, rows), make([]int, rows)
	for i := range rows {
		r := body[i*(4+8*width):]
		y[i] = int(int32(binary.LittleEndian.Uint32(r)))
		xi := x[i]
		for j := range xi {
			xi[j] = math.Float64frombits(binary.LittleEndian.Uint64(r[4+8*j:]))
		}
	}
	return x, y, nil
}

// checkHeader checks a decompressed chunk's magic, counts and length.
func checkHeader(raw []byte, magic [4]byte, width, rows, size int) error {
	if len(raw) < chunkHeader || !bytes.Equal(raw[:4], magic[:]) {
		return fmt.Errorf("%w: no chunk header", ErrBadChunk)
	}
	if w, n := int(binary.LittleEndian.Uint32(raw[4:])), int(binary.LittleEndian.Uint32(raw[8:])); w != width || n != rows {
		return fmt.Errorf("%w: %d rows of %d features, expected %d of %d", ErrBadChunk, n, w, rows, width)
	}
	if len(raw) != size {
		return fmt.Errorf("%w: %d bytes of rows, expected %d", ErrBadChunk, len(raw)-chunkHeader, size-chunkHeader)
	}
	return nil
}

// splitRows cuts flat into rows of width values, each capped so that an
// append to one cannot run into the next.
func splitRows(flat []float64, width, rows int) [][]float64 {
	x := make([][]float64, rows)
	for i := range x {
		x[i] = flat[i*width : (i+1)*width : (i+1)*width]
	}
	return x
}
