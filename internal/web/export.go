package web

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
)

// export downloads every event of the view's filter, oldest first, as
// `audit export --format F` writes them: the same columns, the same
// formula neutralisation, the same bytes. Paging does not apply.
func (c *Console) export(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, release, ok := c.viewAndSlot(w, r)
		if !ok {
			return
		}
		defer release()
		f := v.Filter
		f.Order = audit.Ascending
		ctx := r.Context()
		next, stop := iter.Pull2(audit.Prefetch(c.opts.Store.Query(ctx, f), 1024))
		defer stop()
		// The first event (or error) decides the status: an error before
		// any byte is a page, after them the download is cut short, which
		// the browser shows as a failed download rather than a short file.
		first, ferr, okFirst := next()
		if ferr != nil {
			c.storeFailed(w, r, ferr)
			return
		}
		h := w.Header()
		ctype := "text/csv; charset=utf-8"
		if format == "jsonl" {
			ctype = "application/x-ndjson"
		}
		h.Set("Content-Type", ctype)
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.%s"`, v.window(), format))
		h.Set("Cache-Control", "no-store")
		bw := bufio.NewWriterSize(w, 64<<10)
		p, err := output.New(bw, output.Options{Format: format, Neutralize: format == "csv", Location: time.UTC})
		if err != nil {
			c.storeFailed(w, r, err)
			return
		}
		for e, err, ok := first, ferr, okFirst; ok; e, err, ok = next() {
			if err != nil {
				c.log.Error("web console: an export failed part way", "err", err)
				panic(http.ErrAbortHandler)
			}
			if err := p.Print(&e); err != nil {
				return // the browser went away
			}
		}
		if err := p.Close(); err != nil {
			return
		}
		bw.Flush()
	}
}

// live streams the rows of new events matching the view as Server-Sent
// Events, for the page's Live mode: every message is the HTML of one
// table row, its id the event's seq, so a reconnecting EventSource
// resumes after the last row it got.
func (c *Console) live(w http.ResponseWriter, r *http.Request) {
	v, err := c.parseView(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	f := v.Filter
	f.After = max(f.After, v.After)
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		var n int64
		if _, err := fmt.Sscan(id, &n); err == nil && n > f.After {
			f.After = n
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-c.opts.Closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	t := c.pages["logs"]
	var buf bytes.Buffer
	for e, err := range c.opts.Primary.Follow(ctx, f) {
		if err != nil {
			return
		}
		buf.Reset()
		if err := t.ExecuteTemplate(&buf, "row", c.newRow(&e, &v)); err != nil {
			c.log.Error("rendering a live row", "err", err)
			return
		}
		var msg strings.Builder
		fmt.Fprintf(&msg, "id: %d\n", e.Seq)
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			msg.WriteString("data: " + line + "\n")
		}
		msg.WriteString("\n")
		rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if _, err := w.Write([]byte(msg.String())); err != nil || rc.Flush() != nil {
			return
		}
	}
}
