package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/suggest"
)

// templateFuncs are the functions a --template may call besides the
// builtins: {{time .Time}} gives RFC 3339 UTC, {{json .}} or {{json
// .Details}} gives JSON without HTML escaping, {{action .}} gives the
// ACTION column's text, and {{humanize .ResourceType}} the resource type
// in words.
var templateFuncs = template.FuncMap{
	"time": audit.FormatTime,
	"json": func(v any) (string, error) {
		// An event prints as -o json prints it.
		switch e := v.(type) {
		case *audit.Event:
			c := *e
			c.Source = c.SourceName()
			v = &c
		case audit.Event:
			e.Source = e.SourceName()
			v = e
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	"action":   ActionText,
	"humanize": HumanizeResourceType,
}

// templatePrinter executes a Go text/template per event. The data is the
// audit.Event, its time in UTC, so fields are named as in Go: {{.User}},
// {{.UserName}}, {{.ResourceType}}. What it prints for an event ends with a
// newline, added when the template gives none, so each event ends its line;
// an event for which it prints nothing prints no line (a template can
// select).
type templatePrinter struct {
	out    *sink
	tmpl   *template.Template
	buf    bytes.Buffer
	tty    bool
	closed bool
}

func newTemplatePrinter(out *sink, opts Options) (*templatePrinter, error) {
	if opts.Template == "" {
		return nil, fmt.Errorf("the template output format needs a template (--template)")
	}
	tmpl, err := template.New("output").Funcs(templateFuncs).Parse(opts.Template)
	if err != nil {
		return nil, templateError(err)
	}
	// A trial on an event with every field set finds a misspelt field
	// before anything is printed (one in a branch it does not take is
	// found when an event takes it).
	if err := tmpl.Execute(io.Discard, &sampleEvent); err != nil {
		return nil, templateError(err)
	}
	return &templatePrinter{out: out, tmpl: tmpl, tty: opts.TTY}, nil
}

// templateFields are the fields a template can name, as Go spells them.
var templateFields = []string{".ID", ".Seq", ".Time", ".User", ".UserName", ".Type", ".Action",
	".ResourceType", ".Resource", ".Details", ".IP", ".Outcome", ".Hash", ".Source", ".Raw"}

// sampleEvent has every field set, for the trial run of a template.
var sampleEvent = audit.Event{ID: "id", Seq: 1, Time: time.Unix(0, 0).UTC(), User: "u", UserName: "U",
	Type: audit.TypeLogin, Action: "a", ResourceType: "r", Resource: "r", Details: "d", IP: "192.0.2.1",
	Outcome: audit.OutcomeSuccess, Hash: "h", Source: audit.SourceAudit, Raw: []byte(`{}`)}

var (
	unknownField  = regexp.MustCompile(`can't evaluate field (\w+) in type \*?audit\.Event`)
	templateWhere = regexp.MustCompile(`^template: output:(\d+)(?::\d+)?: (?:executing "output" at <[^>]*>: )?`)
)

// templateError words text/template's errors for users: the unknown field
// with the nearest known one and the list, and a line number instead of
// Go's names.
func templateError(err error) error {
	msg := err.Error()
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		list := strings.Join(templateFields, ", ")
		if hint := suggest.Hint("."+m[1], templateFields); hint != "" {
			return fmt.Errorf("--template: unknown field .%s: %s (fields: %s)", m[1], hint, list)
		}
		return fmt.Errorf("--template: unknown field .%s (fields: %s)", m[1], list)
	}
	if m := templateWhere.FindStringSubmatch(msg); m != nil {
		msg = "line " + m[1] + ": " + msg[len(m[0]):]
	}
	return fmt.Errorf("--template: %s", msg)
}

func (p *templatePrinter) Print(e *audit.Event) error {
	if p.closed {
		return errClosed
	}
	p.buf.Reset()
	ev := *e
	ev.Time = ev.Time.UTC()
	// Executed into a buffer so that a failing event prints nothing of itself.
	if err := p.tmpl.Execute(&p.buf, &ev); err != nil {
		return templateError(err)
	}
	if p.buf.Len() == 0 {
		return nil
	}
	if !bytes.HasSuffix(p.buf.Bytes(), []byte("\n")) {
		p.buf.WriteByte('\n')
	}
	b := p.buf.Bytes()
	if p.tty {
		b = []byte(escapeKeepLayout(string(b)))
	}
	if _, err := p.out.Write(b); err != nil {
		return err
	}
	return p.out.endEvent()
}

func (p *templatePrinter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	return p.out.flush()
}
