package dataset

import (
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"gopkg.in/inf.v0"
)

// TestACellReusedForEveryRowReadsAsAFreshOne decodes every pair of cells of
// different types, null, empty and malformed ones included, into one cell
// after the other, as a scan reuses its cells row after row: the second
// must read exactly as if decoded into a new cell, nothing of the first
// left in it.
func TestACellReusedForEveryRowReadsAsAFreshOne(t *testing.T) {
	native := func(typ gocql.Type) gocql.TypeInfo { return gocql.NewNativeType(4, typ, "") }
	marshal := func(typ gocql.Type, v any) []byte {
		b, err := gocql.Marshal(native(typ), v)
		if err != nil {
			t.Fatalf("marshal %#v as %s: %v", v, typ, err)
		}
		return b
	}
	type raw struct {
		name string
		info gocql.TypeInfo
		data []byte
	}
	cells := []raw{
		{"null double", native(gocql.TypeDouble), nil},
		{"int", native(gocql.TypeInt), marshal(gocql.TypeInt, 7)},
		{"bigint", native(gocql.TypeBigInt), marshal(gocql.TypeBigInt, int64(-3))},
		{"boolean", native(gocql.TypeBoolean), marshal(gocql.TypeBoolean, true)},
		{"double", native(gocql.TypeDouble), marshal(gocql.TypeDouble, 2.5)},
		{"float", native(gocql.TypeFloat), marshal(gocql.TypeFloat, float32(1.25))},
		{"timestamp", native(gocql.TypeTimestamp), marshal(gocql.TypeTimestamp, time.UnixMilli(1700000000123))},
		{"text", native(gocql.TypeVarchar), []byte("premium")},
		{"uuid", native(gocql.TypeUUID), marshal(gocql.TypeUUID, gocql.TimeUUID())},
		{"decimal", native(gocql.TypeDecimal), marshal(gocql.TypeDecimal, inf.NewDec(12345, 2))},
		{"varint", native(gocql.TypeVarint), marshal(gocql.TypeVarint, big.NewInt(-42))},
		{"empty double", native(gocql.TypeDouble), []byte{}},
		{"empty timestamp", native(gocql.TypeTimestamp), []byte{}},
		{"empty uuid", native(gocql.TypeUUID), []byte{}},
		{"double of 3 bytes", native(gocql.TypeDouble), []byte{1, 2, 3}},
		{"date of 1 byte", native(gocql.TypeDate), []byte{1}},
	}
	for _, first := range cells {
		for _, second := range cells {
			var reused, fresh cell
			reused.UnmarshalCQL(first.info, first.data)
			reused.UnmarshalCQL(second.info, second.data)
			fresh.UnmarshalCQL(second.info, second.data)
			if !reflect.DeepEqual(reused, fresh) {
				t.Errorf("%s after %s: %+v, a new cell reads %+v", second.name, first.name, reused, fresh)
			}
		}
	}
}
