package trainer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The payloads are a flat sequence of values: unsigned varints for counts and indexes, zig-zag
// varints for signed integers, 8-byte little-endian IEEE 754 for floats (exact round trip). Every
// count is checked against the bytes left before anything is allocated, so a tampered length can
// never make Decode allocate more than the artifact's own size.

type encoder struct{ b []byte }

func (e *encoder) uint(v int) { e.b = binary.AppendUvarint(e.b, uint64(v)) }

func (e *encoder) int(v int) { e.b = binary.AppendVarint(e.b, int64(v)) }

func (e *encoder) float(v float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v)) }

func (e *encoder) floats(v []float64) {
	e.uint(len(v))
	for _, f := range v {
		e.float(f)
	}
}

func (e *encoder) uints(v []int) {
	e.uint(len(v))
	for _, u := range v {
		e.uint(u)
	}
}

// decoder reads what encoder wrote. After the first problem it returns zero values and keeps
// that first error, so callers check err once at the end.
type decoder struct {
	b   []byte
	err error
}

var errShortPayload = errors.New("payload ends early")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) failf(format string, args ...any) { d.fail(fmt.Errorf(format, args...)) }

func (d *decoder) uint() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	return d.varint(n, v <= math.MaxInt32, int(v))
}

func (d *decoder) int() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	return d.varint(n, v >= math.MinInt32 && v <= math.MaxInt32, int(v))
}

// varint takes the n bytes of a varint that decoded to v, or fails when
// there were none (n == 0), it overflowed (n < 0), or it is not inRange.
func (d *decoder) varint(n int, inRange bool, v int) int {
	if n <= 0 || !inRange {
		if n == 0 {
			d.fail(errShortPayload)
		} else {
			d.failf("integer out of range")
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

// uintMax reads an unsigned integer that must be at most max.
func (d *decoder) uintMax(max int, what string) int {
	v := d.uint()
	if d.err == nil && v > max {
		d.failf("%s %d out of range (at most %d)", what, v, max)
		return 0
	}
	return v
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail(errShortPayload)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

// finite reads a float that must be finite.
func (d *decoder) finite(what string) float64 {
	v := d.float()
	if d.err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		d.failf("%s is %v", what, v)
	}
	return v
}

// count reads a length whose elements take at least minBytes each and checks that many bytes are
// left, so that a tampered length fails instead of allocating.
func (d *decoder) count(minBytes int, what string) int {
	n := d.uint()
	if d.err == nil && n*minBytes > len(d.b) {
		d.failf("%s: %d entries need at least %d bytes, %d left", what, n, n*minBytes, len(d.b))
		return 0
	}
	return n
}

// floatsN reads a float slice whose length must be exactly want.
func (d *decoder) floatsN(want int, what string) []float64 {
	return readN(d, want, 8, what, func() float64 { return d.finite(what) })
}

// uintsN reads an unsigned integer slice whose length must be exactly want.
func (d *decoder) uintsN(want int, what string) []int {
	return readN(d, want, 1, what, d.uint)
}

// readN reads a slice of exactly want elements of at least minBytes each, reading each with read.
func readN[T any](d *decoder, want, minBytes int, what string, read func() T) []T {
	n := d.count(minBytes, what)
	if d.err != nil {
		return nil
	}
	if n != want {
		d.failf("%s: %d values, want %d", what, n, want)
		return nil
	}
	v := make([]T, n)
	for i := range v {
		v[i] = read()
	}
	return v
}

// done reports the first error, or bytes left over after a complete payload.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.failf("%d unexpected bytes after the model", len(d.b))
	}
	return d.err
}

// takeBytes reads the next n bytes of d.
func takeBytes(d *decoder, n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.failf("%s: want %d bytes, %d left", what, n, len(d.b))
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

// clampFloat32 converts a finite float64 to the nearest float32, clamping values beyond
// ±math.MaxFloat32 (which would become infinities, which XGBoost rejects).
func clampFloat32(v float64) float32 {
	switch {
	case v > math.MaxFloat32:
		return math.MaxFloat32
	case v < -math.MaxFloat32:
		return -math.MaxFloat32
	}
	return float32(v)
}

// hashedBytes appends raw (a runtime's own model bytes) after its SHA-256 and its length.
func (e *encoder) hashedBytes(raw []byte) {
	sum := sha256.Sum256(raw)
	e.b = append(e.b, sum[:]...)
	e.uint(len(raw))
	e.b = append(e.b, raw...)
}

// hashedBytes reads what encoder.hashedBytes wrote, the last field of a payload, and checks the
// hash before any runtime parses the bytes (runtimes' loaders are not written for untrusted bytes).
func (d *decoder) hashedBytes() ([]byte, error) {
	sum := takeBytes(d, sha256.Size, "model hash")
	raw := takeBytes(d, d.count(1, "model bytes"), "model bytes")
	if err := d.done(); err != nil {
		return nil, err
	}
	if got := sha256.Sum256(raw); !bytes.Equal(got[:], sum) {
		return nil, errors.New("model bytes do not match their SHA-256")
	}
	return bytes.Clone(raw), nil
}
