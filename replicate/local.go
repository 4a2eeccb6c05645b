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
	"os"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/log"
)

// One writer per log: a long-running writer (sluice serve, sluice sync
// --follow, an app) holds the log's lock, and other processes of the same
// user append through it, over a unix socket in the node's directory.

// LocalSocketName is the name of the local append socket in a node's
// directory (beside log/ and views/).
const LocalSocketName = "sluice.sock"

// ErrNoWriter is returned (wrapped) by AppendLocal when no writer listens
// on the socket.
var ErrNoWriter = errors.New("no writer listens on the local socket")

// AppendRequest is the body of POST /v1/append on the local socket.
type AppendRequest struct {
	Records []AppendRecord `json:"records"`
	// Durability is "sync" (the default: durable before the answer),
	// "group" or "none".
	Durability string `json:"durability,omitempty"`
}

// AppendRecord is one record of an AppendRequest: a JSON payload, or any
// bytes in PayloadBase64.
type AppendRecord struct {
	Origin        string          `json:"origin"` // local or remote
	Scope         string          `json:"scope,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 []byte          `json:"payload_base64,omitempty"`
}

// AppendResponse is the answer to POST /v1/append: the seqs given, and
// when the Append returned (the writer's clock, Unix nanoseconds).
type AppendResponse struct {
	Seqs       []log.Seq `json:"seqs"`
	AppendedAt int64     `json:"appended_at"`
}

// maxAppendBody limits a local append request.
const maxAppendBody = 256 << 20

// LocalHandler serves a log's writer on the local socket: POST /v1/append
// appends an AppendRequest's records in one Append (all or none) and
// answers their seqs; GET /v1/status answers a Status. Errors are JSON
// ({"error", "message"}): 400 for records Append refuses (nothing
// appended), 500 for a failed write.
func LocalHandler(l *log.Log) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		last, _ := l.Last()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Status{Node: l.Node().String(), Last: last, Time: time.Now().UTC(), Protocol: 1})
	})
	mux.HandleFunc("POST /v1/append", func(w http.ResponseWriter, r *http.Request) {
		var req AppendRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAppendBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "append request: %v", err)
			return
		}
		recs, d, err := req.records()
		if err != nil {
			writeError(w, http.StatusBadRequest, codeInvalid, "%v (nothing was appended)", err)
			return
		}
		seqs, err := appendSynced(r.Context(), l, d, recs)
		at := time.Now().UnixNano()
		switch {
		case errors.Is(err, log.ErrInvalid) || errors.Is(err, log.ErrEmpty):
			writeError(w, http.StatusBadRequest, codeInvalid, "%v", err)
			return
		case errors.Is(err, log.ErrTooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "%v", err)
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, codeInternal, "%v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(AppendResponse{Seqs: seqs, AppendedAt: at})
	})
	return mux
}

// appendSynced appends recs to l and, unless d is SyncNone, has them on
// disk before it returns, whatever durability l was opened with (a writer
// pulling with none still owes a caller asking for sync its fsync).
func appendSynced(ctx context.Context, l *log.Log, d log.Durability, recs []log.Record) ([]log.Seq, error) {
	seqs, err := l.Append(ctx, recs...)
	if err == nil && d != log.SyncNone && l.Mark() < seqs[len(seqs)-1] {
		err = l.Sync(ctx)
	}
	return seqs, err
}

func (req *AppendRequest) records() ([]log.Record, log.Durability, error) {
	d := log.SyncAlways
	if req.Durability != "" {
		var err error
		if d, err = log.ParseDurability(req.Durability); err != nil {
			return nil, d, err
		}
	}
	if len(req.Records) == 0 {
		return nil, d, errors.New("no records")
	}
	recs := make([]log.Record, len(req.Records))
	for i, r := range req.Records {
		o, err := log.ParseOrigin(r.Origin)
		if err != nil {
			return nil, d, fmt.Errorf("record %d: %w", i+1, err)
		}
		p := []byte(r.Payload)
		if len(r.PayloadBase64) > 0 {
			if len(p) > 0 {
				return nil, d, fmt.Errorf("record %d: both payload and payload_base64", i+1)
			}
			p = r.PayloadBase64
		}
		recs[i] = log.Record{Origin: o, Payload: p, Scope: r.Scope}
	}
	return recs, d, nil
}

// ListenLocal listens on the unix socket at path, mode 0600 (only this
// user may append). A socket file already there is removed first: the
// caller holds the log's writer lock, so no other writer listens on it.
func ListenLocal(path string) (net.Listener, error) {
	if len(path) > 100 {
		// sun_path holds 108 bytes; listen through a shorter relative
		// path instead.
		if rel, err := relPath(path); err == nil && len(rel) <= 100 {
			path = rel
		} else {
			return nil, fmt.Errorf("local socket %s: the path is too long for a unix socket (over 100 bytes)", path)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("local socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("local socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("local socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

func relPath(path string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.Rel(wd, abs)
}

// localClient returns an HTTP client that talks to the socket at path.
func localClient(path string) *http.Client {
	if len(path) > 100 {
		if rel, err := relPath(path); err == nil {
			path = rel
		}
	}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
}

// AppendLocal appends recs, in one Append, through the writer listening on
// the local socket at path, and returns their seqs. d is the durability
// asked for. It fails with an error wrapping ErrNoWriter if no writer
// listens there (then nothing was appended).
func AppendLocal(ctx context.Context, path string, d log.Durability, recs []log.Record) ([]log.Seq, error) {
	ar, err := AppendLocalAt(ctx, path, d, recs)
	return ar.Seqs, err
}

// AppendLocalAt is AppendLocal, and also says when the writer's Append
// returned.
func AppendLocalAt(ctx context.Context, path string, d log.Durability, recs []log.Record) (AppendResponse, error) {
	var none AppendResponse
	req := AppendRequest{Durability: d.String()}
	for _, r := range recs {
		ar := AppendRecord{Origin: r.Origin.String(), Scope: r.Scope}
		if json.Valid(r.Payload) {
			ar.Payload = r.Payload
		} else {
			ar.PayloadBase64 = r.Payload
		}
		if !r.Author.IsZero() || !r.Via.IsZero() {
			return none, errors.New("append through the local socket: records with an author or via are the replicate client's")
		}
		req.Records = append(req.Records, ar)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return none, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://sluice/v1/append", bytes.NewReader(body))
	if err != nil {
		return none, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := localClient(path).Do(hreq)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return none, fmt.Errorf("append through %s: %w (%v)", path, ErrNoWriter, op.Err)
		}
		return none, fmt.Errorf("append through %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return none, fmt.Errorf("append through %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(b, &eb) != nil || eb.Message == "" {
			eb.Message = string(bytes.TrimSpace(b))
		}
		return none, fmt.Errorf("append through the writer on %s: %s", path, eb.Message)
	}
	var ar AppendResponse
	if err := json.Unmarshal(b, &ar); err != nil || len(ar.Seqs) != len(recs) {
		return none, fmt.Errorf("append through %s: bad answer %q", path, b)
	}
	return ar, nil
}
