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

// UnmarshalCQL implements gocql.Unmarshaler. gocql passes nil data for a
// null cell.
func (c *cell) UnmarshalCQL(info gocql.TypeInfo, data []byte) error {
	*c = cell{null: data == nil}
	if c.null {
		return nil
	}
	fixed := func(n int) error {
		if len(data) != n {
			return fmt.Errorf("cannot decode %d bytes as %s", len(data), info.Type())
		}
		return nil
	}
	switch info.Type() {
	case gocql.TypeInt:
		if err := fixed(4); err != nil {
			return err
		}
		c.kind, c.i = cellInt, int64(int32(binary.BigEndian.Uint32(data)))
	case gocql.TypeBigInt, gocql.TypeCounter:
		if err := fixed(8); err != nil {
			return err
		}
		c.kind, c.i = cellInt, int64(binary.BigEndian.Uint64(data))
	case gocql.TypeSmallInt:
		if err := fixed(2); err != nil {
			return err
		}
		c.kind, c.i = cellInt, int64(int16(binary.BigEndian.Uint16(data)))
	case gocql.TypeTinyInt:
		if err := fixed(1); err != nil {
			return err
		}
		c.kind, c.i = cellInt, int64(int8(data[0]))
	case gocql.TypeBoolean:
		if err := fixed(1); err != nil {
			return err
		}
		c.kind = cellBool
		if data[0] != 0 {
			c.i = 1
		}
	case gocql.TypeDouble:
		if err := fixed(8); err != nil {
			return err
		}
		c.kind, c.f = cellDouble, math.Float64frombits(binary.BigEndian.Uint64(data))
	case gocql.TypeFloat:
		if err := fixed(4); err != nil {
			return err
		}
		c.kind, c.f = cellFloat32, float64(math.Float32frombits(binary.BigEndian.Uint32(data)))
	case gocql.TypeTimestamp:
		if err := fixed(8); err != nil {
			return err
		}
		c.kind, c.i = cellTime, int64(binary.BigEndian.Uint64(data))
	case gocql.TypeVarchar, gocql.TypeText, gocql.TypeAscii:
		c.kind, c.b = cellText, data
	case gocql.TypeUUID, gocql.TypeTimeUUID:
		if err := fixed(16); err != nil {
			return err
		}
		c.kind, c.b = cellUUID, data
	default:
		v, err := unmarshalOther(info, data)
		if err != nil {
			return err
		}
		c.kind, c.v = cellOther, v
	}
	return nil
}

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

// rowArena carves fixed-length feature rows out of large blocks, so a page
// of rows costs a handful of allocations instead of one per row. A row
// keeps its whole block alive: code that keeps a few rows of many pages
// copies them into an arena of its own (LoadTrain does).
type rowArena struct {
	width int
	free  []float64
}

// arenaRows is how many rows one block holds.
const arenaRows = 4096

func (a *rowArena) row() []float64 {
	if a.width == 0 {
		return []float64{}
	}
	if len(a.free) < a.width {
		a.free = make([]float64, arenaRows*a.width)
	}
	r := a.free[:a.width:a.width]
	a.free = a.free[a.width:]
	return r
}
