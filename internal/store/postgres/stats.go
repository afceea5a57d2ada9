package postgres

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audit-cli/audit/internal/audit"
)

// Stats reads the rollups where they answer q (rollup.go), and otherwise
// counts the events matching q.Filter with one GROUP BY per table,
// under the WHERE clause of Query (whereSQL: the facets index, the BRIN
// index on time and partition pruning serve it as they serve Query). All
// of it runs in one read-only REPEATABLE READ transaction: the totals and
// the tables are of one snapshot and add up while events are written.
//
// The keys are the canonical texts of audit.Dimension, byte for byte:
// text columns are grouped and ordered COLLATE "C" (equality in any
// deterministic collation is byte equality, and C orders as Go compares
// strings); an address is the text Go's netip gives it (ipKeySQL); the time
// dimensions are integers formatted by audit.DayKey, WeekKey and HourKey.
// Those integers are arithmetic on the time column, in the zone of the
// query as its offsets (audit.Zone): local seconds = epoch seconds +
// offset, the offset picked by a CASE over the zone's changes, then
// divided, rounding down, by the length of an hour or a day. PostgreSQL's
// own time zones (AT TIME ZONE) are not used: the client's zone may have no
// name the server knows, or other rules there.
//
// Rows come ordered by count, then keys, and cut to Top by SQL, except in
// tables with an hour, whose text order is not that of the numbers (two
// offsets of one wall-clock hour): those are sorted and cut here, as the
// SQLite store does. The first table's query also returns the totals, as
// window aggregates over its groups, so that they cost no pass of their
// own; a query without tables counts them alone.
func (s *Store) Stats(ctx context.Context, q audit.StatsQuery) (audit.StatsResult, error) {
	if err := q.Validate(); err != nil {
		return audit.StatsResult{}, err
	}
	if err := s.checkOpen(); err != nil {
		return audit.StatsResult{}, err
	}
	var res audit.StatsResult
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		globs, err := resolveGlobs(ctx, tx, &q.Filter)
		if err != nil {
			return err
		}
		if !s.opts.NoRollups {
			r, ok, err := s.statsFromRollups(ctx, tx, q, globs)
			if err != nil || ok {
				res = r
				return err
			}
		}
		var tot statsTotals
		if len(q.Tables) == 0 {
			w := whereSQL(&q.Filter, globs)
			err := tx.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE outcome = 'failure'), min(time), max(time) FROM audit_events"+
				where(w), w.args...).Scan(&tot.total, &tot.failed, &tot.first, &tot.last)
			if err != nil {
				return err
			}
		}
		res.Tables = make([]audit.StatsTableResult, len(q.Tables))
		for i, t := range q.Tables {
			var tt *statsTotals
			if i == 0 {
				tt = &tot // the first table's query counts the totals too
			}
			if res.Tables[i], err = statsTable(ctx, tx, t, q.Zone, &q.Filter, globs, tt); err != nil {
				return err
			}
		}
		res.Total, res.Failed = tot.total, tot.failed
		if tot.total > 0 && tot.first != nil && tot.last != nil {
			if res.First, res.Last, err = firstLast(ctx, tx, &q.Filter, globs, *tot.first, *tot.last); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return audit.StatsResult{}, s.wrapErr("compute statistics of", err)
	}
	return res, nil
}

// statsTotals are the counts of StatsResult as SQL gives them; the times
// are timestamptz, to microseconds.
type statsTotals struct {
	total, failed int64
	first, last   *time.Time
}

// where is the WHERE clause of w, "" for none.
func where(w *whereBuilder) string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// firstLast adds to the first and last time (microseconds, as min and max
// of the time column give them) their nanoseconds beyond: the smallest
// time_ns among the matching events at the first time, the largest at the
// last. time = … is served by the BRIN index and prunes to one partition.
func firstLast(ctx context.Context, tx pgx.Tx, f *audit.Filter, globs globValues, first, last time.Time) (time.Time, time.Time, error) {
	w := whereSQL(f, globs)
	a, b := w.arg(first), w.arg(last)
	w.add("(time = " + a + " OR time = " + b + ")")
	var lo, hi int16
	err := tx.QueryRow(ctx, "SELECT coalesce(min(time_ns) FILTER (WHERE time = "+a+"), 0), coalesce(max(time_ns) FILTER (WHERE time = "+b+"), 0) FROM audit_events"+
		where(w), w.args...).Scan(&lo, &hi)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return first.UTC().Add(time.Duration(lo)), last.UTC().Add(time.Duration(hi)), nil
}

// statsTable runs the GROUP BY of one table and, when tot is not nil,
// fills it from the same query (see statsSQL).
func statsTable(ctx context.Context, tx pgx.Tx, t audit.StatsTable, zone audit.Zone, f *audit.Filter, globs globValues, tot *statsTotals) (audit.StatsTableResult, error) {
	sql, args, hasHour := statsSQL(t, zone, f, globs)
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return audit.StatsTableResult{}, err
	}
	defer rows.Close()
	res := audit.StatsTableResult{By: slices.Clone(t.By), Rows: []audit.StatsRow{}}
	// The destinations of one row: a text or an integer per key column
	// (an hour is two: the local hour and the offset), then the counts.
	var (
		texts   = make([]string, len(t.By))
		nums    = make([]int64, 2*len(t.By))
		dest    []any
		events  int64
		failed  int64
		groups  int64
		total   int64
		tfailed int64
		first   time.Time
		last    time.Time
	)
	for i, d := range t.By {
		switch d {
		case audit.DimDay, audit.DimWeek:
			dest = append(dest, &nums[2*i])
		case audit.DimHour:
			dest = append(dest, &nums[2*i], &nums[2*i+1])
		default:
			dest = append(dest, &texts[i])
		}
	}
	dest = append(dest, &events, &failed, &groups, &total, &tfailed, &first, &last)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return audit.StatsTableResult{}, err
		}
		row := audit.StatsRow{Keys: make([]string, len(t.By)), Events: events, Failed: failed}
		for i, d := range t.By {
			switch d {
			case audit.DimDay:
				row.Keys[i] = audit.DayKey(nums[2*i] - biasDays)
			case audit.DimWeek:
				// The column is floor((days + 3) / 7), the Monday-based
				// week number (1970-01-01 was a Thursday), biased by a
				// week.
				row.Keys[i] = audit.WeekKey(7*(nums[2*i]-1) - 3)
			case audit.DimHour:
				row.Keys[i] = audit.HourKey(nums[2*i]-biasDays*24, int(nums[2*i+1]))
			default:
				row.Keys[i] = texts[i]
			}
		}
		if tot != nil && len(res.Rows) == 0 {
			f, l := first, last
			tot.total, tot.failed, tot.first, tot.last = total, tfailed, &f, &l
		}
		res.Groups = groups
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return audit.StatsTableResult{}, err
	}
	if hasHour {
		// Hour keys sort by their text, which orders two offsets of one
		// wall-clock hour differently from the numbers SQL sorted: sort
		// and cut here (hour tables have no LIMIT, see statsSQL).
		slices.SortFunc(res.Rows, audit.CompareRows)
		if t.Top > 0 && len(res.Rows) > t.Top {
			res.Rows = res.Rows[:t.Top]
		}
	}
	return res, nil
}

// statsSQL builds the aggregate of one table over the events f selects:
//
//	SELECT k1, …, count(*), count(*) FILTER (WHERE outcome = 'failure'), count(*) OVER (),
//	       sum(count(*)) OVER (), sum(…failures…) OVER (), min(min(time)) OVER (), max(max(time)) OVER ()
//	FROM (SELECT key columns, outcome, time, local seconds l, offset o FROM audit_events WHERE … OFFSET 0) e
//	GROUP BY 1, … ORDER BY count(*) DESC, 1, … LIMIT top
//
// The inner query, there only when a time dimension needs it, computes the
// local time of each event once (OFFSET 0 keeps the planner from pulling
// it up into every key that reads it). A bias of a week keeps the
// dividends positive, so that integer division rounds down (an event of
// 1970-01-01 may be of 1969-12-31 west of Greenwich); statsTable takes it
// off. An hour is two columns, the local hour and the offset (two hours
// share a local hour when clocks go back). The window aggregates run over
// the groups, before LIMIT: count(*) OVER () is the number of groups, the
// others the totals of StatsResult.
func statsSQL(t audit.StatsTable, zone audit.Zone, f *audit.Filter, globs globValues) (string, []any, bool) {
	w := whereSQL(f, globs)
	var keys, order []string
	hasTime, hasHour := false, false
	for _, d := range t.By {
		pos := strconv.Itoa(len(keys) + 1)
		switch d {
		case audit.DimDay:
			keys = append(keys, localDiv(secondsPerDay))
			order = append(order, "("+keys[len(keys)-1]+" >= "+w.arg(dayBreak)+") DESC")
		case audit.DimWeek:
			keys = append(keys, "(("+localDiv(secondsPerDay)+" + 3) / 7)")
			order = append(order, "("+keys[len(keys)-1]+" >= "+w.arg(weekBreak)+") DESC")
		case audit.DimHour:
			keys = append(keys, localDiv(3600), "o")
			hasHour = true
		case audit.DimIP:
			keys = append(keys, ipKeySQL)
		case audit.DimUser:
			keys = append(keys, `"user" COLLATE "C"`)
		default: // type and outcome are C already; the others are text
			keys = append(keys, string(d)+` COLLATE "C"`)
		}
		hasTime = hasTime || d.IsTime()
		order = append(order, pos)
		if d == audit.DimHour {
			order = append(order, strconv.Itoa(len(keys)))
		}
	}
	from := "audit_events" + where(w)
	if hasTime {
		o := offsetSQL(zone, w)
		from = "(SELECT " + strings.Join(statsColumns(t.By), ", ") + ", " + epochSQL + " + " + o + " AS l, " + o + " AS o" +
			" FROM audit_events" + where(w) + " OFFSET 0) e"
	}
	positions := make([]string, len(keys))
	for i := range keys {
		positions[i] = strconv.Itoa(i + 1)
	}
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(keys, ", "))
	b.WriteString(", count(*), count(*) FILTER (WHERE outcome = 'failure'), count(*) OVER ()")
	b.WriteString(", (sum(count(*)) OVER ())::bigint, (sum(count(*) FILTER (WHERE outcome = 'failure')) OVER ())::bigint")
	b.WriteString(", min(min(time)) OVER (), max(max(time)) OVER ()")
	b.WriteString(" FROM " + from)
	b.WriteString(" GROUP BY " + strings.Join(positions, ", "))
	b.WriteString(" ORDER BY " + strconv.Itoa(len(keys)+1) + " DESC, " + strings.Join(order, ", "))
	if t.Top > 0 && !hasHour {
		b.WriteString(" LIMIT " + w.arg(t.Top))
	}
	return b.String(), w.args, hasHour
}

// dayBreak and weekBreak are the first day and week (as the columns of
// statsSQL count them) whose keys have a year of five digits: a day of
// 10000 is the local date of the last hours of 9999 east of Greenwich. As
// texts these keys sort before all others ("10000-01-01" < "1970-01-01"),
// so statsSQL orders them first among equal counts.
var dayBreak, weekBreak = func() (int64, int64) {
	day := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
	week := (day + 3) / 7
	for len(audit.WeekKey(7*week-3)) == len("2026-W47") {
		week++
	}
	return day + biasDays, week + 1
}()

// Constants of the time dimensions' SQL, in seconds.
const (
	secondsPerDay = 86400
	biasDays      = 7 // a whole week, so that week numbers stay aligned
	biasSeconds   = biasDays * secondsPerDay
)

// epochSQL is the whole seconds since 1970 of an event's time (time_ns
// never crosses a second). date_part gives them as a float, which for
// times between 1900 and 2200 is exact enough that flooring it is exact:
// the microseconds are exact in a float8, and dividing them by a million
// rounds by less than half a microsecond, so a time a microsecond before
// a second stays before it. extract's numeric is exact always, but costs
// the server about three times as much per event; it serves the rest.
const epochSQL = "(CASE WHEN time >= '1900-01-01 00:00:00+00' AND time < '2200-01-01 00:00:00+00' " +
	"THEN floor(date_part('epoch', time))::bigint ELSE floor(extract(epoch FROM time))::bigint END)"

// localDiv is the number of whole units (an hour, a day) from the biased
// epoch to the local time of an event: floor((l + bias) / unit).
func localDiv(unit int) string {
	return "((l + " + strconv.Itoa(biasSeconds) + ") / " + strconv.Itoa(unit) + ")"
}

// statsColumns are the event columns the inner query of a time table
// passes on: those the keys read, time and outcome.
func statsColumns(by []audit.Dimension) []string {
	cols := []string{"time", "outcome"}
	for _, d := range by {
		if d.IsTime() {
			continue
		}
		c := string(d)
		if d == audit.DimUser {
			c = `"user"`
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

// offsetSQL is the zone's offset in seconds at the event's time: a
// constant for a zone without changes, else a CASE over the changes,
// newest first (queries mostly read recent events). Its values are
// parameters of w.
func offsetSQL(z audit.Zone, w *whereBuilder) string {
	if len(z) <= 1 {
		off := 0
		if len(z) == 1 {
			off = z[0].Offset
		}
		return w.arg(int64(off)) + "::bigint"
	}
	var b strings.Builder
	b.WriteString("CASE")
	for i := len(z) - 1; i > 0; i-- {
		b.WriteString(" WHEN time >= " + w.arg(z[i].Since) + " THEN " + w.arg(int64(z[i].Offset)) + "::bigint")
	}
	b.WriteString(" ELSE " + w.arg(int64(z[0].Offset)) + "::bigint END")
	return b.String()
}

// ipKeySQL is the key of an event's address: the text netip.Addr.String
// gives it, "" for none. PostgreSQL's host() writes every address as Go
// does (RFC 5952: the longest run of zero groups, the first of equal
// ones, as "::", never a single one; lowercase hex; IPv4-mapped addresses
// with a dotted IPv4 tail) except those of ::/96, which it writes with a
// dotted tail too ("::0.1.0.2" where Go writes "::1:2"); those are spelled
// out here from their number. TestIPKey compares the two.
const ipKeySQL = `(CASE WHEN ip IS NULL THEN ''
	WHEN family(ip) = 6 AND ip <<= '::/96'::inet THEN CASE
		WHEN ip = '::'::inet THEN '::'
		WHEN ip - '::'::inet < 65536 THEN '::' || to_hex(ip - '::'::inet)
		ELSE '::' || to_hex((ip - '::'::inet) >> 16) || ':' || to_hex((ip - '::'::inet) & 65535) END
	ELSE host(ip) END) COLLATE "C"`

// Bursts finds the bursts of failed logins: the matching failures (the
// facets index finds type login and outcome failure) are read in time
// order, three columns a row, and fed to audit.BurstDetector, whose memory
// is bounded by the window, not by the number of failures.
func (s *Store) Bursts(ctx context.Context, q audit.BurstQuery) ([]audit.Burst, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	f, ok := q.EventFilter()
	if !ok {
		// Still look at the store, so that a missing one is reported.
		if _, _, err := s.Head(ctx); err != nil {
			return nil, err
		}
		return []audit.Burst{}, nil
	}
	d, err := audit.NewBurstDetector(q.Threshold, q.Window)
	if err != nil {
		return nil, err
	}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		globs, err := resolveGlobs(ctx, tx, &f)
		if err != nil {
			return err
		}
		w := whereSQL(&f, globs)
		rows, err := tx.Query(ctx, `SELECT time, time_ns, "user", ip FROM audit_events`+where(w)+" ORDER BY time, time_ns, seq", w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			t    time.Time
			ns   int16
			user string
			ip   *netip.Prefix
		)
		for rows.Next() {
			if err := rows.Scan(&t, &ns, &user, &ip); err != nil {
				return err
			}
			addr := ""
			if ip != nil {
				addr = ip.Addr().String()
			}
			if err := d.Add(t.UTC().Add(time.Duration(ns)), user, addr); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrapErr("find bursts in", err)
	}
	return d.Bursts(), nil
}
