package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/log"
)

// Source is what a Server serves: a native log, read from its segment
// files. *log.Log and *log.Reader implement it. All methods must be safe
// for concurrent use.
type Source interface {
	log.Source
	// Node is the log's node id; it must not be zero.
	Node() log.NodeID
	// Get returns the entry at seq.
	Get(seq log.Seq) (log.Entry, error)
}

// ServerOptions configure a Server. The zero value serves everything to
// everybody.
type ServerOptions struct {
	// Tokens, if set, decides who may read what: every request needs a
	// token of the store (Authorization: Bearer TOKEN), and is served the
	// unscoped entries and those of the token's scopes. While the store
	// holds no token, requests are refused, unless OpenWhenEmpty.
	Tokens *TokenStore
	// OpenWhenEmpty serves everything without a token while Tokens holds
	// none (sluice serve on a loopback address).
	OpenWhenEmpty bool
	// Heartbeat is how often an idle following stream sends a position
	// frame; default DefaultHeartbeat.
	Heartbeat time.Duration
	// WriteTimeout drops a client that has not taken a write for this
	// long; default 30 s.
	WriteTimeout time.Duration
	// Logger, if set, gets a debug line per stream opened and closed.
	Logger *slog.Logger
}

// DefaultHeartbeat is how often an idle following stream says it is alive.
const DefaultHeartbeat = time.Second

// filteredRun is how many entries a stream skips (not for its reader)
// before it tells the reader how far it got, at the next batch end.
const filteredRun = 1024

// Server serves a log over HTTP (see doc.go for the protocol): an
// http.Handler to mount in an application's mux, or under sluice serve.
// Streams read the log's segment files with their own iterator: a slow
// client holds up only its own goroutine (TCP pushes back), and costs the
// server a bounded buffer.
//
// ServeHTTP is safe for concurrent use. Close ends the open streams.
type Server struct {
	src  Source
	node log.NodeID
	opts ServerOptions

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	streams int
}

// NewServer returns a Server of src.
func NewServer(src Source, opts ServerOptions) (*Server, error) {
	node := src.Node()
	if node.IsZero() {
		return nil, errors.New("replicate: the log has no node id (a format 1 log no writer has opened yet)")
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{src: src, node: node, opts: opts, ctx: ctx, cancel: cancel}, nil
}

// Close ends the server's open streams (each gets an error frame saying
// the server is stopping). It does not close the source. It is idempotent.
func (s *Server) Close() error {
	s.cancel()
	return nil
}

// Streams returns how many streams are open.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams
}

// Status is the answer to GET /v1/status.
type Status struct {
	// Node is the server's node id.
	Node string `json:"node"`
	// Last is its log's last seq.
	Last log.Seq `json:"last"`
	// Time is the server's clock.
	Time time.Time `json:"time"`
	// Protocol is the protocol version, 1.
	Protocol int `json:"protocol"`
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/status", "/v1/entries":
	default:
		writeError(w, http.StatusNotFound, codeNotFound, "no such resource %q (see /v1/status, /v1/entries)", r.URL.Path)
		return
	}
	who, ok := s.admit(w, r, http.MethodGet, http.MethodHead)
	if !ok {
		return
	}
	if r.URL.Path == "/v1/status" {
		last, err := s.src.Last()
		if err != nil {
			writeError(w, http.StatusInternalServerError, codeInternal, "read the log: %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Status{Node: s.node.String(), Last: last, Time: time.Now().UTC(), Protocol: 1})
		return
	}
	s.entries(w, r, who)
}

// reader is who is asking: a token's name and what it may read.
type reader struct {
	name   string // "" without a token
	hash   string // the token's hash, to notice its revocation
	scopes scopes
	views  []string // the views it may query (Token.Views)
}

// admit answers 405 unless r's method is one of methods, then finds who
// is asking (see authorize).
func (s *Server) admit(w http.ResponseWriter, r *http.Request, methods ...string) (reader, bool) {
	if !slices.Contains(methods, r.Method) {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeError(w, http.StatusMethodNotAllowed, codeMethod, "%s %s: only %s", r.Method, r.URL.Path, methods[0])
		return reader{}, false
	}
	return s.authorize(w, r)
}

// authorize finds who is asking; it answers 401 and returns false if it
// cannot tell.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (reader, bool) {
	if s.opts.Tokens == nil {
		return reader{scopes: everything}, true
	}
	if s.opts.OpenWhenEmpty {
		empty, err := s.opts.Tokens.Empty()
		if err != nil {
			writeError(w, http.StatusInternalServerError, codeInternal, "%v", err)
			return reader{}, false
		}
		if empty {
			return reader{scopes: everything}, true
		}
	}
	h := r.Header.Get("Authorization")
	secret, found := strings.CutPrefix(h, "Bearer ")
	if !found || secret == "" {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "this server needs a token: Authorization: Bearer TOKEN")
		return reader{}, false
	}
	t, ok, err := s.opts.Tokens.Lookup(strings.TrimSpace(secret))
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "%v", err)
		return reader{}, false
	}
	if !ok {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "unknown or revoked token")
		return reader{}, false
	}
	return reader{name: t.Name, hash: t.SHA256, scopes: newScopes(t.Scopes), views: t.Views}, true
}

// revoked reports whether the reader's token was revoked since.
func (s *Server) revoked(who reader) bool {
	if who.hash == "" {
		return false
	}
	list, err := s.opts.Tokens.List()
	if err != nil {
		return false // keep serving; the next request will fail loudly
	}
	for _, t := range list {
		if t.SHA256 == who.hash {
			return false
		}
	}
	return true
}

// request is a parsed GET /v1/entries.
type request struct {
	after   log.Seq
	follow  bool
	limit   int64
	jsonl   bool
	node    log.NodeID // the node the client pulled from before; zero if new
	check   log.Seq    // an entry the client holds from this server ...
	checkID log.ID     // ... its ID ...
	sum     uint32     // ... and its payload's crc32c
	scopes  []string   // narrow to these scopes (and unscoped entries)
}

func parseRequest(r *http.Request) (request, error) {
	q := r.URL.Query()
	var p request
	seq := func(name string) (log.Seq, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return 0, fmt.Errorf("%s=%q: want a seq", name, v)
		}
		return log.Seq(n), nil
	}
	var err error
	if p.after, err = seq("after"); err != nil {
		return p, err
	}
	switch v := q.Get("follow"); v {
	case "", "0", "false":
	case "1", "true":
		p.follow = true
	default:
		return p, fmt.Errorf("follow=%q: want 1 or 0", v)
	}
	if v := q.Get("limit"); v != "" {
		if p.limit, err = strconv.ParseInt(v, 10, 64); err != nil || p.limit < 0 {
			return p, fmt.Errorf("limit=%q: want a number of entries", v)
		}
	}
	switch v := q.Get("format"); v {
	case "":
		p.jsonl = strings.Contains(r.Header.Get("Accept"), ContentTypeJSONL)
	case "jsonl":
		p.jsonl = true
	case "binary":
	default:
		return p, fmt.Errorf("format=%q: want jsonl or binary", v)
	}
	if v := q.Get("node"); v != "" {
		if p.node, err = log.ParseNodeID(v); err != nil {
			return p, fmt.Errorf("node: %w", err)
		}
	}
	if p.check, err = seq("check"); err != nil {
		return p, err
	}
	if p.check != 0 {
		if p.check > p.after {
			return p, fmt.Errorf("check=%d is after after=%d", p.check, p.after)
		}
		if p.checkID, err = parseID(q.Get("check_id")); err != nil {
			return p, fmt.Errorf("check_id: %w", err)
		}
		sum, err := strconv.ParseUint(q.Get("check_sum"), 16, 32)
		if err != nil {
			return p, fmt.Errorf("check_sum=%q: want 8 hex digits", q.Get("check_sum"))
		}
		p.sum = uint32(sum)
	}
	p.scopes = q["scope"]
	if err := CheckScopes(p.scopes); err != nil {
		return p, err
	}
	return p, nil
}

// parseID is the inverse of log.ID.String: NODE/SEQ.
func parseID(s string) (log.ID, error) {
	n, q, ok := strings.Cut(s, "/")
	if !ok {
		return log.ID{}, fmt.Errorf("%q: want NODE/SEQ", s)
	}
	node, err := log.ParseNodeID(n)
	if err != nil {
		return log.ID{}, err
	}
	seq, err := strconv.ParseUint(q, 10, 63)
	if err != nil || seq == 0 {
		return log.ID{}, fmt.Errorf("%q: want NODE/SEQ", s)
	}
	return log.ID{Node: node, Seq: log.Seq(seq)}, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// payloadSum is the checksum a client sends to say which entry it holds.
func payloadSum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// entries answers GET /v1/entries.
func (s *Server) entries(w http.ResponseWriter, r *http.Request, who reader) {
	p, err := parseRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "%v", err)
		return
	}
	if len(p.scopes) > 0 {
		if sc, ok := who.scopes.covers(p.scopes); !ok {
			writeError(w, http.StatusForbidden, codeForbidden, "scope %q is not one of this token's", sc)
			return
		}
		who.scopes = newScopes(p.scopes)
	}
	if !p.node.IsZero() && p.node != s.node {
		writeError(w, http.StatusConflict, codeNodeMismatch, "this is node %s, not %s: its log was replaced", s.node, p.node)
		return
	}
	last, err := s.src.Last()
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "read the log: %v", err)
		return
	}
	if p.after > last {
		writeError(w, http.StatusConflict, codeCutBack, "after=%d, but the log ends at seq %d: it was cut back", p.after, last)
		return
	}
	if p.check != 0 {
		e, err := s.src.Get(p.check)
		switch {
		case errors.Is(err, log.ErrNotFound):
			writeError(w, http.StatusConflict, codeDiverged, "seq %d is not in the log (lost)", p.check)
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, codeInternal, "read seq %d: %v", p.check, err)
			return
		case !who.scopes.visible(e.Scope) || e.ID != p.checkID || payloadSum(e.Payload) != p.sum:
			writeError(w, http.StatusConflict, codeDiverged, "the entry at seq %d is not the one the client holds (%s): the log was replaced or cut back and written again", p.check, p.checkID)
			return
		}
	}
	if r.Method == http.MethodHead {
		return
	}
	s.stream(w, r, who, p, last)
}

// openStream counts a stream open for r until done is called, and returns
// its context: it ends when the client goes away or the server stops.
func (s *Server) openStream(r *http.Request) (ctx context.Context, done func()) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.ctx, cancel)
	s.mu.Lock()
	s.streams++
	s.mu.Unlock()
	return ctx, func() {
		stop()
		cancel()
		s.mu.Lock()
		s.streams--
		s.mu.Unlock()
	}
}

// stream sends the entries after p.after that who may read.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, who reader, p request, last log.Seq) {
	it, err := s.src.Iter(p.after + 1)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "read the log: %v", err)
		return
	}
	defer it.Close()
	raw, _ := it.(log.RawIterator)
	if raw == nil && !p.jsonl {
		writeError(w, http.StatusInternalServerError, codeInternal, "the log's iterator does not give stored records")
		return
	}
	ctx, done := s.openStream(r)
	defer done()

	var out sink
	if p.jsonl {
		w.Header().Set("Content-Type", ContentTypeJSONL)
		out = newJSONLSink(w)
	} else {
		w.Header().Set("Content-Type", ContentTypeStream)
		out = newBinarySink(w)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	flush := func() error {
		rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if err := out.flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	if s.opts.Logger != nil {
		s.opts.Logger.Debug("stream open", "remote", r.RemoteAddr, "token", who.name, "after", p.after, "follow", p.follow)
		defer s.opts.Logger.Debug("stream closed", "remote", r.RemoteAddr, "token", who.name)
	}
	hello := Hello{Node: s.node.String(), After: p.after, Last: last, Follow: p.follow}
	if p.follow {
		hello.HeartbeatMS = s.opts.Heartbeat.Milliseconds()
	}
	rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if err := out.hello(hello); err != nil {
		return
	}

	pos := p.after  // every entry up to pos was sent or is not for who
	told := p.after // the last position the client was told of
	open := false   // records of a batch were sent, and not its last one
	filtered := 0   // entries skipped since the last frame
	var sent int64
	lastFlush := time.Now()
	failed := func(err error) {
		out.fail(err.Error())
		flush()
	}
	for {
		for it.Next() {
			e := it.Entry()
			var rec []byte
			if raw != nil {
				rec = raw.Raw()
			}
			more := raw != nil && log.RecordMore(rec)
			pos = e.Seq
			if who.scopes.visible(e.Scope) {
				if err := out.entry(e, rec); err != nil {
					return
				}
				open, filtered, told = more, 0, e.Seq
				sent++
			} else {
				filtered++
				if !more && (open || filtered >= filteredRun) {
					// A batch ends here: its end, or how far the skipping got.
					if err := out.position(pos, max(last, pos)); err != nil {
						return
					}
					open, filtered, told = false, 0, pos
				}
			}
			if !more && p.limit > 0 && sent >= p.limit {
				break
			}
			if filtered > 0 && filtered%256 == 0 && time.Since(lastFlush) > s.opts.Heartbeat {
				if err := flush(); err != nil {
					return
				}
				lastFlush = time.Now()
			}
			if (sent+int64(filtered))%1024 == 0 && ctx.Err() != nil {
				if s.ctx.Err() != nil {
					failed(errors.New("the server is stopping"))
				}
				return
			}
		}
		if err := it.Err(); err != nil {
			failed(fmt.Errorf("read the log after seq %d: %w", pos, err))
			return
		}
		if ps, ok := it.(log.Positioner); ok {
			pos = max(pos, ps.Position())
		}
		if l, err := s.src.Last(); err == nil {
			last = max(last, l)
		}
		if pos > told {
			// Entries at the end were not for who, or were lost.
			if err := out.position(pos, last); err != nil {
				return
			}
			told = pos
		}
		if !p.follow || (p.limit > 0 && sent >= p.limit) {
			if err := out.end(pos); err == nil {
				flush()
			}
			return
		}
		if err := flush(); err != nil {
			return
		}
		lastFlush = time.Now()
		for {
			wctx, cancelWait := context.WithTimeout(ctx, s.opts.Heartbeat)
			_, err := s.src.Wait(wctx, pos)
			cancelWait()
			if err == nil {
				break
			}
			if s.ctx.Err() != nil {
				failed(errors.New("the server is stopping"))
				return
			}
			if ctx.Err() != nil {
				return // the client went away
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				failed(fmt.Errorf("wait for the log after seq %d: %w", pos, err))
				return
			}
			if s.revoked(who) {
				failed(fmt.Errorf("token %q was revoked", who.name))
				return
			}
			if l, err := s.src.Last(); err == nil {
				last = max(last, l)
			}
			if err := out.position(pos, last); err != nil {
				return
			}
			if err := flush(); err != nil {
				return
			}
		}
	}
}
