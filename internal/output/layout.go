package output

import (
	"fmt"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-runewidth"

	"github.com/audit-cli/audit/internal/audit"
)

// minPanelWidth is the narrowest a panel of the review gets side by side;
// maxPanelLabel is the widest its labels get, however wide the terminal,
// so that a long resource name does not push the numbers of every panel
// away from their labels.
const (
	minPanelWidth = 34
	maxPanelLabel = 36
)

// panel is one list of the review: a title over labels, events and
// failures.
type panel struct {
	title, numbers string
	rows           []panelRow
}

type panelRow struct {
	label          cell
	events, failed int64
	blank          bool // no numbers
}

// listPanel makes the panel of a top list, with a last row that sums up
// the groups left out.
func listPanel(title, numbers string, l ReviewList, st styles, label func(audit.StatsRow) cell) panel {
	p := panel{title: title, numbers: numbers}
	var events, failed int64
	for _, row := range l.Rows {
		p.rows = append(p.rows, panelRow{label: label(row), events: row.Events, failed: row.Failed})
		events += row.Events
		failed += row.Failed
	}
	if more := l.Groups - int64(len(l.Rows)); more > 0 {
		p.rows = append(p.rows, panelRow{label: cell{text: GroupDigits(more) + " more", style: st.ip},
			events: l.Total - events, failed: l.Failed - failed})
	}
	return p
}

// natural is the width the panel needs to show its labels untruncated.
func (p panel) natural() int {
	lw := runewidth.StringWidth(p.title)
	for _, r := range p.rows {
		lw = max(lw, r.label.width())
	}
	return min(lw, maxPanelLabel) + 4 + p.numbersWidth()
}

// numbersWidth is the width of the two number columns.
func (p panel) numbersWidth() int {
	ew, fw := p.columnWidths()
	return ew + fw
}

func (p panel) columnWidths() (ew, fw int) {
	ew, fw = runewidth.StringWidth(p.numbers), len("FAILED")
	for _, r := range p.rows {
		ew = max(ew, len(GroupDigits(r.events)))
		fw = max(fw, len(GroupDigits(r.failed)))
	}
	return ew, fw
}

// render lays the panel out in exactly width cells a line (the last line
// of a side-by-side pair is padded by the caller).
func (p panel) render(width int, st styles) []string {
	ew, fw := p.columnWidths()
	lw := max(width-ew-fw-4, 4)
	line := func(label cell, events, failed string, failedStyle *color.Color) string {
		text := truncateWidth(label.text, lw)
		s := paint(label.style, text) + strings.Repeat(" ", lw-runewidth.StringWidth(text))
		if events == "" && failed == "" {
			return s
		}
		return s + "  " + padLeft(events, ew) + "  " + strings.Repeat(" ", fw-len(failed)) + paint(failedStyle, failed)
	}
	head := paint(st.header, truncateWidth(p.title, lw)) + strings.Repeat(" ", max(lw-runewidth.StringWidth(p.title), 0)) +
		"  " + paint(st.header, padLeft(p.numbers, ew)) + "  " + paint(st.header, padLeft("FAILED", fw))
	lines := []string{head}
	for _, r := range p.rows {
		if r.blank {
			lines = append(lines, line(r.label, "", "", nil))
			continue
		}
		var fs *color.Color
		if r.failed > 0 {
			fs = st.failed
		}
		lines = append(lines, line(r.label, GroupDigits(r.events), GroupDigits(r.failed), fs))
	}
	return lines
}

// fitList joins names with ", " in at most width cells (0: no limit): all
// of them when they fit, else as many as fit and "+N more".
func fitList(names []string, width int) string {
	esc := make([]string, len(names))
	for i, n := range names {
		esc[i] = escapeDisplay(n, false)
	}
	all := strings.Join(esc, ", ")
	if width <= 0 || runewidth.StringWidth(all) <= width {
		return all
	}
	for k := len(esc) - 1; k >= 1; k-- {
		s := strings.Join(esc[:k], ", ") + fmt.Sprintf(", +%d more", len(esc)-k)
		if runewidth.StringWidth(s) <= width {
			return s
		}
	}
	return fmt.Sprintf("%d %s", len(esc), "in all")
}

// gridCol is a column of a terminal grid.
type gridCol struct {
	header string
	right  bool // aligned right (numbers)
	shrink bool // truncated when the grid is wider than the terminal
}

// grid is a small aligned table for a terminal: columns two spaces apart,
// a bold header, shrinkable columns truncated with "…" to fit the width.
type grid struct {
	cols     []gridCol
	rows     [][]cell
	st       styles
	noHeader bool
}

// lines renders the grid; used is the width of its widest line.
func (g *grid) lines(width int) (lines []string, used int) {
	ws := make([]int, len(g.cols))
	if !g.noHeader {
		for i, c := range g.cols {
			ws[i] = runewidth.StringWidth(c.header)
		}
	}
	for _, r := range g.rows {
		for i, c := range r {
			ws[i] = max(ws[i], c.width())
		}
	}
	total := len(columnGap) * (len(ws) - 1)
	for _, w := range ws {
		total += w
	}
	if width > 0 && total > width {
		// Shrink the widest shrinkable column first, down to 6 cells.
		for over := total - width; over > 0; {
			wi := -1
			for i, c := range g.cols {
				if c.shrink && ws[i] > 6 && (wi < 0 || ws[i] > ws[wi]) {
					wi = i
				}
			}
			if wi < 0 {
				break
			}
			cut := min(over, ws[wi]-6)
			ws[wi] -= cut
			over -= cut
			total -= cut
		}
	}
	render := func(row []cell) string {
		var b strings.Builder
		for i, c := range row {
			if i > 0 {
				b.WriteString(columnGap)
			}
			text := c.text
			if g.cols[i].shrink {
				text = truncateWidth(text, ws[i])
			}
			pad := strings.Repeat(" ", max(ws[i]-runewidth.StringWidth(text), 0))
			if g.cols[i].right {
				b.WriteString(pad + paint(c.style, text))
			} else {
				b.WriteString(paint(c.style, text) + pad)
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	if !g.noHeader {
		row := make([]cell, len(g.cols))
		for i, c := range g.cols {
			row[i] = cell{text: c.header, style: g.st.header}
		}
		lines = append(lines, render(row))
	}
	for _, r := range g.rows {
		lines = append(lines, render(r))
	}
	return lines, total
}

func padLeft(s string, w int) string {
	return strings.Repeat(" ", max(w-runewidth.StringWidth(s), 0)) + s
}

// padRight pads s, which may hold ANSI colors, to w display cells.
func padRight(s string, w int) string {
	return s + strings.Repeat(" ", max(w-visibleWidth(s), 0))
}

// visibleWidth is the display width of s without its ANSI color codes.
func visibleWidth(s string) int {
	n, esc := 0, false
	var plain strings.Builder
	for _, r := range s {
		switch {
		case esc:
			if r == 'm' {
				esc = false
			}
		case r == '\x1b':
			esc = true
		default:
			plain.WriteRune(r)
		}
	}
	n = runewidth.StringWidth(plain.String())
	return n
}
