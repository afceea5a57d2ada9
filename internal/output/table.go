package output

import (
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-runewidth"

	"github.com/audit-cli/audit/internal/audit"
)

const (
	// columnGap separates the columns of the terminal table, as kubectl
	// and gh do: no borders, no box drawing.
	columnGap = "  "
	// tableBufferRows bounds the rows the terminal table holds to measure
	// its columns. list shows 50 by default; past this many rows the table
	// is written with the widths measured so far, and later rows are
	// fitted to them, so memory stays bounded however much is listed.
	tableBufferRows = 1000
	// ellipsis marks truncated text.
	ellipsis = "…"
)

// column describes one column of the terminal table.
type column struct {
	header string
	// shrink orders the columns truncated to fit the width: 1 first, then
	// 2; 0 is never truncated.
	shrink int
	// min is the width a column is shrunk to before the next one is;
	// only then are they shrunk further, down to one cell.
	min int
	// fixed is the width in stream mode; 0 marks the column that takes
	// the rest of the terminal width.
	fixed int
}

var (
	tableColumns = []column{
		{header: "USER", shrink: 3, min: 6, fixed: 16},
		{header: "ACTION", shrink: 2, min: 16},
		{header: "RESOURCE", shrink: 1, min: 18, fixed: 20},
		{header: "IP ADDRESS", fixed: 15},
		{header: "TIME", fixed: 19},
	}
	wideColumns = []column{
		{header: "ID", fixed: 36},
		{header: "USER", fixed: 16},
		{header: "TYPE", fixed: 8},
		{header: "ACTION", min: 30},
		{header: "RESOURCE", fixed: 24},
		{header: "IP ADDRESS", fixed: 15},
		{header: "OUTCOME", fixed: 7},
		{header: "TIME", fixed: 19},
	}
)

// streamRestWidth is the width of the flexible column in stream mode when
// the terminal width is unknown.
const streamRestWidth = 40

// streamMinWidth is how narrow stream mode makes a truncatable fixed
// column on a narrow terminal.
const streamMinWidth = 10

// cell is one cell of the terminal table: escaped plain text, a suffix that
// is never truncated, and their colors (nil: plain).
type cell struct {
	text        string
	suffix      string
	style       *color.Color
	suffixStyle *color.Color
}

func (c cell) width() int { return runewidth.StringWidth(c.text) + runewidth.StringWidth(c.suffix) }

// styles are the colors of the table; all nil when color is off.
type styles struct {
	header, ip, failed, failedBold *color.Color
	types                          map[audit.Type]*color.Color
}

func newStyles(on bool) styles {
	if !on {
		return styles{}
	}
	c := func(attrs ...color.Attribute) *color.Color {
		s := color.New(attrs...)
		s.EnableColor() // opts.Color decides, not fatih/color's global
		return s
	}
	return styles{
		header:     c(color.Bold),
		ip:         c(color.Faint),
		failed:     c(color.FgRed),
		failedBold: c(color.FgRed, color.Bold),
		types: map[audit.Type]*color.Color{
			audit.TypeLogin:    c(color.FgCyan),
			audit.TypeLogout:   c(color.FgBlue),
			audit.TypeCreate:   c(color.FgGreen),
			audit.TypeUpdate:   c(color.FgYellow),
			audit.TypeDelete:   c(color.FgRed),
			audit.TypeSecurity: c(color.FgMagenta),
		},
	}
}

func paint(s *color.Color, text string) string {
	if s == nil || text == "" {
		return text
	}
	return s.Sprint(text)
}

// tablePrinter is the table (or wide) on a terminal, laid out like the web
// page's audit log: USER, ACTION, IP ADDRESS, TIME, columns aligned and
// separated by two spaces, times relative to today. It holds its rows until
// Close (at most tableBufferRows) to measure the columns, or, in stream
// mode, uses fixed widths and writes each row at once.
type tablePrinter struct {
	out      *sink
	opts     Options
	wide     bool
	cols     []column
	shrinks  []int // column indexes in the order they are truncated
	truncate bool
	styles   styles

	widths  []int    // column widths once laid out; nil before
	pending [][]cell // rows held until laid out
	header  bool     // a header is still to be written
	rowWs   []int    // scratch widths of one row
	closed  bool
}

func newTablePrinter(out *sink, opts Options, wide bool) (*tablePrinter, error) {
	p := &tablePrinter{
		out:    out,
		opts:   opts,
		wide:   wide,
		cols:   tableColumns,
		header: !opts.NoHeaders,
		styles: newStyles(opts.Color),
	}
	if wide {
		p.cols = wideColumns
	} else {
		p.truncate = opts.Width > 0
	}
	for rank := 1; rank <= 3; rank++ {
		for i, c := range p.cols {
			if c.shrink == rank {
				p.shrinks = append(p.shrinks, i)
			}
		}
	}
	if opts.Stream {
		p.widths = p.streamWidths()
		if p.header {
			if err := p.writeHeader(); err != nil {
				return nil, err
			}
		}
		if err := out.flush(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// streamWidths are the fixed widths of stream mode: every column its fixed
// width, the flexible one the rest of the terminal.
func (p *tablePrinter) streamWidths() []int {
	ws := make([]int, len(p.cols))
	rest, flex := p.opts.Width-len(columnGap)*(len(p.cols)-1), -1
	for i, c := range p.cols {
		if c.fixed == 0 {
			flex = i
			continue
		}
		ws[i] = c.fixed
		rest -= c.fixed
	}
	if flex >= 0 {
		if p.opts.Width > 0 && rest < p.cols[flex].min {
			// A narrow terminal: the truncatable fixed columns give up
			// cells, in their order, down to streamMinWidth.
			for _, i := range p.shrinks {
				if i == flex {
					continue
				}
				cut := min(p.cols[flex].min-rest, ws[i]-min(streamMinWidth, ws[i]))
				ws[i] -= cut
				rest += cut
			}
		}
		switch {
		case p.opts.Width <= 0:
			rest = max(streamRestWidth, p.cols[flex].min)
		case rest < p.cols[flex].min:
			rest = p.cols[flex].min
		}
		ws[flex] = rest
	}
	return ws
}

// layout measures the held rows and fits the columns to the width.
func (p *tablePrinter) layout() []int {
	ws := make([]int, len(p.cols))
	if p.header {
		for i, c := range p.cols {
			ws[i] = runewidth.StringWidth(c.header)
		}
	}
	for _, row := range p.pending {
		for i, c := range row {
			ws[i] = max(ws[i], c.width())
		}
	}
	if !p.truncate {
		return ws
	}
	total := len(columnGap) * (len(ws) - 1)
	for _, w := range ws {
		total += w
	}
	over := total - p.opts.Width
	// First each truncatable column down to its minimum, in order; then,
	// if that is not enough, down to one cell.
	for _, floor := range []func(c column) int{
		func(c column) int { return c.min },
		func(column) int { return 1 },
	} {
		for _, i := range p.shrinks {
			if over <= 0 {
				return ws
			}
			if cut := min(over, ws[i]-floor(p.cols[i])); cut > 0 {
				ws[i] -= cut
				over -= cut
			}
		}
	}
	return ws
}

func (p *tablePrinter) Print(e *audit.Event) error {
	if p.closed {
		return errClosed
	}
	row := p.cells(e)
	if p.widths != nil {
		if err := p.writeRow(row); err != nil {
			return err
		}
		return p.out.endEvent()
	}
	p.pending = append(p.pending, row)
	if len(p.pending) >= tableBufferRows {
		return p.writePending()
	}
	return nil
}

// writePending lays out the held rows and writes them with the header.
func (p *tablePrinter) writePending() error {
	p.widths = p.layout()
	if p.header {
		if err := p.writeHeader(); err != nil {
			return err
		}
	}
	for _, row := range p.pending {
		if err := p.writeRow(row); err != nil {
			return err
		}
	}
	p.pending = nil
	return nil
}

func (p *tablePrinter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if p.widths == nil && len(p.pending) > 0 {
		if err := p.writePending(); err != nil {
			return err
		}
	}
	return p.out.flush()
}

func (p *tablePrinter) writeHeader() error {
	p.header = false
	row := make([]cell, len(p.cols))
	for i, c := range p.cols {
		row[i] = cell{text: c.header, style: p.styles.header}
	}
	return p.writeRow(row)
}

// cells renders an event as the cells of one row.
func (p *tablePrinter) cells(e *audit.Event) []cell {
	// The action keeps its type's color; a failure is marked apart, so
	// that a failed login is not read as a delete.
	failed := e.Outcome == audit.OutcomeFailure
	user := cell{text: escapeDisplay(displayUser(e), false)}
	action := cell{text: escapeDisplay(ActionDetails(e), false), style: p.styles.types[e.Type]}
	resource := cell{text: escapeDisplay(ResourceText(e), false)}
	ip := cell{text: escapeDisplay(e.IP, false), style: p.styles.ip}
	when := cell{text: FormatDisplayTime(e.Time, p.opts.Now, p.opts.Location)}
	if !p.wide {
		if failed {
			action.suffix, action.suffixStyle = failedMark, p.styles.failedBold
		}
		return []cell{user, action, resource, ip, when}
	}
	outcome := cell{text: escapeDisplay(outcomeText(e), false)}
	if failed {
		outcome.style = p.styles.failedBold
	}
	return []cell{
		{text: escapeDisplay(e.ID, false)},
		user,
		{text: escapeDisplay(string(e.Type), false), style: p.styles.types[e.Type]},
		action,
		resource,
		ip,
		outcome,
		when,
	}
}

// writeRow writes one row padded to the column widths. A cell of a column
// that is never truncated may be wider than its column (an IPv6 address in
// stream mode, a later row once the widths are fixed): it pushes the rest of
// its row to the right, and when truncating, the truncatable columns of
// that row give up as many cells (less what the unpadded last cell leaves
// free), so the row still fits the width. The last cell is not padded: no
// trailing spaces.
func (p *tablePrinter) writeRow(row []cell) error {
	ws := append(p.rowWs[:0], p.widths...)
	p.rowWs = ws
	if p.truncate {
		excess := 0
		for i, c := range row {
			if p.cols[i].shrink == 0 {
				if w := c.width(); w > ws[i] {
					excess += w - ws[i]
					ws[i] = w
				}
			}
		}
		// The last column is not padded: what its cell leaves free is
		// room for the excess.
		if last := len(row) - 1; excess > 0 && p.cols[last].shrink == 0 {
			excess -= min(excess, ws[last]-row[last].width())
		}
		for _, i := range p.shrinks {
			if cut := min(excess, ws[i]-1); cut > 0 {
				ws[i] -= cut
				excess -= cut
			}
		}
	}
	var b strings.Builder
	pad := 0
	for i, c := range row {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", pad))
			b.WriteString(columnGap)
		}
		text, sw := c.text, runewidth.StringWidth(c.suffix)
		if p.truncate && p.cols[i].shrink > 0 {
			text = truncateWidth(text, max(ws[i]-sw, 1))
		}
		b.WriteString(paint(c.style, text))
		b.WriteString(paint(c.suffixStyle, c.suffix))
		pad = max(ws[i]-runewidth.StringWidth(text)-sw, 0)
	}
	line := strings.TrimRight(b.String(), " ") + "\n"
	_, err := p.out.WriteString(line)
	return err
}

// truncateWidth cuts s to at most w display cells, ending in "…" when cut.
func truncateWidth(s string, w int) string {
	if runewidth.StringWidth(s) <= w {
		return s
	}
	return runewidth.Truncate(s, w, ellipsis)
}
