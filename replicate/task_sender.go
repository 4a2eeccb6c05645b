package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view/tasks"
)

// Errors of Sender.Cancel and Sender.RetryNow.
var (
	// ErrInFlight: the task was sent and its answer has not come; the
	// server may have applied it, so it cannot be cancelled.
	ErrInFlight = errors.New("task in flight")
	// ErrNoTask: this device has no task of that id.
	ErrNoTask = errors.New("no such task")
	// ErrTaskDone: the task was answered or cancelled already.
	ErrTaskDone = errors.New("task already done")
)

// SenderOptions configure a Sender.
type SenderOptions struct {
	// Server is where tasks go (POST URL/v1/tasks), with the token.
	Server Peer
	// ServerNode is the node id the server must be: the one a Client
	// recorded for it (PeerStatus.Node). Every request names it, and a
	// server with another node id (its log was replaced) refuses it, 409
	// node_mismatch, applying nothing, as it refuses a pull. Zero: the
	// node of the first server that answers, for the Sender's life.
	ServerNode log.NodeID
	// HTTPClient makes the requests; default one with connect and header
	// timeouts.
	HTTPClient *http.Client
	// BatchSize is how many tasks of a queue go in one request: 1 to
	// MaxTasksPerRequest, default MaxTasksPerRequest.
	BatchSize int
	// Backoff bounds the wait before a queue's head is sent again after
	// a retryable failure: full jitter under a ceiling that doubles from
	// the first value to the second (default 50 ms to 1 min). A server's
	// Retry-After is honoured, up to the second value. A success resets it.
	Backoff [2]time.Duration
	// StuckAttempts and StuckAfter say when a queue whose head keeps
	// failing retryably is reported stuck: after that many attempts
	// (default 8), or that long since its first failure (default 10 min),
	// whichever comes first. A stuck queue is still retried, at the
	// longest backoff; RetryNow retries it at once.
	StuckAttempts int
	StuckAfter    time.Duration
	// OnStuck, if set, is called (without the sender's lock) when a queue
	// is reported stuck.
	OnStuck func(StuckQueue)
	// Logger gets a line per failed request (debug) and stuck queue (warn).
	Logger *slog.Logger
}

// StuckQueue is a queue whose head task keeps failing retryably.
type StuckQueue struct {
	Queue     string    `json:"queue"`
	Task      string    `json:"task"` // the head task's id
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error"`
	FirstFail time.Time `json:"first_fail"`
}

// Sender sends a device's tasks to a server (POST /v1/tasks), from the
// task entries in its log: each queue strictly in order (the next request
// of a queue goes once the previous one is answered), queues in parallel,
// up to BatchSize tasks per request, with backoff and jitter after
// retryable failures. It writes its bookkeeping to the log (task.send,
// task.retry, task.stuck entries), so the tasks view shows every state.
//
// Its state is rebuilt from the log when it starts: a task that was sent
// but not answered when the device stopped (a crash, a lost connection) is
// sent again; the server's dedup makes that safe. The server's answers
// reach the log through log sync (a Client following the server): the
// Sender moves on as soon as a request is answered, and the answer entries
// arrive after. (It does not append the answers it receives itself: an
// entry of the server appended out of the stream's order would make the
// Client take its position in the server's log to be past entries it never
// pulled.)
//
// The Sender must run in the process that writes the log (it appends to
// it); use one per log. Its methods are safe for concurrent use.
type Sender struct {
	log  *log.Log
	node log.NodeID
	opts SenderOptions
	http *http.Client
	url  string

	kick chan struct{}

	// mu guards everything below. It is held across the Appends of
	// cancel entries, so that a cancel and a send never cross.
	mu      sync.Mutex
	scanned log.Seq
	queues  map[string]*sendQueue
	byID    map[string]*sendTask
	done    map[string]string // finished tasks: id -> state
	started bool
	server  log.NodeID // the server's node: opts.ServerNode, or as first answered
}

// sendQueue is a queue's tasks waiting for an answer, in order.
type sendQueue struct {
	name  string
	tasks []*sendTask
	busy  bool // a request is in flight
	fails int  // consecutive retryable failures
	// outage: the last failure was the server out of reach (no answer, or
	// an error answer without Retry-After), not a handler asking to wait;
	// a success of another queue sends this one again at once.
	outage bool
}

// sendTask is a task not yet answered nor cancelled.
type sendTask struct {
	id, queue, kind, scope string
	seq                    log.Seq
	payload                json.RawMessage
	attempts               int
	inflight               bool
	// maybeApplied: some request carrying it got no answer, so the server
	// may have applied it; prevMaybe is what it was before the last send
	// (restored when that send is answered "not applied").
	maybeApplied, prevMaybe bool
	nextAt                  time.Time
	firstFail               time.Time
	lastErr                 string
	stuck                   bool
}

// NewSender returns a Sender of the tasks in l, which the caller writes.
// Run sends them. Without a server (opts.Server.URL empty) it only cancels
// and retries: Run fails.
func NewSender(l *log.Log, opts SenderOptions) (*Sender, error) {
	if l.Node().IsZero() {
		return nil, errors.New("replicate: the log has no node id (a format 1 log no writer has opened yet)")
	}
	if opts.Server.URL != "" {
		if err := checkPeerURL(opts.Server.URL); err != nil {
			return nil, fmt.Errorf("task server: %w", err)
		}
	}
	if opts.BatchSize <= 0 || opts.BatchSize > MaxTasksPerRequest {
		opts.BatchSize = MaxTasksPerRequest
	}
	if opts.Backoff[0] <= 0 {
		opts.Backoff[0] = 50 * time.Millisecond
	}
	if opts.Backoff[1] < opts.Backoff[0] {
		opts.Backoff[1] = max(time.Minute, opts.Backoff[0])
	}
	if opts.StuckAttempts <= 0 {
		opts.StuckAttempts = 8
	}
	if opts.StuckAfter <= 0 {
		opts.StuckAfter = 10 * time.Minute
	}
	s := &Sender{log: l, node: l.Node(), opts: opts, http: opts.HTTPClient,
		url:  strings.TrimRight(opts.Server.URL, "/") + "/v1/tasks",
		kick: make(chan struct{}, 1), queues: map[string]*sendQueue{}, byID: map[string]*sendTask{}, done: map[string]string{},
		server: opts.ServerNode}
	if s.http == nil {
		s.http = defaultHTTPClient()
		s.http.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(); err != nil {
		return nil, err
	}
	s.started = true
	return s, nil
}

// catchUp reads the entries appended since the last look. mu must be held.
func (s *Sender) catchUp() error {
	last, _ := s.log.Last()
	if last <= s.scanned {
		return nil
	}
	it, err := s.log.Iter(s.scanned + 1)
	if err != nil {
		return fmt.Errorf("replicate: read the tasks: %w", err)
	}
	defer it.Close()
	for it.Next() {
		e := it.Entry()
		if e.Seq > last {
			break
		}
		s.note(e)
		s.scanned = e.Seq
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("replicate: read the tasks: %w", err)
	}
	s.scanned = max(s.scanned, last)
	return nil
}

// note applies one entry of the log to the state. The sender's own
// bookkeeping entries only count when it starts: afterwards it changed its
// state before writing them. mu must be held.
func (s *Sender) note(e log.Entry) {
	t, err := tasks.Parse(e.Payload)
	if err != nil {
		return
	}
	if t.Kind == tasks.KindAnswer {
		if t.Node == s.node.String() {
			s.finish(t.ID, t.Outcome)
		}
		return
	}
	if e.Origin != log.Local {
		return
	}
	switch t.Kind {
	case tasks.KindTask:
		if _, dup := s.byID[t.ID]; dup || s.done[t.ID] != "" {
			return // an id used before: the first task of that id counts
		}
		st := &sendTask{id: t.ID, queue: t.Queue, kind: t.Type, scope: e.Scope, seq: e.Seq, payload: t.Payload}
		s.byID[t.ID] = st
		q := s.queues[t.Queue]
		if q == nil {
			q = &sendQueue{name: t.Queue}
			s.queues[t.Queue] = q
		}
		q.tasks = append(q.tasks, st)
	case tasks.KindCancel:
		if st := s.byID[t.ID]; st != nil && !st.inflight {
			s.finish(t.ID, tasks.Cancelled)
		}
	case tasks.KindSend:
		if !s.started {
			for _, id := range t.IDs {
				if st := s.byID[id]; st != nil {
					st.attempts++
					st.prevMaybe, st.maybeApplied = st.maybeApplied, true
				}
			}
		}
	case tasks.KindRetry:
		if !s.started {
			for _, id := range t.IDs {
				if st := s.byID[id]; st != nil {
					if st.firstFail.IsZero() {
						st.firstFail = e.Time
					}
					st.lastErr, st.nextAt = t.Error, time.UnixMilli(t.NextAttemptAt)
					if !t.Unknown {
						st.maybeApplied = st.prevMaybe
					}
				}
			}
		}
	case tasks.KindStuck, tasks.KindUnstuck:
		if st := s.byID[t.ID]; st != nil && !s.started {
			st.stuck = t.Kind == tasks.KindStuck
			if !st.stuck {
				st.nextAt, st.firstFail = time.Time{}, time.Time{}
			}
		}
	}
}

// finish removes a task from its queue: answered (state is its outcome) or
// cancelled. mu must be held.
func (s *Sender) finish(id, state string) {
	st := s.byID[id]
	if st == nil {
		return
	}
	delete(s.byID, id)
	s.done[id] = state
	q := s.queues[st.queue]
	q.tasks = slices.DeleteFunc(q.tasks, func(x *sendTask) bool { return x == st })
	if len(q.tasks) == 0 && !q.busy {
		delete(s.queues, st.queue)
	}
}

func (s *Sender) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run sends tasks until ctx ends, following the log for new task entries.
// It returns nil when ctx ends, or the error that stopped it (the log
// could not be read or written).
func (s *Sender) Run(ctx context.Context) error {
	return s.run(ctx, false)
}

// SendPending sends the tasks the log holds now, as Run does (each queue
// in order, batches, backoff), and returns once every queue is drained or
// waits for a backoff: a queue whose request failed (or that was backed
// off already when it started) is not waited for; a later Run or
// SendPending sends it again. It returns how many tasks are still not
// answered, and nil unless the log could not be read or written. Tasks
// appended while it runs are not waited for. It must not run at the same
// time as Run.
func (s *Sender) SendPending(ctx context.Context) (left int, err error) {
	s.mu.Lock()
	err = s.catchUp()
	s.mu.Unlock()
	if err == nil {
		err = s.run(ctx, true)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID), err
}

// run is Run; with once, it neither follows the log nor waits for a
// backoff, and returns when no request is in flight and no queue is due.
func (s *Sender) run(ctx context.Context, once bool) error {
	if s.opts.Server.URL == "" {
		return errors.New("replicate: the sender has no server to send tasks to")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	if !once {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.follow(ctx)
		}()
	}
	for {
		// Without a request in flight before dispatch, nothing changes
		// the queues meanwhile: none due then means done.
		idle := once && !s.busy()
		wait, err := s.dispatch(ctx, &wg)
		if err != nil {
			return err
		}
		if once {
			if idle && wait > 0 {
				return nil
			}
			wait = idleWait // a request that ends pokes
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case err := <-errc:
			t.Stop()
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-s.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// follow reads new log entries as they are appended.
func (s *Sender) follow(ctx context.Context) error {
	for {
		s.mu.Lock()
		after := s.scanned
		s.mu.Unlock()
		if _, err := s.log.Wait(ctx, after); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("replicate: follow the log for tasks: %w", err)
		}
		s.mu.Lock()
		err := s.catchUp()
		s.mu.Unlock()
		if err != nil {
			return err
		}
		s.poke()
	}
}

// batch is one request being sent.
type batch struct {
	q     *sendQueue
	tasks []*sendTask
}

// idleWait is how long Run sleeps with nothing to send and no kick.
const idleWait = time.Minute

// maxBatchPayload bounds the payload bytes of one request's tasks (a
// single task may be larger, up to a record): the server appends the
// answers of a request in one atomic Append, which has a limit of its own
// (log.DefaultMaxBatchSize); five tasks of 15 MB each would never fit.
const maxBatchPayload = log.DefaultMaxRecordSize

// batchLen is how many tasks from the head of a queue go in one request:
// up to max, and no more payload than maxBatchPayload unless the first
// task alone is larger.
func batchLen(ts []*sendTask, max int) int {
	n, size := 0, 0
	for n < len(ts) && n < max {
		size += len(ts[n].payload)
		if n > 0 && size > maxBatchPayload {
			break
		}
		n++
	}
	return n
}

// dispatch starts a request for every queue ready to send, after one
// Append of their task.send entries, and returns how long to wait before
// the next queue is due.
func (s *Sender) dispatch(ctx context.Context, wg *sync.WaitGroup) (time.Duration, error) {
	now := time.Now()
	wait := idleWait
	var out []batch
	s.mu.Lock()
	for _, q := range s.queues {
		if q.busy || len(q.tasks) == 0 {
			continue
		}
		if at := q.tasks[0].nextAt; at.After(now) {
			wait = min(wait, at.Sub(now))
			continue
		}
		b := batch{q: q, tasks: q.tasks[:batchLen(q.tasks, s.opts.BatchSize)]}
		b.tasks = slices.Clone(b.tasks)
		q.busy = true
		for _, t := range b.tasks {
			t.inflight = true
			t.prevMaybe, t.maybeApplied = t.maybeApplied, true
			t.attempts++
		}
		out = append(out, b)
	}
	s.mu.Unlock()
	if len(out) == 0 {
		return wait, nil
	}
	recs := make([]log.Record, len(out))
	for i, b := range out {
		ids := make([]string, len(b.tasks))
		for j, t := range b.tasks {
			ids[j] = t.id
		}
		recs[i] = log.Record{Origin: log.Local, Scope: b.tasks[0].scope,
			Payload: tasks.Entry{Kind: tasks.KindSend, IDs: ids, Attempt: b.tasks[0].attempts}.Marshal()}
	}
	if err := s.appendDurable(ctx, recs...); err != nil {
		s.mu.Lock()
		for _, b := range out {
			s.release(b)
		}
		s.mu.Unlock()
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, fmt.Errorf("replicate: record the tasks sent: %w", err)
	}
	for _, b := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.send(ctx, b)
		}()
	}
	return 0, nil
}

// busy reports whether a request is in flight.
func (s *Sender) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.queues {
		if q.busy {
			return true
		}
	}
	return false
}

// release ends a batch's flight. mu must be held.
func (s *Sender) release(b batch) {
	b.q.busy = false
	for _, t := range b.tasks {
		t.inflight = false
	}
	if len(b.q.tasks) == 0 {
		delete(s.queues, b.q.name)
	}
}

// retryError is a failed request: what went wrong, how long the server
// asked to wait, and whether an answer said nothing was applied. stuck: the
// server refuses the device itself (401, a 403 naming no task, 409
// node_mismatch): no retry mends that without a change by a person, so the
// queue is reported stuck at once.
type retryError struct {
	msg        string
	retryAfter time.Duration
	answered   bool
	stuck      bool
}

func (e *retryError) Error() string { return e.msg }

// refusedError is a request the server refused for good because of one of
// its tasks (403 for its scope, 413 for its size), applying none of them:
// that task fails, the others are sent again.
type refusedError struct {
	id, msg string
}

func (e *refusedError) Error() string { return e.msg }

// send sends one batch and applies the outcome.
func (s *Sender) send(ctx context.Context, b batch) {
	answers, err := s.post(ctx, b)
	if ctx.Err() != nil {
		s.mu.Lock()
		s.release(b)
		s.mu.Unlock()
		return
	}
	if err == nil {
		s.mu.Lock()
		b.q.fails, b.q.outage = 0, false
		b.q.busy = false
		s.releaseOutages()
		for i, t := range b.tasks {
			t.inflight = false
			s.finish(t.id, answers[i].Outcome)
		}
		if len(b.q.tasks) == 0 {
			delete(s.queues, b.q.name)
		}
		s.mu.Unlock()
		s.poke()
		return
	}
	var rf *refusedError
	if errors.As(err, &rf) {
		s.refused(ctx, b, rf)
		return
	}
	s.retry(ctx, b, err)
}

// refused fails the task the server refused for good, with an answer entry
// of the device's own (the server wrote none: it applied nothing), so that
// the views roll it back and the queue goes on; the rest of the batch is
// sent again at once.
func (s *Sender) refused(ctx context.Context, b batch, rf *refusedError) {
	s.mu.Lock()
	var t *sendTask
	for _, x := range b.tasks {
		x.maybeApplied = x.prevMaybe // answered: nothing was applied
		if x.id == rf.id {
			t = x
		}
	}
	rec := log.Record{Origin: log.Local, Scope: t.scope, Payload: tasks.Entry{Kind: tasks.KindAnswer, Node: s.node.String(),
		ID: t.id, Queue: t.queue, Type: t.kind, Seq: t.seq, Outcome: tasks.Failed, Reason: "refused by the server: " + rf.msg}.Marshal()}
	s.mu.Unlock()
	// Appended before the task leaves the queue: were it lost, the task
	// would be sent again and refused again.
	if _, err := s.log.Append(ctx, rec); err != nil {
		if ctx.Err() == nil && s.opts.Logger != nil {
			s.opts.Logger.Warn("tasks: record a task the server refused", "task", t.id, "err", err)
		}
		s.retry(ctx, b, &retryError{msg: rf.msg, answered: true}) // with backoff
		return
	}
	s.mu.Lock()
	s.finish(t.id, tasks.Failed)
	s.release(b)
	s.mu.Unlock()
	if s.opts.Logger != nil {
		s.opts.Logger.Info("tasks: the server refused a task for good", "queue", b.q.name, "task", t.id, "reason", rf.msg)
	}
	s.poke()
}

// appendDurable appends recs and has them on disk before it returns,
// whatever the log's durability (sync --follow may pull with none): a
// task.send must be durable before its request goes out, or after a crash
// a task the server applied could be cancelled; an acknowledged cancel must
// not be lost, or the task would be sent after all.
func (s *Sender) appendDurable(ctx context.Context, recs ...log.Record) error {
	_, err := appendSynced(ctx, s.log, log.SyncAlways, recs)
	return err
}

// releaseOutages makes due at once every queue backed off because the
// server was out of reach: one request was answered, so it is back, and
// the others need not wait out a backoff of up to Backoff[1] (after an
// outage every queue would otherwise trickle back over a minute). A
// handler's Retry-After is still honoured. s.mu must be held.
func (s *Sender) releaseOutages() {
	for _, q := range s.queues {
		if !q.outage || q.busy {
			continue
		}
		q.outage, q.fails = false, 0
		for _, t := range q.tasks {
			t.nextAt = time.Time{}
		}
	}
}

// retry records a failed request and when the batch goes again.
func (s *Sender) retry(ctx context.Context, b batch, err error) {
	now := time.Now()
	s.mu.Lock()
	b.q.fails++
	ceiling := s.opts.Backoff[0] << min(b.q.fails-1, 30)
	if ceiling <= 0 || ceiling > s.opts.Backoff[1] {
		ceiling = s.opts.Backoff[1]
	}
	wait := rand.N(ceiling) + time.Millisecond // full jitter
	var re *retryError
	answered := errors.As(err, &re) && re.answered
	if answered && re.retryAfter > wait {
		wait = min(re.retryAfter, s.opts.Backoff[1])
	}
	b.q.outage = !answered || re.retryAfter == 0
	head := b.tasks[0]
	ids := make([]string, len(b.tasks))
	for i, t := range b.tasks {
		ids[i] = t.id
		t.nextAt, t.lastErr = now.Add(wait), err.Error()
		if answered {
			t.maybeApplied = t.prevMaybe
		}
		if t.firstFail.IsZero() {
			t.firstFail = now
		}
	}
	recs := []log.Record{{Origin: log.Local, Scope: head.scope, Payload: tasks.Entry{Kind: tasks.KindRetry, IDs: ids,
		Error: err.Error(), NextAttemptAt: now.Add(wait).UnixMilli(), Unknown: !answered}.Marshal()}}
	var stuck *StuckQueue
	if !head.stuck && ((re != nil && re.stuck) || head.attempts >= s.opts.StuckAttempts || now.Sub(head.firstFail) >= s.opts.StuckAfter) {
		head.stuck = true
		stuck = &StuckQueue{Queue: head.queue, Task: head.id, Attempts: head.attempts, Error: err.Error(), FirstFail: head.firstFail}
		recs = append(recs, log.Record{Origin: log.Local, Scope: head.scope, Payload: tasks.Entry{Kind: tasks.KindStuck,
			Queue: head.queue, ID: head.id, Error: err.Error()}.Marshal()})
	}
	s.release(b)
	s.mu.Unlock()
	if s.opts.Logger != nil {
		s.opts.Logger.Debug("tasks: request failed; sending again later", "queue", b.q.name, "tasks", len(b.tasks), "in", wait, "err", err)
	}
	if _, aerr := s.log.Append(ctx, recs...); aerr != nil && ctx.Err() == nil && s.opts.Logger != nil {
		s.opts.Logger.Warn("tasks: record a failed request", "err", aerr)
	}
	if stuck != nil {
		if s.opts.Logger != nil {
			s.opts.Logger.Warn("tasks: queue stuck", "queue", stuck.Queue, "task", stuck.Task, "attempts", stuck.Attempts, "err", stuck.Error)
		}
		if s.opts.OnStuck != nil {
			s.opts.OnStuck(*stuck)
		}
	}
	s.poke()
}

// maxAnswerBody limits a task response.
const maxAnswerBody = 1 << 20

// post sends a batch and returns the answers, one per task in order.
func (s *Sender) post(ctx context.Context, b batch) ([]TaskAnswer, error) {
	s.mu.Lock()
	server := s.server
	s.mu.Unlock()
	req := TaskRequest{Node: s.node.String(), Queue: b.q.name, Tasks: make([]WireTask, len(b.tasks))}
	if !server.IsZero() {
		req.Server = server.String()
	}
	for i, t := range b.tasks {
		req.Tasks[i] = WireTask{ID: t.id, Kind: t.kind, Seq: t.seq, Scope: t.scope, Payload: t.payload}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, &retryError{msg: fmt.Sprintf("encode the request: %v", err)}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, &retryError{msg: err.Error()}
	}
	hr.Header.Set("Content-Type", "application/json")
	if s.opts.Server.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+s.opts.Server.Token)
	}
	resp, err := s.http.Do(hr)
	if err != nil {
		// A connection never made sent nothing; any other failure may
		// have lost the answer of a request the server applied.
		var oe *net.OpError
		return nil, &retryError{msg: err.Error(), answered: errors.As(err, &oe) && oe.Op == "dial"}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody))
	if err != nil {
		return nil, &retryError{msg: fmt.Sprintf("read the answer: %v", err)}
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &eb) == nil && eb.Message != "" {
			msg = eb.Message
		}
		msg = fmt.Sprintf("%s: %d %s", s.url, resp.StatusCode, msg)
		if eb.Task != "" && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusRequestEntityTooLarge) &&
			slices.ContainsFunc(b.tasks, func(t *sendTask) bool { return t.id == eb.Task }) {
			return nil, &refusedError{id: eb.Task, msg: msg}
		}
		re := &retryError{msg: msg, answered: true}
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden,
			resp.StatusCode == http.StatusRequestEntityTooLarge: // the whole request: sending it again cannot help
			re.stuck = true
		case eb.Code == codeNodeMismatch:
			re.stuck = true
			re.msg += " (if that server was replaced on purpose: sluice sync --forget URL, then sync again)"
		}
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			re.retryAfter = time.Duration(n) * time.Second
		}
		return nil, re
	}
	var tr TaskResponse
	if err := json.Unmarshal(raw, &tr); err != nil {
		return nil, &retryError{msg: fmt.Sprintf("%s: bad answer: %v", s.url, err)}
	}
	if node, err := log.ParseNodeID(tr.Server); err == nil && !node.IsZero() {
		s.mu.Lock()
		if s.server.IsZero() {
			s.server = node
		}
		known := s.server
		s.mu.Unlock()
		if node != known {
			// Not the server asked for, yet it applied the tasks: a
			// server that does not check (it cannot be one of ours).
			return nil, &retryError{msg: fmt.Sprintf("%s: answered as node %s, not %s", s.url, node, known), stuck: true}
		}
	}
	if len(tr.Answers) != len(b.tasks) {
		return nil, &retryError{msg: fmt.Sprintf("%s: %d answers for %d tasks", s.url, len(tr.Answers), len(b.tasks))}
	}
	for i, a := range tr.Answers {
		if a.ID != b.tasks[i].id || (a.Outcome != tasks.Succeeded && a.Outcome != tasks.Failed) {
			return nil, &retryError{msg: fmt.Sprintf("%s: answer %d is for task %q with outcome %q, want task %q", s.url, i+1, a.ID, a.Outcome, b.tasks[i].id)}
		}
	}
	return tr.Answers, nil
}

// Cancel cancels a task not yet sent, appending a task.cancel entry: the
// views roll back what they showed for it. It fails with ErrInFlight for a
// task sent and not answered (the server may have applied it), ErrTaskDone
// for one answered or cancelled, ErrNoTask for an unknown id.
func (s *Sender) Cancel(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(); err != nil {
		return err
	}
	st := s.byID[id]
	if st == nil {
		if state := s.done[id]; state != "" {
			return fmt.Errorf("cancel task %q: %w (%s)", id, ErrTaskDone, state)
		}
		return fmt.Errorf("cancel task %q: %w", id, ErrNoTask)
	}
	if st.inflight || st.maybeApplied {
		return fmt.Errorf("cancel task %q: %w: it was sent (attempt %d) and no answer says it was not applied, so the server may have applied it; it will be sent again until answered: wait for the answer", id, ErrInFlight, st.attempts)
	}
	if err := s.appendDurable(ctx, log.Record{Origin: log.Local, Scope: st.scope, Payload: tasks.Entry{Kind: tasks.KindCancel, ID: id, Queue: st.queue, Type: st.kind}.Marshal()}); err != nil {
		return fmt.Errorf("cancel task %q: %w", id, err)
	}
	s.finish(id, tasks.Cancelled)
	return nil
}

// RetryNow sends a task waiting after retryable failures (the head of a
// queue, stuck or not) at once, clearing its stuck report.
func (s *Sender) RetryNow(ctx context.Context, id string) error {
	s.mu.Lock()
	st := s.byID[id]
	if st == nil {
		state := s.done[id]
		s.mu.Unlock()
		if state != "" {
			return fmt.Errorf("retry task %q: %w (%s)", id, ErrTaskDone, state)
		}
		return fmt.Errorf("retry task %q: %w", id, ErrNoTask)
	}
	if st.inflight {
		s.mu.Unlock()
		return fmt.Errorf("retry task %q: %w: it is being sent now", id, ErrInFlight)
	}
	q := s.queues[st.queue]
	q.fails = 0
	for _, t := range q.tasks {
		t.nextAt = time.Time{}
	}
	st.stuck, st.firstFail = false, time.Time{}
	s.mu.Unlock()
	_, err := s.log.Append(ctx, log.Record{Origin: log.Local, Scope: st.scope, Payload: tasks.Entry{Kind: tasks.KindUnstuck, Queue: st.queue, ID: id}.Marshal()})
	s.poke()
	if err != nil {
		return fmt.Errorf("retry task %q: %w", id, err)
	}
	return nil
}

// Stuck returns the queues reported stuck, by name.
func (s *Sender) Stuck() []StuckQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StuckQueue
	for _, q := range s.queues {
		if len(q.tasks) > 0 && q.tasks[0].stuck {
			h := q.tasks[0]
			out = append(out, StuckQueue{Queue: q.name, Task: h.id, Attempts: h.attempts, Error: h.lastErr, FirstFail: h.firstFail})
		}
	}
	slices.SortFunc(out, func(a, b StuckQueue) int { return strings.Compare(a.Queue, b.Queue) })
	return out
}

// Pending returns how many tasks wait for an answer (sent or not), after
// reading what the log holds now.
func (s *Sender) Pending() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.catchUp()
	return len(s.byID), err
}
