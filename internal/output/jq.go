package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/itchyny/gojq"

	"github.com/audit-cli/audit/internal/audit"
)

// ParseJQ compiles a --jq expression, with jq's own error worded for the
// command line.
func ParseJQ(expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid --jq expression %q: %v", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("invalid --jq expression %q: %v", expr, err)
	}
	return code, nil
}

// jqPrinter runs a jq expression on each event as -o jsonl prints it
// (or, for -o json, once on the array of them all) and prints each
// result as jq -r would: a string as its text, anything else as compact
// JSON, one a line.
type jqPrinter struct {
	out    *sink
	code   *gojq.Code
	expr   string
	json   *jsonPrinter
	all    []any // -o json: the events, for one run at Close
	array  bool
	tty    bool
	closed bool
}

func newJQPrinter(out *sink, format string, opts Options) (*jqPrinter, error) {
	code, err := ParseJQ(opts.JQ)
	if err != nil {
		return nil, err
	}
	p := &jqPrinter{out: out, code: code, expr: opts.JQ, array: format == "json", tty: opts.TTY}
	p.json = newJSONPrinter(out, true, opts)
	return p, nil
}

func (p *jqPrinter) Print(e *audit.Event) error {
	if p.closed {
		return errClosed
	}
	if err := p.json.encodeEvent(e); err != nil {
		return err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(p.json.buf.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if p.array {
		p.all = append(p.all, normalizeNumbers(v))
		return nil
	}
	if err := p.run(normalizeNumbers(v)); err != nil {
		return err
	}
	return p.out.endEvent()
}

// run prints the results of the expression on v.
func (p *jqPrinter) run(v any) error {
	iter := p.code.Run(v)
	for {
		r, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, isErr := r.(error); isErr {
			if he, halt := err.(*gojq.HaltError); halt && he.Value() == nil {
				return nil
			}
			return &jqError{fmt.Sprintf("--jq %s: %v", p.expr, err)}
		}
		var line string
		if s, isString := r.(string); isString {
			line = s
		} else {
			b, err := gojq.Marshal(r)
			if err != nil {
				return &jqError{fmt.Sprintf("--jq %s: %v", p.expr, err)}
			}
			line = string(b)
		}
		if p.tty {
			line = escapeKeepLayout(line)
		}
		if _, err := p.out.WriteString(strings.TrimSuffix(line, "\n") + "\n"); err != nil {
			return err
		}
	}
}

func (p *jqPrinter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if p.array {
		all := p.all
		if all == nil {
			all = []any{}
		}
		if err := p.run(all); err != nil {
			return err
		}
	}
	return p.out.flush()
}

// normalizeNumbers turns json.Number into the int or float64 gojq works
// with, so that seq stays an exact integer.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	}
	return v
}

// jqError is the expression failing on an event: bad input to the command
// (exit 2), as jq's own errors are.
type jqError struct{ msg string }

func (e *jqError) Error() string        { return e.msg }
func (e *jqError) Is(target error) bool { return target == audit.ErrInvalid }
