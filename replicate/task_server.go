package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/tasks"
)

// TaskServerOptions configure a TaskServer. The zero value accepts every
// task (Accept) from everybody.
type TaskServerOptions struct {
	// Tokens and OpenWhenEmpty decide who may send tasks, as for
	// ServerOptions. A token may send tasks of its scopes; a task without
	// a scope needs a token reading every scope ("*"), or no tokens.
	Tokens        *TokenStore
	OpenWhenEmpty bool
	// Handler applies tasks; default Accept.
	Handler Handler
	// Indexer, if set, is the indexer of the server's views over the
	// log: every group of batches is then applied in one
	// Indexer.Transact, and each task first runs the SQL checks of the
	// views (-- sluice:check KIND) against the views as they are after
	// every task before it, of earlier batches and of its own. A row
	// rejects the task (a failed answer with that reason). Without an
	// Indexer the records go to the log in one plain Append, unchecked.
	Indexer *index.Indexer
	// RetryAfter is what a 503 answer asks the device to wait; default 1 s.
	RetryAfter time.Duration
	// MaxWaiting is how many requests may wait for the server's one
	// worker; more are answered 429. Default 1024.
	MaxWaiting int
	// MaxGroup is how many requests the worker applies in one Append,
	// at most; default 64.
	MaxGroup int
	// AfterAppend, if set, is called after each Append of a group of
	// batches, before they are answered: a hook for tests that kill the
	// server there.
	AfterAppend func()
	// MaxRecordSize is the largest record the server's log takes (its
	// log.Options.MaxRecordSize); default log.DefaultMaxRecordSize. A task
	// whose payload is larger is refused 413; a task whose handler returns
	// a larger record fails (a permanent answer naming the limit).
	MaxRecordSize int
	// Logger gets a line per handler panic and failed append (error level).
	Logger *slog.Logger
}

// TaskServer serves POST /v1/tasks: it applies batches of tasks that
// devices send and answers each (see doc.go). It is an http.Handler to
// mount beside a Server (sluice serve does).
//
// Batches are applied one at a time by one worker, in arrival order; the
// worker takes every batch waiting (up to MaxGroup) and appends their
// records in one atomic log Append: a batch is in the log whole or not at
// all, after a crash at any moment. Task ids are deduplicated per device:
// the server knows every task it answered (it reads its answer entries from
// the log when it starts), and answers a task sent again from what it
// appended then, applying nothing twice.
//
// The dedup key is (token, device node, task id): the name of the token
// that sent the task is part of it (each answer entry names it), since
// nothing binds the node id a request names to its sender. A token can thus
// never pre-empt, nor be answered with, another token's tasks, whatever
// node id it claims; the devices of one user sharing a token are told
// apart by their node ids. A token revoked and added again under the same
// name keeps its tasks (what `sluice token` tells to do when rotating one);
// a device moved to a token of another name has the tasks it had sent and
// not seen answered applied again under the new name.
//
// ServeHTTP is safe for concurrent use. Close stops the worker.
type TaskServer struct {
	log  *log.Log
	node log.NodeID
	opts TaskServerOptions
	auth *Server // for authorize

	reqs      chan *taskCall
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	// handled is owned by the worker goroutine (and NewTaskServer before
	// it starts).
	handled map[taskKey]handledTask
}

// taskKey names a task: the token that sent it (its name; "" without
// tokens), the device and the task's id.
type taskKey struct {
	token string
	node  log.NodeID
	id    string
}

// handledTask is what the server answered for a task.
type handledTask struct {
	outcome, reason string
	answer          log.Seq // the answer entry's seq in this log
	results         int     // result entries right before it
}

// taskCall is a request waiting for the worker.
type taskCall struct {
	ctx   context.Context
	node  log.NodeID
	token string // the name of the token that sent it; "" without tokens
	req   TaskRequest
	reply chan taskReply
}

// taskReply is what the worker answers a call: answers (200), a refusal
// (code set), or a retryable error.
type taskReply struct {
	status  int
	code    string
	message string
	answers []TaskAnswer
}

// NewTaskServer returns a TaskServer appending to l, which must be the
// log's writer. It reads the log once to learn the tasks answered before.
func NewTaskServer(l *log.Log, opts TaskServerOptions) (*TaskServer, error) {
	if l.Node().IsZero() {
		return nil, errors.New("replicate: the log has no node id (a format 1 log no writer has opened yet)")
	}
	if opts.Handler == nil {
		opts.Handler = Accept
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.MaxWaiting <= 0 {
		opts.MaxWaiting = 1024
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 64
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = log.DefaultMaxRecordSize
	}
	s := &TaskServer{log: l, node: l.Node(), opts: opts, handled: map[taskKey]handledTask{},
		reqs: make(chan *taskCall, opts.MaxWaiting), done: make(chan struct{}),
		auth: &Server{opts: ServerOptions{Tokens: opts.Tokens, OpenWhenEmpty: opts.OpenWhenEmpty}}}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.work()
	return s, nil
}

var answerMarker = []byte(`"` + tasks.KindAnswer + `"`)

// load reads the answers this server appended before.
func (s *TaskServer) load() error {
	it, err := s.log.Iter(1)
	if err != nil {
		return fmt.Errorf("replicate: read the answered tasks: %w", err)
	}
	defer it.Close()
	for it.Next() {
		e := it.Entry()
		if e.ID.Node != s.node || !bytes.Contains(e.Payload, answerMarker) {
			continue
		}
		t, err := tasks.Parse(e.Payload)
		if err != nil || t.Kind != tasks.KindAnswer {
			continue
		}
		node, _ := log.ParseNodeID(t.Node)
		k := taskKey{t.Token, node, t.ID}
		if _, ok := s.handled[k]; !ok {
			s.handled[k] = handledTask{outcome: t.Outcome, reason: t.Reason, answer: e.Seq, results: t.Results}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("replicate: read the answered tasks: %w", err)
	}
	return nil
}

// Close stops taking tasks: waiting and new requests are answered 503.
// It waits for the batch being applied. It does not close the log. It is
// idempotent.
func (s *TaskServer) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}

// maxTaskBody limits a POST /v1/tasks body.
const maxTaskBody = 5 * (log.DefaultMaxRecordSize + 4<<10)

// ServeHTTP implements http.Handler for POST /v1/tasks.
func (s *TaskServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/tasks" {
		writeError(w, http.StatusNotFound, codeNotFound, "no such resource %q (see /v1/tasks)", r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, codeMethod, "%s %s: only POST", r.Method, r.URL.Path)
		return
	}
	who, ok := s.auth.authorize(w, r)
	if !ok {
		return
	}
	req, ok := readTaskRequest(w, r, maxTaskBody, s.opts.MaxRecordSize) // task_request.go
	if !ok {
		return
	}
	node, err := req.check()
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalid, "task request: %v (nothing was applied)", err)
		return
	}
	if req.Server != "" && req.Server != s.node.String() {
		writeError(w, http.StatusConflict, codeNodeMismatch, "this is node %s, not %s: its log was replaced (no task was applied)", s.node, req.Server)
		return
	}
	for _, t := range req.Tasks {
		if t.Scope == "" && !who.scopes.all {
			writeTaskError(w, http.StatusForbidden, codeForbidden, t.ID, "task %q has no scope: only a token reading every scope (*) may send one; give the task the user's scope", t.ID)
			return
		}
		if !who.scopes.visible(t.Scope) {
			writeTaskError(w, http.StatusForbidden, codeForbidden, t.ID, "task %q has scope %q, which token %q does not have", t.ID, t.Scope, who.name)
			return
		}
	}
	call := &taskCall{ctx: r.Context(), node: node, token: who.name, req: req, reply: make(chan taskReply, 1)}
	select {
	case <-s.ctx.Done():
		s.retryLater(w, http.StatusServiceUnavailable, "the server is stopping")
		return
	default:
	}
	select {
	case s.reqs <- call:
	default:
		s.retryLater(w, http.StatusTooManyRequests, "too many task requests waiting")
		return
	}
	var rep taskReply
	select {
	case rep = <-call.reply:
	case <-s.done:
		// The worker stopped; it answers every call it took before that.
		select {
		case rep = <-call.reply:
		default:
			s.retryLater(w, http.StatusServiceUnavailable, "the server is stopping")
			return
		}
	}
	if rep.code != "" {
		writeError(w, rep.status, rep.code, "%s (nothing was applied)", rep.message)
		return
	}
	if rep.status != http.StatusOK {
		s.retryLater(w, rep.status, rep.message)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(TaskResponse{Server: s.node.String(), Answers: rep.answers})
}

// writeTaskError is writeError for a refusal of one task of a request.
func writeTaskError(w http.ResponseWriter, status int, code, task, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Code: code, Message: fmt.Sprintf(format, args...), Task: task})
}

// retryLater answers that nothing was applied and when to try again.
func (s *TaskServer) retryLater(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(max(1, s.opts.RetryAfter.Round(time.Second)/time.Second))))
	code := "unavailable"
	if status == http.StatusTooManyRequests {
		code = "too_many_requests"
	}
	writeError(w, status, code, "%s (nothing was applied; retry later)", msg)
}

// work applies the waiting calls, a group at a time, until Close.
func (s *TaskServer) work() {
	defer close(s.done)
	group := make([]*taskCall, 0, s.opts.MaxGroup)
	for {
		group = group[:0]
		select {
		case <-s.ctx.Done():
			s.drain()
			return
		case c := <-s.reqs:
			group = append(group, c)
		}
	more:
		for len(group) < s.opts.MaxGroup {
			select {
			case c := <-s.reqs:
				group = append(group, c)
			default:
				break more
			}
		}
		s.apply(group)
	}
}

// drain answers the calls still waiting after Close.
func (s *TaskServer) drain() {
	for {
		select {
		case c := <-s.reqs:
			c.reply <- taskReply{status: http.StatusServiceUnavailable, message: "the server is stopping"}
		default:
			return
		}
	}
}

// staged is one task's part of a group: answered from before, or to append.
type staged struct {
	key     taskKey
	answer  TaskAnswer
	old     *handledTask // answered before this group
	first   int          // index of its first record in the group's records
	results int
	outcome string
	reason  string
}

// apply applies a group of calls: each call's tasks in order, every call
// whose handlers all answered in one Append, then the answers.
func (s *TaskServer) apply(group []*taskCall) {
	for ci, c := range group {
		if c.ctx.Err() != nil {
			// The device gave up waiting: apply nothing, it will send again.
			c.reply <- taskReply{status: http.StatusServiceUnavailable, message: "request cancelled"}
			group[ci] = nil
		}
	}
	var plans [][]staged
	var first log.Seq
	var err error
	if s.opts.Indexer != nil {
		plans, first, err = s.transact(group)
	} else {
		plans, first, err = s.appendPlain(group)
	}
	if err != nil && errors.Is(err, log.ErrTooLarge) {
		// Too much for one atomic Append: nothing was applied. Each
		// call on its own may fit; one that does not alone never will,
		// so it is refused for good instead of retried forever.
		if live := slices.DeleteFunc(group, func(c *taskCall) bool { return c == nil }); len(live) > 1 {
			for _, c := range live {
				s.apply([]*taskCall{c})
			}
			return
		}
		for _, c := range group {
			if c != nil {
				c.reply <- taskReply{status: http.StatusRequestEntityTooLarge, code: "too_large",
					message: fmt.Sprintf("the answers of these %d tasks do not fit in one append of the server's log (%v): send fewer tasks per request", len(c.req.Tasks), err)}
			}
		}
		return
	}
	if err != nil {
		if s.opts.Logger != nil {
			s.opts.Logger.Error("tasks: append the answers of a group of batches", "batches", len(group), "err", err)
		}
		for _, c := range group {
			if c != nil {
				c.reply <- taskReply{status: http.StatusServiceUnavailable, message: fmt.Sprintf("append the answers: %v", err)}
			}
		}
		return
	}
	if first != 0 && s.opts.AfterAppend != nil {
		s.opts.AfterAppend()
	}
	// Record what was answered before answering: a batch sent again gets
	// the same answers.
	for _, plan := range plans {
		for i := range plan {
			p := &plan[i]
			if p.old != nil {
				continue
			}
			ans := first + log.Seq(p.first+p.results)
			s.handled[p.key] = handledTask{outcome: p.outcome, reason: p.reason, answer: ans, results: p.results}
		}
	}
	for ci, c := range group {
		if c == nil {
			continue
		}
		answers := make([]TaskAnswer, len(plans[ci]))
		for i, p := range plans[ci] {
			h, _ := s.answered(p.key)
			answers[i] = s.answerOf(p.key.id, h)
		}
		c.reply <- taskReply{status: http.StatusOK, answers: answers}
	}
}

// appendPlain handles the group's calls and appends their records with one
// log Append. A call whose handler fails is answered 503 and dropped from
// the group (set to nil). It returns each call's plan and the first seq
// appended (0 if none).
func (s *TaskServer) appendPlain(group []*taskCall) ([][]staged, log.Seq, error) {
	var recs []log.Record
	plans := make([][]staged, len(group))
	inGroup := map[taskKey]bool{}
	for ci, c := range group {
		if c == nil {
			continue
		}
		mark := len(recs)
		plan, err := s.handleCall(c, len(recs), inGroup, nil, func(r []log.Record) error { recs = append(recs, r...); return nil })
		if err != nil {
			recs = recs[:mark]
			for _, t := range c.req.Tasks {
				delete(inGroup, taskKey{c.token, c.node, t.ID})
			}
			c.reply <- taskReply{status: http.StatusServiceUnavailable, message: err.Error()}
			group[ci] = nil
			continue
		}
		plans[ci] = plan
	}
	if len(recs) == 0 {
		return plans, 0, nil
	}
	seqs, err := s.log.Append(s.ctx, recs...)
	if err != nil {
		return nil, 0, err
	}
	return plans, seqs[0], nil
}

// callFailed is how transact's fn says that one call must be dropped.
type callFailed struct {
	call int
	err  error
}

func (e *callFailed) Error() string { return e.err.Error() }

// transact handles the group's calls inside one Indexer.Transact: with
// checks in the views, each task's records are applied to the views as it
// is handled, so the SQL checks of every task see every task before it;
// without, each call's records are applied after its last task. A call whose handler or
// checks fail rolls the whole Transact back; it is answered 503, dropped,
// and the rest of the group is run again (at most once per call).
func (s *TaskServer) transact(group []*taskCall) ([][]staged, log.Seq, error) {
	for {
		plans := make([][]staged, len(group))
		inGroup := map[taskKey]bool{}
		first, err := s.opts.Indexer.Transact(s.ctx, func(tx *index.Tx) error {
			// Without checks, nothing reads the views between tasks: a
			// call's records are staged at once, after its last task
			// (one view apply per request, not per task).
			checks := tx.HasChecks()
			n := 0
			var held []log.Record
			for ci, c := range group {
				if c == nil {
					continue
				}
				var check func(Task) (string, error)
				stage := func(r []log.Record) error {
					n += len(r)
					held = append(held, r...)
					return nil
				}
				if checks {
					check = func(t Task) (string, error) {
						return tx.Check(c.ctx, view.CheckTask{ID: t.ID, Kind: t.Kind, Queue: t.Queue, Node: t.Node, Scope: t.Scope, Payload: t.Payload})
					}
					stage = func(r []log.Record) error {
						n += len(r)
						return tx.Stage(r...)
					}
				}
				plan, err := s.handleCall(c, n, inGroup, check, stage)
				if err == nil && len(held) > 0 {
					err = tx.Stage(held...)
				}
				held = held[:0]
				if err != nil {
					return &callFailed{ci, err}
				}
				plans[ci] = plan
			}
			return nil
		})
		var cf *callFailed
		if errors.As(err, &cf) {
			group[cf.call].reply <- taskReply{status: http.StatusServiceUnavailable, message: cf.err.Error()}
			group[cf.call] = nil
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return plans, first, nil
	}
}

// answerOf is the wire answer of a handled task.
func (s *TaskServer) answerOf(id string, h handledTask) TaskAnswer {
	a := TaskAnswer{ID: id, Outcome: h.outcome, Reason: h.reason, Answer: log.ID{Node: s.node, Seq: h.answer}.String()}
	for i := h.results; i > 0; i-- {
		a.Results = append(a.Results, log.ID{Node: s.node, Seq: h.answer - log.Seq(i)}.String())
	}
	return a
}

// handleCall runs the checks (if check is set) and the handler over a
// call's tasks that were not answered before, and stages their result and
// answer records; at is how many records the group staged before. An error
// (a handler's, a check that could not run, a panic) means the call is not
// applied: the caller drops what it staged.
func (s *TaskServer) handleCall(c *taskCall, at int, inGroup map[taskKey]bool, check func(Task) (string, error), stage func([]log.Record) error) (plan []staged, err error) {
	for _, t := range c.req.Tasks {
		k := taskKey{c.token, c.node, t.ID}
		if h, ok := s.answered(k); ok {
			plan = append(plan, staged{key: k, old: &h})
			continue
		}
		if inGroup[k] {
			// Sent again while the first request is in this group: the
			// device gave up on the first; it gets no answer, this one does.
			return nil, fmt.Errorf("task %q is being applied (sent twice at once)", t.ID)
		}
		task := Task{Node: c.node, ID: t.ID, Queue: c.req.Queue, Kind: t.Kind, Seq: t.Seq, Scope: t.Scope, Payload: t.Payload}
		var res TaskResult
		if check != nil {
			if res.Reason, err = check(task); err != nil {
				return nil, fmt.Errorf("task %q: run the checks: %w", t.ID, err)
			}
		}
		if res.Reason == "" {
			if res, err = s.call(c.ctx, task); err != nil {
				return nil, fmt.Errorf("task %q: %w", t.ID, err)
			}
		}
		p := staged{key: k, first: at, outcome: tasks.Succeeded}
		for i, r := range res.Records {
			if len(r.Payload) > s.opts.MaxRecordSize && res.Reason == "" {
				res.Reason = fmt.Sprintf("result %d of the task is %d bytes, over the %d bytes a record of the server's log may hold", i+1, len(r.Payload), s.opts.MaxRecordSize)
			}
		}
		if res.Reason != "" {
			p.outcome, p.reason = tasks.Failed, res.Reason
			res.Records = nil
		}
		recs := make([]log.Record, 0, len(res.Records)+1)
		for _, r := range res.Records {
			r.Origin = log.Local
			r.Author, r.Via = log.ID{}, log.ID{}
			if r.Scope == "" {
				r.Scope = t.Scope
			}
			recs = append(recs, r)
		}
		p.results = len(res.Records)
		recs = append(recs, log.Record{Origin: log.Local, Scope: t.Scope, Payload: tasks.Entry{
			Kind: tasks.KindAnswer, Node: c.node.String(), ID: t.ID, Queue: c.req.Queue, Type: t.Kind, Seq: t.Seq,
			Outcome: p.outcome, Reason: p.reason, Results: p.results, Token: c.token}.Marshal()})
		if err := stage(recs); err != nil {
			return nil, fmt.Errorf("task %q: %w", t.ID, err)
		}
		at += len(recs)
		inGroup[k] = true
		plan = append(plan, p)
	}
	return plan, nil
}

// answered returns what the server answered for the task k names. An
// answer written before answers named their token (token "") counts for
// every token: the task was answered then, whoever sends it again now.
func (s *TaskServer) answered(k taskKey) (handledTask, bool) {
	h, ok := s.handled[k]
	if !ok && k.token != "" {
		h, ok = s.handled[taskKey{"", k.node, k.id}]
	}
	return h, ok
}

// call runs the handler, turning a panic into an error (logged).
func (s *TaskServer) call(ctx context.Context, t Task) (res TaskResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			if s.opts.Logger != nil {
				s.opts.Logger.Error("tasks: handler panicked", "task", t.ID, "kind", t.Kind, "panic", p, "stack", string(debug.Stack()))
			}
			err = fmt.Errorf("the handler failed (panic: %v)", p)
		}
	}()
	return s.opts.Handler.HandleTask(ctx, t)
}
