package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// watchEvents streams the events matching the query's filters as
// Server-Sent Events: every event is "id: SEQ" and "data: EVENT-JSON";
// first those after the Last-Event-ID header (or the after parameter,
// whichever is later), then new ones as they are stored. A comment line
// every KeepAlive keeps idle connections open. A failure of the store ends
// the stream with an "event: error" whose data is {"error": "..."}; the
// server's shutdown ends it quietly, and clients reconnect with
// Last-Event-ID.
//
// An event whose id is "watch" is still found by GET /v1/events/{id} when
// the id is percent-encoded in the path (e.g. "%77atch"); the remote store
// does that.
func (s *Server) watchEvents(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.EscapedPath(), "/watch") {
		s.serveEvent(w, r, "watch")
		return
	}
	q := r.URL.Query()
	f, err := audit.ParseValues(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("header Last-Event-ID: invalid sequence number %q", v))
			return
		}
		f.After = max(f.After, n)
	}
	if n := s.watchers.Add(1); n > int64(s.opts.MaxWatchers) {
		s.watchers.Add(-1)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable,
			fmt.Sprintf("too many watchers: this server streams to at most %d at a time; try again later", s.opts.MaxWatchers))
		return
	}
	defer s.watchers.Add(-1)

	// Whatever ends the handler, the follower must be done before the
	// store can be closed.
	items, stop := audit.FollowChan(r.Context(), s.opts.Store, f, 256)
	defer stop()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 32<<10)
	flush := func() bool {
		rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		return bw.Flush() == nil && rc.Flush() == nil
	}
	// retry: how long an EventSource waits before it reconnects.
	fmt.Fprintf(bw, "retry: 1000\n\n")
	if !flush() {
		return
	}
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	keepAlive := time.NewTicker(s.opts.KeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			bw.WriteString(": keep-alive\n\n")
			if !flush() {
				return
			}
		case it, ok := <-items:
			// Send what is ready, then flush once: a backlog goes out in
			// large writes, a live event at once.
			for n := 0; ; n++ {
				if !ok {
					flush()
					return
				}
				if it.Err != nil {
					_, msg := s.classify(r, it.Err)
					bw.WriteString("event: error\ndata: ")
					enc.Encode(errorBody{Error: msg})
					bw.WriteString("\n")
					flush()
					return
				}
				e := it.Event
				e.Time = e.Time.UTC()
				fmt.Fprintf(bw, "id: %d\ndata: ", e.Seq)
				enc.Encode(&e) // one line: JSON strings escape newlines
				bw.WriteString("\n")
				if n == 1000 {
					break
				}
				more := false
				select {
				case it, ok = <-items:
					more = true
				default:
				}
				if !more {
					break
				}
			}
			if !flush() {
				return
			}
			keepAlive.Reset(s.opts.KeepAlive)
		}
	}
}
