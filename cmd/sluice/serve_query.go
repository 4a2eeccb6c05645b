package main

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/replicate"
)

// serveQueries returns sluice serve's handler: srv, with GET /v1/query
// (live queries as Server-Sent Events, replicate.Server.QueryHandler)
// over the views the node indexes, woken by its indexer. A node that does
// not index (--no-index) answers /v1/query with 404 as srv does. close
// ends the live queries and closes their connections; it is idempotent.
func (n *node) serveQueries(srv *replicate.Server) (h http.Handler, close func() error, err error) {
	if n.ix == nil || len(n.files) == 0 {
		return srv, func() error { return nil }, nil
	}
	paths := make([]string, len(n.files))
	for i, f := range n.files {
		paths[i] = f.Path()
	}
	db, err := query.Open(paths, query.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("serve live queries: %w", err)
	}
	live, err := query.NewLive(db, query.LiveOptions{Notifier: n.ix})
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("serve live queries: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/query", srv.QueryHandler(db, live))
	mux.Handle("/", srv)
	var once sync.Once
	var cerr error
	return mux, func() error {
		once.Do(func() { cerr = errors.Join(live.Close(), db.Close()) })
		return cerr
	}, nil
}
