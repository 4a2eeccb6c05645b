package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/tasks"
)

// TasksConfig configures RunTasks: one server and one device in this
// process, talking HTTP over 127.0.0.1, each with its log and views on
// disk in Dir.
type TasksConfig struct {
	// Dir holds the server's and the device's directories (a temporary
	// directory under it per run).
	Dir string
	// RoundTrips is how many tasks the latency phase adds one after the
	// other, each once the previous one's success is visible.
	RoundTrips int
	// Tasks and Queues make the throughput phase: Tasks tasks spread over
	// Queues queues, all appended first, then sent; BatchSizes are the
	// batch sizes it is run with (1 to 5).
	Tasks, Queues int
	BatchSizes    []int
	// Durability of both logs.
	Durability log.Durability
}

// TasksResult is what RunTasks measured.
type TasksResult struct {
	Config TasksConfig
	// Runs is how many runs the figures are the medians of.
	Runs int
	// RoundTrip is the time from a task's Append on the device to its
	// success being visible in the device's tasks view (the answer pulled
	// through sync and indexed): p50, p99, max.
	RoundTrip LocalStats
	// Throughput, one per batch size.
	Throughput []TasksThroughput
}

// TasksThroughput is one throughput run.
type TasksThroughput struct {
	BatchSize int
	// Wall is from the sender's start to every answer visible in the
	// device's tasks view; PerSec = Tasks / Wall.
	Wall   time.Duration
	PerSec float64
	// Requests is how many POST /v1/tasks the server answered.
	Requests int64
}

// tasksNode is a log with views and an indexer that runs.
type tasksNode struct {
	log   *log.Log
	files []*view.File
	ix    *index.Indexer
}

func openTasksNode(dir string, d log.Durability, views ...view.View) (*tasksNode, error) {
	n := &tasksNode{}
	var err error
	if n.log, err = log.Open(filepath.Join(dir, "log"), log.Options{Durability: d}); err != nil {
		return nil, err
	}
	for _, v := range views {
		f, err := view.OpenFile(filepath.Join(dir, "views", v.Name()+".db"), []view.View{v}, view.Options{Logf: func(string, ...any) {}})
		if err != nil {
			n.close()
			return nil, err
		}
		n.files = append(n.files, f)
	}
	if n.ix, err = index.New(n.log, n.files, index.Options{}); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

func (n *tasksNode) close() {
	for _, f := range n.files {
		f.Close()
	}
	if n.log != nil {
		n.log.Close()
	}
}

// tasksRig is a server and a device, running.
type tasksRig struct {
	server, device *tasksNode
	ts             *replicate.TaskServer
	srv            *replicate.Server
	hs             *http.Server
	url            string
	requests       countingHandler
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	errs           chan error
}

// countingHandler counts the requests to /v1/tasks.
type countingHandler struct {
	mu sync.Mutex
	n  int64
	h  http.Handler
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	c.h.ServeHTTP(w, r)
}

func startTasksRig(dir string, d log.Durability) (*tasksRig, error) {
	r := &tasksRig{errs: make(chan error, 4)}
	var err error
	if r.server, err = openTasksNode(filepath.Join(dir, "server"), d, tasks.Handled{}); err != nil {
		return nil, err
	}
	if r.device, err = openTasksNode(filepath.Join(dir, "device"), d, tasks.View{}); err != nil {
		r.server.close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if r.ts, err = replicate.NewTaskServer(r.server.log, replicate.TaskServerOptions{Indexer: r.server.ix}); err != nil {
		r.close()
		return nil, err
	}
	if r.srv, err = replicate.NewServer(r.server.log, replicate.ServerOptions{}); err != nil {
		r.close()
		return nil, err
	}
	r.requests.h = r.ts
	mux := http.NewServeMux()
	mux.Handle("/v1/tasks", &r.requests)
	mux.Handle("/", r.srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.close()
		return nil, err
	}
	r.url = "http://" + ln.Addr().String()
	r.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go r.hs.Serve(ln)
	for _, ix := range []*index.Indexer{r.server.ix, r.device.ix} {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := ix.Run(ctx); err != nil && ctx.Err() == nil {
				r.errs <- err
			}
		}()
	}
	c, err := replicate.NewClient(r.device.log, replicate.ClientOptions{})
	if err != nil {
		r.close()
		return nil, err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := c.Follow(ctx, replicate.Peer{URL: r.url}, nil); err != nil {
			r.errs <- err
		}
	}()
	return r, nil
}

// send runs a sender of the device's tasks until ctx ends.
func (r *tasksRig) send(ctx context.Context, batch int) error {
	s, err := replicate.NewSender(r.device.log, replicate.SenderOptions{Server: replicate.Peer{URL: r.url}, BatchSize: batch})
	if err != nil {
		return err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := s.Run(ctx); err != nil {
			r.errs <- err
		}
	}()
	return nil
}

func (r *tasksRig) close() {
	if r.cancel != nil {
		r.cancel()
	}
	if r.hs != nil {
		r.hs.Close()
	}
	if r.srv != nil {
		r.srv.Close()
	}
	if r.ts != nil {
		r.ts.Close()
	}
	r.wg.Wait()
	r.server.close()
	r.device.close()
}

var answerMark = []byte(`"task.answer"`)

// answers follows the device's log from after, and sends the seq of each
// answer entry for this device (by task id) to got, until ctx ends.
func (r *tasksRig) answers(ctx context.Context, after log.Seq, got func(id string, seq log.Seq)) error {
	node := r.device.log.Node().String()
	for {
		last, err := r.device.log.Wait(ctx, after)
		if err != nil {
			return err
		}
		it, err := r.device.log.Iter(after + 1)
		if err != nil {
			return err
		}
		for it.Next() {
			e := it.Entry()
			if e.Seq > last {
				break
			}
			after = e.Seq
			if e.Origin == log.Remote && bytes.Contains(e.Payload, answerMark) {
				if t, err := tasks.Parse(e.Payload); err == nil && t.Node == node {
					got(t.ID, e.Seq)
				}
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return err
		}
		after = max(after, last)
	}
}

func taskRecord(id, queue string, i int) log.Record {
	return log.Record{Origin: log.Local, Scope: "user:1", Payload: tasks.Entry{Kind: tasks.KindTask, ID: id, Queue: queue,
		Type: "note", Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))}.Marshal()}
}

// RunTasks measures the task round trip and throughput (see TasksResult).
func RunTasks(ctx context.Context, cfg TasksConfig) (*TasksResult, error) {
	res := &TasksResult{Config: cfg}
	dir, err := os.MkdirTemp(cfg.Dir, "bench-tasks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if cfg.RoundTrips > 0 {
		if res.RoundTrip, err = roundTrips(ctx, filepath.Join(dir, "rt"), cfg); err != nil {
			return nil, fmt.Errorf("round trip: %w", err)
		}
	}
	for _, b := range cfg.BatchSizes {
		tp, err := taskThroughput(ctx, filepath.Join(dir, fmt.Sprintf("tp%d", b)), cfg, b)
		if err != nil {
			return nil, fmt.Errorf("throughput, batch size %d: %w", b, err)
		}
		res.Throughput = append(res.Throughput, tp)
	}
	return res, nil
}

func roundTrips(ctx context.Context, dir string, cfg TasksConfig) (LocalStats, error) {
	r, err := startTasksRig(dir, cfg.Durability)
	if err != nil {
		return LocalStats{}, err
	}
	defer r.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.send(ctx, replicate.MaxTasksPerRequest); err != nil {
		return LocalStats{}, err
	}
	answered := make(chan log.Seq, 1)
	var want string
	var mu sync.Mutex
	go r.answers(ctx, 0, func(id string, seq log.Seq) {
		mu.Lock()
		w := want
		mu.Unlock()
		if id == w {
			answered <- seq
		}
	})
	var lat []time.Duration
	for i := range cfg.RoundTrips {
		id := fmt.Sprintf("rt%d", i)
		mu.Lock()
		want = id
		mu.Unlock()
		start := time.Now()
		if _, err := r.device.log.Append(ctx, taskRecord(id, "rt", i)); err != nil {
			return LocalStats{}, err
		}
		var seq log.Seq
		select {
		case seq = <-answered:
		case err := <-r.errs:
			return LocalStats{}, err
		case <-time.After(30 * time.Second):
			return LocalStats{}, fmt.Errorf("task %s: no answer within 30 s", id)
		}
		if err := r.device.ix.WaitFor(ctx, seq, tasks.Name); err != nil {
			return LocalStats{}, err
		}
		lat = append(lat, time.Since(start))
	}
	return localStatsOf(lat), nil
}

func taskThroughput(ctx context.Context, dir string, cfg TasksConfig, batch int) (TasksThroughput, error) {
	tp := TasksThroughput{BatchSize: batch}
	r, err := startTasksRig(dir, cfg.Durability)
	if err != nil {
		return tp, err
	}
	defer r.close()
	recs := make([]log.Record, 0, 100)
	for i := range cfg.Tasks {
		recs = append(recs, taskRecord(fmt.Sprintf("t%d", i), fmt.Sprintf("q%d", i%cfg.Queues), i))
		if len(recs) == cap(recs) || i == cfg.Tasks-1 {
			if _, err := r.device.log.Append(ctx, recs...); err != nil {
				return tp, err
			}
			recs = recs[:0]
		}
	}
	last, _ := r.device.log.Last()
	if err := r.device.ix.WaitFor(ctx, last); err != nil {
		return tp, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var n int
	done := make(chan log.Seq, 1)
	go r.answers(ctx, last, func(id string, seq log.Seq) {
		if n++; n == cfg.Tasks {
			done <- seq
		}
	})
	start := time.Now()
	if err := r.send(ctx, batch); err != nil {
		return tp, err
	}
	var seq log.Seq
	select {
	case seq = <-done:
	case err := <-r.errs:
		return tp, err
	case <-time.After(10 * time.Minute):
		return tp, errors.New("not every task answered within 10 minutes")
	}
	if err := r.device.ix.WaitFor(ctx, seq, tasks.Name); err != nil {
		return tp, err
	}
	tp.Wall = time.Since(start)
	tp.PerSec = float64(cfg.Tasks) / tp.Wall.Seconds()
	r.requests.mu.Lock()
	tp.Requests = r.requests.n
	r.requests.mu.Unlock()
	return tp, nil
}

// WriteMarkdown writes the results as a Markdown report.
func (res *TasksResult) WriteMarkdown(w io.Writer, command string) error {
	c := res.Config
	fmt.Fprintf(w, "# Tasks: round trip and throughput\n\n")
	fmt.Fprintf(w, "`%s` — one server and one device in one process (GOMAXPROCS %d), HTTP on 127.0.0.1, logs (durability %s) and view files on disk in %s. ", command, runtime.GOMAXPROCS(0), c.Durability, c.Dir)
	if res.Runs > 1 {
		fmt.Fprintf(w, "Medians of %d runs (the run with the median wall time for each batch size). ", res.Runs)
	}
	fmt.Fprintf(w, "The server applies each group of batches in one `Indexer.Transact` over its `handled_tasks` view, with the accept handler; the device follows the server's log (sync) and indexes its `tasks` view.\n\n")
	if res.RoundTrip.N > 0 {
		s := res.RoundTrip
		verdict := "met"
		if s.P99 > 10*time.Millisecond {
			verdict = fmt.Sprintf("not met (%.1f×)", float64(s.P99)/float64(10*time.Millisecond))
		}
		fmt.Fprintf(w, "## Round trip\n\nFrom the task's Append on the device to its success visible in the device's tasks view (sent, applied, answer pulled through sync and indexed), %d tasks one after the other:\n\n", s.N)
		fmt.Fprintf(w, "| p50 | p99 | max | target p99 ≤ 10 ms |\n| ---: | ---: | ---: | --- |\n| %s | %s | %s | %s |\n\n", ms(s.P50), ms(s.P99), ms(s.Max), verdict)
	}
	if len(res.Throughput) > 0 {
		fmt.Fprintf(w, "## Throughput\n\n%d tasks over %d queues, all appended first; from the sender's start to every success visible in the device's tasks view:\n\n", c.Tasks, c.Queues)
		fmt.Fprintf(w, "| batch size | requests | wall s | tasks/s | vs batch size 1 |\n| ---: | ---: | ---: | ---: | ---: |\n")
		var base float64
		for _, tp := range res.Throughput {
			if tp.BatchSize == 1 {
				base = tp.PerSec
			}
		}
		for _, tp := range res.Throughput {
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2f×", tp.PerSec/base)
			}
			fmt.Fprintf(w, "| %d | %d | %.2f | %.0f | %s |\n", tp.BatchSize, tp.Requests, tp.Wall.Seconds(), tp.PerSec, ratio)
		}
		fmt.Fprintln(w, "\nTarget: ≥ 5,000 tasks/s with batching.")
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// MedianTasks combines runs: the median of each figure over them (Runs
// set to their number).
func MedianTasks(runs []*TasksResult) *TasksResult {
	out := &TasksResult{Config: runs[0].Config, Runs: len(runs)}
	out.RoundTrip = fanoutStats(pick(runs, func(r *TasksResult) LocalStats { return r.RoundTrip }))
	for i, tp := range runs[0].Throughput {
		tps := pick(runs, func(r *TasksResult) TasksThroughput { return r.Throughput[i] })
		k := medianIndex(pick(tps, func(x TasksThroughput) int64 { return int64(x.Wall) }))
		tp = tps[k]
		out.Throughput = append(out.Throughput, tp)
	}
	return out
}
