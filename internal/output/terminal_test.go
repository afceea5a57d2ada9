package output

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// hostileEvent carries what must never reach a terminal raw: ESC and BEL
// (escape sequences), CR (overwrites the line), a C1 control and a bidi
// override (reorders what is shown), and a formula-leading cell.
func hostileEvent() audit.Event {
	return audit.Event{ID: "h-1", Seq: 1, Time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		User: "mallory", Type: audit.TypeUpdate, Action: "=HYPERLINK(\"http://x\")",
		Resource: "srv\x1b[2J\x07", Details: "ok\rEVIL \u009b \u202etxt.exe", Outcome: audit.OutcomeSuccess}
}

func TestEveryFormatEscapesControlsOnATerminal(t *testing.T) {
	for _, format := range []string{"csv", "tsv", "json", "jsonl", "template"} {
		t.Run(format, func(t *testing.T) {
			opts := Options{Format: format, TTY: true, Template: "{{.Resource}}\t{{.Details}}"}
			out := render(t, opts, []audit.Event{hostileEvent()})
			for _, bad := range []string{"\x1b", "\x07", "\r", "\u009b", "\u202e"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s on a terminal printed %q raw:\n%q", format, bad, out)
				}
			}
			if format == "json" || format == "jsonl" {
				var v any
				line := strings.TrimSpace(out)
				if format == "jsonl" {
					line = strings.Split(line, "\n")[0]
				}
				if err := json.Unmarshal([]byte(line), &v); err != nil {
					t.Errorf("escaped %s is no longer JSON: %v\n%s", format, err, out)
				}
			}
			if format == "template" && !strings.Contains(out, "\t") {
				t.Errorf("the template's own tab was escaped: %q", out)
			}
		})
	}
}

func TestPipedFormatsKeepTheBytes(t *testing.T) {
	e := hostileEvent()
	for _, format := range []string{"csv", "jsonl", "template"} {
		out := render(t, Options{Format: format, Template: "{{.Details}}"}, []audit.Event{e})
		if !strings.Contains(out, "\u202e") || !strings.Contains(out, "\u009b") {
			t.Errorf("%s piped changed the data: %q", format, out)
		}
	}
}

func TestNeutralizeCSVAndTSV(t *testing.T) {
	for _, format := range []string{"csv", "tsv"} {
		out := render(t, Options{Format: format, Neutralize: true, NoHeaders: true}, []audit.Event{hostileEvent()})
		if !strings.Contains(out, `'=HYPERLINK`) {
			t.Errorf("%s neutralised: %q, want the formula cell quoted", format, out)
		}
		out = render(t, Options{Format: format, NoHeaders: true}, []audit.Event{hostileEvent()})
		if strings.Contains(out, `'=HYPERLINK`) {
			t.Errorf("%s raw: %q, want the cell as recorded", format, out)
		}
	}
}
