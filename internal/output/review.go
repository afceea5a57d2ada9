package output

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/audit-cli/audit/internal/audit"
)

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
