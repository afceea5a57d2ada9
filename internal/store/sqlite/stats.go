package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Stats counts the events matching q.Filter with one SQL aggregate per
// table, under the WHERE clause of Query (whereSQL), so every filter is
// served by the same indexes. All of it runs in one read transaction: the
// totals and the tables are of one snapshot of the file, and add up even
// while events are being written.
//
// Time dimensions are integer arithmetic on the time column (Unix
// nanoseconds): local = time + offset, the offset picked from q.Zone by a
// CASE over its changes (see audit.Zone for why the client sends offsets,
// not a zone name), then divided by the length of an hour or a day. A bias
// of a week keeps the dividend positive, since SQLite's integer division
// truncates toward zero and an event of 1970-01-01 may be of 1969-12-31
// west of Greenwich.
func (s *Store) Stats(ctx context.Context, q audit.StatsQuery) (audit.StatsResult, error) {
	if err := q.Validate(); err != nil {
		return audit.StatsResult{}, err
	}
	db, err := s.readers(ctx)
	if err != nil {
		return audit.StatsResult{}, err
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return audit.StatsResult{}, s.wrapErr("compute statistics of", err)
	}
	defer tx.Rollback()
	if !s.opts.NoRollups {
		if res, ok, err := s.statsFromRollups(ctx, tx, q); ok || err != nil {
			return res, err
		}
	}

	where, args := whereSQL(&q.Filter)
	if where != "" {
		where = " WHERE " + where
	}
	var res audit.StatsResult
	var tot totals
	if len(q.Tables) == 0 {
		err = tx.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(outcome = 'failure'), 0), min(time), max(time) FROM events"+where, args...).
			Scan(&tot.total, &tot.failed, &tot.first, &tot.last)
		if err != nil {
			return audit.StatsResult{}, s.wrapErr("compute statistics of", err)
		}
	}
	res.Tables = make([]audit.StatsTableResult, len(q.Tables))
	for i, t := range q.Tables {
		var tt *totals
		if i == 0 {
			tt = &tot // the first table's pass counts the totals too
		}
		tr, err := s.statsTable(ctx, tx, t, q.Zone, where, args, tt)
		if err != nil {
			return audit.StatsResult{}, err
		}
		res.Tables[i] = tr
	}
	res.Total, res.Failed = tot.total, tot.failed
	if tot.first.Valid {
		res.First, res.Last = time.Unix(0, tot.first.Int64).UTC(), time.Unix(0, tot.last.Int64).UTC()
	}
	return res, nil
}

// totals are the counts of StatsResult as SQL gives them.
type totals struct {
	total, failed int64
	first, last   sql.NullInt64
}

// Constants of the time dimensions' SQL, in nanoseconds.
const (
	nsHour    = int64(time.Hour)
	nsDay     = 24 * nsHour
	biasDays  = 7 // a whole week, so that week numbers stay aligned
	biasNanos = biasDays * nsDay
)

// statsTable runs the GROUP BY of one table and, when tot is not nil,
// fills it from the same pass (see statsSQL).
func (s *Store) statsTable(ctx context.Context, tx *sql.Tx, t audit.StatsTable, zone audit.Zone, where string, args []any, tot *totals) (audit.StatsTableResult, error) {
	q, qargs, hasHour := statsSQL(t, zone, where, args)
	rows, err := tx.QueryContext(ctx, q, qargs...)
	if err != nil {
		return audit.StatsTableResult{}, s.wrapErr("compute statistics of", err)
	}
	defer rows.Close()
	res := audit.StatsTableResult{By: slices.Clone(t.By), Rows: []audit.StatsRow{}}
	ncols := len(t.By) + 7
	if hasHour {
		ncols++
	}
	vals := make([]any, ncols)
	for rows.Next() {
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return audit.StatsTableResult{}, s.wrapErr("compute statistics of", err)
		}
		row := audit.StatsRow{Keys: make([]string, len(t.By))}
		c := 0
		for i, d := range t.By {
			switch d {
			case audit.DimDay:
				row.Keys[i] = audit.DayKey(asInt(vals[c]) - biasDays)
			case audit.DimWeek:
				// The column is floor((days + 3) / 7), the Monday-based
				// week number, biased by a week.
				row.Keys[i] = audit.WeekKey(7*(asInt(vals[c])-1) - 3)
			case audit.DimHour:
				off := asInt(vals[c+1]) / int64(time.Second)
				row.Keys[i] = audit.HourKey(asInt(vals[c])-biasDays*24, int(off))
				c++
			default:
				row.Keys[i] = asText(vals[c])
			}
			c++
		}
		row.Events, row.Failed, res.Groups = asInt(vals[c]), asInt(vals[c+1]), asInt(vals[c+2])
		if tot != nil && len(res.Rows) == 0 {
			tot.total, tot.failed = asInt(vals[c+3]), asInt(vals[c+4])
			tot.first = sql.NullInt64{Int64: asInt(vals[c+5]), Valid: true}
			tot.last = sql.NullInt64{Int64: asInt(vals[c+6]), Valid: true}
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return audit.StatsTableResult{}, s.wrapErr("compute statistics of", err)
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

// statsSQL builds the aggregate of one table over the events that where
// (with its args) selects:
//
//	SELECT k1, …, count(*), sum(failed), count(*) OVER (),
//	       sum(count(*)) OVER (), sum(sum(failed)) OVER (), min(min(time)) OVER (), max(max(time)) OVER ()
//	FROM (SELECT key columns, time, outcome, CASE … END AS o FROM events WHERE …)
//	GROUP BY k1, … ORDER BY count(*) DESC, k1, … LIMIT top
//
// The inner query computes the zone offset once per event; it is there
// only when a time dimension needs it. Text keys compare BINARY: the
// columns are NOCASE for the filters, but groups are exact values. An hour
// is two columns, the local hour and the offset (two hours share a local
// hour when clocks go back). The window aggregates run over the groups,
// before LIMIT: count(*) OVER () is the number of groups, and the others
// are the totals of StatsResult, so that they cost no pass of their own.
func statsSQL(t audit.StatsTable, zone audit.Zone, where string, args []any) (string, []any, bool) {
	var keys []string
	hasTime, hasHour := false, false
	for _, d := range t.By {
		switch d {
		case audit.DimDay:
			keys = append(keys, localDiv(nsDay))
		case audit.DimWeek:
			keys = append(keys, "(("+localDiv(nsDay)+" + 3) / 7)")
		case audit.DimHour:
			keys = append(keys, localDiv(nsHour), "o")
			hasHour = true
		case audit.DimType, audit.DimOutcome, audit.DimIP:
			keys = append(keys, string(d)) // BINARY columns already
		default:
			keys = append(keys, string(d)+" COLLATE BINARY")
		}
		hasTime = hasTime || d.IsTime()
	}
	from := "events" + where
	var qargs []any
	if hasTime {
		offset, oargs := offsetSQL(zone)
		from = "(SELECT " + strings.Join(statsColumns(t.By), ", ") + ", " + offset + " AS o FROM events" + where + ")"
		qargs = append(qargs, oargs...)
	}
	qargs = append(qargs, args...)
	positions := make([]string, len(keys))
	for i := range keys {
		positions[i] = strconv.Itoa(i + 1)
	}
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(keys, ", "))
	b.WriteString(", count(*), coalesce(sum(outcome = 'failure'), 0), count(*) OVER ()")
	b.WriteString(", sum(count(*)) OVER (), sum(coalesce(sum(outcome = 'failure'), 0)) OVER (), min(min(time)) OVER (), max(max(time)) OVER ()")
	b.WriteString(" FROM " + from)
	b.WriteString(" GROUP BY " + strings.Join(positions, ", "))
	b.WriteString(" ORDER BY " + strconv.Itoa(len(keys)+1) + " DESC, " + strings.Join(positions, ", "))
	if t.Top > 0 && !hasHour {
		b.WriteString(" LIMIT ?")
		qargs = append(qargs, t.Top)
	}
	return b.String(), qargs, hasHour
}

// localDiv is the number of whole units (an hour, a day) from the biased
// epoch to the local time of an event: floor((time + o + bias) / unit).
func localDiv(unit int64) string {
	return "((time + o + " + strconv.FormatInt(biasNanos, 10) + ") / " + strconv.FormatInt(unit, 10) + ")"
}

// statsColumns are the event columns the inner query of a time table
// passes on: those the keys read, time and outcome.
func statsColumns(by []audit.Dimension) []string {
	cols := []string{"time", "outcome"}
	for _, d := range by {
		if !d.IsTime() && !slices.Contains(cols, string(d)) {
			cols = append(cols, string(d))
		}
	}
	return cols
}

// offsetSQL is the zone's offset at the event's time in nanoseconds: a
// constant for a zone without changes, else a CASE over the changes, newest
// first (queries mostly read recent events). Values are bound parameters.
func offsetSQL(z audit.Zone) (string, []any) {
	if len(z) <= 1 {
		off := 0
		if len(z) == 1 {
			off = z[0].Offset
		}
		return "?", []any{int64(off) * int64(time.Second)}
	}
	var b strings.Builder
	var args []any
	b.WriteString("CASE")
	for i := len(z) - 1; i > 0; i-- {
		b.WriteString(" WHEN time >= ? THEN ?")
		args = append(args, clampNanos(z[i].Since), int64(z[i].Offset)*int64(time.Second))
	}
	b.WriteString(" ELSE ? END")
	args = append(args, int64(z[0].Offset)*int64(time.Second))
	return b.String(), args
}

func asInt(v any) int64 {
	switch x := (*v.(*any)).(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case []byte:
		n, _ := strconv.ParseInt(string(x), 10, 64)
		return n
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func asText(v any) string {
	switch x := (*v.(*any)).(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// Bursts finds the bursts of failed logins: the matching failures are read
// in time order, three columns a row, through the (outcome, time) or
// (type, time) index, which delivers them sorted, and fed to
// audit.BurstDetector, whose memory is bounded by the window.
func (s *Store) Bursts(ctx context.Context, q audit.BurstQuery) ([]audit.Burst, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	f, ok := q.EventFilter()
	if !ok {
		// Still open the store, so that a missing one is reported.
		_, err := s.readers(ctx)
		return []audit.Burst{}, err
	}
	db, err := s.readers(ctx)
	if err != nil {
		return nil, err
	}
	query, args := burstSQL(&f)
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.wrapErr("find bursts in", err)
	}
	defer rows.Close()
	d, err := audit.NewBurstDetector(q.Threshold, q.Window)
	if err != nil {
		return nil, err
	}
	var t int64
	var user, ip string
	for rows.Next() {
		if err := rows.Scan(&t, &user, &ip); err != nil {
			return nil, s.wrapErr("find bursts in", err)
		}
		if err := d.Add(time.Unix(0, t).UTC(), user, ip); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrapErr("find bursts in", err)
	}
	return d.Bursts(), nil
}

// burstSQL selects the failures of f in time order (seq breaks ties).
func burstSQL(f *audit.Filter) (string, []any) {
	where, args := whereSQL(f)
	return "SELECT time, user, ip FROM events WHERE " + where + " ORDER BY time, seq", args
}
