package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// maxControlBody bounds the JSON body of POST /v1/verify and /v1/prune:
// a handful of fields.
const maxControlBody = 64 << 10

// chainHead answers GET /v1/chain/head: the seq and hash of the newest
// event as a JSON audit.ChainPoint, {"seq":0,"hash":""} for an empty store.
func (s *Server) chainHead(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.opts.Store.(audit.ChainStore)
	if !ok {
		notImplemented(w, "the server's store keeps no hash chain")
		return
	}
	seq, hash, err := cs.Head(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, audit.ChainPoint{Seq: seq, Hash: hash})
}

// chainCheckpoint answers GET /v1/chain/checkpoint: the checkpoint of the
// latest prune as a JSON audit.Checkpoint, the zero one (seq 0) when the
// store was never pruned.
func (s *Server) chainCheckpoint(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.opts.Store.(audit.ChainStore)
	if !ok {
		notImplemented(w, "the server's store keeps no hash chain")
		return
	}
	cp, err := cs.Checkpoint(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &cp)
}

// VerifyStreamType is the media type a client of POST /v1/verify puts in
// its Accept header to have a long verification stream its progress (see
// Server.verify).
const VerifyStreamType = "application/x-ndjson"

// verify answers POST /v1/verify (a JSON audit.VerifyOptions, or no body)
// and GET /v1/verify?from_seq=&to_seq=&since=&expect=SEQ:HASH&allow_gaps=:
// it runs audit.Verify on the store with the server's ChainKey. A chain
// that verifies is answered 200 with the JSON audit.VerifyResult; one that
// does not, 409 with {"error": "...", "integrity": {...}}, the
// audit.IntegrityError.
//
// A client that accepts VerifyStreamType gets the same answer when the
// verification ends within a second; a longer one is streamed instead,
// status 200: a line {"progress": N} every second with the events
// verified since the line before (which also keeps proxies from dropping
// the connection), then one line {"result": {...}} or, on failure, the
// error body with its "status" (409 and "integrity" for a chain that does
// not verify).
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	_, verifies := s.opts.Store.(audit.Verifier)
	if _, chained := s.opts.Store.(audit.ChainStore); !chained && !verifies {
		notImplemented(w, "the server's store keeps no hash chain to verify")
		return
	}
	opts, status, err := verifyOptions(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	opts.Key = s.opts.ChainKey
	var progress atomic.Int64
	opts.Progress = func(n int) { progress.Add(int64(n)) }

	ctx, cancel := context.WithCancel(r.Context())
	var res audit.VerifyResult
	var verr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		release, ok := s.querySlot(r)
		if !ok {
			verr = r.Context().Err()
			return
		}
		defer release()
		res, verr = audit.Verify(ctx, s.opts.Store, opts)
	}()
	// Whatever ends the handler, the verification must be over before
	// the store can be closed.
	defer func() {
		cancel()
		<-done
	}()
	answer := func() {
		if verr != nil {
			s.storeError(w, r, verr)
			return
		}
		writeJSON(w, http.StatusOK, &res)
	}
	if !strings.Contains(r.Header.Get("Accept"), VerifyStreamType) {
		<-done
		answer()
		return
	}

	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	write := func(v any) bool {
		rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		return enc.Encode(v) == nil && rc.Flush() == nil
	}
	type progressLine struct {
		Progress int64 `json:"progress"`
	}
	tick := time.NewTicker(min(time.Second, s.opts.KeepAlive))
	defer tick.Stop()
	started := false
	for {
		select {
		case <-done:
			if !started {
				answer()
				return
			}
			if n := progress.Swap(0); n > 0 && !write(progressLine{n}) {
				return
			}
			if verr != nil {
				status, body := s.errorBody(r, verr)
				body.Status = status
				write(body)
				return
			}
			write(struct {
				Result *audit.VerifyResult `json:"result"`
			}{&res})
			return
		case <-tick.C:
			if !started {
				h := w.Header()
				h.Set("Content-Type", VerifyStreamType)
				h.Set("Cache-Control", "no-store")
				h.Set("X-Content-Type-Options", "nosniff")
				h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
				w.WriteHeader(http.StatusOK)
				started = true
			}
			if !write(progressLine{progress.Swap(0)}) {
				return // the client is gone: cancel the verification
			}
		}
	}
}

// verifyOptions reads the options of a verify request: the JSON body of a
// POST, the query parameters of a GET. It returns the status of an error.
func verifyOptions(w http.ResponseWriter, r *http.Request) (audit.VerifyOptions, int, error) {
	var o audit.VerifyOptions
	if r.Method == http.MethodPost {
		if r.URL.RawQuery != "" {
			return o, http.StatusBadRequest, errors.New("POST /v1/verify takes its options in a JSON body, not in query parameters")
		}
		if status, err := decodeBody(w, r, &o, true); err != nil {
			return o, status, err
		}
	} else {
		var err error
		if o, err = parseVerifyValues(r.URL.Query()); err != nil {
			return o, http.StatusBadRequest, err
		}
	}
	switch {
	case o.FromSeq < 0:
		return o, http.StatusBadRequest, fmt.Errorf("%w: from_seq %d is negative", audit.ErrInvalid, o.FromSeq)
	case o.ToSeq < 0:
		return o, http.StatusBadRequest, fmt.Errorf("%w: to_seq %d is negative", audit.ErrInvalid, o.ToSeq)
	case o.ToSeq > 0 && o.FromSeq > o.ToSeq:
		return o, http.StatusBadRequest, fmt.Errorf("%w: from_seq %d is after to_seq %d", audit.ErrInvalid, o.FromSeq, o.ToSeq)
	}
	if o.Expect != nil {
		p, err := audit.ParseChainPoint(o.Expect.String())
		if err != nil {
			return o, http.StatusBadRequest, fmt.Errorf("%w: expect: %v", audit.ErrInvalid, err)
		}
		o.Expect = &p
	}
	return o, 0, nil
}

// parseVerifyValues reads the query parameters of GET /v1/verify.
func parseVerifyValues(v url.Values) (audit.VerifyOptions, error) {
	var o audit.VerifyOptions
	bad := func(name string, err error) (audit.VerifyOptions, error) {
		return audit.VerifyOptions{}, fmt.Errorf("%w: parameter %s: %v", audit.ErrInvalid, name, err)
	}
	for k := range v {
		switch k {
		case "from_seq", "to_seq", "since", "expect", "allow_gaps":
		default:
			return bad(k, errors.New("unknown parameter (accepted: from_seq, to_seq, since, expect, allow_gaps)"))
		}
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"from_seq", &o.FromSeq}, {"to_seq", &o.ToSeq}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return bad(p.name, fmt.Errorf("invalid sequence number %q", s))
			}
			*p.dst = n
		}
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad("since", fmt.Errorf("invalid time %q (want RFC 3339)", s))
		}
		o.Since = t.UTC()
	}
	if s := v.Get("expect"); s != "" {
		p, err := audit.ParseChainPoint(s)
		if err != nil {
			return bad("expect", err)
		}
		o.Expect = &p
	}
	if s := v.Get("allow_gaps"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("allow_gaps", fmt.Errorf("invalid boolean %q (want true or false)", s))
		}
		o.AllowGaps = b
	}
	return o, nil
}

// prune answers POST /v1/prune, for admin tokens only: the JSON body is an
// audit.PruneRequest, which the store carries out; the answer is the JSON
// audit.Checkpoint it recorded. A request the store refuses because the
// stored hash is not the archived one gets 409, like a failed
// verification; other refusals 400.
func (s *Server) prune(w http.ResponseWriter, r *http.Request) {
	pr, ok := s.opts.Store.(audit.Pruner)
	if !ok {
		notImplemented(w, "the server's store cannot prune")
		return
	}
	var req audit.PruneRequest
	if status, err := decodeBody(w, r, &req, false); err != nil {
		writeError(w, status, err.Error())
		return
	}
	cp, err := pr.Prune(r.Context(), req)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.log.Info("pruned", "through", cp.Seq, "events", cp.Events, "archive", cp.Archive, "token", infoFrom(r.Context()).token)
	writeJSON(w, http.StatusOK, &cp)
}

// decodeBody reads the JSON object of a small request body into v,
// refusing unknown fields and trailing data. An empty body leaves v as it
// is when emptyOK. It returns the status of an error: 415 for a body that
// is not JSON, 413 for one too large, 400 naming what is wrong.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) (int, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, errors.New("unsupported Content-Type: send application/json")
		}
	}
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Second))
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&json.RawMessage{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, io.EOF) && emptyOK:
		return 0, nil
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, fmt.Errorf("%w: the request body is empty: send a JSON object", audit.ErrInvalid)
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", maxControlBody)
	}
	return http.StatusBadRequest, fmt.Errorf("%w: request body: %v", audit.ErrInvalid, err)
}
