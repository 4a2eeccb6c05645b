// Package replicate will hold what crosses the network: sending tasks
// (requests to a server, written to the log as entries) in order and
// bringing the server's answers and peers' entries back into the log as
// remote entries.
//
// Nothing is implemented yet; no issue has asked for it. The package exists
// so the project's top-level layout is complete; it exports nothing.
package replicate
