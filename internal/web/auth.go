package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// SessionCookie names the cookie that carries a session id.
const SessionCookie = "audit_session"

// maxSessions bounds the sessions kept; the oldest go first.
const maxSessions = 10_000

// session is a login: an opaque random id, kept here only, mapped to the
// token that was pasted (checked again on every request, so that a revoked
// or expired token ends its sessions).
type session struct {
	secret  string
	expires time.Time
	csrf    string // the token of the session's forms (Sign out)
}

type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[string]session{}}
}

// randomID returns 256 random bits in base64url.
func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *sessions) create(secret string, now time.Time) (string, time.Time, error) {
	id, err := randomID()
	if err != nil {
		return "", time.Time{}, err
	}
	csrf, err := randomID()
	if err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.sweep(now)
	}
	for len(s.m) >= maxSessions {
		var oldest string
		for k, v := range s.m {
			if oldest == "" || v.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	s.m[id] = session{secret: secret, expires: exp, csrf: csrf}
	return id, exp, nil
}

func (s *sessions) get(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[id]
	if ok && !now.Before(se.expires) {
		delete(s.m, id)
		return session{}, false
	}
	return se, ok
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (s *sessions) sweep(now time.Time) {
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
}

// require runs h for a viewer with the role need: a bearer header or a
// session cookie. A browser without either is sent to the login form.
func (c *Console) require(need audit.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.opts.InsecureNoAuth {
			v := viewer{Name: "anyone", Role: audit.RoleAdmin, Admin: true, NoAuth: true}
			h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
			return
		}
		var secret, csrf string
		fromCookie := false
		if s, ok := Bearer(r); ok {
			secret = s
		} else if ck, err := r.Cookie(SessionCookie); err == nil {
			se, ok := c.sessions.get(ck.Value, time.Now())
			if !ok {
				c.toLogin(w, r, "Your session has ended: paste your token again.")
				return
			}
			secret, csrf, fromCookie = se.secret, se.csrf, true
		} else {
			c.toLogin(w, r, "")
			return
		}
		tok, err := c.opts.Authenticate(r, secret)
		var te *TokenError
		switch {
		case errors.As(err, &te) && fromCookie:
			ck, _ := r.Cookie(SessionCookie)
			c.sessions.end(ck.Value)
			c.toLogin(w, r, "Your token no longer works ("+te.Reason+"): paste a valid one.")
			return
		case errors.As(err, &te):
			w.Header().Set("WWW-Authenticate", `Bearer realm="audit"`)
			c.fail(w, r, http.StatusUnauthorized, te.Reason)
			return
		case err != nil:
			c.storeFailed(w, r, err)
			return
		}
		v := viewer{Name: tok.Name, Role: tok.Role, Admin: tok.Role.Allows(audit.RoleAdmin), CSRF: csrf}
		r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, v))
		if !tok.Role.Allows(need) {
			c.opts.Denied(r, tok, need)
			c.fail(w, r, http.StatusForbidden, "Your token "+tok.Name+" has the role "+string(tok.Role)+"; this page needs "+string(need)+".")
			return
		}
		h(w, r)
	})
}

// toLogin sends a browser to the login form, which returns it here after.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request, msg string) {
	q := url.Values{"next": {r.URL.RequestURI()}}
	if msg != "" {
		q.Set("ended", "1")
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
}

// CSRFCookie names the cookie that holds the login form's token: the
// form's hidden field must match it (a double submit), which a page of
// another site can neither read nor set.
const CSRFCookie = "audit_login"

type loginData struct {
	Next  string
	Ended bool
	CSRF  string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.URL.Query().Get("next")), Ended: r.URL.Query().Get("ended") != ""}
	c.showLogin(w, r, http.StatusOK, "", d)
}

// showLogin renders the login form with a fresh form token.
func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string, d loginData) {
	csrf, err := randomID()
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	d.CSRF = csrf
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/login", MaxAge: 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	c.renderPage(w, status, "login", page{Title: "Sign in", Error: msg, Data: d})
}

// login checks the pasted token and starts a session. The form is
// protected from cross-site posts by the Origin check, SameSite cookies
// and its token; a failed attempt is recorded (by Authenticate) and
// slowed down.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.fail(w, r, http.StatusForbidden, "This form can only be sent from this site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if ck, err := r.Cookie(CSRFCookie); err != nil || !equal(ck.Value, r.PostForm.Get("csrf")) {
		c.showLogin(w, r, http.StatusForbidden, "The form expired or did not come from this site: sign in again.", loginData{Next: next})
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("token"))
	again := func(msg string) {
		select {
		case <-time.After(c.opts.LoginDelay):
		case <-r.Context().Done():
			return
		}
		c.showLogin(w, r, http.StatusUnauthorized, msg, loginData{Next: next})
	}
	if c.opts.InsecureNoAuth {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if secret == "" {
		again("Paste a token (audit token create makes one).")
		return
	}
	tok, err := c.opts.Authenticate(r, secret)
	var te *TokenError
	if errors.As(err, &te) {
		again("That token does not work: " + te.Reason + ".")
		return
	}
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	now := time.Now()
	id, exp, err := c.sessions.create(secret, now)
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	if !tok.Expires.IsZero() && tok.Expires.Before(exp) {
		exp = tok.Expires
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: "", Path: "/login", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session whose form token comes with the post.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !sameOrigin(r) || r.ParseForm() != nil {
		c.fail(w, r, http.StatusForbidden, "This form can only be sent from this site.")
		return
	}
	if ck, err := r.Cookie(SessionCookie); err == nil {
		se, ok := c.sessions.get(ck.Value, time.Now())
		if ok && !equal(se.csrf, r.PostForm.Get("csrf")) {
			c.fail(w, r, http.StatusForbidden, "This form can only be sent from this site.")
			return
		}
		c.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// sameOrigin reports whether a form post may come from this site: its
// Origin (or, without one, its Referer) names this host, or is unknown —
// "null" under Referrer-Policy no-referrer, absent from scripts — which
// leaves the form's token to decide.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" || src == "null" {
		return true
	}
	u, err := url.Parse(src)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && u.Host == r.Host
}

// safeNext keeps a return address on this site: a path, never another
// host (an open redirect) nor the login page itself.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Bearer returns the token of an "Authorization: Bearer TOKEN" header; the
// API reads it the same way.
func Bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
