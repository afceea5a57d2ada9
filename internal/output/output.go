// Package output prints audit events in the formats of -o/--output: the
// human table of a terminal (and its tab-separated form off a terminal),
// wide, csv, tsv, json, jsonl and Go templates. Printers stream: they write
// each event as it comes and hold none but the rows of one terminal table.
package output

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Formats lists the formats accepted by -o/--output; the first is the default.
var Formats = []string{"table", "wide", "csv", "tsv", "json", "jsonl", "template"}

// Options says how a Printer renders events.
type Options struct {
	// Format is one of Formats; "" means "table".
	Format string
	// WithRaw keeps the producer's original record (the raw field) in json
	// and jsonl; without it they have the other fields only.
	WithRaw bool
	// TTY tells that stdout is a terminal: the table is then aligned, with
	// relative times and truncated to Width; otherwise it is tab-separated.
	TTY bool
	// Color allows ANSI colors; only the table and wide formats on a TTY use it.
	Color bool
	// Width is the terminal width the table is truncated to; 0 or less: do
	// not truncate.
	Width int
	// Now is the time "Today" and "Yesterday" are relative to; zero means
	// time.Now() (tests pin it).
	Now time.Time
	// Location is the zone of displayed times; nil means time.Local.
	Location *time.Location
	// NoHeaders leaves out the header row of table, wide, csv and tsv.
	NoHeaders bool
	// Template is the Go text/template of the "template" format, executed
	// once per event; see New.
	Template string
	// Neutralize guards CSV cells against spreadsheet formula injection;
	// see the csv format in New. export sets it unless --raw is given.
	Neutralize bool
	// Fields, when set, chooses and orders the fields printed (see
	// ParseFields); table, wide, csv, tsv, json and jsonl honor it.
	Fields []string
	// JQ, when set, is a jq expression run on each event's JSON (or on the
	// array of them for json) whose results are printed instead; it
	// implies jsonl unless the format is json.
	JQ string
	// Stream is for output that follows a live log (watch): the table is
	// not buffered but laid out with fixed column widths, its header is
	// written at once, and every format flushes after each event.
	Stream bool
}

// Printer writes events one at a time in one format.
type Printer interface {
	// Print writes one event (the terminal table may hold it until Close).
	Print(e *audit.Event) error
	// Close writes what is pending (the table, the closing ']' of json)
	// and flushes. It must be called once all events are printed.
	Close() error
}

// errClosed is returned by a Printer used after Close.
var errClosed = errors.New("output: printer is closed")

// New returns a Printer writing to w in opts.Format:
//
//   - table: on a terminal (opts.TTY), the columns USER, ACTION, IP ADDRESS
//     and TIME aligned with two spaces, times as "Today, 2:34 PM", ACTION
//     colored by type and truncated with "…" so rows fit opts.Width; off a
//     terminal, the same columns separated by tabs, USER as the login and
//     TIME in RFC 3339 UTC, with no color and no truncation.
//   - wide: the table with the columns ID, USER, TYPE, ACTION, IP ADDRESS,
//     OUTCOME and TIME, never truncated.
//   - csv: RFC 4180 with the header audit.Fields, optionally neutralized.
//   - tsv: the audit.Fields separated by tabs, with `\`, tab, CR and LF in
//     values escaped as `\\`, `\t`, `\r`, `\n`, one line per event.
//   - json: one array, written as it goes: "[", the events separated by
//     ",\n", then "]\n"; no events give "[]\n".
//   - jsonl: one JSON object per line.
//   - template: opts.Template, a Go text/template, executed per event with
//     the audit.Event (time in UTC) as data: {{.User}}, {{.ResourceType}};
//     besides the builtins it may call time (RFC 3339 UTC: {{time .Time}}),
//     json ({{json .}}), action (ActionText) and humanize
//     (HumanizeResourceType). An event's output that does not end in a
//     newline gets one; an event for which the template prints nothing
//     prints no line.
//
// On a terminal (opts.TTY) every format escapes control characters in the
// data so it cannot drive the terminal (see escapeDisplay): table and wide
// always, csv, tsv, json, jsonl and template only then; piped, those keep
// the data exact (tsv escaping its separators). Neutralize applies to csv
// and tsv. Output is buffered and flushed by Close, and after every
// event when opts.Stream is set; when w has a Flush method (a bufio.Writer,
// an http.ResponseWriter) it is flushed too.
func New(w io.Writer, opts Options) (Printer, error) {
	format := strings.ToLower(strings.TrimSpace(opts.Format))
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	out := newSink(w, opts.Stream)
	if opts.JQ != "" {
		if format != "json" && format != "jsonl" && format != "" && format != "table" {
			return nil, fmt.Errorf("--jq works on JSON: give -o json or -o jsonl (or neither), not -o %s", format)
		}
		return newJQPrinter(out, format, opts)
	}
	if len(opts.Fields) > 0 {
		switch format {
		case "", "table", "wide", "csv", "tsv", "json", "jsonl":
			return newFieldsPrinter(out, format, opts)
		}
		return nil, fmt.Errorf("--fields is for -o table, wide, csv, tsv, json and jsonl, not -o %s", format)
	}
	switch format {
	case "", "table", "wide":
		wide := format == "wide"
		if opts.TTY {
			return newTablePrinter(out, opts, wide)
		}
		return newPlainTablePrinter(out, opts, wide)
	case "csv":
		return newCSVPrinter(out, opts)
	case "tsv":
		return newTSVPrinter(out, opts)
	case "json":
		return newJSONPrinter(out, false, opts), nil
	case "jsonl":
		return newJSONPrinter(out, true, opts), nil
	case "template":
		return newTemplatePrinter(out, opts)
	}
	return nil, fmt.Errorf("unknown output format %q (accepted: %s)", opts.Format, strings.Join(Formats, ", "))
}

// sink is the buffered writer under every printer.
type sink struct {
	*bufio.Writer
	under  io.Writer
	stream bool
}

func newSink(w io.Writer, stream bool) *sink {
	return &sink{Writer: bufio.NewWriter(w), under: w, stream: stream}
}

// flush writes out the buffer and flushes the writer under it, if it can be.
func (s *sink) flush() error {
	if err := s.Writer.Flush(); err != nil {
		return err
	}
	if s.under == io.Writer(s.Writer) {
		return nil
	}
	switch f := s.under.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

// endEvent is called after each event: streams are flushed at once.
func (s *sink) endEvent() error {
	if s.stream {
		return s.flush()
	}
	return nil
}
