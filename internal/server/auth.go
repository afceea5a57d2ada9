package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/web"
)

// TokenPrefix starts every token secret, so that secret scanners and
// people recognise one.
const TokenPrefix = "audit_"

// NewTokenSecret returns a fresh token secret: TokenPrefix and 256 random
// bits in unpadded base64url.
func NewTokenSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns what a TokenStore keeps of a secret: its SHA-256 in
// lowercase hex. A fast hash is enough: the secrets are random, not
// passwords.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// authorize runs h for requests whose bearer token is valid and has the
// role need. Others get 401 (no, unknown or expired token) or 403 (the
// role is too weak), and a security event records the failure.
func (s *Server) authorize(need audit.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.InsecureNoAuth {
			infoFrom(r.Context()).token = "-"
			h(w, r)
			return
		}
		secret, ok := web.Bearer(r)
		if !ok {
			s.unauthorized(r, "anonymous", "missing bearer token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="audit"`)
			writeError(w, http.StatusUnauthorized, "authentication required: send the header \"Authorization: Bearer TOKEN\"")
			return
		}
		tok, err := s.checkToken(r, secret)
		var te *web.TokenError
		if errors.As(err, &te) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="audit"`)
			writeError(w, http.StatusUnauthorized, te.Reason)
			return
		}
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		if !tok.Role.Allows(need) {
			s.denied(r, tok, need)
			writeError(w, http.StatusForbidden, fmt.Sprintf("permission denied: token %q has role %s; this request needs %s", tok.Name, tok.Role, need))
			return
		}
		h(w, r)
	})
}

// checkToken returns the token whose secret is given, valid now, and
// notes its use. A secret that is no valid token is a *web.TokenError,
// recorded as a failed authentication; other errors are the store's.
// The web console's logins go through it too.
func (s *Server) checkToken(r *http.Request, secret string) (audit.Token, error) {
	tok, err := s.opts.Tokens.TokenByHash(r.Context(), HashToken(secret))
	if errors.Is(err, audit.ErrNotFound) {
		s.unauthorized(r, "anonymous", "unknown or revoked bearer token")
		return audit.Token{}, &web.TokenError{Reason: "invalid token"}
	}
	if err != nil {
		return audit.Token{}, err
	}
	infoFrom(r.Context()).token = tok.Name
	if !tok.Expires.IsZero() && !s.opts.Now().Before(tok.Expires) {
		s.unauthorized(r, tok.Name, fmt.Sprintf("token %q expired at %s", tok.Name, audit.FormatTime(tok.Expires)))
		return audit.Token{}, &web.TokenError{Reason: "token expired"}
	}
	if s.toucher != nil {
		s.toucher.touch(tok.Name)
	}
	return tok, nil
}

// denied records a valid token refused for its role.
func (s *Server) denied(r *http.Request, tok audit.Token, need audit.Role) {
	s.security.failure(r, audit.Event{
		User: tok.Name, UserName: "API token " + tok.Name,
		Action: "API Permission Denied",
		Details: fmt.Sprintf("token %q has role %s; %s %s needs %s",
			tok.Name, tok.Role, r.Method, r.URL.Path, need),
	})
}

// unauthorized records a failed authentication and why.
func (s *Server) unauthorized(r *http.Request, user, why string) {
	name := "Anonymous"
	if user != "anonymous" {
		name = "API token " + user
	}
	s.security.failure(r, audit.Event{
		User: user, UserName: name,
		Action:  "API Authentication Failed",
		Details: fmt.Sprintf("%s for %s %s", why, r.Method, r.URL.Path),
	})
}

// toucher writes the last use of tokens in the background, at most once
// per interval and token, so that requests never wait for a write.
type toucher struct {
	tokens   audit.TokenStore
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu     sync.Mutex
	closed bool
	last   map[string]time.Time
	ch     chan touch
	done   chan struct{}
}

type touch struct {
	name string
	at   time.Time
}

func newToucher(tokens audit.TokenStore, interval time.Duration, now func() time.Time, log *slog.Logger) *toucher {
	t := &toucher{tokens: tokens, interval: interval, now: now, log: log,
		last: map[string]time.Time{}, ch: make(chan touch, 64), done: make(chan struct{})}
	go t.run()
	return t
}

func (t *toucher) touch(name string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if last, ok := t.last[name]; ok && now.Sub(last) < t.interval {
		return
	}
	select {
	case t.ch <- touch{name, now}:
		t.last[name] = now
	default: // busy: a later request records it
	}
}

func (t *toucher) run() {
	defer close(t.done)
	for u := range t.ch {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := t.tokens.TouchToken(ctx, u.name, u.at); err != nil {
			t.log.Warn("could not record the use of a token", "token", u.name, "err", err)
		}
		cancel()
	}
}

func (t *toucher) close() {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.ch)
	}
	t.mu.Unlock()
	<-t.done
}
