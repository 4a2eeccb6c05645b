package replicate

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/log"
)

// TokenPrefix starts every token TokenStore makes.
const TokenPrefix = "slc_"

// AllScopes is the scope that reads every entry, whatever its scope (for
// replication between servers).
const AllScopes = "*"

var (
	// ErrNoToken is returned by TokenStore.Revoke for a name it does not
	// hold.
	ErrNoToken = errors.New("no such token")
	// ErrTokenExists is returned by TokenStore.Add for a name it holds.
	ErrTokenExists = errors.New("a token with that name exists")
)

// Token is what a TokenStore keeps of a token: never the token itself, only
// its SHA-256.
type Token struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// Views are the views the token may query live (GET /v1/query):
	// their names, or AllViews. A token with AllScopes may query every
	// view without them; others none but these (see Server.QueryHandler).
	Views   []string  `json:"views,omitempty"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// AllViews, among a token's views, grants every view.
const AllViews = "*"

// tokenFile is the JSON of a token file.
type tokenFile struct {
	Tokens []Token `json:"tokens"`
}

// TokenStore keeps tokens in a file (DIR/replicate/tokens.json, mode 0600),
// hashed. Add and Revoke change the file atomically under a lock file, so
// several processes may change it; a server's store notices a change to the
// file at its next Lookup, so a token added or revoked by `sluice token`
// takes effect on a running server at once.
//
// All methods are safe for concurrent use.
type TokenStore struct {
	path string

	mu     sync.Mutex
	stamp  fileStamp
	byHash map[[sha256.Size]byte]*Token
	list   []Token
}

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	exists bool
	size   int64
	mod    time.Time
	ino    uint64
}

// OpenTokenStore returns the store kept in path. The file need not exist:
// a store without it holds no token.
func OpenTokenStore(path string) *TokenStore {
	return &TokenStore{path: path}
}

// Path returns the store's file.
func (s *TokenStore) Path() string { return s.path }

var (
	tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$`)
	viewName  = regexp.MustCompile(`^[!-~]{1,200}$`) // printable ASCII, no space
)

// CheckScopes returns an error naming the first scope that no token may
// have: one that is neither AllScopes nor a valid entry scope (see
// log.CheckScope), or the empty scope.
func CheckScopes(scopes []string) error {
	for _, sc := range scopes {
		if sc == AllScopes {
			continue
		}
		if sc == "" {
			return errors.New(`scope "": a token reads unscoped entries anyway; give a scope such as user:7777, or * for all`)
		}
		if err := log.CheckScope(sc); err != nil {
			return fmt.Errorf("scope %q: %w", sc, err)
		}
	}
	return nil
}

// CheckViews returns an error naming the first of views that cannot be a
// view's name (printable ASCII without spaces) nor AllViews.
func CheckViews(views []string) error {
	for _, v := range views {
		if !viewName.MatchString(v) {
			return fmt.Errorf("view %q: want a view's name (printable ASCII, no spaces) or %s for all", v, AllViews)
		}
	}
	return nil
}

// Add makes a new token named name reading scopes (plus unscoped entries),
// stores its hash, and returns the token: it is shown this once and cannot
// be recovered. It fails with ErrTokenExists if the name is taken.
func (s *TokenStore) Add(name string, scopes []string) (string, error) {
	return s.AddWithViews(name, scopes, nil)
}

// AddWithViews is Add for a token that may also query the named views
// live (see Token.Views).
func (s *TokenStore) AddWithViews(name string, scopes, views []string) (string, error) {
	if !tokenName.MatchString(name) {
		return "", fmt.Errorf("token name %q: want 1 to 64 letters, digits or ._:@- (starting with a letter or digit)", name)
	}
	if err := CheckScopes(scopes); err != nil {
		return "", err
	}
	if err := CheckViews(views); err != nil {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("make token: %w", err)
	}
	secret := TokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	sum := sha256.Sum256([]byte(secret))
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	if len(views) > 0 {
		views = slices.Compact(slices.Sorted(slices.Values(views)))
	}
	err := s.change(func(f *tokenFile) error {
		for _, t := range f.Tokens {
			if t.Name == name {
				return fmt.Errorf("token %q: %w (revoke it first)", name, ErrTokenExists)
			}
		}
		f.Tokens = append(f.Tokens, Token{Name: name, Scopes: scopes, Views: views, SHA256: hex.EncodeToString(sum[:]), Created: time.Now().UTC()})
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Revoke removes the token named name: a server refuses it from its next
// request on, and ends its open streams. It fails with ErrNoToken if there
// is none.
func (s *TokenStore) Revoke(name string) error {
	return s.change(func(f *tokenFile) error {
		i := slices.IndexFunc(f.Tokens, func(t Token) bool { return t.Name == name })
		if i < 0 {
			return fmt.Errorf("token %q: %w", name, ErrNoToken)
		}
		f.Tokens = slices.Delete(f.Tokens, i, i+1)
		return nil
	})
}

// List returns the tokens, by name.
func (s *TokenStore) List() ([]Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return nil, err
	}
	out := slices.Clone(s.list)
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Lookup returns the token whose secret is given, or false. It reads the
// file again if it changed.
func (s *TokenStore) Lookup(secret string) (Token, bool, error) {
	sum := sha256.Sum256([]byte(secret))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return Token{}, false, err
	}
	t, ok := s.byHash[sum]
	if !ok {
		return Token{}, false, nil
	}
	return *t, true, nil
}

// Empty reports whether the store holds no token.
func (s *TokenStore) Empty() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return false, err
	}
	return len(s.list) == 0, nil
}

// refresh reads the file if it changed. mu must be held.
func (s *TokenStore) refresh() error {
	st, err := stampOf(s.path)
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	if st == s.stamp && s.byHash != nil {
		return nil
	}
	f, err := readTokenFile(s.path)
	if err != nil {
		return err
	}
	byHash := make(map[[sha256.Size]byte]*Token, len(f.Tokens))
	for i := range f.Tokens {
		t := &f.Tokens[i]
		var sum [sha256.Size]byte
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != len(sum) {
			return fmt.Errorf("token store %s: token %q: bad sha256 %q", s.path, t.Name, t.SHA256)
		}
		hex.Decode(sum[:], []byte(t.SHA256))
		byHash[sum] = t
	}
	s.stamp, s.byHash, s.list = st, byHash, f.Tokens
	return nil
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{exists: true, size: fi.Size(), mod: fi.ModTime(), ino: inode(fi)}, nil
}

func readTokenFile(path string) (*tokenFile, error) {
	f := &tokenFile{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("token store %s: %w", path, err)
	}
	return f, nil
}

// change applies fn to the file under its lock and writes it back
// atomically (mode 0600).
func (s *TokenStore) change(fn func(*tokenFile) error) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	lk, err := fsutil.LockWait(s.path+".lock", 10*time.Second, nil)
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	defer lk.Unlock()
	f, err := readTokenFile(s.path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	s.mu.Lock()
	s.byHash = nil // read it again
	s.mu.Unlock()
	return nil
}

// scopes is what a reader may read: unscoped entries, and those of its
// scopes (all with AllScopes).
type scopes struct {
	all bool
	set map[string]bool
}

func newScopes(list []string) scopes {
	s := scopes{set: map[string]bool{}}
	for _, sc := range list {
		if sc == AllScopes {
			s.all = true
		}
		s.set[sc] = true
	}
	return s
}

// everything is what a server without tokens serves.
var everything = scopes{all: true}

// visible reports whether an entry with scope sc may be read.
func (s scopes) visible(sc string) bool { return sc == "" || s.all || s.set[sc] }

// covers reports whether every scope in want may be read.
func (s scopes) covers(want []string) (string, bool) {
	for _, w := range want {
		if !s.all && !s.set[w] {
			return w, false
		}
	}
	return "", true
}
