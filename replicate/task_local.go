package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// ErrNoSender is returned (wrapped) by CancelLocal and RetryLocal when the
// writer on the local socket sends no tasks (or no writer listens): the
// caller may then act on the log itself.
var ErrNoSender = errors.New("no task sender on the local socket")

// taskOp is the body of POST /v1/tasks/cancel and /v1/tasks/retry on the
// local socket.
type taskOp struct {
	ID string `json:"id"`
}

// Error codes of the task operations on the local socket.
const (
	codeInFlight = "in_flight"
	codeNoTask   = "no_task"
	codeDone     = "task_done"
)

// SenderHandler serves a Sender's operations on the local socket, so that
// another process (sluice task cancel, retry) acts atomically with the
// sender: POST /v1/tasks/cancel and POST /v1/tasks/retry with {"id"}.
// Answers: 200, or a JSON error: 409 in_flight or task_done, 404 no_task.
func SenderHandler(s *Sender) http.Handler {
	mux := http.NewServeMux()
	op := func(f func(context.Context, string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req taskOp
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || req.ID == "" {
				writeError(w, http.StatusBadRequest, codeBadRequest, "want {\"id\": TASK}")
				return
			}
			err := f(r.Context(), req.ID)
			switch {
			case err == nil:
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte("{}\n"))
			case errors.Is(err, ErrInFlight):
				writeError(w, http.StatusConflict, codeInFlight, "%v", err)
			case errors.Is(err, ErrTaskDone):
				writeError(w, http.StatusConflict, codeDone, "%v", err)
			case errors.Is(err, ErrNoTask):
				writeError(w, http.StatusNotFound, codeNoTask, "%v", err)
			default:
				writeError(w, http.StatusInternalServerError, codeInternal, "%v", err)
			}
		}
	}
	mux.HandleFunc("POST /v1/tasks/cancel", op(s.Cancel))
	mux.HandleFunc("POST /v1/tasks/retry", op(s.RetryNow))
	return mux
}

// CancelLocal asks the sender behind the local socket at path to cancel a
// task (see Sender.Cancel); errors match ErrInFlight, ErrTaskDone,
// ErrNoTask, or ErrNoSender when no sender listens there.
func CancelLocal(ctx context.Context, path, id string) error {
	return taskLocal(ctx, path, "cancel", id)
}

// RetryLocal asks the sender behind the local socket at path to send a
// waiting task now (see Sender.RetryNow); errors as for CancelLocal.
func RetryLocal(ctx context.Context, path, id string) error {
	return taskLocal(ctx, path, "retry", id)
}

func taskLocal(ctx context.Context, path, op, id string) error {
	body, _ := json.Marshal(taskOp{ID: id})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://sluice/v1/tasks/"+op, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := localClient(path).Do(req)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return fmt.Errorf("%s task %q through %s: %w (%v)", op, id, path, ErrNoSender, oe.Err)
		}
		return fmt.Errorf("%s task %q through %s: %w", op, id, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var eb errorBody
	if json.Unmarshal(b, &eb) != nil || eb.Message == "" {
		eb.Message = string(bytes.TrimSpace(b))
	}
	switch eb.Code {
	case codeInFlight:
		return &taskOpError{eb.Message, ErrInFlight}
	case codeDone:
		return &taskOpError{eb.Message, ErrTaskDone}
	case codeNoTask:
		return &taskOpError{eb.Message, ErrNoTask}
	case codeNotFound, "":
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s task %q: the writer on %s sends no tasks: %w", op, id, path, ErrNoSender)
		}
	}
	return fmt.Errorf("%s task %q through %s: %s", op, id, path, eb.Message)
}

// taskOpError is a refusal of the sender behind the local socket: its
// message, matching its sentinel.
type taskOpError struct {
	msg string
	err error
}

func (e *taskOpError) Error() string { return e.msg }
func (e *taskOpError) Unwrap() error { return e.err }
