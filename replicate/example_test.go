package replicate_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
)

// A server shares its log over HTTP; a device pulls it into its own log,
// and only the entries its token may read.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sluice-example")
	defer os.RemoveAll(dir)

	// The server: a log with entries for two users and one for everybody.
	server, _ := log.Open(filepath.Join(dir, "server", "log"), log.Options{})
	defer server.Close()
	server.Append(ctx,
		log.Record{Origin: log.Local, Payload: []byte(`{"note":"for everybody"}`)},
		log.Record{Origin: log.Local, Payload: []byte(`{"note":"for alice"}`), Scope: "user:alice"},
		log.Record{Origin: log.Local, Payload: []byte(`{"note":"for bob"}`), Scope: "user:bob"},
	)
	tokens := replicate.OpenTokenStore(filepath.Join(dir, "server", "replicate", "tokens.json"))
	alice, _ := tokens.Add("alice-phone", []string{"user:alice"})
	srv, _ := replicate.NewServer(server, replicate.ServerOptions{Tokens: tokens})
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, srv) // or mount srv in the app's own mux
	defer ln.Close()

	// Alice's phone pulls with her token.
	phone, _ := log.Open(filepath.Join(dir, "phone", "log"), log.Options{})
	defer phone.Close()
	client, _ := replicate.NewClient(phone, replicate.ClientOptions{StatePath: filepath.Join(dir, "phone", "replicate", "peers.json")})
	defer client.Close()
	st, err := client.Pull(ctx, replicate.Peer{URL: "http://" + ln.Addr().String(), Token: alice})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("pulled %d entries, up to the server's seq %d\n", st.Entries, st.To)
	it, _ := phone.Iter(1)
	defer it.Close()
	for it.Next() {
		e := it.Entry()
		fmt.Printf("seq %d: %s, %s, from the server's seq %d\n", e.Seq, e.Payload, e.Origin, e.ID.Seq)
	}
	// Output:
	// pulled 2 entries, up to the server's seq 3
	// seq 1: {"note":"for everybody"}, remote, from the server's seq 1
	// seq 2: {"note":"for alice"}, remote, from the server's seq 2
}
