// Package github reads GitHub organization and enterprise audit-log
// exports and streams: a JSON array of entries, or one entry a line.
package github

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/ingest"
)

func init() {
	ingest.Register(ingest.Format{Name: audit.SourceGitHub, Title: "GitHub audit log", Detect: detect, Decode: decode})
}

func detect(first []byte) bool {
	b := bytes.TrimLeft(first, " \t")
	if len(b) > 0 && b[0] == '[' {
		b = bytes.TrimLeft(b[1:], " \t\r\n")
	}
	keys := ingest.TopKeys(b)
	has := func(k string) bool {
		for _, x := range keys {
			if x == k {
				return true
			}
		}
		return false
	}
	return has("action") && (has("_document_id") || has("@timestamp")) && !has("type")
}

type entry struct {
	DocumentID    string          `json:"_document_id"`
	Timestamp     json.RawMessage `json:"@timestamp"`
	CreatedAt     json.RawMessage `json:"created_at"`
	Action        string          `json:"action"`
	Actor         string          `json:"actor"`
	ActorIP       string          `json:"actor_ip"`
	OperationType string          `json:"operation_type"`
	Org           string          `json:"org"`
	Repo          string          `json:"repo"`
	User          string          `json:"user"`
	Team          string          `json:"team"`
	Business      string          `json:"business"`
}

const maxLine = 8 << 20

func decode(br *bufio.Reader, opts ingest.Options, c *ingest.Counts) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		head, _ := br.Peek(16)
		if t := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf"); len(t) > 0 && t[0] == '[' {
			dec := json.NewDecoder(br)
			if _, err := dec.Token(); err != nil {
				yield(audit.Event{}, &ingest.LineError{Record: 1, Err: fmt.Errorf("invalid JSON: %v", err)})
				return
			}
			for n := 1; dec.More(); n++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					yield(audit.Event{}, &ingest.LineError{Record: n, Err: fmt.Errorf("invalid JSON: %v", err)})
					return
				}
				e, keep, err := mapEntry(raw, opts, c)
				if err != nil {
					yield(e, &ingest.LineError{Record: n, Err: err})
					return
				}
				if keep && !yield(e, nil) {
					return
				}
			}
			if _, err := dec.Token(); err != nil {
				yield(audit.Event{}, fmt.Errorf("%w: the JSON array is not closed (a truncated export?)", audit.ErrInvalid))
			}
			return
		}
		for l, err := range ingest.Lines(br, maxLine) {
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			e, keep, err := mapEntry(l.Text, opts, c)
			if err != nil {
				yield(e, &ingest.LineError{Line: l.N, Err: err})
				return
			}
			if keep && !yield(e, nil) {
				return
			}
		}
	}
}

func mapEntry(data []byte, opts ingest.Options, c *ingest.Counts) (audit.Event, bool, error) {
	var g entry
	if err := ingest.Unmarshal("a GitHub audit-log entry", data, &g); err != nil {
		return audit.Event{}, false, err
	}
	if g.Action == "" || (len(g.Timestamp) == 0 && len(g.CreatedAt) == 0) {
		return audit.Event{}, false, fmt.Errorf("not a GitHub audit-log entry (no action/@timestamp)")
	}
	t, err := entryTime(g.Timestamp)
	if err != nil || t.IsZero() {
		if t, err = entryTime(g.CreatedAt); err != nil {
			return audit.Event{}, false, err
		}
	}
	if err := audit.CheckTime("@timestamp", t); err != nil {
		return audit.Event{}, false, err
	}
	c.Read++
	if g.OperationType == "access" && !opts.IncludeReadOnly {
		c.ReadOnly++
		return audit.Event{}, false, nil
	}
	category, verb, _ := strings.Cut(g.Action, ".")
	e := audit.Event{ID: g.DocumentID, Time: t, User: g.Actor, UserName: g.Actor, Action: g.Action,
		ResourceType: category, Type: classify(&g, category, verb), Outcome: audit.OutcomeSuccess}
	if e.ResourceType == "" {
		e.ResourceType = "github"
	}
	if e.User == "" {
		e.User, e.UserName = "github", "GitHub"
	}
	if e.ID == "" {
		sum := sha256.Sum256(data)
		e.ID = "github-" + hex.EncodeToString(sum[:16])
	}
	if a, err := netip.ParseAddr(g.ActorIP); err == nil {
		e.IP = a.Unmap().String()
	}
	// The most specific thing the entry names.
	for _, r := range [][2]string{{"repo", g.Repo}, {"team", g.Team}, {"user", g.User}, {"org", g.Org}, {"business", g.Business}} {
		if r[1] != "" {
			e.ResourceType, e.Resource = r[0], r[1]
			break
		}
	}
	if strings.Contains(verb, "fail") {
		e.Outcome = audit.OutcomeFailure
	}
	var details []string
	for _, kv := range [][2]string{{"org", g.Org}, {"user", g.User}, {"team", g.Team}, {"operation", g.OperationType}} {
		if kv[1] != "" && kv[0] != e.ResourceType {
			details = append(details, kv[0]+" "+kv[1])
		}
	}
	e.Details = strings.Join(details, "; ")
	ingest.Finish(&e, audit.SourceGitHub, data)
	return e, true, nil
}

// entryTime reads @timestamp or created_at: milliseconds since the epoch
// (what the API and exports write), or an RFC 3339 string.
func entryTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 {
		return time.Time{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, fmt.Errorf("@timestamp: %v", err)
		}
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("@timestamp: invalid time %q (want milliseconds since 1970 or RFC 3339)", s)
		}
		return t, nil
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("@timestamp: invalid time %s (want milliseconds since 1970)", raw)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

func classify(g *entry, category, verb string) audit.Type {
	switch {
	case g.OperationType == "authentication",
		strings.HasPrefix(category, "oauth_"),
		category == "personal_access_token",
		strings.HasPrefix(category, "two_factor"),
		category == "org" && strings.HasPrefix(verb, "update_") && strings.HasSuffix(verb, "_permission"):
		return audit.TypeSecurity
	}
	switch g.OperationType {
	case "create":
		return audit.TypeCreate
	case "remove":
		return audit.TypeDelete
	case "modify", "transfer", "restore":
		return audit.TypeUpdate
	}
	switch {
	case verb == "create" || strings.HasPrefix(verb, "add"):
		return audit.TypeCreate
	case verb == "destroy" || verb == "delete" || strings.HasPrefix(verb, "remove"):
		return audit.TypeDelete
	}
	return audit.TypeUpdate
}
