package output

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

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
			err = writeRecords(out, "tsv", opts.NoHeaders, upperAll(header), records)
		}
	case "csv", "tsv":
		err = writeRecords(out, opts.Format, opts.NoHeaders, header, records)
	case "json", "jsonl":
		objs := make([]any, len(bursts))
		for i, b := range bursts {
			b.First, b.Last = b.First.UTC(), b.Last.UTC()
			objs[i] = b
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
