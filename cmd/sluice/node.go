package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// A running node: what sluice serve and sluice sync share. It holds the
// writer of DIR/log, keeps the views in DIR/views indexed, listens on the
// local socket (DIR/sluice.sock) so that sluice append works meanwhile,
// and pulls from peers with a replicate.Client.

// nodeFlags are the flags of the commands that run a node.
type nodeFlags struct {
	views      []string
	noIndex    bool
	durability string
	tlsCA      string
	debug      bool
	// extraViews are built-in views the command keeps besides --view
	// (tasks for sync, handled_tasks for serve).
	extraViews []string
}

func (f *nodeFlags) add(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.views, "view", nil, `view to keep indexed: "ssb", "lattice" or a .sql view file (repeatable; default ssb)`)
	fs.BoolVar(&f.noIndex, "no-index", false, "do not index views (a relay, or a pull to index later)")
	fs.StringVar(&f.durability, "durability", "sync", "when appends are on disk: sync, group or none (pulled entries are synced before positions are saved, whatever this says)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "trust this PEM certificate (or CA) for https peers, besides the system's")
	fs.BoolVar(&f.debug, "debug", false, "log connections and retries to stderr")
}

type node struct {
	e       *env
	log     *log.Log
	files   []*view.File
	release func()
	ix      *index.Indexer
	client  *replicate.Client
	logger  *slog.Logger

	// tasks serves /v1/tasks/ on the local socket once set (the sender's
	// cancel and retry).
	tasks   atomic.Pointer[http.Handler]
	sock    net.Listener
	sockSrv *http.Server
	sockErr chan error
	closed  bool
}

// peersPath is where a node keeps its peers.
func (e *env) peersPath() string { return filepath.Join(e.dir, "replicate", "peers.json") }

// tokensPath is where a node keeps the tokens it serves.
func (e *env) tokensPath() string { return filepath.Join(e.dir, "replicate", "tokens.json") }

// socketPath is the local append socket.
func (e *env) socketPath() string { return filepath.Join(e.dir, replicate.LocalSocketName) }

// openNode opens DIR/log for writing, its views (unless --no-index), the
// local socket and a replication client.
func openNode(e *env, f *nodeFlags) (*node, error) {
	d, err := log.ParseDurability(f.durability)
	if err != nil {
		return nil, usageError{fmt.Errorf("--durability: %w", err)}
	}
	n := &node{e: e, sockErr: make(chan error, 1)}
	if err := n.open(f, d); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

func (n *node) open(f *nodeFlags, d log.Durability) (err error) {
	e := n.e
	level := slog.LevelWarn
	if f.debug {
		level = slog.LevelDebug
	}
	n.logger = slog.New(slog.NewTextHandler(e.errOut, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return err
	}
	n.log, err = log.Open(e.logDir(), log.Options{Durability: d})
	if errors.Is(err, log.ErrLocked) {
		return fmt.Errorf("%w: another sluice process (serve, or sync --follow) is the writer of %s; stop it first, or let it do the work (it pulls its peers and serves appends)", err, e.logDir())
	}
	if err != nil {
		return err
	}
	for _, r := range n.log.Repairs() {
		e.notef("repaired the log on open: %s", r)
	}
	if !f.noIndex {
		specs := f.views
		if len(specs) == 0 {
			specs = []string{ssb.Name}
		}
		for _, x := range f.extraViews {
			if !slices.Contains(specs, x) {
				specs = append(specs, x)
			}
		}
		views, err := resolveViews(specs)
		if err != nil {
			return err
		}
		if n.files, n.release, err = e.openViewFiles(views, false, true); err != nil {
			return err
		}
		if n.ix, err = index.New(n.log, n.files, index.Options{}); err != nil {
			return err
		}
	}
	if n.sock, err = replicate.ListenLocal(e.socketPath()); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", replicate.LocalHandler(n.log))
	mux.HandleFunc("/v1/tasks/", func(w http.ResponseWriter, r *http.Request) {
		if h := n.tasks.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
	n.sockSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { n.sockErr <- n.sockSrv.Serve(n.sock) }()
	hc, err := peerHTTPClient(f.tlsCA)
	if err != nil {
		return err
	}
	n.client, err = replicate.NewClient(n.log, replicate.ClientOptions{StatePath: e.peersPath(), HTTPClient: hc, Logger: n.logger})
	if err != nil {
		return err
	}
	return nil
}

// peerHTTPClient is the HTTP client for peers: nil (the replicate
// default) unless a CA is given.
func peerHTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.DisableCompression = true
	return &http.Client{Transport: tr}, nil
}

// runIndexer follows the log until ctx ends (if the node indexes).
func (n *node) runIndexer(ctx context.Context, wg *sync.WaitGroup, errc chan<- error) {
	if n.ix == nil {
		return
	}
	schedulePromptly()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := n.ix.Run(ctx); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("index: %w", err)
		}
	}()
}

// close stops the local socket, saves the client's state and closes the
// views and the log, returning the first error. It is idempotent.
func (n *node) close() error {
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	if n.sockSrv != nil {
		n.sockSrv.Close()
	} else if n.sock != nil {
		n.sock.Close()
	}
	if n.client != nil {
		errs = append(errs, n.client.Close())
	}
	if n.release != nil {
		n.release()
	}
	if n.log != nil {
		errs = append(errs, n.log.Close())
	}
	return errors.Join(errs...)
}
