package trainer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// decodeUBJSON reads one Universal Binary JSON value (the "ubj" model format of XGBoost) into the
// shapes encoding/json gives: map[string]any, []any, string, float64, bool and nil. Typed numeric
// arrays (XGBoost's trees: "[$d#L<count>" and the like) are skipped, not read: they become a
// ubjArray holding only their length, since reading a model's metadata never needs the split
// values. It refuses (never panics on) truncated or malformed bytes and anything after the value.
func decodeUBJSON(b []byte) (any, error) {
	d := &ubjDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.off != len(d.b) {
		return nil, fmt.Errorf("ubj: %d bytes after the value", len(d.b)-d.off)
	}
	return v, nil
}

// ubjArray stands for a typed array that decodeUBJSON skipped.
type ubjArray struct{ n int }

// ubjMaxDepth bounds nesting; XGBoost's models nest about six deep.
const ubjMaxDepth = 64

type ubjDecoder struct {
	b   []byte
	off int
}

var errUBJTruncated = errors.New("ubj: truncated")

func (d *ubjDecoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.off {
		return nil, errUBJTruncated
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *ubjDecoder) marker() (byte, error) {
	p, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// size is the byte width of a fixed-size value marker, 0 for others.
func ubjSize(m byte) int {
	switch m {
	case 'i', 'U', 'C':
		return 1
	case 'I':
		return 2
	case 'l', 'd':
		return 4
	case 'L', 'D':
		return 8
	}
	return 0
}

// number reads the number of marker m.
func (d *ubjDecoder) number(m byte) (float64, error) {
	p, err := d.take(ubjSize(m))
	if err != nil {
		return 0, err
	}
	switch m {
	case 'i':
		return float64(int8(p[0])), nil
	case 'U', 'C':
		return float64(p[0]), nil
	case 'I':
		return float64(int16(binary.BigEndian.Uint16(p))), nil
	case 'l':
		return float64(int32(binary.BigEndian.Uint32(p))), nil
	case 'L':
		return float64(int64(binary.BigEndian.Uint64(p))), nil
	case 'd':
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), nil
	case 'D':
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	}
	return 0, fmt.Errorf("ubj: marker %q is not a number", m)
}

// length reads a count or string length: an integer value with its own marker.
func (d *ubjDecoder) length() (int, error) {
	m, err := d.marker()
	if err != nil {
		return 0, err
	}
	if m != 'i' && m != 'U' && m != 'I' && m != 'l' && m != 'L' {
		return 0, fmt.Errorf("ubj: length has marker %q, want an integer", m)
	}
	n, err := d.number(m)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > float64(len(d.b)) {
		return 0, fmt.Errorf("ubj: length %v beyond the %d bytes of the file", n, len(d.b))
	}
	return int(n), nil
}

func (d *ubjDecoder) str() (string, error) {
	n, err := d.length()
	if err != nil {
		return "", err
	}
	p, err := d.take(n)
	return string(p), err
}

func (d *ubjDecoder) value(depth int) (any, error) {
	m, err := d.marker()
	if err != nil {
		return nil, err
	}
	return d.valueOf(m, depth)
}

func (d *ubjDecoder) valueOf(m byte, depth int) (any, error) {
	if depth > ubjMaxDepth {
		return nil, errors.New("ubj: nested too deep")
	}
	switch m {
	case 'Z':
		return nil, nil
	case 'T':
		return true, nil
	case 'F':
		return false, nil
	case 'i', 'U', 'I', 'l', 'L', 'd', 'D':
		return d.number(m)
	case 'C':
		p, err := d.take(1)
		if err != nil {
			return nil, err
		}
		return string(p), nil
	case 'S', 'H':
		return d.str()
	case '[':
		return d.array(depth)
	case '{':
		return d.object(depth)
	}
	return nil, fmt.Errorf("ubj: unknown marker %q at byte %d", m, d.off-1)
}

// container reads the optional "$type" and "#count" of an array or object; count -1 means none.
func (d *ubjDecoder) container() (typ byte, count int, err error) {
	count = -1
	if d.off < len(d.b) && d.b[d.off] == '$' {
		d.off++
		if typ, err = d.marker(); err != nil {
			return 0, 0, err
		}
		if d.off >= len(d.b) || d.b[d.off] != '#' {
			return 0, 0, errors.New("ubj: typed container without a count")
		}
	}
	if d.off < len(d.b) && d.b[d.off] == '#' {
		d.off++
		if count, err = d.length(); err != nil {
			return 0, 0, err
		}
	}
	return typ, count, nil
}

func (d *ubjDecoder) array(depth int) (any, error) {
	typ, count, err := d.container()
	if err != nil {
		return nil, err
	}
	if typ != 0 && ubjSize(typ) > 0 {
		if _, err := d.take(count * ubjSize(typ)); err != nil {
			return nil, err
		}
		return ubjArray{n: count}, nil
	}
	var out []any
	for i := 0; count < 0 || i < count; i++ {
		m := typ
		if m == 0 {
			if m, err = d.marker(); err != nil {
				return nil, err
			}
			if count < 0 && m == ']' {
				break
			}
		}
		v, err := d.valueOf(m, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *ubjDecoder) object(depth int) (any, error) {
	typ, count, err := d.container()
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for i := 0; count < 0 || i < count; i++ {
		if count < 0 && d.off < len(d.b) && d.b[d.off] == '}' {
			d.off++
			break
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		m := typ
		if m == 0 {
			if m, err = d.marker(); err != nil {
				return nil, err
			}
		}
		v, err := d.valueOf(m, depth+1)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
