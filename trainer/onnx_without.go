//go:build !onnx

package trainer

// Without the onnx tag the package registers no "onnx" model, but Decode answers ErrONNXNotBuilt
// for an onnx artifact instead of "unknown algorithm".
func init() {
	unavailable[algONNX] = ErrONNXNotBuilt
}

// loadONNXFile refuses: running an ONNX model needs ONNX Runtime.
func loadONNXFile(s Schema, raw []byte) (Model, error) { return nil, ErrONNXNotBuilt }
