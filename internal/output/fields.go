package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/suggest"
)

// ParseFields reads --fields: event field names (audit.Fields, and raw
// for json and jsonl), comma-separated, in the order to print them.
func ParseFields(s string) ([]string, error) {
	known := append(slices.Clone(audit.Fields), "raw")
	var fields []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !slices.Contains(known, f) {
			if hint := suggest.Hint(f, known); hint != "" {
				return nil, fmt.Errorf("unknown field %q: %s (fields: %s)", f, hint, strings.Join(known, ", "))
			}
			return nil, fmt.Errorf("unknown field %q (fields: %s)", f, strings.Join(known, ", "))
		}
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("no field named (fields: %s)", strings.Join(known, ", "))
	}
	return fields, nil
}

// fieldsPrinter prints the chosen fields of each event, in their order:
// a table (aligned on a terminal, tab-separated otherwise), CSV, TSV, or
// JSON objects with those keys only.
type fieldsPrinter struct {
	out    *sink
	format string
	fields []string
	index  []int // into audit.Fields, -1 for raw
	opts   Options
	csv    *csv.Writer
	tab    *tabwriter.Writer
	json   *jsonPrinter
	n      int
	closed bool
}

func newFieldsPrinter(out *sink, format string, opts Options) (*fieldsPrinter, error) {
	p := &fieldsPrinter{out: out, format: format, fields: opts.Fields, opts: opts}
	for _, f := range opts.Fields {
		if f == "raw" && format != "json" && format != "jsonl" {
			return nil, fmt.Errorf("--fields raw is for -o json and -o jsonl")
		}
		p.index = append(p.index, slices.Index(audit.Fields, f))
	}
	header := make([]string, len(p.fields))
	for i, f := range p.fields {
		header[i] = strings.ToUpper(f)
	}
	switch format {
	case "csv":
		p.csv = csv.NewWriter(out)
		if !opts.NoHeaders {
			return p, p.csv.Write(p.fields)
		}
	case "tsv":
		if !opts.NoHeaders {
			return p, writeTSVLine(out, p.fields, nil)
		}
	case "json", "jsonl":
		p.json = newJSONPrinter(out, format == "jsonl", opts)
		p.json.raw = slices.Contains(p.fields, "raw")
	default: // table, wide
		if opts.TTY {
			p.tab = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			if !opts.NoHeaders {
				fmt.Fprintln(p.tab, strings.Join(header, "\t"))
			}
		} else if !opts.NoHeaders {
			return p, writeTSVLine(out, header, nil)
		}
	}
	return p, nil
}

// values are the chosen fields of e as text.
func (p *fieldsPrinter) values(e *audit.Event) []string {
	all := e.Values()
	rec := make([]string, len(p.index))
	for i, k := range p.index {
		rec[i] = all[k]
	}
	return rec
}

func (p *fieldsPrinter) Print(e *audit.Event) error {
	if p.closed {
		return errClosed
	}
	switch {
	case p.json != nil:
		return p.printJSON(e)
	case p.csv != nil:
		rec := p.values(e)
		neutralizeChosen(rec, p.index, p.opts.Neutralize)
		if p.opts.TTY {
			for i := range rec {
				rec[i] = escapeDisplay(rec[i], false)
			}
		}
		if err := p.csv.Write(rec); err != nil {
			return err
		}
		if p.out.stream {
			p.csv.Flush()
		}
	case p.format == "tsv":
		rec := p.values(e)
		neutralizeChosen(rec, p.index, p.opts.Neutralize)
		escape := tsvEscaper.Replace
		if p.opts.TTY {
			escape = func(s string) string { return escapeDisplay(s, true) }
		}
		if err := writeTSVLine(p.out, rec, escape); err != nil {
			return err
		}
	case p.tab != nil:
		rec := p.values(e)
		for i, k := range p.index {
			if audit.Fields[k] == "time" {
				rec[i] = FormatDisplayTime(e.Time, p.opts.Now, p.opts.Location)
			}
			rec[i] = escapeDisplay(rec[i], true)
		}
		fmt.Fprintln(p.tab, strings.Join(rec, "\t"))
		if p.out.stream {
			p.tab.Flush()
		}
	default:
		if err := writeTSVLine(p.out, p.values(e), tsvEscaper.Replace); err != nil {
			return err
		}
	}
	return p.out.endEvent()
}

// printJSON writes an object of the chosen keys, in their order, each
// value as -o json encodes it.
func (p *fieldsPrinter) printJSON(e *audit.Event) error {
	if err := p.json.encodeEvent(e); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(p.json.buf.Bytes(), &all); err != nil {
		return err
	}
	var b bytes.Buffer
	if !p.json.lines {
		if p.n == 0 {
			b.WriteString("[")
		} else {
			b.WriteString(",\n")
		}
	}
	b.WriteByte('{')
	for i, f := range p.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(f)
		b.Write(key)
		b.WriteByte(':')
		if v, ok := all[f]; ok {
			b.Write(v)
		} else {
			b.WriteString("null")
		}
	}
	b.WriteByte('}')
	if p.json.lines {
		b.WriteByte('\n')
	}
	out := b.Bytes()
	if p.opts.TTY {
		out = []byte(escapeKeepLayout(string(out)))
	}
	if _, err := p.out.Write(out); err != nil {
		return err
	}
	p.n++
	return p.out.endEvent()
}

func (p *fieldsPrinter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	switch {
	case p.json != nil && !p.json.lines:
		if p.n == 0 {
			p.out.WriteString("[]\n")
		} else {
			p.out.WriteString("]\n")
		}
	case p.csv != nil:
		p.csv.Flush()
		if err := p.csv.Error(); err != nil {
			return err
		}
	case p.tab != nil:
		if err := p.tab.Flush(); err != nil {
			return err
		}
	}
	return p.out.flush()
}

// neutralizeChosen neutralizes the chosen values as neutralizeValues does
// a whole record.
func neutralizeChosen(rec []string, index []int, on bool) {
	if !on {
		return
	}
	for i, k := range index {
		if !csvUnneutralized[k] {
			rec[i] = NeutralizeCell(rec[i])
		}
	}
}
