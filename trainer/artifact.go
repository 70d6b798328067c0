package trainer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// Artifact layout (all integers big-endian):
//
//	"KMART"                 5 bytes, magic
//	format version          uint16 (FormatVersion)
//	header length           uint32
//	header                  JSON: {"algorithm","params","schema","created_with":"kingmaker"}
//	payload length          uint64
//	payload                 the schema's shape, then the algorithm-specific binary encoding
//
// and nothing after the payload.
const (
	// Magic opens every artifact.
	Magic = "KMART"
	// FormatVersion is the artifact format this build writes and the only one it reads.
	FormatVersion uint16 = 1
	// createdWith marks artifacts written by this package.
	createdWith = "kingmaker"
)

// header is the JSON header of an artifact.
type header struct {
	Algorithm   string `json:"algorithm"`
	Params      Params `json:"params"`
	Schema      Schema `json:"schema"`
	CreatedWith string `json:"created_with"`
}

// encodeArtifact frames a payload with the header of a model.
func encodeArtifact(algorithm string, params Params, schema Schema, payload []byte) ([]byte, error) {
	h, err := json.Marshal(header{Algorithm: algorithm, Params: params, Schema: schema, CreatedWith: createdWith})
	if err != nil {
		return nil, fmt.Errorf("artifact: encode header: %w", err)
	}
	if len(h) > math.MaxUint32 {
		return nil, fmt.Errorf("artifact: header of %d bytes is too large", len(h))
	}
	payload = append(schemaShape(schema), payload...)
	out := make([]byte, 0, len(Magic)+2+4+len(h)+8+len(payload))
	out = append(out, Magic...)
	out = binary.BigEndian.AppendUint16(out, FormatVersion)
	out = binary.BigEndian.AppendUint32(out, uint32(len(h)))
	out = append(out, h...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
	out = append(out, payload...)
	return out, nil
}

// corrupt builds a Decode error: it reads "artifact: ..." and matches ErrCorruptArtifact.
func corrupt(format string, args ...any) error {
	return &artifactError{msg: fmt.Sprintf(format, args...)}
}

type artifactError struct{ msg string }

func (e *artifactError) Error() string        { return "artifact: " + e.msg }
func (e *artifactError) Is(target error) bool { return target == ErrCorruptArtifact }

// Decode reads an artifact written by Model.MarshalBinary: it checks the magic, the format
// version, the header (algorithm, parameters, schema) and the payload framing, then rebuilds the
// model. Bytes that are truncated, tampered with or not an artifact give an error matching
// ErrCorruptArtifact (and ErrUnknownAlgorithm for an algorithm this build does not know); Decode
// never panics. The registry's SHA-256 of the whole artifact is checked elsewhere.
func Decode(b []byte) (Model, error) {
	rest := b
	if len(rest) < len(Magic) || string(rest[:len(Magic)]) != Magic {
		return nil, corrupt("not a Kingmaker artifact (missing %q magic)", Magic)
	}
	rest = rest[len(Magic):]
	if len(rest) < 2 {
		return nil, corrupt("truncated format version (want 2 bytes, have %d)", len(rest))
	}
	if v := binary.BigEndian.Uint16(rest); v != FormatVersion {
		return nil, corrupt("unsupported format version %d (this build reads version %d)", v, FormatVersion)
	}
	rest = rest[2:]
	if len(rest) < 4 {
		return nil, corrupt("truncated header length (want 4 bytes, have %d)", len(rest))
	}
	hlen := uint64(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	if hlen > uint64(len(rest)) {
		return nil, corrupt("truncated header (want %d bytes, have %d)", hlen, len(rest))
	}
	h, err := decodeHeader(rest[:hlen])
	if err != nil {
		return nil, err
	}
	rest = rest[hlen:]
	if len(rest) < 8 {
		return nil, corrupt("truncated payload length (want 8 bytes, have %d)", len(rest))
	}
	plen := binary.BigEndian.Uint64(rest)
	rest = rest[8:]
	if plen > uint64(len(rest)) {
		return nil, corrupt("truncated payload (want %d bytes, have %d)", plen, len(rest))
	}
	if extra := uint64(len(rest)) - plen; extra > 0 {
		return nil, corrupt("%d unexpected bytes after the payload", extra)
	}
	shape := schemaShape(h.Schema)
	if len(rest) < len(shape) || !bytes.Equal(rest[:len(shape)], shape) {
		return nil, corrupt("%s payload was not written for the schema in the header", h.Algorithm)
	}
	m, err := algorithms[h.Algorithm].decode(h, rest[len(shape):])
	if err != nil {
		return nil, corrupt("%s payload: %v", h.Algorithm, err)
	}
	return m, nil
}

func decodeHeader(raw []byte) (header, error) {
	var h header
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, corrupt("header is not valid JSON: %v", err)
	}
	if dec.More() {
		return h, corrupt("header has data after its JSON object")
	}
	if h.CreatedWith != createdWith {
		return h, corrupt("header created_with is %q, want %q", h.CreatedWith, createdWith)
	}
	a, ok := algorithms[h.Algorithm]
	if !ok {
		return h, fmt.Errorf("%w: %w", corrupt("header names an algorithm this build cannot read"), unknownAlgorithm(h.Algorithm))
	}
	if err := h.Schema.validate(); err != nil {
		return h, corrupt("header schema: %v", err)
	}
	h.Schema.Task = h.Schema.task() // an artifact from before tasks has the default task
	if err := Supports(h.Algorithm, h.Schema.Task); err != nil {
		return h, corrupt("header schema: %v", err)
	}
	if err := a.trainer.Validate(h.Params); err != nil {
		return h, corrupt("header params: %v", err)
	}
	// Every parameter must be present: a model is decoded with the values it was trained with,
	// never with the defaults of a later build.
	for name := range a.trainer.Defaults() {
		if _, ok := h.Params[name]; !ok {
			return h, corrupt("header params: %s: missing", name)
		}
	}
	return h, nil
}

// schemaShape is the start of every payload: the number of features, the number of categories
// of each (0 for numeric) and the number of classes. It ties a payload to the shape of the schema
// it was written with, so that a header edited to another shape is caught even where the
// algorithm's own payload would happen to fit.
func schemaShape(s Schema) []byte {
	var e encoder
	e.uint(len(s.Features))
	for _, f := range s.Features {
		e.uint(len(f.Categories))
	}
	e.uint(len(s.Classes))
	return e.b
}
