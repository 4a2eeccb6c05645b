package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Decider picks the fault for one request of a device. The proxy calls it
// from many goroutines at once.
type Decider interface {
	Decide(device string, r *http.Request) Fault
}

// DeciderFunc adapts a function to a Decider.
type DeciderFunc func(device string, r *http.Request) Fault

// Decide calls f.
func (f DeciderFunc) Decide(device string, r *http.Request) Fault { return f(device, r) }

// ProxyOptions configure a Proxy. The zero value passes every request.
type ProxyOptions struct {
	// Decider picks each request's fault; nil passes them all.
	Decider Decider
	// OnHold, if set, is called when a partition holds a request or the
	// bytes of an open answer, before it waits (a test's proof that the
	// partition took hold). It must not block.
	OnHold func(device string)
	// MaxBody bounds a request's body (default 64 MiB); a longer one is
	// answered 413 by the proxy.
	MaxBody int64
}

// Proxy forwards HTTP from one loopback listener per device to a target
// server, injecting the faults its Decider picks and the partitions it is
// told. Its methods are safe for concurrent use; Close is idempotent.
type Proxy struct {
	opts   ProxyOptions
	target atomic.Pointer[url.URL]
	tr     *http.Transport
	counts Counts

	// upstreamErrs counts requests the target did not answer (it was
	// down): the proxy answered 502 for them, which is not a fault it
	// injected.
	upstreamErrs atomic.Int64

	mu     sync.Mutex
	routes map[string]*route
	closed bool
}

// route is one device's listener and its partition state.
type route struct {
	p    *Proxy
	name string
	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed when srv.Serve returns

	mu   sync.Mutex
	gate chan struct{} // non-nil while partitioned; closed by Heal
}

type connKey struct{}

// NewProxy returns a proxy to the server at target (an http:// URL).
func NewProxy(target string, opts ProxyOptions) (*Proxy, error) {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 20
	}
	p := &Proxy{
		opts:   opts,
		routes: map[string]*route{},
		tr: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
	if err := p.SetTarget(target); err != nil {
		return nil, err
	}
	return p, nil
}

// SetTarget points the proxy at another server URL (a server restarted
// elsewhere). Requests already forwarded are not affected.
func (p *Proxy) SetTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("chaos proxy: target %q: want http://HOST:PORT", target)
	}
	p.target.Store(u)
	return nil
}

// Listen opens the listener of device on a free 127.0.0.1 port and
// returns its URL, which the device uses as the server's.
func (p *Proxy) Listen(device string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", errors.New("chaos proxy: closed")
	}
	if _, ok := p.routes[device]; ok {
		return "", fmt.Errorf("chaos proxy: device %q listens already", device)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("chaos proxy: listen for %q: %w", device, err)
	}
	rt := &route{p: p, name: device, ln: ln, done: make(chan struct{})}
	rt.srv = &http.Server{
		Handler:     rt,
		ErrorLog:    stdlog.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	p.routes[device] = rt
	go func() {
		defer close(rt.done)
		rt.srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), nil
}

// URL returns the URL of device's listener ("" if it has none).
func (p *Proxy) URL(device string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rt, ok := p.routes[device]; ok {
		return "http://" + rt.ln.Addr().String()
	}
	return ""
}

func (p *Proxy) route(device string) (*route, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt, ok := p.routes[device]
	if !ok {
		return nil, fmt.Errorf("chaos proxy: no device %q", device)
	}
	return rt, nil
}

// Partition cuts device off until Heal: its new requests wait, and the
// answers it is being sent stop part-way, as over a network dropping its
// packets. Partitioning a device already cut off changes nothing.
func (p *Proxy) Partition(device string) error {
	rt, err := p.route(device)
	if err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.gate == nil {
		rt.gate = make(chan struct{})
		p.counts.Add(Partitioned)
	}
	return nil
}

// Heal ends device's partition: what was held goes on (unless the device
// gave up on it meanwhile).
func (p *Proxy) Heal(device string) error {
	rt, err := p.route(device)
	if err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.gate != nil {
		close(rt.gate)
		rt.gate = nil
	}
	return nil
}

// Counts returns how many faults of each kind the proxy injected.
func (p *Proxy) Counts() map[string]int64 { return p.counts.Map() }

// Count returns how many faults of kind k the proxy injected.
func (p *Proxy) Count(k FaultKind) int64 { return p.counts.Get(k) }

// UpstreamErrors returns how many requests the target did not answer (the
// proxy answered 502 "server down" for them; not a fault it injected).
func (p *Proxy) UpstreamErrors() int64 { return p.upstreamErrs.Load() }

// Close heals every partition, closes the listeners and every connection
// through them, and waits for their servers to stop.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	routes := p.routes
	p.mu.Unlock()
	for name, rt := range routes {
		p.Heal(name)
		rt.srv.Close()
		<-rt.done
	}
	p.tr.CloseIdleConnections()
	return nil
}

// wait blocks while the route is partitioned, until it heals or ctx ends.
func (rt *route) wait(ctx context.Context) error {
	rt.mu.Lock()
	gate := rt.gate
	rt.mu.Unlock()
	if gate == nil {
		return nil
	}
	if h := rt.p.opts.OnHold; h != nil {
		h(rt.name)
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resetConn closes c with an RST (SO_LINGER 0), as a connection reset by
// the network.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// hopHeaders are not forwarded (RFC 9110 section 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

// ServeHTTP forwards one request of the route's device, with its fault.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := rt.p
	ctx := r.Context()
	conn, _ := ctx.Value(connKey{}).(net.Conn)
	if rt.wait(ctx) != nil {
		return
	}
	f := Fault{Kind: Pass}
	if p.opts.Decider != nil {
		f = p.opts.Decider.Decide(rt.name, r)
	}
	p.counts.Add(f.Kind)
	switch f.Kind {
	case DropRequest:
		resetConn(conn)
		return
	case Answer500, Answer502, Answer503:
		if f.Kind == Answer503 {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Kind.status())
		fmt.Fprintf(w, `{"error":"chaos","message":"%s injected by the chaos proxy"}`+"\n", f.Kind)
		return
	case DelayRequest:
		if sleep(ctx, f.Delay) != nil {
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.opts.MaxBody))
	if err != nil {
		http.Error(w, "chaos proxy: request body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	target := *p.target.Load()
	target.Path, target.RawPath, target.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, "chaos proxy: "+err.Error(), http.StatusBadRequest)
		return
	}
	copyHeader(out.Header, r.Header)
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		if ctx.Err() == nil {
			p.upstreamErrs.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `{"error":"upstream","message":"chaos proxy: the server did not answer: %q"}`+"\n", err.Error())
		}
		return
	}
	defer resp.Body.Close()
	switch f.Kind {
	case DropAnswer:
		// The server has the request; read (boundedly) what it answers,
		// so that it goes through with it, and lose it.
		t := time.AfterFunc(2*time.Second, func() { resp.Body.Close() })
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		t.Stop()
		resetConn(conn)
		return
	case DelayAnswer:
		if sleep(ctx, f.Delay) != nil {
			return
		}
	case ResetStream:
		if f.AfterTime > 0 {
			t := time.AfterFunc(f.AfterTime, func() {
				resetConn(conn)
				resp.Body.Close()
			})
			defer t.Stop()
		}
	}
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	// The status line goes out at once: a following stream's client
	// waits for it before the first frame.
	if rt.wait(ctx) != nil || http.NewResponseController(w).Flush() != nil {
		return
	}
	rt.copyBody(ctx, w, resp.Body, f, conn)
}

// copyBody streams an answer's body to the client, flushing each read (a
// following stream's frames go out as they come) and holding it while the
// route is partitioned. For ResetStream it resets the connection after
// f.After bytes, and always before the body's last byte.
func (rt *route) copyBody(ctx context.Context, w http.ResponseWriter, body io.Reader, f Fault, conn net.Conn) {
	rc := http.NewResponseController(w)
	reset := f.Kind == ResetStream
	var sent int64
	// emit writes b; it reports false once the copy must end.
	emit := func(b []byte) bool {
		if reset && sent+int64(len(b)) >= f.After {
			b = b[:f.After-sent]
		}
		if len(b) > 0 {
			if rt.wait(ctx) != nil {
				return false
			}
			if _, err := w.Write(b); err != nil {
				return false
			}
			if rc.Flush() != nil {
				return false
			}
			sent += int64(len(b))
		}
		if reset && sent >= f.After {
			resetConn(conn)
			return false
		}
		return true
	}
	buf := make([]byte, 32<<10)
	// ResetStream holds back the last byte read until the next read shows
	// it was not the body's last, so a short answer is cut too (a frame of
	// a following stream may so wait for the next heartbeat).
	var held []byte
	for {
		n, err := body.Read(buf)
		if n > 0 {
			b := buf[:n]
			if reset {
				b = append(held, buf[:n-1]...)
				held = []byte{buf[n-1]}
			}
			if !emit(b) {
				return
			}
		}
		if err != nil {
			if reset {
				resetConn(conn)
			}
			return
		}
	}
}
