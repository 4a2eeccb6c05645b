package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// readTaskRequest reads and decodes a POST /v1/tasks body of at most limit
// bytes, holding it once: a body whose Content-Length is over the limit is
// refused before it is read, one of a known length is read into a buffer
// of that size (a json.Decoder would grow its own by doubling, up to
// several times the body), and the payloads are copied out of it once.
// Unknown fields are refused, as with Decoder.DisallowUnknownFields, and a
// task whose payload is over maxPayload bytes is refused 413 (naming it)
// before anything is copied. A failure is answered here (413 or 400); ok
// is false then.
func readTaskRequest(w http.ResponseWriter, r *http.Request, limit int64, maxPayload int) (req TaskRequest, ok bool) {
	tooBig := func() {
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "task request: the body is over %d bytes, the limit (nothing was applied)", limit)
	}
	if r.ContentLength > limit {
		tooBig()
		return req, false
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			tooBig()
		} else {
			writeError(w, http.StatusBadRequest, codeBadRequest, "task request: read the body: %v (nothing was applied)", err)
		}
		return req, false
	}
	req, big, err := decodeTaskRequest(body, maxPayload)
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, codeBadRequest, "task request: %v (nothing was applied)", err)
		return req, false
	case big != nil:
		writeTaskError(w, http.StatusRequestEntityTooLarge, codeTooLarge, big.id, "task %q: its payload is %d bytes, over the %d bytes a record of this server's log may hold (nothing was applied)", big.id, big.size, maxPayload)
		return req, false
	}
	return req, true
}

// decodeTaskRequest decodes a POST /v1/tasks body: an error for a body
// that is not one JSON object of TaskRequest's fields (tasks of WireTask's),
// spelt as they are; else the first task whose payload is over maxPayload
// bytes, if any (nothing is decoded then), or the request.
func decodeTaskRequest(body []byte, maxPayload int) (req TaskRequest, big *bigTask, err error) {
	big, err = checkTaskFields(body, maxPayload)
	if err == nil && big == nil {
		err = json.Unmarshal(body, &req)
	}
	return req, big, err
}

// readBody reads r to its end; n, if not negative, is its length.
func readBody(r io.Reader, n int64) ([]byte, error) {
	if n < 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// skipped is a JSON value decoded into nothing, without a copy.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

// sized is a JSON value decoded into its length, without a copy.
type sized int

func (n *sized) UnmarshalJSON(b []byte) error { *n = sized(len(b)); return nil }

// Fields of a TaskRequest and of its tasks, as they are spelt in JSON.
var (
	requestFields = []string{"node", "queue", "tasks", "server"}
	wireFields    = []string{"id", "kind", "seq", "scope", "payload"}
)

// bigTask is a task whose payload is over the limit.
type bigTask struct {
	id   string
	size int
}

// checkTaskFields refuses a body holding a field TaskRequest or WireTask
// does not have, and returns the first task whose payload is over
// maxPayload bytes, if any. It decodes only names, ids and lengths: no
// payload is copied.
func checkTaskFields(body []byte, maxPayload int) (*bigTask, error) {
	var top map[string]skipped
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	for k := range top {
		if !slices.Contains(requestFields, k) {
			return nil, fmt.Errorf("json: unknown field %q", k)
		}
	}
	var shape struct {
		Tasks []map[string]sized `json:"tasks"`
	}
	if err := json.Unmarshal(body, &shape); err != nil {
		return nil, err
	}
	for i, t := range shape.Tasks {
		for k := range t {
			if !slices.Contains(wireFields, k) {
				return nil, fmt.Errorf("json: task %d: unknown field %q", i+1, k)
			}
		}
	}
	for i, t := range shape.Tasks {
		if int(t["payload"]) > maxPayload {
			var ids struct {
				Tasks []struct {
					ID string `json:"id"`
				} `json:"tasks"`
			}
			json.Unmarshal(body, &ids) // valid: decoded above
			return &bigTask{id: ids.Tasks[i].ID, size: int(t["payload"])}, nil
		}
	}
	return nil, nil
}
