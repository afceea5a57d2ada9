package eventio

import (
	"errors"
	"strings"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
)

func decodeAll(t *testing.T, input, format string) ([]audit.Event, error) {
	t.Helper()
	var out []audit.Event
	for e, err := range Decode(strings.NewReader(input), format) {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

func TestDecodeFormats(t *testing.T) {
	tests := []struct {
		name, format, input string
	}{
		{"jsonl", "auto", `{"id":"a","time":"2026-11-20T10:00:00Z","user":"jdavis","type":"login"}
{"id":"b","time":"2026-11-20T10:00:01.5Z","user":"jdavis","type":"LOGOUT","ip":"::ffff:10.0.0.1"}
`},
		{"jsonl with blank lines and CRLF", "jsonl", "\r\n{\"id\":\"a\",\"time\":\"2026-11-20T10:00:00Z\",\"user\":\"jdavis\",\"type\":\"login\"}\r\n\r\n" +
			`{"id":"b","time":"2026-11-20T10:00:01.5Z","user":"jdavis","type":"logout","ip":"10.0.0.1"}`},
		{"json array", "auto", ` [{"id":"a","time":"2026-11-20T10:00:00Z","user":"jdavis","type":"login"},
 {"id":"b","time":"2026-11-20T10:00:01.5Z","user":"jdavis","type":"logout","ip":"10.0.0.1","seq":99,"hash":"ff"}]`},
		{"csv with BOM", "auto", "\ufeffid,time,user,type,ip\na,2026-11-20T10:00:00Z,jdavis,login,\nb,2026-11-20T10:00:01.5Z,jdavis,logout,10.0.0.1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := decodeAll(t, tt.input, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 2 {
				t.Fatalf("got %d events, want 2", len(events))
			}
			b := events[1]
			if b.ID != "b" || b.Type != audit.TypeLogout || b.IP != "10.0.0.1" || b.Outcome != audit.OutcomeSuccess ||
				audit.FormatTime(b.Time) != "2026-11-20T10:00:01.5Z" || b.Seq != 0 || b.Hash != "" {
				t.Errorf("second event = %+v", b)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := `{"id":"a","time":"2026-11-20T10:00:00Z","user":"jdavis","type":"login"}`
	tests := []struct {
		name, format, input, want string
	}{
		{"bad type on line 2", "jsonl", good + "\n" + `{"id":"b","time":"2026-11-20T10:00:00Z","user":"x","type":"hack"}`, `line 2: type: unknown type "hack"`},
		{"wrong JSON type", "jsonl", `{"id":"a","time":"2026-11-20T10:00:00Z","user":7,"type":"login"}`, "line 1: user: want a string, got a JSON number"},
		{"unknown field", "jsonl", `{"id":"a","usr":"x"}`, `line 1: unknown field "usr"`},
		{"bare number", "jsonl", `42`, "line 1: want an event (a JSON object), got a JSON number"},
		{"array of numbers", "json", `[1]`, "record 1: want an event (a JSON object), got a JSON number"},
		{"bad time", "jsonl", `{"id":"a","time":"Nov 20","user":"x","type":"login"}`, `line 1: time: invalid time "Nov 20"`},
		{"missing user", "jsonl", `{"id":"a","time":"2026-11-20T10:00:00Z","type":"login"}`, "line 1: user: missing"},
		{"ip with zone", "jsonl", `{"id":"a","time":"2026-11-20T10:00:00Z","user":"x","type":"login","ip":"fe80::1%eth0"}`, `line 1: ip: invalid IP address "fe80::1%eth0"`},
		{"NUL in details", "jsonl", `{"id":"a","time":"2026-11-20T10:00:00Z","user":"x","type":"login","details":"a\u0000b"}`, "line 1: details: contains a NUL byte"},
		{"two values on a line", "jsonl", good + good, "line 1: more than one JSON value"},
		{"array record 2", "json", "[" + good + `,{"id":"b"}]`, "record 2: time: missing"},
		{"unclosed array", "json", "[" + good, "the array is not closed"},
		{"csv unknown column", "csv", "id,time,user,type,colour\n", `line 1: unknown CSV column "colour"`},
		{"csv without type", "csv", "id,time,user\n", `line 1: CSV header lacks the "type" column`},
		{"csv short row", "csv", "id,time,user,type\na,2026-11-20T10:00:00Z,x\n", "line 2: invalid CSV: wrong number of fields"},
		{"unknown format", "yaml", good, `unknown input format "yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(t, tt.input, tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("err %v does not match audit.ErrInvalid (exit 2)", err)
			}
		})
	}
}

// An event without an id gets one from its content: the same event read
// twice gets the same id, a different one another.
func TestContentID(t *testing.T) {
	input := `{"time":"2026-11-20T10:00:00Z","user":"jdavis","type":"login"}
{"time":"2026-11-20T10:00:00Z","user":"jdavis","type":"login"}
{"time":"2026-11-20T10:00:00Z","user":"jdavis","type":"logout"}
`
	events, err := decodeAll(t, input, "auto")
	if err != nil {
		t.Fatal(err)
	}
	if events[0].ID == "" || events[0].ID != events[1].ID || events[0].ID == events[2].ID {
		t.Errorf("content ids %q %q %q", events[0].ID, events[1].ID, events[2].ID)
	}
}

// Cells an export neutralised against spreadsheet formulas read back as
// they were recorded.
func TestCSVUnneutralizes(t *testing.T) {
	input := "id,time,user,type,details\na,2026-11-20T10:00:00Z,jdavis,update,\"'=HYPERLINK(\"\"x\"\")\"\nb,2026-11-20T10:00:00Z,jdavis,update,''@SUM(1)\n"
	events, err := decodeAll(t, input, "csv")
	if err != nil {
		t.Fatal(err)
	}
	if events[0].Details != `=HYPERLINK("x")` || events[1].Details != "'@SUM(1)" {
		t.Errorf("details %q and %q", events[0].Details, events[1].Details)
	}
}
