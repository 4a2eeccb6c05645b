package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upstream is a real HTTP server on 127.0.0.1 that counts what it applied.
type upstream struct {
	srv     *httptest.Server
	applied atomic.Int64      // POST /apply requests handled
	chunks  chan string       // GET /stream writes each string sent here
	got     chan time.Time    // when each /apply arrived
	big     int               // GET /big answers this many bytes
	started chan struct{}     // a /stream request has begun
	bodies  chan string       // the bodies of /apply
	answer  func(http.Header) // extra headers of /apply
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{chunks: make(chan string), got: make(chan time.Time, 16), big: 100 << 10, started: make(chan struct{}, 16), bodies: make(chan string, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.applied.Add(1)
		u.got <- time.Now()
		u.bodies <- string(b)
		fmt.Fprintf(w, "applied %s", b)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", u.big)))
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.WriteHeader(200)
		rc.Flush()
		u.started <- struct{}{}
		for {
			select {
			case s := <-u.chunks:
				io.WriteString(w, s)
				rc.Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	u.srv = httptest.NewServer(mux)
	t.Cleanup(u.srv.Close)
	return u
}

// script is a Decider that hands out the faults given, then Pass.
type script chan Fault

func (s script) Decide(string, *http.Request) Fault {
	select {
	case f := <-s:
		return f
	default:
		return Fault{Kind: Pass}
	}
}

func newProxy(t *testing.T, u *upstream, opts ProxyOptions) (*Proxy, string) {
	t.Helper()
	p, err := NewProxy(u.srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	url, err := p.Listen("dev1")
	if err != nil {
		t.Fatal(err)
	}
	return p, url
}

// client is a plain HTTP client with a bound on every request.
var client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func post(url string) (string, int, error) {
	resp, err := client.Post(url+"/apply", "text/plain", strings.NewReader("x"))
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// TestProxyFaults sends one request per fault through the proxy with a
// real client and sees each fault from both ends: whether the server
// applied it and what the client got.
func TestProxyFaults(t *testing.T) {
	cases := []struct {
		fault   Fault
		applied int64 // requests the server applied
		status  int   // the client's status; 0: an error instead
	}{
		{Fault{Kind: Pass}, 1, 200},
		{Fault{Kind: DropRequest}, 0, 0},
		{Fault{Kind: DropAnswer}, 1, 0},
		{Fault{Kind: Answer500}, 0, 500},
		{Fault{Kind: Answer502}, 0, 502},
		{Fault{Kind: Answer503}, 0, 503},
		{Fault{Kind: ResetStream, After: 3}, 1, 0}, // the answer "applied x" is cut after 3 bytes
	}
	for _, c := range cases {
		t.Run(c.fault.String(), func(t *testing.T) {
			u := newUpstream(t)
			s := make(script, 1)
			s <- c.fault
			p, url := newProxy(t, u, ProxyOptions{Decider: s})
			body, status, err := post(url)
			if c.status == 0 {
				if err == nil {
					t.Fatalf("the client got %d %q, want an error", status, body)
				}
				if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
					t.Fatalf("the client got %v, want a reset connection", err)
				}
			} else if err != nil || status != c.status {
				t.Fatalf("the client got %d %q %v, want status %d", status, body, err, c.status)
			}
			if got := u.applied.Load(); got != c.applied {
				t.Fatalf("the server applied %d requests, want %d", got, c.applied)
			}
			if c.fault.Kind != Pass {
				if n := p.Count(c.fault.Kind); n != 1 {
					t.Fatalf("counted %d faults of kind %s, want 1: %v", n, c.fault.Kind, p.Counts())
				}
			}
			if m := p.Counts(); len(m) > 1 || (c.fault.Kind == Pass && len(m) > 0) {
				t.Fatalf("counts %v: other kinds counted", m)
			}
			// The next request passes.
			if body, status, err := post(url); err != nil || status != 200 || body != "applied x" {
				t.Fatalf("the request after the fault: %d %q %v", status, body, err)
			}
		})
	}
}

// TestProxy503RetryAfter: the proxy's own 503 says when to retry.
func TestProxy503RetryAfter(t *testing.T) {
	u := newUpstream(t)
	s := make(script, 1)
	s <- Fault{Kind: Answer503}
	_, url := newProxy(t, u, ProxyOptions{Decider: s})
	resp, err := client.Post(url+"/apply", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("got %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestProxyDelays: a delayed request reaches the server at least the
// delay after it was sent; a delayed answer reaches the client at least
// the delay after the server answered.
func TestProxyDelays(t *testing.T) {
	const d = 300 * time.Millisecond
	t.Run("request", func(t *testing.T) {
		u := newUpstream(t)
		s := make(script, 1)
		s <- Fault{Kind: DelayRequest, Delay: d}
		p, url := newProxy(t, u, ProxyOptions{Decider: s})
		sent := time.Now()
		if _, status, err := post(url); err != nil || status != 200 {
			t.Fatalf("%d %v", status, err)
		}
		if at := <-u.got; at.Sub(sent) < d {
			t.Fatalf("the server got the request %v after it was sent, want ≥ %v", at.Sub(sent), d)
		}
		if p.Count(DelayRequest) != 1 {
			t.Fatalf("counts %v", p.Counts())
		}
	})
	t.Run("answer", func(t *testing.T) {
		u := newUpstream(t)
		s := make(script, 1)
		s <- Fault{Kind: DelayAnswer, Delay: d}
		p, url := newProxy(t, u, ProxyOptions{Decider: s})
		if _, status, err := post(url); err != nil || status != 200 {
			t.Fatalf("%d %v", status, err)
		}
		if since := time.Since(<-u.got); since < d {
			t.Fatalf("the client had the answer %v after the server got the request, want ≥ %v", since, d)
		}
		if p.Count(DelayAnswer) != 1 {
			t.Fatalf("counts %v", p.Counts())
		}
	})
}

// TestProxyResetBig: a reset answer that is shorter than After still loses
// its last byte: the client never takes a cut answer for a whole one.
func TestProxyResetBig(t *testing.T) {
	for _, after := range []int64{0, 1000, 1 << 40} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			u := newUpstream(t)
			s := make(script, 1)
			s <- Fault{Kind: ResetStream, After: after}
			_, url := newProxy(t, u, ProxyOptions{Decider: s})
			resp, err := client.Get(url + "/big")
			if err != nil {
				if after == 0 {
					return // reset before the client saw the status line
				}
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatalf("read %d bytes and no error, want a reset", len(b))
			}
			if want := min(after, int64(u.big-1)); int64(len(b)) > want {
				t.Fatalf("read %d bytes, want at most %d", len(b), want)
			}
		})
	}
}

// streamWith opens a stream through a proxy whose first fault is f; the
// upstream's handler has started when it returns.
func streamWith(t *testing.T, f Fault) (*upstream, io.Reader) {
	t.Helper()
	u := newUpstream(t)
	s := make(script, 1)
	s <- f
	_, url := newProxy(t, u, ProxyOptions{Decider: s})
	resp, err := client.Get(url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	<-u.started
	return u, resp.Body
}

// TestProxyResetStream: a long-lived stream is reset part-way: by bytes,
// and by time while it is quiet.
func TestProxyResetStream(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		u, body := streamWith(t, Fault{Kind: ResetStream, After: 10})
		go func() {
			for _, c := range []string{"0123456", "789abc", "def"} {
				select {
				case u.chunks <- c:
				case <-time.After(10 * time.Second):
					return
				}
			}
		}()
		b, err := io.ReadAll(body)
		if err == nil || string(b) != "0123456789" {
			t.Fatalf("read %q, %v; want the first 10 bytes and a reset", b, err)
		}
	})
	t.Run("time", func(t *testing.T) {
		_, body := streamWith(t, Fault{Kind: ResetStream, After: 1 << 40, AfterTime: 200 * time.Millisecond})
		b, err := io.ReadAll(body) // the stream says nothing: only the timer ends it
		if err == nil {
			t.Fatalf("read %q and the stream ended cleanly, want a reset", b)
		}
	})
}

// TestProxyPartition: a partitioned device's request waits until Heal and
// then goes through; an open stream's bytes are held, then delivered.
func TestProxyPartition(t *testing.T) {
	u := newUpstream(t)
	held := make(chan string, 16)
	p, url := newProxy(t, u, ProxyOptions{OnHold: func(d string) { held <- d }})
	other, err := p.Listen("dev2")
	if err != nil {
		t.Fatal(err)
	}

	// An open stream, before the partition.
	resp, err := client.Get(url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-u.started
	u.chunks <- "a"
	one := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, one); err != nil || one[0] != 'a' {
		t.Fatalf("stream before the partition: %q %v", one, err)
	}

	if err := p.Partition("dev1"); err != nil {
		t.Fatal(err)
	}
	// A request of the cut-off device waits.
	done := make(chan error, 1)
	go func() {
		_, status, err := post(url)
		if err == nil && status != 200 {
			err = fmt.Errorf("status %d", status)
		}
		done <- err
	}()
	if d := <-held; d != "dev1" {
		t.Fatalf("held a request of %q", d)
	}
	if n := u.applied.Load(); n != 0 {
		t.Fatalf("the server applied %d requests of a partitioned device", n)
	}
	// The other device is not cut off.
	if _, status, err := post(other); err != nil || status != 200 {
		t.Fatalf("the other device: %d %v", status, err)
	}
	<-u.bodies
	// The stream's next bytes are held.
	u.chunks <- "b"
	if d := <-held; d != "dev1" {
		t.Fatalf("held a stream of %q", d)
	}

	if err := p.Heal("dev1"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the held request after Heal: %v", err)
	}
	if _, err := io.ReadFull(resp.Body, one); err != nil || one[0] != 'b' {
		t.Fatalf("stream after Heal: %q %v", one, err)
	}
	if n := p.Count(Partitioned); n != 1 {
		t.Fatalf("counted %d partitions, want 1", n)
	}
	if n := u.applied.Load(); n != 2 {
		t.Fatalf("the server applied %d requests, want 2", n)
	}
}

// TestProxyServerDown: a target that is down is answered 502 by the proxy
// and counted apart from the faults it injects.
func TestProxyServerDown(t *testing.T) {
	u := newUpstream(t)
	p, url := newProxy(t, u, ProxyOptions{})
	u.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/big", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || p.UpstreamErrors() != 1 || len(p.Counts()) != 0 {
		t.Fatalf("status %d, upstream errors %d, faults %v", resp.StatusCode, p.UpstreamErrors(), p.Counts())
	}
}
