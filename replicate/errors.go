package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicedb/sluice/log"
)

// Errors a client may branch on. A *PeerError matches them with errors.Is.
var (
	// ErrUnauthorized: the peer wants a token, or does not know the one
	// given (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the token may not read what was asked (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNodeMismatch: the peer is another node than the one pulled from
	// before: its log was replaced (409 node_mismatch).
	ErrNodeMismatch = errors.New("peer node changed")
	// ErrCutBack: the peer's log ends before the position pulled from it
	// (409 cut_back).
	ErrCutBack = errors.New("peer log cut back")
	// ErrDiverged: the peer's entry at a position pulled from it is not the
	// one pulled (409 diverged).
	ErrDiverged = errors.New("peer log diverged")
	// ErrBadStream: the peer sent a stream that fails its checks (a cut, a
	// bad checksum, a broken batch); nothing of the bad part was appended.
	ErrBadStream = errors.New("bad stream")
)

// Error codes of the JSON error answers ({"error": CODE, "message": TEXT}).
const (
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNodeMismatch = "node_mismatch"
	codeCutBack      = "cut_back"
	codeDiverged     = "diverged"
	codeBadRequest   = "bad_request"
	codeNotFound     = "not_found"
	codeMethod       = "method_not_allowed"
	codeInternal     = "internal"
	codeTooLarge     = "too_large"
	codeInvalid      = "invalid"
)

// errorBody is the JSON of an error answer.
type errorBody struct {
	Code    string `json:"error"`
	Message string `json:"message"`
	// Task, on an answer to POST /v1/tasks, names the task refused for
	// good (403 for its scope, 413 for its size): the others of the
	// request were not applied and may be sent again.
	Task string `json:"task,omitempty"`
}

// sentinelOf maps an error code to the sentinel error it matches.
func sentinelOf(code string) error {
	switch code {
	case codeUnauthorized:
		return ErrUnauthorized
	case codeForbidden:
		return ErrForbidden
	case codeNodeMismatch:
		return ErrNodeMismatch
	case codeCutBack:
		return ErrCutBack
	case codeDiverged:
		return ErrDiverged
	}
	return nil
}

func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Code: code, Message: fmt.Sprintf(format, args...)})
}

// PeerError is an error pulling from a peer: which peer, where in its log,
// and what went wrong. It matches the sentinel errors above (and
// ErrBadStream for a bad stream) with errors.Is.
type PeerError struct {
	// Peer is the peer's URL.
	Peer string
	// Position is the seq of the peer's log reached: every entry up to it
	// that this node may read is in the local log (or was there already).
	Position log.Seq
	// Status is the HTTP status of a refused request, 0 otherwise.
	Status int
	// Code is the error code of a refused request ("cut_back", ...).
	Code string
	// Err is what went wrong.
	Err error
}

func (e *PeerError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("pull from %s at position %d: %d %s: %v", e.Peer, e.Position, e.Status, e.Code, e.Err)
	}
	return fmt.Sprintf("pull from %s: %v", e.Peer, e.Err)
}

func (e *PeerError) Unwrap() error { return e.Err }

// Is matches the sentinel of the error code.
func (e *PeerError) Is(target error) bool {
	if s := sentinelOf(e.Code); s != nil && s == target {
		return true
	}
	var se *streamError
	return target == ErrBadStream && errors.As(e.Err, &se)
}

// permanent reports whether retrying cannot help without a change on one
// side: a refused token, a replaced or cut-back peer. A bad stream is
// retried: a cut is what a dropped connection looks like.
func permanent(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrNodeMismatch) ||
		errors.Is(err, ErrCutBack) || errors.Is(err, ErrDiverged) || errors.Is(err, errSelf)
}

// errSelf is the error of pulling from this node itself.
var errSelf = errors.New("the peer is this node itself")
