package output

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// PrintStatsTable writes the grouped counts of `audit stats --by` in
// opts.Format, rows in the order given:
//
//   - table on a terminal: a column per dimension (days with their
//     weekday, hours as local clock times), EVENTS, FAILED, and a bar of
//     the events scaled to the largest group, colored by type when one
//     dimension is the type; text truncated to opts.Width.
//   - table off a terminal and tsv: the dimensions' names in capitals (in
//     lower case for tsv), then the rows, tab-separated, keys as the
//     canonical keys of audit.Dimension, plain numbers, one row a line.
//   - csv: the same with the dimension names as header; json: an array of
//     objects {"user": …, "type": …, "events": n, "failed": n}; jsonl: one
//     such object a line.
func PrintStatsTable(w io.Writer, by []audit.Dimension, rows []audit.StatsRow, opts Options) error {
	opts = statsDefaults(opts)
	out := newSink(w, false)
	header := make([]string, 0, len(by)+2)
	for _, d := range by {
		header = append(header, string(d))
	}
	header = append(header, "events", "failed")
	records := make([][]string, len(rows))
	for i, r := range rows {
		records[i] = append(append([]string{}, r.Keys...), strconv.FormatInt(r.Events, 10), strconv.FormatInt(r.Failed, 10))
	}
	var err error
	switch opts.Format {
	case "table":
		if opts.TTY {
			err = writeLines(out, statsTableTTY(by, rows, opts))
		} else {
			err = writeRecords(out, "tsv", opts.NoHeaders, upperAll(header), records)
		}
	case "csv", "tsv":
		err = writeRecords(out, opts.Format, opts.NoHeaders, header, records)
	case "json", "jsonl":
		objs := make([]jsonObject, len(rows))
		for i, r := range rows {
			objs[i] = rowObject(by, r)
		}
		err = writeJSONAs(out, opts.Format, objs)
	default:
		err = statsFormatError(opts.Format)
	}
	if err != nil {
		return err
	}
	return out.flush()
}

// upperAll returns the names in capitals: the header of a piped table.
func upperAll(names []string) []string {
	upper := make([]string, len(names))
	for i, n := range names {
		upper[i] = strings.ToUpper(n)
	}
	return upper
}

// rowObject is a row as JSON: each key under its dimension's name, then
// events and failed.
func rowObject(by []audit.Dimension, r audit.StatsRow) jsonObject {
	o := make(jsonObject, 0, len(by)+2)
	for i, d := range by {
		v := ""
		if i < len(r.Keys) {
			v = r.Keys[i]
		}
		o = append(o, jsonField{string(d), v})
	}
	return append(o, jsonField{"events", r.Events}, jsonField{"failed", r.Failed})
}

func statsTableTTY(by []audit.Dimension, rows []audit.StatsRow, opts Options) []string {
	st := chartStyles(opts.Color)
	width := opts.Width
	typeCol := -1
	g := grid{st: st, noHeader: opts.NoHeaders}
	for i, d := range by {
		g.cols = append(g.cols, gridCol{header: dimensionHeader(d), shrink: !d.IsTime() && d != audit.DimType && d != audit.DimOutcome})
		if d == audit.DimType {
			typeCol = i
		}
	}
	g.cols = append(g.cols, gridCol{header: "EVENTS", right: true}, gridCol{header: "FAILED", right: true})
	labels := timeLabels(by, rows, opts)
	var maxN int64
	for ri, r := range rows {
		row := make([]cell, 0, len(by)+2)
		for i, d := range by {
			k := r.Keys[i]
			c := cell{text: escapeDisplay(k, false)}
			switch {
			case d.IsTime():
				c.text = labels[ri][i]
			case d == audit.DimType:
				c.style = st.types[audit.Type(k)]
			case d == audit.DimOutcome && k == string(audit.OutcomeFailure):
				c.style = st.failed
			case k == "":
				c = cell{text: "(none)", style: st.ip}
			}
			row = append(row, c)
		}
		failed := cell{text: GroupDigits(r.Failed)}
		if r.Failed > 0 {
			failed.style = st.failed
		}
		row = append(row, cell{text: GroupDigits(r.Events)}, failed)
		g.rows = append(g.rows, row)
		maxN = max(maxN, r.Events)
	}
	lines, used := g.lines(width)
	// A bar column where the width leaves room for one.
	bw := width - used - len(columnGap)
	if width <= 0 {
		bw = 40
	}
	if bw < 8 {
		return lines
	}
	offset := 1
	if g.noHeader {
		offset = 0
	}
	for ri, r := range rows {
		var byType []int64
		if typeCol >= 0 {
			byType = make([]int64, len(audit.Types))
			for j, t := range audit.Types {
				if string(t) == r.Keys[typeCol] {
					byType[j] = r.Events
				}
			}
		}
		if b := bar(r.Events, maxN, bw, byType, st); b != "" {
			lines[ri+offset] = padRight(lines[ri+offset], used) + columnGap + b
		}
	}
	return lines
}

// dimensionHeader is the column header of a dimension on a terminal.
func dimensionHeader(d audit.Dimension) string {
	switch d {
	case audit.DimIP:
		return "SOURCE IP"
	case audit.DimResourceType:
		return "RESOURCE TYPE"
	}
	return strings.ToUpper(string(d))
}

// timeLabels are the terminal's texts of the time keys of rows: days as
// "Mon 2026-11-16", hours as "2026-11-16 14:00" (with the offset where two
// rows would read the same), weeks as their keys.
func timeLabels(by []audit.Dimension, rows []audit.StatsRow, opts Options) [][]string {
	out := make([][]string, len(rows))
	seen := map[string]map[string]bool{} // label → the keys that give it
	for ri, r := range rows {
		out[ri] = make([]string, len(by))
		for i, d := range by {
			k := r.Keys[i]
			label := k
			switch d {
			case audit.DimDay:
				if t, err := time.Parse(time.DateOnly, k); err == nil {
					label = t.Format("Mon 2006-01-02")
				}
			case audit.DimHour:
				if t, err := time.Parse(time.RFC3339, k); err == nil {
					label = t.Format("2006-01-02 15:04")
				}
			}
			out[ri][i] = label
			if d == audit.DimHour {
				if seen[label] == nil {
					seen[label] = map[string]bool{}
				}
				seen[label][k] = true
			}
		}
	}
	for ri, r := range rows {
		for i, d := range by {
			if d == audit.DimHour && len(seen[out[ri][i]]) > 1 {
				if t, err := time.Parse(time.RFC3339, r.Keys[i]); err == nil {
					out[ri][i] += t.Format(" -07:00")
				}
			}
		}
	}
	return out
}
