package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/log"
)

// ClientOptions configure a Client. The zero value is valid.
type ClientOptions struct {
	// HTTPClient makes the requests; default one with connect and header
	// timeouts and no overall timeout (streams are long).
	HTTPClient *http.Client
	// StatePath is the file (DIR/replicate/peers.json) where the client
	// keeps its peers — URL, token, node, position, last contact and error
	// — so that a later run (and sluice status) finds them. "" keeps none.
	StatePath string
	// GroupBytes is how many record bytes of whole batches the client
	// gathers into one Append while a stream delivers faster than it
	// appends; default 4 MiB.
	GroupBytes int
	// MaxFrame limits a frame's size; default DefaultMaxFrame.
	MaxFrame int
	// DeadAfter is how long a following stream may stay silent before the
	// connection is taken for dead and opened again; default 3 heartbeats
	// (as the server's hello announces) plus a second. A stream that does
	// not follow may stay silent for 30 s.
	DeadAfter time.Duration
	// Backoff bounds the wait before Follow connects again after an
	// error: it doubles from the first value to the second, with jitter.
	// Default 100 ms to 10 s.
	Backoff [2]time.Duration
	// SaveEvery is how often a following client writes its state file
	// while something changed; default 2 s.
	SaveEvery time.Duration
	// OnAppend, if set, is called after each Append of pulled entries,
	// with the client's lock held: it must be quick and must not call the
	// Client.
	OnAppend func(AppendInfo)
	// Logger, if set, gets a line per connection and error (debug and
	// warn levels).
	Logger *slog.Logger
}

// AppendInfo describes one Append of pulled entries.
type AppendInfo struct {
	// Peer is the peer's URL, Node its node.
	Peer string
	Node log.NodeID
	// First and Last are the local seqs appended.
	First, Last log.Seq
	// PeerSeqs are the seqs of the appended entries in the peer's log, in
	// order. The slice is reused after the call.
	PeerSeqs []log.Seq
	// Bytes is the records' size as the peer stored them.
	Bytes int64
}

// Client pulls entries from peers into a local log, as remote entries that
// keep their identity (log.Record.Author, and Via when the peer is not the
// author). Entries the log holds already — its own, or ones that reached
// it by another path — are skipped: the client keeps the set of IDs the
// log holds, built from the log itself, so it is right after any crash.
// Its position in each peer's log comes from the log too (the Via or
// author seqs of what it holds), so a pull resumes with no gap and no
// duplicate after a kill at any moment; the state file only saves it from
// pulling again entries it would skip.
//
// Use one Client per log: its methods are safe for concurrent use (pull
// several peers at once), but two Clients appending to one log could both
// append an entry that reaches it by two paths.
type Client struct {
	log  *log.Log
	node log.NodeID
	opts ClientOptions
	http *http.Client

	// mu is held while filtering and appending pulled entries, and guards
	// everything below.
	mu      sync.Mutex
	ids     idSet
	scanned log.Seq                // ids and held cover the log up to here
	held    map[log.NodeID]held    // per peer node: the furthest of its entries the log holds
	peers   map[string]*PeerStatus // by URL
	order   []string               // URLs, in the order added
	dirty   bool                   // peers changed since the state file was written
	saved   time.Time
	durable log.Seq // appended entries up to here are durable (the log's mark or a Sync)
	recs    []log.Record
	seqs    []log.Seq
	closed  bool
}

// held is the furthest entry of a peer that the log holds: its seq in the
// peer's log and in the local log.
type held struct {
	peer, local log.Seq
}

// NewClient returns a Client pulling into l, with the peers of its state
// file, if any. It reads the whole log once, the first time it needs to
// (the IDs the log holds, and where it stands in each peer's log).
func NewClient(l *log.Log, opts ClientOptions) (*Client, error) {
	if opts.GroupBytes <= 0 {
		opts.GroupBytes = 4 << 20
	}
	if opts.Backoff[0] <= 0 {
		opts.Backoff[0] = 100 * time.Millisecond
	}
	if opts.Backoff[1] < opts.Backoff[0] {
		opts.Backoff[1] = max(10*time.Second, opts.Backoff[0])
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = 2 * time.Second
	}
	c := &Client{log: l, node: l.Node(), opts: opts, http: opts.HTTPClient,
		ids: newIDSet(), held: map[log.NodeID]held{}, peers: map[string]*PeerStatus{}}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if opts.StatePath != "" {
		f, err := readState(opts.StatePath)
		if err != nil {
			return nil, err
		}
		if f != nil {
			// Positions saved beside another log, or before a loss the
			// log accepted, are not trusted: the log's own count.
			trust := f.Node == c.node.String() && l.Lost() == nil
			for _, pj := range f.Peers {
				p := pj.PeerStatus
				p.Node, _ = log.ParseNodeID(pj.NodeHex)
				if !trust {
					p.Position = 0
				}
				c.addPeer(p)
			}
		}
	}
	return c, nil
}

func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}}
}

// catchUp brings ids and held up to the log's end: entries appended by
// anyone since the last look. mu must be held.
func (c *Client) catchUp() error {
	last, err := c.log.Last()
	if err != nil || last <= c.scanned {
		return err
	}
	it, err := c.log.Iter(c.scanned + 1)
	if err != nil {
		return fmt.Errorf("replicate: read the log: %w", err)
	}
	defer it.Close()
	for it.Next() {
		c.note(it.Entry())
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("replicate: read the log: %w", err)
	}
	c.scanned = max(c.scanned, last)
	if p, ok := it.(log.Positioner); ok {
		c.scanned = max(c.scanned, p.Position())
	}
	return nil
}

// note records an entry the log holds. mu must be held.
func (c *Client) note(e log.Entry) {
	if e.ID.Node == c.node || e.ID.IsZero() {
		return // our own: never pulled
	}
	c.ids.add(e.ID)
	from := e.ID // pulled from its author ...
	if !e.Via.IsZero() {
		from = e.Via // ... or through a peer
	}
	if h := c.held[from.Node]; from.Seq > h.peer {
		c.held[from.Node] = held{peer: from.Seq, local: e.Seq}
	}
}

// addPeer adds or updates a peer. mu must be held.
func (c *Client) addPeer(p PeerStatus) *PeerStatus {
	if ps, ok := c.peers[p.URL]; ok {
		if p.Token != "" {
			ps.Token = p.Token
		}
		return ps
	}
	ps := &p
	c.peers[p.URL] = ps
	c.order = append(c.order, p.URL)
	c.dirty = true
	return ps
}

// AddPeer makes the client remember a peer (in its state file, with its
// token), so that Peers lists it for a later Sync. A peer added again
// keeps its position; a new token replaces the old one.
func (c *Client) AddPeer(p Peer) error {
	if err := checkPeerURL(p.URL); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addPeer(PeerStatus{Peer: p})
	c.dirty = true
	return nil
}

func checkPeerURL(u string) error {
	pu, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("peer URL %q: %w", u, err)
	}
	if (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
		return fmt.Errorf("peer URL %q: want http://HOST:PORT or https://HOST:PORT (and a path, if the server is mounted under one)", u)
	}
	return nil
}

// ForgetPeer makes the client forget the peer at url: its node, its
// position and its token (the entries pulled from it stay in the log). A
// server replaced on purpose at the same URL is then pulled as a new peer.
// It reports whether the client knew the peer.
func (c *Client) ForgetPeer(url string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.peers[url]; !ok {
		return false
	}
	delete(c.peers, url)
	c.order = slices.DeleteFunc(c.order, func(u string) bool { return u == url })
	c.dirty = true
	return true
}

// Peers returns what the client knows of its peers, in the order added.
func (c *Client) Peers() []PeerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.catchUp() // an error shows at the next pull
	out := make([]PeerStatus, 0, len(c.order))
	for _, u := range c.order {
		p := *c.peers[u]
		p.Position = c.position(&p)
		out = append(out, p)
	}
	return out
}

// position is where to pull p from: the further of what the log holds
// from it and how far it got before (entries it skipped). mu must be held.
func (c *Client) position(p *PeerStatus) log.Seq {
	if p.Node.IsZero() {
		return p.Position
	}
	pos := max(p.Position, c.held[p.Node].peer)
	for _, q := range c.peers {
		if q.Node == p.Node {
			pos = max(pos, q.Position)
		}
	}
	return pos
}

// Close writes the state file if it changed. It does not close the log.
// It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.save(context.Background(), true)
}

// save writes the state file if it changed (or always with force, when it
// changed) and, with force unset, if SaveEvery has passed. Positions cover
// appended entries: they are made durable first. mu must be held.
func (c *Client) save(ctx context.Context, force bool) error {
	if c.opts.StatePath == "" || !c.dirty || (!force && time.Since(c.saved) < c.opts.SaveEvery) {
		return nil
	}
	if last, _ := c.log.Last(); c.durable < last && c.log.Mark() < last {
		if err := c.log.Sync(ctx); err != nil {
			return fmt.Errorf("replicate: sync the log before saving positions: %w", err)
		}
		c.durable = last
	}
	peers := make([]PeerStatus, 0, len(c.order))
	for _, u := range c.order {
		p := *c.peers[u]
		p.Position = c.position(&p)
		peers = append(peers, p)
	}
	if err := writeState(c.opts.StatePath, c.node, peers); err != nil {
		return err
	}
	c.dirty, c.saved = false, time.Now()
	return nil
}

// Save writes the state file now if it changed.
func (c *Client) Save(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.save(ctx, true)
}

// PullStats says what a pull did.
type PullStats struct {
	// Entries and Bytes appended (record bytes as the peer stored them).
	Entries, Bytes int64
	// Skipped counts entries the peer sent that the log held already.
	Skipped int64
	// From and To are the positions in the peer's log before and after.
	From, To log.Seq
}

// FetchStatus asks a peer for its status (GET /v1/status).
func (c *Client) FetchStatus(ctx context.Context, p Peer) (Status, error) {
	var st Status
	req, err := c.request(ctx, p, "/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return st, &PeerError{Peer: p.URL, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, c.refused(p.URL, 0, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, &PeerError{Peer: p.URL, Err: fmt.Errorf("status: %w", err)}
	}
	return st, nil
}

func (c *Client) request(ctx context.Context, p Peer, path string, q url.Values) (*http.Request, error) {
	u := strings.TrimRight(p.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &PeerError{Peer: p.URL, Err: err}
	}
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	return req, nil
}

// refused turns an error answer into a *PeerError.
func (c *Client) refused(peer string, pos log.Seq, resp *http.Response) error {
	var eb errorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &eb) != nil || eb.Message == "" {
		eb.Message = strings.TrimSpace(string(b))
		if eb.Message == "" {
			eb.Message = http.StatusText(resp.StatusCode)
		}
	}
	if eb.Code == "" {
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			eb.Code = codeUnauthorized
		case http.StatusForbidden:
			eb.Code = codeForbidden
		}
	}
	return &PeerError{Peer: peer, Position: pos, Status: resp.StatusCode, Code: eb.Code, Err: errors.New(eb.Message)}
}

// Pull pulls from p until it has everything p held when the pull started
// (the stream's end frame), and returns what it appended. Entries are
// appended in whole batches (the peer's Appends) as they arrive: an error
// — a refused request, a cut or damaged stream — leaves every complete
// batch before it in the log and none of the bad part, and names the peer
// and the position reached. Pull again to resume.
func (c *Client) Pull(ctx context.Context, p Peer) (PullStats, error) {
	if err := checkPeerURL(p.URL); err != nil {
		return PullStats{}, err
	}
	return c.pull(ctx, p, false, nil)
}

// Follow pulls from p and keeps following it until ctx ends (it then
// returns nil), delivering new entries as the peer appends them. It
// connects again after an error, waiting with backoff and jitter, except
// after one that retrying cannot mend (a refused token, a peer replaced or
// cut back: it returns it). onCaughtUp, if set, is called each time the
// client has pulled everything the peer held when it connected.
func (c *Client) Follow(ctx context.Context, p Peer, onCaughtUp func()) error {
	if err := checkPeerURL(p.URL); err != nil {
		return err
	}
	wait := c.opts.Backoff[0]
	for {
		start := time.Now()
		st, err := c.pull(ctx, p, true, onCaughtUp)
		if ctx.Err() != nil {
			return nil
		}
		if permanent(err) {
			return err
		}
		if st.To > st.From || time.Since(start) > c.opts.Backoff[1] {
			wait = c.opts.Backoff[0] // it worked for a while: start over
		}
		d := wait/2 + rand.N(wait/2+1)
		if c.opts.Logger != nil {
			c.opts.Logger.Warn("replicate: pull failed; connecting again", "peer", p.URL, "in", d, "err", err)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, c.opts.Backoff[1])
	}
}
