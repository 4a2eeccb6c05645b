package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sluicedb/sluice/query"
)

// ContentTypeEventStream is the content type of GET /v1/query's answer.
const ContentTypeEventStream = "text/event-stream"

// codeQueryFailed is the error code of a live query that failed while it
// ran (its view was rebuilt without the table, ...).
const codeQueryFailed = "query_failed"

// QueryHandler returns the handler of GET /v1/query: live queries over
// db's views as Server-Sent Events, run by live (over the same db). Mount it
// beside the Server, at /v1/query; it shares the Server's tokens, heartbeat
// and lifetime (Close ends its streams too).
//
//	GET /v1/query?sql=SELECT ...&arg=A&arg=B
//
// sql is one read-only statement; each arg is a parameter's value, as text,
// in order. The answer is text/event-stream: a comment saying which views
// the query reads, then one event per result, the first at once and then
// each time a change of a view it reads changed it,
//
//	id: 2
//	event: result
//	data: {"n":2,"time":...,"columns":[...],"rows":[[...]],"views":[{"file":...,"view":...,"since":SEQ}]}
//
// (query.Result's JSON: every entry up to a view's since, and those in its
// ahead, are in the rows), a comment line ": heartbeat" after each
// Heartbeat without a result, and, if the stream cannot go on (the query
// failed, the token was revoked, the server stops), an event "error" with
// data {"error": CODE, "message": TEXT} (CODE query_failed, unauthorized
// or internal). A client that goes away ends the query.
//
// Who may query what: views are built from every entry of the log, also
// entries of scopes a token does not read, so a token may query only the
// views granted to it (Token.Views, sluice token add --view NAME; AllViews
// grants them all) unless it has AllScopes, which reads every entry
// anyway. A statement reading a table no view owns (sluice's own tables,
// sqlite_master) needs AllScopes. A server without tokens (OpenWhenEmpty)
// lets anyone query anything. No token or an unknown one is 401, a view
// not granted 403, a statement that would write or does not compile 400,
// all answered before the query starts.
func (s *Server) QueryHandler(db *query.DB, live *query.Live) http.Handler {
	return &queryHandler{s: s, db: db, live: live}
}

type queryHandler struct {
	s    *Server
	db   *query.DB
	live *query.Live
}

// ServeHTTP implements http.Handler.
func (h *queryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.s
	who, ok := s.admit(w, r, http.MethodGet)
	if !ok {
		return
	}
	q := r.URL.Query()
	stmt := q.Get("sql")
	if strings.TrimSpace(stmt) == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "no query: give one read-only statement as sql=SELECT ...")
		return
	}
	reads, err := h.db.Reads(r.Context(), stmt)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "sql: %v", err)
		return
	}
	if what, ok := who.mayQuery(reads); !ok {
		writeError(w, http.StatusForbidden, codeForbidden, "%s: this token may not query it (grant views with sluice token add NAME --view VIEW)", what)
		return
	}
	args := make([]any, len(q["arg"]))
	for i, a := range q["arg"] {
		args[i] = a
	}
	ctx, done := s.openStream(r)
	defer done()
	sub, err := h.live.Subscribe(ctx, stmt, args...)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "sql: %v", err)
		return
	}
	defer sub.Close()

	w.Header().Set("Content-Type", ContentTypeEventStream)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // proxies: do not hold events back
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(text string) error {
		rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
		return rc.Flush()
	}
	failed := func(code string, err error) {
		b, _ := json.Marshal(errorBody{Code: code, Message: err.Error()})
		send("event: error\ndata: " + string(b) + "\n\n")
	}
	if s.opts.Logger != nil {
		s.opts.Logger.Debug("live query open", "remote", r.RemoteAddr, "token", who.name, "sql", stmt)
		defer s.opts.Logger.Debug("live query closed", "remote", r.RemoteAddr, "token", who.name)
	}
	if send(": sluice live query, reading "+describeReads(reads)+"\n\n") != nil {
		return
	}
	checked := time.Now() // when the token was last looked up
	revoked := func() bool {
		if time.Since(checked) < s.opts.Heartbeat {
			return false
		}
		checked = time.Now()
		return s.revoked(who)
	}
	for {
		hctx, hcancel := context.WithTimeout(ctx, s.opts.Heartbeat)
		res, err := sub.Next(hctx)
		idle := errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		hcancel()
		if (err == nil || idle) && revoked() {
			failed(codeUnauthorized, fmt.Errorf("token %q was revoked", who.name))
			return
		}
		switch {
		case err == nil:
			b, err := json.Marshal(res)
			if err != nil {
				failed(codeInternal, err)
				return
			}
			if send(fmt.Sprintf("id: %d\nevent: result\ndata: %s\n\n", res.N, b)) != nil {
				return
			}
		case idle:
			if send(": heartbeat\n\n") != nil {
				return
			}
		case s.ctx.Err() != nil:
			failed(codeInternal, errors.New("the server is stopping"))
			return
		case r.Context().Err() != nil:
			return // the client went away
		default:
			failed(codeQueryFailed, err)
			return
		}
	}
}

// mayQuery reports whether who may run a statement reading reads; if not,
// it says what it may not read.
func (who reader) mayQuery(reads []query.Read) (string, bool) {
	if who.scopes.all {
		return "", true
	}
	for _, rd := range reads {
		switch {
		case rd.View == "":
			return fmt.Sprintf("table %s.%s belongs to no view (only a token reading every entry may query it)", rd.File, rd.Table), false
		case !slices.Contains(who.views, AllViews) && !slices.Contains(who.views, rd.View):
			return fmt.Sprintf("view %q (table %s)", rd.View, rd.Table), false
		}
	}
	return "", true
}

// describeReads lists the views a statement reads: "posts, ssb".
func describeReads(reads []query.Read) string {
	var names []string
	for _, rd := range reads {
		n := rd.View
		if n == "" {
			n = rd.File + "." + rd.Table
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "no view"
	}
	return strings.Join(names, ", ")
}
