package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/replicate"
)

func init() { extraCommands = append(extraCommands, newServeCmd) }

type serveOptions struct {
	node      nodeFlags
	listen    string
	addrFile  string
	tokenFile string
	tlsCert   string
	tlsKey    string
	from      []string
	fromToken string
	heartbeat time.Duration
	tasks     string
}

func newServeCmd(e *env) *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve [--listen ADDR] [--view ssb|FILE.sql]... [--from URL]...",
		Short: "Serve the log to other nodes over HTTP, and keep its views indexed",
		Long: `Serve DIR/log over HTTP for other nodes to pull (sluice sync --from URL),
and keep the views in DIR/views indexed as the log grows (like sluice index
--follow). While it runs it is the log's writer: sluice append in another
process hands its entries to it through the local socket DIR/sluice.sock.
With --from it also follows upstream peers, pulling their entries in.

Readers need a token (sluice token add) once the node has any; a node with
none serves everything, and only on a loopback address. --tls-cert and
--tls-key serve HTTPS. Ctrl-C stops it.

The protocol: GET /v1/status, GET /v1/entries?after=SEQ[&follow=1]
(add format=jsonl for JSON lines: curl -N 'http://127.0.0.1:7070/v1/entries?format=jsonl&follow=1').
GET /v1/query?sql=SELECT...&arg=... answers a live query over the views as
Server-Sent Events: each result, then each new one, as it changes. A token
queries only the views granted to it (sluice token add NAME --view VIEW),
or all of them if it reads every entry (--scope '*').`,
		Example: `  sluice serve --listen 127.0.0.1:7070
  sluice token add phone --scope user:7777 && sluice serve --listen :7070 --tls-cert c.pem --tls-key k.pem
  sluice serve --listen 127.0.0.1:0 --addr-file addr --from http://10.0.0.5:7070 --from-token slc_...`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runServe(c.Context(), e, &o)
		},
	}
	f := c.Flags()
	o.node.add(f)
	f.StringVar(&o.listen, "listen", "127.0.0.1:7070", "address to listen on (port 0: any free port; see --addr-file)")
	f.StringVar(&o.addrFile, "addr-file", "", "write the URL it serves on to this file once it listens")
	f.StringVar(&o.tokenFile, "token-file", "", "the tokens readers need (default DIR/replicate/tokens.json, made by sluice token add)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the certificate's PEM private key")
	f.StringArrayVar(&o.from, "from", nil, "also follow this upstream peer, pulling its entries in (repeatable)")
	f.StringVar(&o.fromToken, "from-token", "", "the token for the --from peers ($SLUICE_TOKEN if unset)")
	f.DurationVar(&o.heartbeat, "heartbeat", replicate.DefaultHeartbeat, "how often an idle following stream says it is alive")
	f.StringVar(&o.tasks, "tasks", "accept", "how POST /v1/tasks handles devices' tasks: accept (append each task's payload as its result) or off")
	return c
}

// dialable returns an address a client on this machine can dial to reach
// a listener on addr: an unspecified host (0.0.0.0, ::, listening on every
// interface) becomes 127.0.0.1.
func dialable(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
}

// isLoopback reports whether a listen address only accepts this machine.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, usagef("--listen %q: %v", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil // a name: it may resolve to anything
	}
	return ip.IsLoopback(), nil
}

func runServe(ctx context.Context, e *env, o *serveOptions) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if o.heartbeat <= 0 {
		return usagef("--heartbeat %v: want a positive duration", o.heartbeat)
	}
	if o.tokenFile == "" {
		o.tokenFile = e.tokensPath()
	}
	if o.fromToken == "" {
		o.fromToken = os.Getenv("SLUICE_TOKEN")
	}
	loopback, err := isLoopback(o.listen)
	if err != nil {
		return err
	}
	tokens := replicate.OpenTokenStore(o.tokenFile)
	empty, err := tokens.Empty()
	if err != nil {
		return err
	}
	if !loopback && empty {
		return fmt.Errorf("serve: --listen %s is beyond loopback, and %s holds no token: anyone could read the log; add one first (sluice token add NAME --scope ...)", o.listen, o.tokenFile)
	}
	if o.tasks != "accept" && o.tasks != "off" {
		return usagef("--tasks %q: want accept or off", o.tasks)
	}
	if o.tasks != "off" {
		o.node.extraViews = serveViews
	}
	// Listen first: a busy port fails before DIR is created or opened.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer ln.Close()
	n, err := openNode(e, &o.node)
	if err != nil {
		return err
	}
	defer n.close()
	srv, err := replicate.NewServer(n.log, replicate.ServerOptions{Tokens: tokens, OpenWhenEmpty: loopback, Heartbeat: o.heartbeat, Logger: n.logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	handler, closeQueries, err := n.serveQueries(srv) // serve_query.go
	if err != nil {
		return err
	}
	defer closeQueries()
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, dialable(ln.Addr()))
	if o.tasks != "off" {
		ts, err := newTaskServer(n, tokens, loopback)
		if err != nil {
			return err
		}
		defer ts.Close()
		mux := http.NewServeMux()
		mux.Handle("/v1/tasks", ts)
		mux.Handle("/", handler)
		handler = mux
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: nil}
	serveErr := make(chan error, 1)
	go func() {
		var err error
		if o.tlsCert != "" {
			err = hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			err = hs.Serve(ln)
		}
		serveErr <- err
	}()
	last, _ := n.log.Last()
	access := "readers need a token"
	if empty {
		access = "no tokens: open to this machine only"
	}
	e.notef("serving %s (node %s, %d entries) on %s (%s); local socket %s", e.logDir(), n.log.Node(), last, url, access, e.socketPath())
	if o.addrFile != "" {
		if err := fsutil.WriteFileAtomic(o.addrFile, []byte(url+"\n"), 0o644); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	n.runIndexer(ctx, &wg, errc)
	for _, u := range o.from {
		p := replicate.Peer{URL: u, Token: o.fromToken}
		if err := n.client.AddPeer(p); err != nil {
			return usageError{err}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An upstream that refuses us for good is reported; the server
			// goes on serving what it has.
			if err := n.client.Follow(ctx, p, nil); err != nil {
				e.notef("stopped following %s: %v", p.URL, err)
			}
		}()
	}
	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	case err = <-errc:
	case err = <-n.sockErr:
		err = fmt.Errorf("local socket: %w", err)
	}
	srv.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	hs.Shutdown(sctx)
	scancel()
	closeQueries()
	cancel()
	wg.Wait()
	if cerr := n.close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err == nil {
		e.notef("stopped serving %s", url)
	}
	return err
}
