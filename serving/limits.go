package serving

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
	"unicode/utf8"
)

// limits are what one request, and the requests in flight together, may
// cost. Each is checked before anything is allocated for what it bounds:
// the body's length before it is read, its nesting and the length of its
// arrays and objects before it is decoded, the rows of a request before
// its rows are allocated.
type limits struct {
	body        int64
	rows        int
	features    int
	idBytes     int
	queueWait   time.Duration
	bodyTimeout time.Duration
	// slots holds one token per prediction request being read or answered.
	slots chan struct{}
	// largeBody is the size past which a body is large; largeSlots holds
	// one token per large request (or one of unknown length) in flight.
	largeBody  int64
	largeSlots chan struct{}
}

// Protocol depths: the deepest nesting of arrays and objects a request of
// each endpoint needs. A v2 request nests {"inputs": [{"data": [[v]]}]}
// (shape [N, 1] data), a v1 request {"instances": [{"f": v}]}, and one more
// level lets a client's array value be refused with a message naming it.
const (
	inferDepth   = 5
	predictDepth = 4
)

func (l *limits) tooLarge() *apiError {
	return &apiError{http.StatusRequestEntityTooLarge,
		fmt.Sprintf("request body is larger than %d bytes (the server's --max-body, serve.limits.max_body): send fewer rows per request", l.body)}
}

func (l *limits) tooManyRows(what string) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge,
		fmt.Sprintf("%s: more than the %d rows a request may hold (the server's serve.limits.max_rows): send fewer rows per request", what, l.rows)}
}

// large reports whether r's body is large: over largeBody, or of unknown
// length (chunked).
func (l *limits) large(r *http.Request) bool {
	return r.ContentLength < 0 || r.ContentLength > l.largeBody
}

// acquire takes a slot of the concurrent requests, and of the large ones
// when r is large, waiting at most queueWait in all. It returns what to
// call when the request is done, or, when the server stayed busy (or the
// client left), the refusal. Large requests have slots of their own, fewer
// than the cores, so that batches just under the body limit cannot take
// every core from the small requests of other clients.
func (l *limits) acquire(w http.ResponseWriter, r *http.Request) (release func(), refused *apiError) {
	var wait *time.Timer // started only when a slot is not free at once
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	take := func(slots chan struct{}) bool {
		select {
		case slots <- struct{}{}:
			return true
		default:
		}
		if l.queueWait <= 0 {
			return false
		}
		if wait == nil {
			wait = time.NewTimer(l.queueWait)
		}
		select {
		case slots <- struct{}{}:
			return true
		case <-wait.C:
			return false
		case <-r.Context().Done():
			return false
		}
	}
	large := l.large(r)
	if large && !take(l.largeSlots) {
		return nil, l.busy(w, fmt.Sprintf("%d large requests (bodies over %d bytes) are in flight (the server's serve.limits.max_concurrent_large); retry shortly, or send smaller batches",
			cap(l.largeSlots), l.largeBody))
	}
	if !take(l.slots) {
		if large {
			<-l.largeSlots
		}
		return nil, l.busy(w, fmt.Sprintf("%d prediction requests are in flight (the server's serve.limits.max_concurrent); retry shortly", cap(l.slots)))
	}
	return func() {
		<-l.slots
		if large {
			<-l.largeSlots
		}
	}, nil
}

func (l *limits) busy(w http.ResponseWriter, why string) *apiError {
	w.Header().Set("Retry-After", "1")
	return &apiError{http.StatusServiceUnavailable, "server busy: " + why}
}

// readBody reads the whole body, at most l.body bytes, within
// l.bodyTimeout, and checks its nesting (at most depth) and the length of
// its arrays and objects before anything decodes it.
func (l *limits) readBody(w http.ResponseWriter, r *http.Request, depth int) ([]byte, *apiError) {
	if r.ContentLength > l.body {
		return nil, l.tooLarge()
	}
	// A slow client holds a slot while it sends: bound how long. Recorders
	// of tests cannot set deadlines; the error is then ignored.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(l.bodyTimeout))
	size := bytes.MinRead
	if r.ContentLength > 0 {
		size += int(r.ContentLength)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, l.body))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, l.tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &apiError{http.StatusRequestTimeout,
			fmt.Sprintf("request body not received within %s (the server's serve.limits.body_timeout)", l.bodyTimeout)}
	case err != nil:
		return nil, badRequest("request body could not be read: the connection failed")
	}
	// The body is in: the deadline must not cut the connection while the
	// request is answered (the server sets new ones for the next request).
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	b := buf.Bytes()
	if e := l.scan(b, depth); e != nil {
		return nil, e
	}
	return b, nil
}

// scan checks the shape of a JSON text without decoding it: no array or
// object nested deeper than depth, no array longer than a request's rows
// (or features, when more), no object with more members than features and
// the few fields of a request. It does not check syntax; decode does.
func (l *limits) scan(b []byte, depth int) *apiError {
	maxArray := max(l.rows, l.features+1)
	maxMembers := l.features + 8
	type open struct {
		object bool
		commas int
	}
	stack := make([]open, 0, depth)
	inString, escaped := false, false
	for i, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if len(stack) == depth {
				return badRequest("request body nests arrays and objects deeper than %d levels (at byte %d): this endpoint's requests need no more", depth, i)
			}
			stack = append(stack, open{object: c == '{'})
		case ']', '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if len(stack) == 0 {
				continue
			}
			top := &stack[len(stack)-1]
			top.commas++
			switch {
			case !top.object && top.commas >= maxArray:
				return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf(
					"request body holds an array of more than %d values (at byte %d): a request may hold at most %d rows (the server's serve.limits.max_rows)",
					maxArray, i, l.rows)}
			case top.object && top.commas >= maxMembers:
				return &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf(
					"request body holds an object of more than %d members (at byte %d): a row may hold at most %d features (the server's serve.limits.max_features)",
					maxMembers, i, l.features)}
			}
		}
	}
	return nil
}

// arrayValue and objectValue stand for an array or an object where
// eachValue wants a scalar; the caller refuses them by their kind.
type (
	arrayValue  struct{}
	objectValue struct{}
)

// eachValue calls fn with the scalars of the JSON array raw in row-major
// order (nested arrays, as of a shape [N, 1], are read through), each a
// json.Number, string, bool or nil, or objectValue for an object. It stops
// after want+1 values, or when fn returns false, and returns how many it
// read; err is set when raw is not an array. raw is valid JSON of bounded
// nesting (decode and scan checked it), so a plain scan suffices: this is
// the hot path of every prediction.
func eachValue(raw json.RawMessage, want int, fn func(i int, v any) bool) (int, error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return 0, errNotArray
	}
	n, depth := 0, 0
	for i < len(raw) {
		var v any
		switch c := raw[i]; c {
		case '[':
			depth++
			i++
			continue
		case ']':
			depth--
			i++
			if depth == 0 {
				return n, nil
			}
			continue
		case ',', ' ', '\t', '\n', '\r':
			i++
			continue
		case '{':
			i = skipComposite(raw, i)
			v = objectValue{}
		case '"':
			end := skipString(raw, i)
			str := raw[i:end]
			i = end
			if bytes.IndexByte(str, '\\') < 0 && utf8.Valid(str) {
				v = string(str[1 : len(str)-1])
			} else { // escapes, or bytes that are not UTF-8 (read as U+FFFD, as by encoding/json)
				var s string
				if err := json.Unmarshal(str, &s); err != nil {
					return n, err
				}
				v = s
			}
		case 't', 'f', 'n':
			switch {
			case bytes.HasPrefix(raw[i:], []byte("true")):
				v, i = true, i+4
			case bytes.HasPrefix(raw[i:], []byte("false")):
				v, i = false, i+5
			case bytes.HasPrefix(raw[i:], []byte("null")):
				v, i = nil, i+4
			default:
				return n, errNotArray
			}
		default:
			end := i
			for end < len(raw) && isNumberByte(raw[end]) {
				end++
			}
			if end == i {
				return n, errNotArray
			}
			v = json.Number(raw[i:end])
			i = end
		}
		if n == want {
			return n + 1, nil // one too many is enough to refuse
		}
		if !fn(n, v) {
			return n, nil
		}
		n++
	}
	return n, errNotArray
}

var errNotArray = errors.New("not a JSON array")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipComposite returns the index after the object or array at b[i].
func skipComposite(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(b)
}
