package trainer

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Model files in ONNX (scikit-learn pipelines converted by skl2onnx, LightGBM or XGBoost converted
// by onnxmltools), run by ONNX Runtime's C API in a build with the onnx tag (onnx.go). The feature
// contract takes one of two shapes. Either one named input per feature of the schema, named like
// the feature, of shape [N, 1]: float (or double) for a numeric feature, string for a categorical
// one (the category's name, "" for the unknown category), which is what skl2onnx gives a
// ColumnTransformer pipeline converted with one FloatTensorType([None, 1]) or
// StringTensorType([None, 1]) per column. Or a single float input (of any name that is not a
// feature's) of shape [N, F] whose F columns are those of the XGBoost import (XGBoostColumns): the
// features in config order, a numeric one as its value, a categorical one as one 0/1 column per
// category in the config's category order (all 0 for the unknown category), which is what
// onnxmltools gives a LightGBM or XGBoost model trained on those columns and converted with
// FloatTensorType([None, F]); a wrong F is refused naming the column count. The output: for
// classification a float tensor "probabilities" of one column per class of the config, in the
// config's class order (convert classifiers with options {"zipmap": False}: a ZipMap output is a
// sequence of maps, not a tensor); for regression a float tensor of one column ("variable", or the
// only output). ONNX Runtime computes in float32: parity is checked at 1e-5.

const (
	algONNX = "onnx"
	// FormatONNX is the format of an ONNX model file.
	FormatONNX = "onnx"
	// ONNXParityTolerance is how far Kingmaker's predictions of an ONNX model may be from its
	// producer's (ONNX Runtime in Python): float32 arithmetic.
	ONNXParityTolerance = 1e-5
)

// ErrONNXNotBuilt is returned, wrapped, for an ONNX model in a build without the onnx build tag.
// It also matches ErrUnknownAlgorithm.
var ErrONNXNotBuilt error = &notBuiltError{
	msg: algONNX + ": this kingmaker was built without ONNX Runtime support: run scripts/onnxruntime.sh install and build with -tags onnx",
}

// ReadONNXFile reads what an ONNX model file says of itself (its producer and producer version)
// from the top-level fields of its ModelProto, in pure Go: it refuses bytes that are not a
// complete ONNX model (truncated, another format) before ONNX Runtime sees them.
func ReadONNXFile(raw []byte) (*FileInfo, error) {
	if len(raw) > 0 && raw[0] == '{' {
		return nil, fileErrorf("not an ONNX model: it starts like JSON or UBJ (an XGBoost model? use --format xgboost)")
	}
	info := &FileInfo{Format: FormatONNX}
	var graph, ir bool
	b := raw
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fileErrorf("not a complete ONNX model (truncated or damaged?): bad field key")
		}
		b = b[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			_, n = binary.Uvarint(b)
			if n <= 0 {
				return nil, fileErrorf("not a complete ONNX model (truncated or damaged?): field %d", field)
			}
			b = b[n:]
			if field == 1 {
				ir = true
			}
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, fileErrorf("not a complete ONNX model (truncated or damaged?): field %d runs past the end", field)
			}
			v := b[n : n+int(l)]
			b = b[n+int(l):]
			switch field {
			case 2:
				info.Producer = string(v)
			case 3:
				info.ProducerVersion = string(v)
			case 7:
				graph = true
			}
		case 1:
			if len(b) < 8 {
				return nil, fileErrorf("not a complete ONNX model (truncated or damaged?)")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil, fileErrorf("not a complete ONNX model (truncated or damaged?)")
			}
			b = b[4:]
		default:
			return nil, fileErrorf("not an ONNX model (wire type %d)", wire)
		}
	}
	if !graph || !ir {
		return nil, fileErrorf("not an ONNX model: no ir_version or graph")
	}
	return info, nil
}

// ImportONNX reads an ONNX model file, checks it against schema s (the contract above) and returns
// it as an "onnx" Model with what the file says of itself. Every refusal matches ErrModelFile (or
// ErrONNXNotBuilt in a build without the onnx tag) and says what to fix in one line.
func ImportONNX(s Schema, raw []byte) (Model, *FileInfo, error) {
	if err := s.validate(); err != nil {
		return nil, nil, err
	}
	info, err := ReadONNXFile(raw)
	if err != nil {
		return nil, nil, err
	}
	m, err := loadONNXFile(s.clone(), raw)
	if err != nil {
		if errors.Is(err, ErrONNXNotBuilt) {
			return nil, info, fmt.Errorf("ONNX model of %s %s: %w", info.Producer, info.ProducerVersion, err)
		}
		return nil, info, err
	}
	return m, info, nil
}
