package eventio_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/eventio"
	"github.com/audit-cli/audit/internal/output"
)

// FuzzDecode feeds arbitrary bytes to the decoder of `audit import` and
// POST /v1/events in every format. It must not panic; every error must be
// a usage error (exit 2, HTTP 400) whose message is safe to print on a
// terminal; every event it accepts must be valid, and must come back
// unchanged from an export in JSON Lines and in (formula-neutralized) CSV.
//
//	go test ./internal/eventio -run '^$' -fuzz '^FuzzDecode$' -fuzztime 10s
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"id":"a","time":"2026-11-20T10:00:00Z","user":"jdavis","type":"login"}`,
		`{"id":"b","seq":7,"time":"2026-11-20T10:00:01.123456789+02:00","user":"jdavis","user_name":"John Davis","type":"update","action":"Updated","resource_type":"server","resource":"bbb-node-1","details":"Changed load_multiplier from 1.0 to 1.5","ip":"::ffff:192.168.1.100","outcome":"failure","hash":"00"}`,
		`[{"time":"2026-11-20T10:00:00Z","user":"system","type":"delete","details":"=HYPERLINK(\"x\")"}]`,
		"id,time,user,type,details,ip\na,2026-11-20T10:00:00Z,jdavis,login,\"multi\nline, \"\"quoted\"\"\",2001:db8::1\n",
		"\ufeffid,time,user,type,details\na,2026-11-20T10:00:00Z,jdavis,login,'=1+1\n",
		`{"id":"c","time":"2026-11-20T10:00:00Z","user":"j","type":"login","details":"\u001b[2J\ud83d\ude00\u202e"}`,
		`{"id":"d","time":"2026-11-20T10:00:00Z","user":"j","type":"login","ip":"fe80::1%eth0"}`,
		`{"id":"e","time":"1969-12-31T23:59:59Z","user":"j","type":"login"}`,
		"{\"id\":\"f\",\"time\":\"2026-11-20T10:00:00Z\",\"user\":\"j\xff\",\"type\":\"login\"}",
		`{"id":"g","time":"2026-11-20T10:00:00Z","user":"j","type":"login","details":"\ud800"}`,
		"\n\n{\"id\":\"a\"}\n",
		"id,time\n1,2,3\n",
		"",
		"[",
	}
	for _, s := range seeds {
		for _, format := range []string{"auto", "jsonl", "json", "csv"} {
			f.Add([]byte(s), format)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		switch format {
		case "auto", "jsonl", "json", "csv":
		default:
			format = "auto"
		}
		n := 0
		for e, err := range eventio.Decode(bytes.NewReader(data), format) {
			if err != nil {
				if !errors.Is(err, audit.ErrInvalid) {
					t.Fatalf("error %q is not a usage error (audit.ErrInvalid)", err)
				}
				checkPrintable(t, err.Error())
				return
			}
			n++
			if n > 1000 {
				return
			}
			checkValid(t, e)
			roundTrip(t, e, "jsonl", false)
			roundTrip(t, e, "csv", true)
			roundTrip(t, e, "csv", false)
		}
	})
}

// checkPrintable fails when msg, which audit prints on stderr, holds a
// control character or invalid UTF-8 from the input.
func checkPrintable(t *testing.T, msg string) {
	t.Helper()
	if !utf8.ValidString(msg) {
		t.Fatalf("error message is not UTF-8: %q", msg)
	}
	for _, r := range msg {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Fatalf("error message holds the control character %U: %q", r, msg)
		}
	}
}

// checkValid fails unless e is an event a store accepts as it is.
func checkValid(t *testing.T, e audit.Event) {
	t.Helper()
	if e.Seq != 0 || e.Hash != "" {
		t.Fatalf("decoded event keeps seq %d / hash %q of the input", e.Seq, e.Hash)
	}
	c := e
	if err := c.Normalize(); err != nil {
		t.Fatalf("decoded event %+v does not validate: %v", e, err)
	}
	if c.ID != e.ID || c.Seq != e.Seq || c.Hash != e.Hash || audit.DiffField(&c, &e) != "" {
		t.Fatalf("decoded event is not normalized:\n%+v\n%+v", e, c)
	}
	for _, v := range []string{e.ID, e.User, e.UserName, e.Action, e.ResourceType, e.Resource, e.Details, e.IP} {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			t.Fatalf("decoded event holds invalid text %q", v)
		}
	}
}

// roundTrip exports e in format and decodes the export: it must give e back.
func roundTrip(t *testing.T, e audit.Event, format string, neutralize bool) {
	t.Helper()
	var buf bytes.Buffer
	p, err := output.New(&buf, output.Options{Format: format, Neutralize: neutralize})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Print(&e); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var got []audit.Event
	for g, err := range eventio.Decode(bytes.NewReader(buf.Bytes()), format) {
		if err != nil {
			t.Fatalf("%s export (neutralize %v) does not import back: %v\n%q", format, neutralize, err, buf.String())
		}
		got = append(got, g)
	}
	if len(got) != 1 || !got[0].Time.Equal(e.Time) {
		t.Fatalf("%s round trip (neutralize %v): got %+v, want %+v\n%q", format, neutralize, got, e, buf.String())
	}
	g := got[0]
	g.Time = e.Time
	if g.ID != e.ID || g.Seq != e.Seq || g.Hash != e.Hash || audit.DiffField(&g, &e) != "" {
		t.Fatalf("%s round trip (neutralize %v) changed the event:\n got %+v\nwant %+v\n%q", format, neutralize, g, e, buf.String())
	}
}
