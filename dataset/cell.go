package dataset

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/gocql/gocql"
)

// cell receives one column of a row straight from the driver's bytes. The
// types a source table usually has (integers, floating point, boolean,
// timestamp, text, uuid) are decoded here without reflection or an
// allocation per cell; anything else (decimal, varint, date, ...) is handed
// to gocql and kept as the value it decodes. Scanning into **T targets
// instead costs a reflect.New, a heap value and an interface box per cell:
// 3.6 times the client CPU per row of a plain scan (BENCHMARKS.md, section 1).
type cell struct {
	null bool
	kind cellKind
	i    int64   // integers, boolean (0 or 1), timestamp (Unix milliseconds)
	f    float64 // double and float
	b    []byte  // text and uuid bytes: the driver's, valid until the next Scan
	v    any     // cellOther: the value gocql decoded
	// bad says why the bytes could not be decoded: a problem of the row,
	// named with its column by the scan, not an error that stops it.
	bad string
}

type cellKind uint8

const (
	cellInt cellKind = iota
	cellBool
	cellDouble
	cellFloat32
	cellTime
	cellText
	cellUUID
	cellOther
)

// zeroUUID is what an empty uuid cell reads as, as gocql has it.
var zeroUUID [16]byte

// UnmarshalCQL implements gocql.Unmarshaler. gocql passes nil data for a
// null cell. An empty (zero-length, not null) value of a fixed-width type
// reads as the type's zero value, as gocql decodes it (a zero time.Time for
// a timestamp), so keys, hence the holdout split, and values are the same
// as a scan through gocql's own types gives. It never returns an error: a
// value that cannot be decoded marks the cell bad.
func (c *cell) UnmarshalCQL(info gocql.TypeInfo, data []byte) error {
	// The cell is reset field by field, its pointers only when set: zeroing
	// the whole struct, for every cell of every row, went through the
	// garbage collector's bulk write barrier whenever a collection was
	// marking (4% of a scan's CPU time).
	c.null, c.kind, c.i, c.f = data == nil, cellInt, 0, 0
	if c.b != nil {
		c.b = nil
	}
	if c.v != nil {
		c.v = nil
	}
	if c.bad != "" {
		c.bad = ""
	}
	if c.null {
		return nil
	}
	typ := info.Type()
	if width := fixedWidth(typ); width > 0 && len(data) != width {
		switch {
		case len(data) > 0:
			c.bad = fmt.Sprintf("cannot decode %d bytes as %s", len(data), typ)
		case typ == gocql.TypeTimestamp:
			c.kind, c.v = cellOther, time.Time{}
		case typ == gocql.TypeUUID, typ == gocql.TypeTimeUUID:
			c.kind, c.b = cellUUID, zeroUUID[:]
		case typ == gocql.TypeDouble:
			c.kind = cellDouble
		case typ == gocql.TypeFloat:
			c.kind = cellFloat32
		case typ == gocql.TypeBoolean:
			c.kind = cellBool
		default:
			c.kind = cellInt
		}
		return nil
	}
	switch typ {
	case gocql.TypeInt:
		c.kind, c.i = cellInt, int64(int32(binary.BigEndian.Uint32(data)))
	case gocql.TypeBigInt, gocql.TypeCounter:
		c.kind, c.i = cellInt, int64(binary.BigEndian.Uint64(data))
	case gocql.TypeSmallInt:
		c.kind, c.i = cellInt, int64(int16(binary.BigEndian.Uint16(data)))
	case gocql.TypeTinyInt:
		c.kind, c.i = cellInt, int64(int8(data[0]))
	case gocql.TypeBoolean:
		c.kind = cellBool
		if data[0] != 0 {
			c.i = 1
		}
	case gocql.TypeDouble:
		c.kind, c.f = cellDouble, math.Float64frombits(binary.BigEndian.Uint64(data))
	case gocql.TypeFloat:
		c.kind, c.f = cellFloat32, float64(math.Float32frombits(binary.BigEndian.Uint32(data)))
	case gocql.TypeTimestamp:
		c.kind, c.i = cellTime, int64(binary.BigEndian.Uint64(data))
	case gocql.TypeVarchar, gocql.TypeText, gocql.TypeAscii:
		c.kind, c.b = cellText, data
	case gocql.TypeUUID, gocql.TypeTimeUUID:
		c.kind, c.b = cellUUID, data
	default:
		v, err := unmarshalOther(info, data)
		if err != nil {
			c.bad = err.Error()
			return nil
		}
		c.kind, c.v = cellOther, v
	}
	return nil
}

// fixedWidth is the size of a value of the types UnmarshalCQL decodes
// itself from fixed-width bytes, 0 for any other type (an array, not a map:
// it is read for every cell).
func fixedWidth(t gocql.Type) int {
	if int(t) < len(widths) {
		return int(widths[t])
	}
	return 0
}

var widths = func() (w [0x40]uint8) {
	for t, n := range map[gocql.Type]uint8{
		gocql.TypeInt: 4, gocql.TypeBigInt: 8, gocql.TypeCounter: 8, gocql.TypeSmallInt: 2, gocql.TypeTinyInt: 1,
		gocql.TypeBoolean: 1, gocql.TypeDouble: 8, gocql.TypeFloat: 4, gocql.TypeTimestamp: 8, gocql.TypeUUID: 16, gocql.TypeTimeUUID: 16,
	} {
		w[t] = n
	}
	return w
}()

// unmarshalOther decodes a cell of any other type with gocql, which panics
// on some malformed values (a date of the wrong length): that is an error
// here, not a crashed worker.
func unmarshalOther(info gocql.TypeInfo, data []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot decode %d bytes as %s", len(data), info.Type())
		}
	}()
	p := info.New() // a *T for the type's Go value
	if err := gocql.Unmarshal(info, data, p); err != nil {
		return nil, err
	}
	return reflect.ValueOf(p).Elem().Interface(), nil
}

// number reads a numeric feature; ok is false for null or a type that is
// not a number.
func (c *cell) number() (float64, bool) {
	switch {
	case c.null:
		return 0, false
	case c.kind == cellInt, c.kind == cellBool:
		return float64(c.i), true
	case c.kind == cellDouble, c.kind == cellFloat32:
		return c.f, true
	case c.kind == cellOther:
		return cellFloat(c.v)
	}
	return 0, false
}

// time reads a timestamp cell; ok is false for null or another type.
func (c *cell) time() (time.Time, bool) {
	switch {
	case c.null:
		return time.Time{}, false
	case c.kind == cellTime:
		return time.UnixMilli(c.i).UTC(), true
	case c.kind == cellOther:
		t, ok := c.v.(time.Time)
		return t, ok
	}
	return time.Time{}, false
}

// appendText appends the cell as labelString renders its value (the string
// the config uses for classes and categories, and the row key the holdout
// hash reads; "" for null) to dst. Looking a map up with string(appendText())
// allocates nothing.
func (c *cell) appendText(dst []byte) []byte {
	if c.null {
		return dst
	}
	switch c.kind {
	case cellInt:
		return strconv.AppendInt(dst, c.i, 10)
	case cellBool:
		return strconv.AppendBool(dst, c.i != 0)
	case cellDouble:
		return strconv.AppendFloat(dst, c.f, 'g', -1, 64)
	case cellFloat32:
		return strconv.AppendFloat(dst, c.f, 'g', -1, 32)
	case cellTime:
		return append(dst, time.UnixMilli(c.i).UTC().String()...)
	case cellText:
		return append(dst, c.b...)
	case cellUUID:
		var u [36]byte
		hex.Encode(u[0:8], c.b[0:4])
		u[8] = '-'
		hex.Encode(u[9:13], c.b[4:6])
		u[13] = '-'
		hex.Encode(u[14:18], c.b[6:8])
		u[18] = '-'
		hex.Encode(u[19:23], c.b[8:10])
		u[23] = '-'
		hex.Encode(u[24:], c.b[10:16])
		return append(dst, u[:]...)
	}
	return append(dst, labelString(c.v)...)
}

// cellTargets returns cells for the columns of a row and the scan targets
// that fill them.
func cellTargets(n int) ([]cell, []any) {
	cells := make([]cell, n)
	targets := make([]any, n)
	for i := range cells {
		targets[i] = &cells[i]
	}
	return cells, targets
}

// rowArena carves fixed-length feature rows out of blocks, so a page of
// rows costs a handful of allocations instead of one per row. Blocks start
// small and double up to arenaRows rows, so an arena that holds few rows
// (a day of a sampled window) wastes little. A row keeps its whole block
// alive: code that keeps a few rows of many pages copies them into an arena
// of its own (LoadTrain does).
type rowArena struct {
	width int
	free  []float64
	next  int // rows in the next block
}

// arenaRows is how many rows a block holds at most; the first holds 64.
const arenaRows = 4096

func (a *rowArena) row() []float64 {
	if a.width == 0 {
		return []float64{}
	}
	if len(a.free) < a.width {
		a.next = min(max(2*a.next, 64), arenaRows)
		a.free = make([]float64, a.next*a.width)
	}
	r := a.free[:a.width:a.width]
	a.free = a.free[a.width:]
	return r
}
