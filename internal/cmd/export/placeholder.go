package export

import (
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// dateLayout is how {since}, {until} and an unnamed {period} show dates.
const dateLayout = "2006-01-02"

// expandPlaceholders replaces {period}, {since} and {until} in pattern:
//
//   - {period}: the name of --period (2026-W47, 2026-11, 2026-11-20);
//     without one, SINCE..UNTIL as dates, an open end written "start" or
//     "now", or "all" when the window is open at both ends;
//   - {since}: the day the window starts, YYYY-MM-DD in loc;
//   - {until}: the day the window ends, exclusive: the --period last-week
//     of 2026-W47 ends on 2026-11-23.
//
// Any other {name}, and {since} or {until} of an open end, is a usage
// error. A '{' without a closing '}' is literal.
func expandPlaceholders(pattern string, f audit.Filter, period *timeexpr.Period, loc *time.Location) (string, error) {
	if loc == nil {
		loc = time.UTC
	}
	date := func(t time.Time) string { return t.In(loc).Format(dateLayout) }
	var b strings.Builder
	rest := pattern
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		name := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		switch name {
		case "period":
			switch {
			case period != nil:
				b.WriteString(period.Name)
			case f.Since.IsZero() && f.Until.IsZero():
				b.WriteString("all")
			default:
				since, until := "start", "now"
				if !f.Since.IsZero() {
					since = date(f.Since)
				}
				if !f.Until.IsZero() {
					until = date(f.Until)
				}
				b.WriteString(since + ".." + until)
			}
		case "since":
			if f.Since.IsZero() {
				return "", cmdutil.FlagErrorf("--output %q uses {since}, but no --since or --period sets the start", pattern)
			}
			b.WriteString(date(f.Since))
		case "until":
			if f.Until.IsZero() {
				return "", cmdutil.FlagErrorf("--output %q uses {until}, but no --until or --period sets the end", pattern)
			}
			b.WriteString(date(f.Until))
		default:
			return "", cmdutil.FlagErrorf("--output %q: unknown placeholder {%s} (accepted: {period}, {since}, {until})", pattern, name)
		}
	}
}
