package output

import (
	"math"
	"strings"

	"github.com/fatih/color"

	"github.com/audit-cli/audit/internal/audit"
)

// eighths are the left-aligned partial blocks of 1/8 to 7/8 of a cell, which
// give a bar a resolution of an eighth of a cell.
var eighths = []string{"▏", "▎", "▍", "▌", "▋", "▊", "▉"}

const fullBlock = "█"

// legendMark is the colored square of a chart's legend.
const legendMark = "■"

// chartStyles are the styles of stats output: the table's, but with logout
// blue, so that each type of a stacked bar has a color of its own (the
// event table shows logins and logouts alike in cyan).
func chartStyles(on bool) styles {
	st := newStyles(on)
	if !on {
		return st
	}
	types := make(map[audit.Type]*color.Color, len(st.types))
	for t, c := range st.types {
		types[t] = c
	}
	blue := color.New(color.FgBlue)
	blue.EnableColor()
	types[audit.TypeLogout] = blue
	st.types = types
	return st
}

// bar draws n of max as a horizontal bar of at most width cells, to an
// eighth of a cell; any n > 0 shows at least an eighth. With types colors
// (styles.types set) and the counts per type (parallel to audit.Types), its
// cells are colored by the type whose share of the bar they fall in: a
// stacked bar, types in the order of audit.Types. The result has no
// trailing spaces.
func bar(n, maxN int64, width int, byType []int64, st styles) string {
	if n <= 0 || maxN <= 0 || width <= 0 {
		return ""
	}
	units := int(math.Round(float64(n) / float64(maxN) * float64(width*8)))
	units = max(min(units, width*8), 1)
	cells := (units + 7) / 8
	glyph := func(c int) string {
		if rest := units - 8*c; rest < 8 {
			return eighths[rest-1]
		}
		return fullBlock
	}
	if st.types == nil || len(byType) != len(audit.Types) {
		var b strings.Builder
		for c := range cells {
			b.WriteString(glyph(c))
		}
		return b.String()
	}
	// Each cell takes the color of the type at its middle, in count space.
	var b strings.Builder
	var run strings.Builder
	var runStyle *color.Color
	flush := func() {
		b.WriteString(paint(runStyle, run.String()))
		run.Reset()
	}
	for c := range cells {
		lo, hi := 8*c, min(8*c+8, units)
		mid := float64(lo+hi) / 2 / float64(units) * float64(n)
		style := typeAt(mid, byType, st)
		if style != runStyle && run.Len() > 0 {
			flush()
		}
		runStyle = style
		run.WriteString(glyph(c))
	}
	flush()
	return b.String()
}

// typeAt is the style of the type whose cumulative range of counts holds x.
func typeAt(x float64, byType []int64, st styles) *color.Color {
	var cum float64
	last := -1
	for i, n := range byType {
		if n == 0 {
			continue
		}
		last = i
		cum += float64(n)
		if x < cum {
			return st.types[audit.Types[i]]
		}
	}
	if last >= 0 {
		return st.types[audit.Types[last]]
	}
	return nil
}

// legend is the key of a colored chart: "■ login ■ logout …", each square
// in its type's color; "" without color.
func legend(st styles) string {
	if st.types == nil {
		return ""
	}
	parts := make([]string, len(audit.Types))
	for i, t := range audit.Types {
		parts[i] = paint(st.types[t], legendMark) + " " + string(t)
	}
	return strings.Join(parts, " ")
}

// legendWidth is the display width of legend.
func legendWidth() int {
	w := 0
	for _, t := range audit.Types {
		w += 3 + len(t) // "■ " + name + " "
	}
	return w - 1
}
