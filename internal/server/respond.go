package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// errorBody is the JSON of every error response. Record, Field and Reason
// are set for an event of a POST that failed validation, so that a client
// can name it as `audit import` would; Integrity for a hash chain that does
// not verify (409), so that a client can report it as `audit verify` on
// the store itself would. Status repeats the status in an error that ends
// a stream, whose response status was 200.
type errorBody struct {
	Error     string                `json:"error"`
	Status    int                   `json:"status,omitempty"`
	Record    int                   `json:"record,omitempty"` // 1-based position in the request body
	Field     string                `json:"field,omitempty"`
	Reason    string                `json:"reason,omitempty"`
	Integrity *audit.IntegrityError `json:"integrity,omitempty"`
	// Conflict is the id of a posted event that is stored already with
	// other content (409); Field the first field that differs.
	Conflict string `json:"conflict,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// retryAfterSeconds is the Retry-After of a 503: the store was busy or
// unreachable, and the same request may succeed in a moment.
const retryAfterSeconds = 1

// storeError answers a failure of the store: bad input is the client's
// (400, with the store's message), a missing event 404, a hash chain that
// does not verify 409; anything else is logged in full and answered with a
// generic message, so that no path, SQL or stack reaches the client.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.errorBody(r, err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	writeJSON(w, status, body)
}

// errorBody is the status and body that storeError answers err with.
func (s *Server) errorBody(r *http.Request, err error) (int, errorBody) {
	status, msg := s.classify(r, err)
	body := errorBody{Error: msg}
	var re *audit.RecordError
	var fe *audit.FieldError
	var ie *audit.IntegrityError
	var ce *audit.ConflictError
	switch {
	case status == http.StatusConflict && errors.As(err, &ce):
		body.Error, body.Record, body.Field, body.Conflict = ce.Error(), ce.Index+1, ce.Field, ce.ID
	case status == http.StatusBadRequest && errors.As(err, &re) && errors.As(err, &fe):
		body.Record, body.Field, body.Reason = re.Index+1, fe.Field, fe.Reason
	case status == http.StatusConflict && errors.As(err, &ie):
		body.Error, body.Integrity = ie.Error(), ie
	}
	return status, body
}

// classify maps a store error to a status and the message a client may
// see, logging what it hides.
func (s *Server) classify(r *http.Request, err error) (int, string) {
	switch {
	case errors.Is(err, audit.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, audit.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, audit.ErrIntegrity), errors.Is(err, audit.ErrConflict):
		return http.StatusConflict, err.Error()
	case errors.Is(err, audit.ErrBusy):
		s.log.Warn("store busy", "method", r.Method, "path", r.URL.Path, "err", err)
		return http.StatusServiceUnavailable, "the store is busy with another writer: try again"
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		return 499, "request canceled"
	case errors.Is(err, audit.ErrUnavailable):
		s.log.Error("store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		return http.StatusServiceUnavailable, "the store is unavailable; see the server's log"
	}
	s.log.Error("store error", "method", r.Method, "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "internal server error; see the server's log"
}

// clientIP is the address of the peer, without port, IPv4-mapped
// addresses unmapped; "" when unknown.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	return a.Unmap().WithZone("").String()
}

// requestInfo collects what the access log line tells beyond the request
// itself; the authorization step fills in the token's name.
type requestInfo struct {
	token string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// recorder captures the status and size of a response for the access log.
// Unwrap lets http.ResponseController reach the connection (Flush,
// deadlines).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// accessLog logs one line per request: method, path, the filter
// parameters, status, bytes, duration, client address and token name. It
// never logs the Authorization header, and query parameters that are not
// filters (which is where a confused client might put a secret) only by
// name.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey{}, ri)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
		}
		if q := safeQuery(r.URL.Query()); q != "" {
			attrs = append(attrs, slog.String("query", q))
		}
		attrs = append(attrs,
			slog.Int("status", status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)),
			slog.String("ip", clientIP(r)),
		)
		if ri.token != "" {
			attrs = append(attrs, slog.String("token", ri.token))
		}
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
	})
}

// filterParams are the query parameters of the API: the filters of
// audit.ParseValues, those of audit.ParseStatsValues and
// audit.ParseBurstValues, and those of GET /v1/verify.
var filterParams = func() map[string]bool {
	m := map[string]bool{"table": true, "zone": true, "threshold": true, "window": true,
		"from_seq": true, "to_seq": true, "expect": true, "allow_gaps": true}
	for _, p := range audit.FilterParams {
		m[p] = true
	}
	return m
}()

func safeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	out := url.Values{}
	for k, vs := range q {
		if !filterParams[k] {
			out[k] = []string{"REDACTED"}
			continue
		}
		out[k] = vs
	}
	s, err := url.QueryUnescape(out.Encode())
	if err != nil {
		return out.Encode()
	}
	return s
}
