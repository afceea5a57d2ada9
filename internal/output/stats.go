package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fatih/color"
	"github.com/mattn/go-runewidth"

	"github.com/audit-cli/audit/internal/audit"
)

// StatsFormats lists the -o values of `audit stats`; the first is the
// default. Stats are tables of numbers: wide and template do not apply.
var StatsFormats = []string{"table", "csv", "tsv", "json", "jsonl"}

// Review is the one-screen review `audit stats` prints: totals by type and
// outcome, the most active users, the most changed resources, the top
// source addresses and an activity chart.
type Review struct {
	// Title names the period reviewed, e.g. "Last week"; "" for none.
	Title string
	// Since and Until bound the events reviewed, [Since, Until); a zero
	// end is open.
	Since, Until time.Time
	// Total counts the events reviewed, Failed the failures among them.
	Total, Failed int64
	// Types are the counts by type, one key each; missing types count 0.
	Types []audit.StatsRow
	// Users (key: login), Resources (keys: resource type and resource,
	// create, update and delete events only) and IPs (key: address, ""
	// for none) are the top groups.
	Users, Resources, IPs ReviewList
	// Activity is the chart.
	Activity Activity
}

// ReviewList is a top list of a Review: its rows and, for the line that
// sums up the rest, the number of groups and the counts of all of them.
type ReviewList struct {
	Rows          []audit.StatsRow
	Groups        int64
	Total, Failed int64
}

// Activity is the chart of a Review: events per time bucket, by type.
type Activity struct {
	// Unit is audit.DimDay, DimHour or DimWeek.
	Unit    audit.Dimension
	Buckets []ActivityBucket
}

// ActivityBucket is one bar of the chart.
type ActivityBucket struct {
	Key            string    // the bucket's key (see audit.Dimension)
	Start          time.Time // when it starts
	Events, Failed int64
	ByType         []int64 // events by type, parallel to audit.Types
}

// PrintReview writes r in opts.Format:
//
//   - table on a terminal (opts.TTY): a title with the period and zone, a
//     summary line, then the lists as aligned panels, two side by side when
//     opts.Width allows it, and the activity chart of unicode bars scaled to
//     the width; with opts.Color, type names and bars in the colors of
//     their types (bars stacked by type, with a legend) and failures red.
//   - table off a terminal: no color, no bars, no box drawing, one row a
//     line: SECTION, KEY, EVENTS, FAILED separated by tabs, plain numbers.
//     Sections: total, type, user, resource (key TYPE:NAME), ip, and the
//     chart's unit (day, hour or week) with the bucket keys.
//   - csv, tsv, jsonl: those rows; json: one object with all of the review.
func PrintReview(w io.Writer, r *Review, opts Options) error {
	opts = statsDefaults(opts)
	out := newSink(w, false)
	var err error
	switch opts.Format {
	case "table":
		if opts.TTY {
			err = writeReviewTTY(out, r, opts)
		} else {
			err = writeRecords(out, "tsv", opts.NoHeaders, reviewHeader, reviewRecords(r))
		}
	case "csv", "tsv":
		err = writeRecords(out, opts.Format, opts.NoHeaders, reviewHeader, reviewRecords(r))
	case "jsonl":
		err = writeJSONLines(out, reviewObjects(r))
	case "json":
		err = writeJSON(out, reviewJSON(r))
	default:
		err = statsFormatError(opts.Format)
	}
	if err != nil {
		return err
	}
	return out.flush()
}

func statsDefaults(opts Options) Options {
	opts.Format = strings.ToLower(strings.TrimSpace(opts.Format))
	if opts.Format == "" {
		opts.Format = "table"
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	return opts
}

func statsFormatError(format string) error {
	return fmt.Errorf("unknown stats output format %q (accepted: %s)", format, strings.Join(StatsFormats, ", "))
}

var reviewHeader = []string{"section", "key", "events", "failed"}

// reviewRecords are the rows of the review off a terminal.
func reviewRecords(r *Review) [][]string {
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	recs := [][]string{{"total", "", num(r.Total), num(r.Failed)}}
	for _, row := range typeRows(r.Types) {
		recs = append(recs, []string{"type", row.Keys[0], num(row.Events), num(row.Failed)})
	}
	for _, row := range r.Users.Rows {
		recs = append(recs, []string{"user", row.Keys[0], num(row.Events), num(row.Failed)})
	}
	for _, row := range r.Resources.Rows {
		recs = append(recs, []string{"resource", resourceKey(row), num(row.Events), num(row.Failed)})
	}
	for _, row := range r.IPs.Rows {
		recs = append(recs, []string{"ip", row.Keys[0], num(row.Events), num(row.Failed)})
	}
	for _, b := range r.Activity.Buckets {
		recs = append(recs, []string{string(r.Activity.Unit), b.Key, num(b.Events), num(b.Failed)})
	}
	return recs
}

func resourceKey(row audit.StatsRow) string {
	if len(row.Keys) < 2 {
		return strings.Join(row.Keys, ":")
	}
	return row.Keys[0] + ":" + row.Keys[1]
}

// typeRows are the counts of every type, in the order of audit.Types.
func typeRows(rows []audit.StatsRow) []audit.StatsRow {
	out := make([]audit.StatsRow, len(audit.Types))
	for i, t := range audit.Types {
		out[i] = audit.StatsRow{Keys: []string{string(t)}}
		for _, r := range rows {
			if len(r.Keys) > 0 && r.Keys[0] == string(t) {
				out[i].Events, out[i].Failed = r.Events, r.Failed
			}
		}
	}
	return out
}

func reviewObjects(r *Review) []jsonObject {
	var objs []jsonObject
	for _, rec := range reviewRecords(r) {
		e, _ := strconv.ParseInt(rec[2], 10, 64)
		f, _ := strconv.ParseInt(rec[3], 10, 64)
		objs = append(objs, jsonObject{{"section", rec[0]}, {"key", rec[1]}, {"events", e}, {"failed", f}})
	}
	return objs
}

func reviewJSON(r *Review) jsonObject {
	list := func(dims []audit.Dimension, rows []audit.StatsRow) []jsonObject {
		out := make([]jsonObject, len(rows))
		for i, row := range rows {
			out[i] = rowObject(dims, row)
		}
		return out
	}
	activity := make([]jsonObject, len(r.Activity.Buckets))
	for i, b := range r.Activity.Buckets {
		o := jsonObject{{string(r.Activity.Unit), b.Key}, {"events", b.Events}, {"failed", b.Failed}}
		types := jsonObject{}
		for j, t := range audit.Types {
			n := int64(0)
			if j < len(b.ByType) {
				n = b.ByType[j]
			}
			types = append(types, jsonField{string(t), n})
		}
		activity[i] = append(o, jsonField{"types", types})
	}
	return jsonObject{
		{"title", r.Title},
		{"since", jsonTime(r.Since)},
		{"until", jsonTime(r.Until)},
		{"total", r.Total},
		{"failed", r.Failed},
		{"users", r.Users.Groups},
		{"ips", r.IPs.Groups},
		{"types", list([]audit.Dimension{audit.DimType}, typeRows(r.Types))},
		{"top_users", list([]audit.Dimension{audit.DimUser}, r.Users.Rows)},
		{"top_resources", list([]audit.Dimension{audit.DimResourceType, audit.DimResource}, r.Resources.Rows)},
		{"top_ips", list([]audit.Dimension{audit.DimIP}, r.IPs.Rows)},
		{"unit", string(r.Activity.Unit)},
		{"activity", activity},
	}
}

// jsonTime is t in RFC 3339 UTC, or null for a zero t.
func jsonTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return audit.FormatTime(t)
}

// writeReviewTTY lays out the review for a terminal of opts.Width.
func writeReviewTTY(out *sink, r *Review, opts Options) error {
	st := chartStyles(opts.Color)
	width := opts.Width
	if width <= 0 {
		width = 80
	}
	loc := opts.Location
	head := RangeText(r.Since, r.Until, loc) + " (" + zoneName(r.Since, r.Until, loc) + ")"
	if r.Title != "" {
		head = r.Title + ": " + head
	}
	lines := []string{paint(st.header, truncateWidth(escapeDisplay(head, false), width))}
	summary := []string{Count(r.Total, "event", "events")}
	if r.Total > 0 {
		failed := GroupDigits(r.Failed) + " failed"
		if r.Failed > 0 {
			failed = paint(st.failed, failed)
		}
		summary[0] += ", " + failed + ","
		summary = append(summary, "by "+Count(r.Users.Groups, "user", "users"))
	}
	// One line, or two where the terminal is too narrow for it.
	if line := strings.Join(summary, " "); visibleWidth(line) <= width {
		lines = append(lines, line)
	} else {
		lines = append(lines, summary...)
	}
	if r.Total == 0 {
		return writeLines(out, lines)
	}

	types := panel{title: "TYPE", numbers: "EVENTS"}
	for _, row := range typeRows(r.Types) {
		t := audit.Type(row.Keys[0])
		types.rows = append(types.rows, panelRow{label: cell{text: string(t), style: st.types[t]}, events: row.Events, failed: row.Failed})
	}
	users := listPanel("USER", "EVENTS", r.Users, st, func(row audit.StatsRow) cell {
		return cell{text: escapeDisplay(row.Keys[0], false)}
	})
	resources := listPanel("CHANGED RESOURCE", "CHANGES", r.Resources, st, func(row audit.StatsRow) cell {
		if len(row.Keys) < 2 || row.Keys[1] == "" {
			return cell{text: "(none)", style: st.ip}
		}
		text := row.Keys[1]
		if rt := HumanizeResourceType(row.Keys[0]); rt != "" {
			text = rt + ": " + text
		}
		return cell{text: escapeDisplay(text, false)}
	})
	if len(resources.rows) == 0 {
		resources.rows = []panelRow{{label: cell{text: "no changes", style: st.ip}, blank: true}}
	}
	ips := listPanel("SOURCE IP", "EVENTS", r.IPs, st, func(row audit.StatsRow) cell {
		if row.Keys[0] == "" {
			return cell{text: "(none)", style: st.ip}
		}
		return cell{text: escapeDisplay(row.Keys[0], false)}
	})

	// Side by side, the left panels (types, resources) share a width and
	// the right ones (users, addresses) another: each column as wide as
	// its content needs, the wider cut down when both do not fit.
	const gap = 4
	if avail := width - gap; avail >= 2*minPanelWidth {
		lw := max(types.natural(), resources.natural())
		rw := max(users.natural(), ips.natural())
		if lw+rw > avail {
			switch half := avail / 2; {
			case lw > half && rw > half:
				lw, rw = half, avail-half
			case lw > rw:
				lw = avail - rw
			default:
				rw = avail - lw
			}
		}
		for _, pair := range [][2]panel{{types, users}, {resources, ips}} {
			lines = append(lines, "")
			left, right := pair[0].render(lw, st), pair[1].render(rw, st)
			for i := range max(len(left), len(right)) {
				l, rt := "", ""
				if i < len(left) {
					l = left[i]
				}
				if i < len(right) {
					rt = right[i]
				}
				line := l
				if rt != "" {
					line = padRight(l, lw) + strings.Repeat(" ", gap) + rt
				}
				lines = append(lines, strings.TrimRight(line, " "))
			}
		}
	} else {
		for _, p := range []panel{types, users, resources, ips} {
			lines = append(lines, "")
			for _, l := range p.render(min(width, p.natural()), st) {
				lines = append(lines, strings.TrimRight(l, " "))
			}
		}
	}
	if len(r.Activity.Buckets) > 0 {
		lines = append(lines, "")
		lines = append(lines, activityLines(&r.Activity, width, opts, st)...)
	}
	return writeLines(out, lines)
}

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

// activityLines draws the chart: a title with the legend, then one line a
// bucket: label, count, bar.
func activityLines(a *Activity, width int, opts Options, st styles) []string {
	title := "ACTIVITY BY " + strings.ToUpper(string(a.Unit))
	lines := []string{paint(st.header, title)}
	if lg := legend(st); lg != "" {
		if pad := width - len(title) - legendWidth(); pad >= 2 {
			lines[0] += strings.Repeat(" ", pad) + lg
		} else {
			lines = append(lines, lg)
		}
	}
	labels := bucketLabels(a, opts)
	lw, cw := 0, 0
	var maxN int64
	for i, b := range a.Buckets {
		lw = max(lw, runewidth.StringWidth(labels[i]))
		cw = max(cw, len(GroupDigits(b.Events)))
		maxN = max(maxN, b.Events)
	}
	bw := max(width-lw-cw-4, 8)
	for i, b := range a.Buckets {
		line := padRight(labels[i], lw) + "  " + padLeft(GroupDigits(b.Events), cw)
		if bs := bar(b.Events, maxN, bw, b.ByType, st); bs != "" {
			line += "  " + bs
		}
		lines = append(lines, line)
	}
	return lines
}

// bucketLabels are the chart's labels: "Mon Nov 16" for days (with the year
// when the chart is not all of this year), "2026-W47 Nov 16" for weeks,
// "14:00" for hours (with the weekday over several days, with the zone's
// abbreviation where the clock shows an hour twice).
func bucketLabels(a *Activity, opts Options) []string {
	loc := opts.Location
	labels := make([]string, len(a.Buckets))
	if len(a.Buckets) == 0 {
		return labels
	}
	first, last := a.Buckets[0].Start.In(loc), a.Buckets[len(a.Buckets)-1].Start.In(loc)
	switch a.Unit {
	case audit.DimDay:
		layout := "Mon Jan 2"
		if first.Year() != last.Year() || first.Year() != opts.Now.In(loc).Year() {
			layout = "Mon Jan 2 2006"
		}
		for i, b := range a.Buckets {
			labels[i] = b.Start.In(loc).Format(layout)
		}
	case audit.DimWeek:
		for i, b := range a.Buckets {
			labels[i] = b.Key + " " + b.Start.In(loc).Format("Jan 2")
		}
	default:
		layout := "15:04"
		if first.Year() != last.Year() || first.YearDay() != last.YearDay() {
			layout = "Mon Jan 2 15:04"
		}
		seen := map[string]int{}
		for i, b := range a.Buckets {
			labels[i] = b.Start.In(loc).Format(layout)
			seen[labels[i]]++
		}
		for i, b := range a.Buckets {
			if seen[labels[i]] > 1 {
				labels[i] += " " + b.Start.In(loc).Format("MST")
			}
		}
	}
	return labels
}

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
			upper := make([]string, len(header))
			for i, h := range header {
				upper[i] = strings.ToUpper(h)
			}
			err = writeRecords(out, "tsv", opts.NoHeaders, upper, records)
		}
	case "csv", "tsv":
		err = writeRecords(out, opts.Format, opts.NoHeaders, header, records)
	case "json", "jsonl":
		objs := make([]jsonObject, len(rows))
		for i, r := range rows {
			objs[i] = rowObject(by, r)
		}
		if opts.Format == "json" {
			err = writeJSONArray(out, objs)
		} else {
			err = writeJSONLines(out, objs)
		}
	default:
		err = statsFormatError(opts.Format)
	}
	if err != nil {
		return err
	}
	return out.flush()
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

// PrintBursts writes bursts of failed logins in opts.Format:
//
//   - table on a terminal: the bursts of users, then those of source
//     addresses, each under its own header: the key, FAILURES, FIRST and
//     LAST (as the list shows times) and the addresses or users involved.
//   - table off a terminal and tsv: BY, KEY, COUNT, FIRST, LAST, IPS,
//     USERS tab-separated (lower-case names for tsv), times RFC 3339 UTC,
//     lists joined by commas, one burst a line, in the order given.
//   - csv: the same; json: an array of audit.Burst; jsonl: one a line.
//
// No bursts print nothing (json: "[]").
func PrintBursts(w io.Writer, bursts []audit.Burst, opts Options) error {
	opts = statsDefaults(opts)
	out := newSink(w, false)
	header := []string{"by", "key", "count", "first", "last", "ips", "users"}
	records := make([][]string, len(bursts))
	for i, b := range bursts {
		records[i] = []string{string(b.By), b.Key, strconv.Itoa(b.Count), audit.FormatTime(b.First),
			audit.FormatTime(b.Last), strings.Join(b.IPs, ","), strings.Join(b.Users, ",")}
	}
	var err error
	switch opts.Format {
	case "table":
		if opts.TTY {
			err = writeLines(out, burstsTTY(bursts, opts))
		} else if len(bursts) > 0 {
			upper := make([]string, len(header))
			for i, h := range header {
				upper[i] = strings.ToUpper(h)
			}
			err = writeRecords(out, "tsv", opts.NoHeaders, upper, records)
		}
	case "csv", "tsv":
		err = writeRecords(out, opts.Format, opts.NoHeaders, header, records)
	case "json", "jsonl":
		objs := make([]any, len(bursts))
		for i, b := range bursts {
			b.First, b.Last = b.First.UTC(), b.Last.UTC()
			objs[i] = b
		}
		if opts.Format == "json" {
			err = writeJSONArray(out, objs)
		} else {
			err = writeJSONLines(out, objs)
		}
	default:
		err = statsFormatError(opts.Format)
	}
	if err != nil {
		return err
	}
	return out.flush()
}

func burstsTTY(bursts []audit.Burst, opts Options) []string {
	st := chartStyles(opts.Color)
	var lines []string
	for _, by := range []audit.Dimension{audit.DimUser, audit.DimIP} {
		key, others := "USER", "SOURCE IPS"
		if by == audit.DimIP {
			key, others = "SOURCE IP", "USERS"
		}
		var rows [][]cell
		var lists [][]string
		fixed := []int{len(key), len("FAILURES"), len("FIRST"), len("LAST")}
		for _, b := range bursts {
			if b.By != by {
				continue
			}
			list := b.IPs
			if by == audit.DimIP {
				list = b.Users
			}
			first := FormatDisplayTime(b.First, opts.Now, opts.Location)
			last := FormatDisplayTime(b.Last, opts.Now, opts.Location)
			if sameDay(b.First, b.Last, opts.Location) {
				last = b.Last.In(opts.Location).Format("3:04 PM")
			}
			row := []cell{
				{text: escapeDisplay(b.Key, false)},
				{text: GroupDigits(int64(b.Count)), style: st.failed},
				{text: first},
				{text: last},
			}
			for i, c := range row {
				fixed[i] = max(fixed[i], c.width())
			}
			rows = append(rows, row)
			lists = append(lists, list)
		}
		if len(rows) == 0 {
			continue
		}
		// The list gets what the other columns leave, and shows as many
		// whole names as fit, then how many more there are.
		room := 0
		if opts.Width > 0 {
			room = opts.Width - len(columnGap)*4
			for _, w := range fixed {
				room -= w
			}
			room = max(room, len(others), 12)
		}
		g := grid{st: st, noHeader: opts.NoHeaders, cols: []gridCol{
			{header: key, shrink: true}, {header: "FAILURES", right: true},
			{header: "FIRST"}, {header: "LAST"}, {header: others, shrink: true},
		}}
		for i, row := range rows {
			g.rows = append(g.rows, append(row, cell{text: fitList(lists[i], room)}))
		}
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		l, _ := g.lines(opts.Width)
		lines = append(lines, l...)
	}
	return lines
}

func sameDay(a, b time.Time, loc *time.Location) bool {
	a, b = a.In(loc), b.In(loc)
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
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

// writeRecords writes a header (unless noHeaders) and records as csv or
// tsv; tsv values are escaped like the piped table's, so one record stays
// one line and cannot drive a terminal. No records write nothing.
func writeRecords(out *sink, format string, noHeaders bool, header []string, records [][]string) error {
	if len(records) == 0 {
		return nil
	}
	if format == "csv" {
		w := csv.NewWriter(out)
		if !noHeaders {
			if err := w.Write(header); err != nil {
				return err
			}
		}
		for _, r := range records {
			if err := w.Write(r); err != nil {
				return err
			}
		}
		w.Flush()
		return w.Error()
	}
	if !noHeaders {
		if err := writeTSVLine(out, header, nil); err != nil {
			return err
		}
	}
	for _, r := range records {
		if err := writeTSVLine(out, r, plainEscape); err != nil {
			return err
		}
	}
	return nil
}

func writeLines(out *sink, lines []string) error {
	for _, l := range lines {
		if _, err := out.WriteString(l + "\n"); err != nil {
			return err
		}
	}
	return nil
}

// jsonField and jsonObject write a JSON object with its fields in a fixed
// order (a map's would be sorted) and no HTML escaping, like the event
// printers.
type jsonField struct {
	name  string
	value any
}

type jsonObject []jsonField

// MarshalJSON writes the fields in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(f.name)
		if err != nil {
			return nil, err
		}
		v, err := marshalNoEscape(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// writeJSON writes v as one JSON document and a newline.
func writeJSON(out *sink, v any) error {
	b, err := marshalNoEscape(v)
	if err != nil {
		return err
	}
	out.Write(b)
	return out.WriteByte('\n')
}

// writeJSONArray writes vs as one JSON array with an element a line, as the
// json format of events does: "[", the elements separated by ",\n", "]\n";
// none give "[]\n".
func writeJSONArray[T any](out *sink, vs []T) error {
	out.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			out.WriteString(",\n")
		}
		b, err := marshalNoEscape(v)
		if err != nil {
			return err
		}
		out.Write(b)
	}
	_, err := out.WriteString("]\n")
	return err
}

func writeJSONLines[T any](out *sink, vs []T) error {
	for _, v := range vs {
		if err := writeJSON(out, v); err != nil {
			return err
		}
	}
	return nil
}

// RangeText describes [since, until) in loc for a title: whole days as
// "Mon Nov 16 – Sun Nov 22, 2026" or "Thu Nov 26, 2026", other times
// with the clock, an open end as "Since …" or "Until …", both open as
// "All events".
func RangeText(since, until time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	const long = "Mon Jan 2 2006, 3:04 PM"
	switch {
	case since.IsZero() && until.IsZero():
		return "All events"
	case until.IsZero():
		return "Since " + since.In(loc).Format(long)
	case since.IsZero():
		return "Until " + until.In(loc).Format(long)
	}
	s, u := since.In(loc), until.In(loc)
	if !isMidnight(s) || !isMidnight(u) {
		return s.Format(long) + " – " + u.Format(long)
	}
	last := u.Add(-time.Nanosecond)
	switch {
	case s.Year() == last.Year() && s.YearDay() == last.YearDay():
		return s.Format("Mon Jan 2, 2006")
	case s.Year() == last.Year():
		return s.Format("Mon Jan 2") + " – " + last.Format("Mon Jan 2, 2006")
	}
	return s.Format("Mon Jan 2, 2006") + " – " + last.Format("Mon Jan 2, 2006")
}

func isMidnight(t time.Time) bool {
	h, m, s := t.Clock()
	return h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0
}

// zoneName names loc for a title: its IANA name, or for the local zone
// (which has none in Go) its abbreviations over the range, "CET/CEST".
func zoneName(since, until time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	if loc.String() != "Local" {
		return loc.String()
	}
	at := since
	if at.IsZero() {
		at = until
	}
	if at.IsZero() {
		at = time.Now()
	}
	a, _ := at.In(loc).Zone()
	if !until.IsZero() {
		if b, _ := until.In(loc).Zone(); b != a {
			return a + "/" + b
		}
	}
	return a
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
