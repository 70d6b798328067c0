package dataset_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"gopkg.in/inf.v0"

	"github.com/kingmaker-ml/kingmaker/config"
	"github.com/kingmaker-ml/kingmaker/dataset"
)

var fuzzFeatures = []config.Feature{
	{Name: "a", Column: "a", Type: "numeric"},
	{Name: "b", Column: "b", Type: "numeric"},
	{Name: "plan", Column: "plan", Type: "categorical", Categories: []string{"basic", "standard", "premium"}},
}

func native(t gocql.Type) gocql.TypeInfo { return gocql.NewNativeType(4, t, "") }

// numberCell builds the bytes Cassandra sends for a cell of the CQL type
// kind selects from the fuzz inputs, and the number a scan must read from
// it (ok false: the row must be refused as missing that feature): every
// type a numeric column may have, null, and text where a number is
// expected.
func numberCell(t *testing.T, kind uint8, x float64, n int64, s string, b bool) (info gocql.TypeInfo, data []byte, want float64, ok bool) {
	var v any
	switch kind % 12 {
	case 0:
		return native(gocql.TypeDouble), nil, 0, false
	case 1:
		info, v, want = native(gocql.TypeDouble), x, x
	case 2:
		info, v, want = native(gocql.TypeFloat), float32(x), float64(float32(x))
	case 3:
		info, v, want = native(gocql.TypeInt), int32(n), float64(int32(n))
	case 4:
		info, v, want = native(gocql.TypeBigInt), n, float64(n)
	case 5:
		info, v, want = native(gocql.TypeSmallInt), int16(n), float64(int16(n))
	case 6:
		info, v, want = native(gocql.TypeTinyInt), int8(n), float64(int8(n))
	case 7:
		info, v = native(gocql.TypeBoolean), b
		if b {
			want = 1
		}
	case 8:
		info, v, want = native(gocql.TypeVarint), big.NewInt(n), float64(n)
	case 9:
		d, parsed := new(inf.Dec).SetString(s)
		if !parsed {
			d = inf.NewDec(n, inf.Scale(len(s)%20))
		}
		info, v = native(gocql.TypeDecimal), d
		f, err := strconv.ParseFloat(d.String(), 64)
		if err != nil {
			return info, mustMarshal(t, info, v), 0, false
		}
		want = f
	case 10:
		return native(gocql.TypeVarchar), []byte(s), 0, false
	default:
		info, v, want = native(gocql.TypeCounter), n, float64(n)
	}
	return info, mustMarshal(t, info, v), want, true
}

func mustMarshal(t *testing.T, info gocql.TypeInfo, v any) []byte {
	b, err := gocql.Marshal(info, v)
	if err != nil {
		t.Fatalf("marshal %#v as %s: %v", v, info.Type(), err)
	}
	return b
}

// gocqlValue decodes a cell the way the driver does for a **T scan target:
// nil for null, else the Go value of the column's type.
func gocqlValue(t *testing.T, info gocql.TypeInfo, data []byte) any {
	if data == nil {
		return nil
	}
	p := info.New()
	if err := gocql.Unmarshal(info, data, p); err != nil {
		t.Fatalf("gocql cannot decode %x as %s: %v", data, info.Type(), err)
	}
	return reflect.ValueOf(p).Elem().Interface()
}

// FuzzConvertRow converts rows of cells of any type, decoded from the bytes
// Cassandra sends: conversion never panics, a usable row holds exactly the
// numbers the cells carry and a known category's index (or -1), and an
// unusable one is refused with one line naming the feature.
// `go test` runs the seeds and testdata/fuzz/FuzzConvertRow.
func FuzzConvertRow(f *testing.F) {
	f.Add(uint8(1), uint8(4), uint8(0), 12.5, int64(3), "basic", true)
	f.Add(uint8(1), uint8(1), uint8(0), math.NaN(), int64(0), "standard", false)
	f.Add(uint8(2), uint8(1), uint8(0), math.Inf(-1), int64(0), "premium", false)
	f.Add(uint8(0), uint8(3), uint8(1), 1.0, int64(-7), "", false)
	f.Add(uint8(9), uint8(9), uint8(2), 0.0, int64(0), "NaN", true)
	f.Add(uint8(9), uint8(8), uint8(3), 0.0, int64(math.MaxInt64), "1e400", true)
	f.Add(uint8(10), uint8(7), uint8(0), 0.0, int64(0), "12", true)
	f.Add(uint8(2), uint8(6), uint8(0), 1e300, int64(-128), "unknown plan", false)
	f.Add(uint8(9), uint8(11), uint8(0), 0.0, int64(1)<<60, "-12345678901234567890.125", false)
	f.Fuzz(func(t *testing.T, ka, kb, kc uint8, x float64, n int64, s string, b bool) {
		ia, da, wa, oka := numberCell(t, ka, x, n, s, b)
		ib, db, wb, okb := numberCell(t, kb, -x, n/3, s, !b)
		var (
			ic = native(gocql.TypeVarchar)
			dc = []byte(s)
		)
		switch kc % 4 {
		case 1:
			dc = nil
		case 2:
			ic, dc = native(gocql.TypeBoolean), mustMarshal(t, native(gocql.TypeBoolean), b)
		case 3:
			ic, dc = native(gocql.TypeBigInt), mustMarshal(t, native(gocql.TypeBigInt), n)
		}
		row, problem, err := dataset.ConvertRow(fuzzFeatures, []gocql.TypeInfo{ia, ib, ic}, [][]byte{da, db, dc})
		if err != nil {
			t.Fatalf("cells the driver encoded do not decode: %v", err)
		}
		finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
		usable := oka && finite(wa) && okb && finite(wb)
		if problem != "" {
			if row != nil {
				t.Fatalf("refused (%s) but returned %v", problem, row)
			}
			if strings.ContainsAny(problem, "\r\n") || !strings.HasPrefix(problem, "feature a ") && !strings.HasPrefix(problem, "feature b ") {
				t.Fatalf("problem %q is not one line naming a numeric feature", problem)
			}
			if usable {
				t.Fatalf("refused a usable row (%v, %v): %s", wa, wb, problem)
			}
			return
		}
		if !usable {
			t.Fatalf("accepted %v from cells that hold (%v %v, %v %v)", row, wa, oka, wb, okb)
		}
		if row[0] != wa || row[1] != wb {
			t.Fatalf("numbers %v, %v became %v, %v", wa, wb, row[0], row[1])
		}
		plan := dataset.LabelString(gocqlValue(t, ic, dc))
		if want := float64(slices.Index(fuzzFeatures[2].Categories, plan)); row[2] != want {
			t.Fatalf("category %q became %v, want %v", plan, row[2], want)
		}
	})
}

// cellTypes are the CQL types a key, label or category column may have.
var cellTypes = []gocql.Type{gocql.TypeVarchar, gocql.TypeText, gocql.TypeAscii, gocql.TypeInt, gocql.TypeBigInt, gocql.TypeSmallInt,
	gocql.TypeTinyInt, gocql.TypeBoolean, gocql.TypeDouble, gocql.TypeFloat, gocql.TypeTimestamp, gocql.TypeUUID, gocql.TypeTimeUUID,
	gocql.TypeCounter, gocql.TypeVarint, gocql.TypeDecimal, gocql.TypeDate, gocql.TypeInet}

var numberTypes = map[gocql.Type]bool{gocql.TypeInt: true, gocql.TypeBigInt: true, gocql.TypeSmallInt: true, gocql.TypeTinyInt: true,
	gocql.TypeBoolean: true, gocql.TypeDouble: true, gocql.TypeFloat: true, gocql.TypeCounter: true, gocql.TypeVarint: true, gocql.TypeDecimal: true}

// driverDecode decodes a cell with gocql into its own Go type, as a **T
// scan target did; gocql panics on some malformed values, which count as
// refused.
func driverDecode(info gocql.TypeInfo, data []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gocql panicked: %v", r)
		}
	}()
	p := info.New()
	if err := gocql.Unmarshal(info, data, p); err != nil {
		return nil, err
	}
	return reflect.ValueOf(p).Elem().Interface(), nil
}

// FuzzDecodeCell decodes any bytes as any column type: decoding never
// panics, and whatever decodes reads as the same text and number as the
// driver's own decoding of those bytes (what a **T scan target gave), so
// row keys, hence the holdout split, and classes do not depend on how the
// scan receives its cells.
func FuzzDecodeCell(f *testing.F) {
	f.Add(uint8(0), []byte("churned"))
	f.Add(uint8(4), []byte{0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Add(uint8(8), []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	f.Add(uint8(9), []byte{0x3f, 0xc0, 0, 0})
	f.Add(uint8(10), []byte{0, 0, 1, 0x8e, 0x5c, 0x3b, 0x1d, 0x20})
	f.Add(uint8(11), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(uint8(14), []byte{0xff, 0x01})
	f.Add(uint8(15), []byte{0, 0, 0, 2, 0x30, 0x39})
	f.Add(uint8(5), []byte{})
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		info := native(cellTypes[int(kind)%len(cellTypes)])
		if info.Type() == gocql.TypeDecimal && len(data) >= 4 {
			if scale := int32(binary.BigEndian.Uint32(data)); scale > 1000 || scale < -1000 {
				return // a decimal of this scale renders as too many digits to compare as text
			}
		}
		text, err := dataset.CellText(info, data)
		v, gerr := driverDecode(info, data)
		if err != nil {
			// Bytes of the wrong length for the type (which Cassandra never
			// sends): refused, not misread. An empty value the driver reads
			// (as its zero value) is not one of them.
			if len(data) == 0 && gerr == nil {
				t.Fatalf("an empty %s value is refused (%v); gocql reads it", info.Type(), err)
			}
			return
		}
		if gerr != nil {
			return // ours decoded what the driver refuses: only a type's own length rules differ
		}
		if want := dataset.LabelString(v); text != want {
			t.Fatalf("%s %x reads as %q, the driver's value as %q", info.Type(), data, text, want)
		}
		row, problem, err := dataset.ConvertRow(fuzzFeatures[:1], []gocql.TypeInfo{info}, [][]byte{data})
		if err != nil {
			t.Fatal(err)
		}
		want, ok := dataset.CellFloat(v)
		if !numberTypes[info.Type()] {
			ok = false // dataset.Check refuses such a column for a numeric feature
		}
		switch {
		case !ok || math.IsNaN(want) || math.IsInf(want, 0):
			if problem == "" {
				t.Fatalf("%s %x: accepted %v where the driver's value %#v is no finite number", info.Type(), data, row, v)
			}
		case problem != "":
			t.Fatalf("%s %x: refused (%s) where the driver's value reads %v", info.Type(), data, problem, want)
		case row[0] != want:
			t.Fatalf("%s %x reads as %v, the driver's value as %v", info.Type(), data, row[0], want)
		}
	})
}

// FuzzClassIndex reads label cells of any type: the class is the one whose
// name is the cell's text, else -1, and the text of a cell is stable.
func FuzzClassIndex(f *testing.F) {
	f.Add(uint8(0), "true", int64(1), true)
	f.Add(uint8(1), "", int64(0), false)
	f.Add(uint8(2), "yes", int64(-1), true)
	f.Add(uint8(3), "0", int64(0), false)
	f.Fuzz(func(t *testing.T, kind uint8, s string, n int64, b bool) {
		var v any
		switch kind % 6 {
		case 0:
			v = s
		case 1:
			v = nil
		case 2:
			v = b
		case 3:
			v = n
		case 4:
			v = int(n)
		default:
			v = gocql.UUIDFromTime(time.Unix(n%(1<<40), 0))
		}
		classes := []string{"false", "true", s, "42"}
		text := dataset.LabelString(v)
		if again := dataset.LabelString(v); again != text {
			t.Fatalf("the text of %#v changed: %q then %q", v, text, again)
		}
		if got, want := dataset.ClassIndex(classes, []byte(text)), slices.Index(classes, text); got != want {
			t.Fatalf("class of %#v (%q) in %q: %d, want %d", v, text, classes, got, want)
		}
	})
}
