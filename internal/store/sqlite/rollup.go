package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/rollup"
)

// Rollups: counts of the events kept beside them, so that the statistics
// of a period read a few thousand counts instead of every event of it.
//
//	rollup_hours  (hour, type, outcome)                   → events
//	rollup_days   (day, dim, key1, key2, type, outcome)   → events
//	rollup_state  seq: the rollups count every event with seq <= seq
//
// hour and day are UTC hours and days since 1970 (time / 1h, time / 24h;
// times are never before 1970). dim is 'u' (key1 the login), 'i' (key1
// the address, "" for none) or 'r' (key1 the resource type, key2 the
// resource). Writers count their events in memory (rollupCounts) and add
// the counts in the transaction that inserts them; prune subtracts those
// of the events it deletes in its own. So the counts change with the
// events, commit by commit, and a reader sees both from one snapshot.
//
// rollup_state.seq moves with a writer's commit only if it was the head
// when the writer began: events written past it by something else (an
// older audit, a foreign client) are left out of the rollups, and Stats
// reads them from the events table, as it reads the events of the partial
// hours and days at the ends of a window (statsFromRollups), so the
// counts are always exact. `audit stats --rebuild` counts everything
// again (RebuildRollups).

// rebuildRollupsSQL counts every event into empty rollups.
const rebuildRollupsSQL = `DELETE FROM rollup_hours;
DELETE FROM rollup_days;
INSERT INTO rollup_hours (hour, type, outcome, events)
	SELECT time / 3600000000000, type, outcome, count(*) FROM events GROUP BY 1, 2, 3;
INSERT INTO rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT time / 86400000000000, 'u', user COLLATE BINARY, '', type, outcome, count(*) FROM events GROUP BY 1, 3, 5, 6;
INSERT INTO rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT time / 86400000000000, 'i', ip, '', type, outcome, count(*) FROM events GROUP BY 1, 3, 5, 6;
INSERT INTO rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT time / 86400000000000, 'r', resource_type COLLATE BINARY, resource COLLATE BINARY, type, outcome, count(*) FROM events GROUP BY 1, 3, 4, 5, 6;
UPDATE rollup_state SET seq = max((SELECT coalesce(max(seq), 0) FROM events),
	coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0));`

// (rollup_state.seq goes up to the seq counter where that is higher than
// the newest event, as after the newest events were deleted by hand: no
// event is between them, and a writer's check that the rollups count up
// to where it begins compares with the counter.)

// rollupSchemaSQL creates the rollups (a migration) and fills them.
const rollupSchemaSQL = `CREATE TABLE rollup_hours (
	hour    INTEGER NOT NULL,
	type    TEXT    NOT NULL,
	outcome TEXT    NOT NULL,
	events  INTEGER NOT NULL,
	PRIMARY KEY (hour, type, outcome)
) WITHOUT ROWID;
CREATE TABLE rollup_days (
	day     INTEGER NOT NULL,
	dim     TEXT    NOT NULL,
	key1    TEXT    NOT NULL,
	key2    TEXT    NOT NULL,
	type    TEXT    NOT NULL,
	outcome TEXT    NOT NULL,
	events  INTEGER NOT NULL,
	PRIMARY KEY (day, dim, key1, key2, type, outcome)
) WITHOUT ROWID;
CREATE TABLE rollup_state (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	seq INTEGER NOT NULL
);
INSERT INTO rollup_state (one, seq) VALUES (1, 0);
` + rebuildRollupsSQL

// flushCounts adds c to the rollups in tx and forgets them, a hundred
// counts a statement.
func flushCounts(ctx context.Context, tx *sql.Tx, c *rollup.Counts) error {
	hours, days := c.Rows()
	hrows := make([][]any, len(hours))
	for i, h := range hours {
		hrows[i] = []any{h.Hour, h.Type, h.Outcome, h.Events}
	}
	drows := make([][]any, len(days))
	for i, d := range days {
		drows[i] = []any{d.Day, string(d.Dim), d.Key1, d.Key2, d.Type, d.Outcome, d.Events}
	}
	if err := upsertCounts(ctx, tx, "rollup_hours (hour, type, outcome, events)", hrows); err != nil {
		return err
	}
	if err := upsertCounts(ctx, tx, "rollup_days (day, dim, key1, key2, type, outcome, events)", drows); err != nil {
		return err
	}
	c.Reset()
	return nil
}

// upsertBatch is how many counts one statement of upsertCounts adds.
const upsertBatch = 100

// upsertCounts adds each row's count (its last value) to the rollup
// table's row of the same key, making it where there is none.
func upsertCounts(ctx context.Context, tx *sql.Tx, table string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	group := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	args := make([]any, 0, upsertBatch*width)
	for len(rows) > 0 {
		n := min(len(rows), upsertBatch)
		st := stmts[n]
		if st == nil {
			var err error
			st, err = tx.PrepareContext(ctx, "INSERT INTO "+table+" VALUES "+
				strings.TrimSuffix(strings.Repeat(group+", ", n), ", ")+
				" ON CONFLICT DO UPDATE SET events = events + excluded.events")
			if err != nil {
				return err
			}
			stmts[n] = st
		}
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("count the events into the rollups: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// pruneRollupsSQL subtracts from the rollups the events with seq <= ?1
// that they count (those up to rollup_state.seq), then drops the counts
// that reach zero: one statement after the other, each given the seq.
var pruneRollupsSQL = []string{`INSERT INTO rollup_hours (hour, type, outcome, events)
	SELECT time / 3600000000000, type, outcome, -count(*) FROM events
	WHERE seq <= min(?1, (SELECT seq FROM rollup_state)) GROUP BY 1, 2, 3
	ON CONFLICT DO UPDATE SET events = events + excluded.events`, `INSERT INTO rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT time / 86400000000000, 'u', user COLLATE BINARY, '', type, outcome, -count(*) FROM events
	WHERE seq <= min(?1, (SELECT seq FROM rollup_state)) GROUP BY 1, 3, 5, 6
	ON CONFLICT DO UPDATE SET events = events + excluded.events`, `INSERT INTO rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT time / 86400000000000, 'i', ip, '', type, outcome, -count(*) FROM events
	WHERE seq <= min(?1, (SELECT seq FROM rollup_state)) GROUP BY 1, 3, 5, 6
	ON CONFLICT DO UPDATE SET events = events + excluded.events`, `INSERT INTO rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT time / 86400000000000, 'r', resource_type COLLATE BINARY, resource COLLATE BINARY, type, outcome, -count(*) FROM events
	WHERE seq <= min(?1, (SELECT seq FROM rollup_state)) GROUP BY 1, 3, 4, 5, 6
	ON CONFLICT DO UPDATE SET events = events + excluded.events`,
	`DELETE FROM rollup_hours WHERE events <= 0 AND ?1 IS NOT NULL`,
	`DELETE FROM rollup_days WHERE events <= 0 AND ?1 IS NOT NULL`}

// pruneRollups subtracts the events with seq <= through from the rollups.
func pruneRollups(ctx context.Context, tx *sql.Tx, through int64) error {
	for _, q := range pruneRollupsSQL {
		if _, err := tx.ExecContext(ctx, q, through); err != nil {
			return fmt.Errorf("subtract the pruned events from the rollups: %w", err)
		}
	}
	return nil
}

// RebuildRollups counts every event into the rollups again, in one write
// transaction: for a store whose events were changed behind audit's back
// (`audit stats --rebuild`).
func (s *Store) RebuildRollups(ctx context.Context) error {
	db, err := s.writer(ctx)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrapErr("rebuild the statistics of", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, rebuildRollupsSQL); err != nil {
		return s.wrapErr("rebuild the statistics of", err)
	}
	return s.wrapErr("rebuild the statistics of", tx.Commit())
}

// rollupFilterSQL is the conditions of f on type and outcome over the
// rollups' columns.
func rollupFilterSQL(f *audit.Filter) (string, []any) {
	var conds []string
	var args []any
	if len(f.Types) > 0 {
		conds = append(conds, "type IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Types)), ", ")+")")
		for _, t := range f.Types {
			args = append(args, string(t))
		}
	}
	if f.Outcome != "" {
		conds = append(conds, "outcome = ?")
		args = append(args, string(f.Outcome))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(conds, " AND "), args
}

// statsFromRollups answers q from the rollups and, for what they do not
// count (the partial hours or days at the ends of the window, events past
// rollup_state.seq), from the events table, all in tx. ok is false when
// the rollups cannot answer q (planRollups).
func (s *Store) statsFromRollups(ctx context.Context, tx *sql.Tx, q audit.StatsQuery) (res audit.StatsResult, ok bool, err error) {
	plan := rollup.PlanQuery(&q)
	if plan.Why != "" {
		return res, false, nil
	}
	var upTo int64
	if err := tx.QueryRowContext(ctx, "SELECT seq FROM rollup_state").Scan(&upTo); err != nil {
		return res, false, s.wrapErr("compute statistics of", err)
	}
	cond, cargs := rollupFilterSQL(&q.Filter)
	where, wargs := whereSQL(&q.Filter)
	if where == "" {
		where = "1"
	}
	// rest is the events of the filter that the rollups do not count for
	// the window [lo, hi) of whole units (rollup.Rest), each part a WHERE
	// clause (with its arguments) to put after "FROM events". Each is one
	// index range, its bounds the filter's own (SQLite takes one lower and
	// one upper bound of a column, not the tightest): the time index at the
	// ends, the seq order (NOT INDEXED: the rowid) in the middle.
	type restPart struct {
		where string
		args  []any
	}
	rest := func(w rollup.Span) []restPart {
		var parts []restPart
		for _, p := range rollup.Rest(q.Filter, w) {
			w, args := whereSQL(&p.Filter)
			if w == "" {
				w = "1"
			}
			if p.Past {
				parts = append(parts, restPart{" NOT INDEXED WHERE " + w + " AND seq > ?", append(args, upTo)})
			} else {
				parts = append(parts, restPart{" WHERE " + w, args})
			}
		}
		return parts
	}

	// Totals: the hours' counts, and the rest.
	span := rollup.Window(&q.Filter, rollup.Hour)
	err = tx.QueryRowContext(ctx, "SELECT coalesce(sum(events), 0), coalesce(sum(CASE WHEN outcome = 'failure' THEN events END), 0) FROM rollup_hours WHERE hour >= ? AND hour < ?"+cond,
		append([]any{span.Lo, span.Hi}, cargs...)...).Scan(&res.Total, &res.Failed)
	if err != nil {
		return res, false, s.wrapErr("compute statistics of", err)
	}
	for _, part := range rest(span) {
		var n, failed int64
		err = tx.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(outcome = 'failure'), 0) FROM events"+part.where, part.args...).Scan(&n, &failed)
		if err != nil {
			return res, false, s.wrapErr("compute statistics of", err)
		}
		res.Total += n
		res.Failed += failed
	}
	if res.Total > 0 {
		var first, last int64
		err = tx.QueryRowContext(ctx, "SELECT (SELECT time FROM events WHERE "+where+" ORDER BY time LIMIT 1), (SELECT time FROM events WHERE "+where+" ORDER BY time DESC LIMIT 1)",
			append(slices.Clone(wargs), wargs...)...).Scan(&first, &last)
		if err != nil {
			return res, false, s.wrapErr("compute statistics of", err)
		}
		res.First, res.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}

	res.Tables, err = rollup.Tables(&q, plan,
		func(t audit.StatsTable, rt rollup.Table, span rollup.Span, add func([]string, int64, int64)) error {
			return s.rollupRows(ctx, tx, t, rt, q.Zone, span, cond, cargs, add)
		}, rest,
		func(t audit.StatsTable, part restPart) (audit.StatsTableResult, error) {
			return s.statsTable(ctx, tx, t, q.Zone, part.where, part.args, nil)
		})
	return res, err == nil, err
}

// rollupRows reads the counts of one table from its rollup over the whole
// units in [lo, hi) and passes each group's keys and counts to add.
func (s *Store) rollupRows(ctx context.Context, tx *sql.Tx, t audit.StatsTable, rt rollup.Table, zone audit.Zone,
	span rollup.Span, cond string, cargs []any, add func([]string, int64, int64)) error {
	table, bucket := "rollup_hours", "hour"
	if rt.Days {
		table, bucket = "rollup_days", "day"
	}
	hasTime := slices.ContainsFunc(t.By, audit.Dimension.IsTime)
	cols := rt.Columns(t, bucket)
	sel := strings.Join(cols, ", ")
	if sel != "" {
		sel += ", "
	}
	q := "SELECT " + sel + "coalesce(sum(events), 0), coalesce(sum(CASE WHEN outcome = 'failure' THEN events END), 0) FROM " + table +
		" WHERE " + bucket + " >= ? AND " + bucket + " < ?"
	args := []any{span.Lo, span.Hi}
	if rt.Days {
		q += " AND dim = ?"
		args = append(args, string(rt.Dim))
	}
	q += cond
	if len(cols) > 0 {
		q += " GROUP BY " + strings.Join(cols, ", ")
	}
	args = append(args, cargs...)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return s.wrapErr("compute statistics of", err)
	}
	defer rows.Close()
	var b, events, failed int64
	texts, vals := rollup.Dest(cols, hasTime, &b)
	vals = append(vals, &events, &failed)
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return s.wrapErr("compute statistics of", err)
		}
		if events == 0 {
			continue // sum() over no rows
		}
		keys := rollup.Keys(t.By, zone, b, texts)
		add(keys, events, failed)
	}
	return rows.Err()
}
