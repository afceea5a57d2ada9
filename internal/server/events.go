package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/eventio"
	"github.com/audit-cli/audit/internal/output"
)

// PageLimitHeader tells how many events a GET /v1/events response holds at
// most: the limit asked for, capped at the server's page size. A response
// with that many events may have more after it: ask again with after= (or
// before= in descending order) set to the seq of its last event.
const PageLimitHeader = "Audit-Page-Limit"

// listEvents streams the events matching the query's filters as NDJSON, a
// page of at most MaxPage. Memory stays constant: events go out as the
// store yields them. Should the store fail after the first bytes are out,
// the stream ends with a line {"error": "..."} instead of an event.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	f, err := audit.ParseValues(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if f.Limit == 0 || f.Limit > s.opts.MaxPage {
		f.Limit = s.opts.MaxPage
	}
	release, ok := s.querySlot(r)
	if !ok {
		return
	}
	defer release()
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(PageLimitHeader, strconv.Itoa(f.Limit))

	out := &lazyWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}
	p, err := output.New(out, output.Options{Format: "jsonl", WithRaw: true})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	for e, err := range s.opts.ReadStore.Query(r.Context(), f) {
		if err == nil {
			err = p.Print(&e)
			if err != nil {
				return // the client is gone or too slow: nothing to tell it
			}
			continue
		}
		if !out.started {
			s.storeError(w, r, err)
			return
		}
		p.Close()
		_, msg := s.classify(r, err)
		line, _ := json.Marshal(errorBody{Error: msg})
		out.Write(append(line, '\n'))
		return
	}
	p.Close()
}

// lazyWriter commits the response (status 200) only with the first bytes
// written, so that an error before them can still get its own status. It
// bounds each write by a deadline, dropping clients that stop reading.
type lazyWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	started bool
}

func (lw *lazyWriter) Write(b []byte) (int, error) {
	lw.started = true
	lw.rc.SetWriteDeadline(time.Now().Add(lw.timeout))
	return lw.w.Write(b)
}

func (lw *lazyWriter) Flush() error { return lw.rc.Flush() }

// getEvent answers the event named by the path as JSON.
func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	s.serveEvent(w, r, r.PathValue("id"))
}

func (s *Server) serveEvent(w http.ResponseWriter, r *http.Request, id string) {
	release, ok := s.querySlot(r)
	if !ok {
		return
	}
	defer release()
	e, err := s.opts.ReadStore.Get(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	e.Time = e.Time.UTC()
	writeJSON(w, http.StatusOK, &e)
}

// PostResult is the answer to POST /v1/events: the counts of
// audit.AppendResult and, for each event of the request in order, the seq
// and hash it got (0 and "" for one that was stored already).
type PostResult struct {
	audit.AppendResult
	Assigned []Assigned `json:"assigned"`
}

// Assigned is what the store gave one posted event.
type Assigned struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash,omitempty"`
}

// postEvents stores the events of the body in one all-or-nothing Append.
// The body is JSON Lines (application/x-ndjson), a JSON array
// (application/json, which may also hold JSON Lines) or CSV (text/csv),
// read as `audit import` reads them: an event without an id gets one
// derived from its content. A body over MaxBody is refused with 413.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	format, ok := bodyFormat(r.Header.Get("Content-Type"))
	if !ok {
		writeError(w, http.StatusUnsupportedMediaType,
			"unsupported Content-Type: send application/x-ndjson, application/json or text/csv")
		return
	}
	if r.ContentLength > s.opts.MaxBody {
		s.tooLarge(w)
		return
	}
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.BodyTimeout))
	body := &limitedBody{r: http.MaxBytesReader(w, r.Body, s.opts.MaxBody)}
	br := bufio.NewReaderSize(body, 64<<10)
	if format == "json" {
		format = sniffJSON(br)
	}
	var events []audit.Event
	for e, err := range eventio.Decode(br, format) {
		if body.tooLarge {
			s.tooLarge(w)
			return
		}
		if err != nil {
			decodeError(w, err, len(events)+1)
			return
		}
		events = append(events, e)
	}
	if body.tooLarge {
		s.tooLarge(w)
		return
	}
	if !s.opts.AllowFuture {
		now := s.opts.Now()
		for i := range events {
			if err := audit.CheckNotFuture(&events[i], now); err != nil {
				decodeError(w, fmt.Errorf("record %d: %w", i+1, err), i+1)
				return
			}
		}
	}
	res, err := s.opts.Store.Append(r.Context(), events)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out := PostResult{AppendResult: res, Assigned: make([]Assigned, len(events))}
	for i, e := range events {
		out.Assigned[i] = Assigned{Seq: e.Seq, Hash: e.Hash}
	}
	writeJSON(w, http.StatusOK, &out)
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("request body larger than the server's limit of %d bytes: send fewer events per request", s.opts.MaxBody))
}

// decodeError answers a body that could not be read: 400 naming the line
// or record and, for a validation error, the field.
func decodeError(w http.ResponseWriter, err error, record int) {
	var fe *audit.FieldError
	if errors.As(err, &fe) {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Record: record, Field: fe.Field, Reason: fe.Reason})
		return
	}
	var de *eventio.DecodeError
	if errors.As(err, &de) || errors.Is(err, audit.ErrInvalid) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
}

// bodyFormat maps a Content-Type to an eventio format; "json" means a JSON
// array or JSON Lines, told apart by the first character.
func bodyFormat(contentType string) (string, bool) {
	if contentType == "" {
		return "auto", true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines":
		return "jsonl", true
	case "application/json":
		return "json", true
	case "text/csv":
		return "csv", true
	}
	return "", false
}

// sniffJSON tells a JSON array from JSON Lines.
func sniffJSON(br *bufio.Reader) string {
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if err != nil || len(b) < i {
			return "jsonl"
		}
		switch b[i-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '[':
			return "json"
		}
		return "jsonl"
	}
}

// limitedBody notes when the body went over the limit, which decoders may
// report as a mere syntax error.
type limitedBody struct {
	r        io.Reader
	tooLarge bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.tooLarge = true
	}
	return n, err
}
