package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
)

type field struct{ Name, Value string }

type eventData struct {
	Row    row
	Fields []field
	Raw    string
}

// eventPage shows one event: every field, the integrity hash, and the
// producer's original record, pretty-printed.
func (c *Console) eventPage(w http.ResponseWriter, r *http.Request) {
	v, release, ok := c.viewAndSlot(w, r)
	if !ok {
		return
	}
	defer release()
	e, err := c.opts.Store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	d := eventData{Row: c.newRow(&e, &v)}
	d.Row.Details = output.Sanitize(e.Details)
	for _, f := range []field{
		{"id", e.ID}, {"seq", strconv.FormatInt(e.Seq, 10)},
		{"time", e.Time.In(v.Loc).Format(time.RFC3339Nano) + " (" + e.Time.UTC().Format(time.RFC3339Nano) + ")"},
		{"user", e.User}, {"user_name", e.UserName}, {"type", string(e.Type)}, {"action", e.Action},
		{"resource_type", e.ResourceType}, {"resource", e.Resource}, {"details", e.Details},
		{"ip", e.IP}, {"outcome", string(e.Outcome)}, {"source", e.SourceName()}, {"hash", e.Hash},
	} {
		d.Fields = append(d.Fields, field{f.Name, output.Sanitize(f.Value)})
	}
	if len(e.Raw) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, e.Raw, "", "  ") == nil {
			d.Raw = escapeLines(buf.String())
		} else {
			d.Raw = escapeLines(string(e.Raw))
		}
	}
	c.render(w, r, http.StatusOK, "event", fmt.Sprintf("Event %s", output.Sanitize(e.ID)), d)
}

// escapeLines is output.Sanitize for text whose lines are its layout.
func escapeLines(s string) string {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewBufferString(s))
	sc.Buffer(nil, audit.MaxRawLen*2)
	for sc.Scan() {
		b.WriteString(output.Sanitize(sc.Text()))
		b.WriteByte('\n')
	}
	return b.String()
}
