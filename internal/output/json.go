package output

import (
	"bytes"
	"encoding/json"

	"github.com/audit-cli/audit/internal/audit"
)

// jsonPrinter writes json (one streamed array) or jsonl (one object a line).
// Each object has exactly the fields of audit.Fields, in that order (and
// raw, the producer's record, last when WithRaw asks for it), the
// time in RFC 3339 UTC; HTML characters are not escaped, so details such as
// "CPU > 80%" read as they were recorded.
type jsonPrinter struct {
	out    *sink
	lines  bool
	buf    bytes.Buffer
	enc    *json.Encoder
	n      int
	tty    bool
	raw    bool
	closed bool
}

func newJSONPrinter(out *sink, lines bool, opts Options) *jsonPrinter {
	p := &jsonPrinter{out: out, lines: lines, tty: opts.TTY, raw: opts.WithRaw}
	p.enc = json.NewEncoder(&p.buf)
	p.enc.SetEscapeHTML(false)
	return p
}

// encodeEvent encodes e into p.buf, ending in a newline.
func (p *jsonPrinter) encodeEvent(e *audit.Event) error {
	p.buf.Reset()
	ev := *e
	ev.Time = ev.Time.UTC()
	ev.Source = ev.SourceName()
	if !p.raw {
		ev.Raw = nil
	}
	return p.enc.Encode(&ev)
}

func (p *jsonPrinter) Print(e *audit.Event) error {
	if p.closed {
		return errClosed
	}
	if err := p.encodeEvent(e); err != nil {
		return err
	}
	b := p.buf.Bytes()
	if !p.lines {
		b = b[:len(b)-1] // the separator or the closing bracket ends the line
		sep := ",\n"
		if p.n == 0 {
			sep = "["
		}
		if _, err := p.out.WriteString(sep); err != nil {
			return err
		}
	}
	if p.tty {
		// encoding/json escapes C0 controls but not C1 controls or bidi
		// overrides; their \uNNNN escapes keep the line valid JSON.
		b = []byte(escapeKeepLayout(string(b)))
	}
	if _, err := p.out.Write(b); err != nil {
		return err
	}
	p.n++
	return p.out.endEvent()
}

func (p *jsonPrinter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if !p.lines {
		end := "]\n"
		if p.n == 0 {
			end = "[]\n"
		}
		if _, err := p.out.WriteString(end); err != nil {
			return err
		}
	}
	return p.out.flush()
}
