package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/rollup"
)

// Rollups (package rollup): counts of the events kept beside them, so
// that the statistics of a period read a few thousand counts instead of
// every event of it.
//
//	audit_rollup_hours  (hour, type, outcome)                   → events
//	audit_rollup_days   (day, dim, key1, key2, type, outcome)   → events
//	audit_rollup_state  seq: the rollups count every event with seq <= seq
//
// A writer counts its events in memory, as they are encoded for COPY
// (newBatch), takes back those it finds stored already, and adds the
// counts in the transaction that inserts the events, before it moves the
// head (finish). rollup_state.seq moves with it only if it was the head
// when the writer locked it: events written past it by something else are
// left out, and Stats counts them from the events, as it counts the
// partial hours and days at the ends of a window. A prune subtracts the
// counts of the events it deletes, in its own transaction; `audit stats
// --rebuild` counts everything again.

// The bucket of an event: whole seconds since 1970 (epochSQL), in hours
// or days; times are never before 1970.
const (
	hourSQL = "(" + epochSQL + " / 3600)"
	daySQL  = "(" + epochSQL + " / 86400)"
)

// countRollupsSQL counts the events WHERE_ selects into the rollups, each
// count multiplied by SIGN_ (1 or -1), added to the counts there.
const countRollupsSQL = `INSERT INTO audit_rollup_hours (hour, type, outcome, events)
	SELECT ` + hourSQL + `, type, outcome, SIGN_ * count(*) FROM audit_events WHERE_ GROUP BY 1, 2, 3
	ON CONFLICT (hour, type, outcome) DO UPDATE SET events = audit_rollup_hours.events + excluded.events;
INSERT INTO audit_rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT ` + daySQL + `, 'u', "user", '', type, outcome, SIGN_ * count(*) FROM audit_events WHERE_ GROUP BY 1, 3, 5, 6
	ON CONFLICT (day, dim, key1, key2, type, outcome) DO UPDATE SET events = audit_rollup_days.events + excluded.events;
INSERT INTO audit_rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT ` + daySQL + `, 'i', ` + ipKeySQL + `, '', type, outcome, SIGN_ * count(*) FROM audit_events WHERE_ GROUP BY 1, 3, 5, 6
	ON CONFLICT (day, dim, key1, key2, type, outcome) DO UPDATE SET events = audit_rollup_days.events + excluded.events;
INSERT INTO audit_rollup_days (day, dim, key1, key2, type, outcome, events)
	SELECT ` + daySQL + `, 'r', resource_type, resource, type, outcome, SIGN_ * count(*) FROM audit_events WHERE_ GROUP BY 1, 3, 4, 5, 6
	ON CONFLICT (day, dim, key1, key2, type, outcome) DO UPDATE SET events = audit_rollup_days.events + excluded.events;
DELETE FROM audit_rollup_hours WHERE events <= 0;
DELETE FROM audit_rollup_days WHERE events <= 0;`

// rebuildRollupsSQL counts every event into empty rollups: up to the
// head, or to the newest seq where one was written past it by hand (a
// writer that begins at the head then counts its events, which are
// below, and leaves rollup_state.seq where it is).
var rebuildRollupsSQL = `DELETE FROM audit_rollup_hours;
DELETE FROM audit_rollup_days;
` + strings.NewReplacer("SIGN_", "1", "WHERE_", "").Replace(countRollupsSQL) + `
UPDATE audit_rollup_state SET seq = greatest((SELECT seq FROM audit_head), (SELECT coalesce(max(seq), 0) FROM audit_events));`

// pruneRollupsSQL subtracts from the rollups the events with seq <= $1
// that they count (those up to rollup_state.seq): statements to run one
// after the other, each given $1.
var pruneRollupsSQL = strings.Split(strings.NewReplacer("SIGN_", "-1",
	"WHERE_", "WHERE seq <= least($1::bigint, (SELECT seq FROM audit_rollup_state))").Replace(countRollupsSQL), ";\n")

// pruneRollups subtracts the events with seq <= through from the rollups.
func pruneRollups(ctx context.Context, tx pgx.Tx, through int64) error {
	for _, q := range pruneRollupsSQL {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, through)
		}
		if _, err := tx.Exec(ctx, strings.TrimSuffix(q, ";"), args...); err != nil {
			return fmt.Errorf("subtract the pruned events from the rollups: %w", err)
		}
	}
	return nil
}

// rollupSchemaSQL creates the rollups (migration 5) and counts the events
// there are.
var rollupSchemaSQL = `
-- Counts of the events per UTC hour, and per UTC day and login, address
-- or resource, kept by the writers and by prune in the transactions that
-- change the events, so that statistics read them instead of every event
-- (rollup.go). audit_rollup_state.seq: they count every event up to it.
CREATE TABLE audit_rollup_hours (
	hour    bigint NOT NULL,
	type    text COLLATE "C" NOT NULL,
	outcome text COLLATE "C" NOT NULL,
	events  bigint NOT NULL,
	PRIMARY KEY (hour, type, outcome)
);
CREATE TABLE audit_rollup_days (
	day     bigint NOT NULL,
	dim     text COLLATE "C" NOT NULL,
	key1    text COLLATE "C" NOT NULL,
	key2    text COLLATE "C" NOT NULL,
	type    text COLLATE "C" NOT NULL,
	outcome text COLLATE "C" NOT NULL,
	events  bigint NOT NULL,
	PRIMARY KEY (day, dim, key1, key2, type, outcome)
);
CREATE TABLE audit_rollup_state (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq bigint  NOT NULL
);
INSERT INTO audit_rollup_state (seq) VALUES (0);
` + rebuildRollupsSQL

// flushCounts adds the writer's counts to the rollups: one statement a
// rollup, its rows as arrays.
func (w *writer) flushCounts(ctx context.Context) error {
	hours, days := w.counts.Rows()
	w.counts.Reset()
	b := &pgx.Batch{}
	if len(hours) > 0 {
		hs := make([]int64, len(hours))
		ts, os, ns := make([]string, len(hours)), make([]string, len(hours)), make([]int64, len(hours))
		for i, h := range hours {
			hs[i], ts[i], os[i], ns[i] = h.Hour, h.Type, h.Outcome, h.Events
		}
		b.Queue(`INSERT INTO audit_rollup_hours (hour, type, outcome, events)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (hour, type, outcome) DO UPDATE SET events = audit_rollup_hours.events + excluded.events`, hs, ts, os, ns)
	}
	if len(days) > 0 {
		n := len(days)
		ds, ns := make([]int64, n), make([]int64, n)
		dims, k1, k2, ts, os := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, d := range days {
			ds[i], dims[i], k1[i], k2[i], ts[i], os[i], ns[i] = d.Day, string(d.Dim), d.Key1, d.Key2, d.Type, d.Outcome, d.Events
		}
		b.Queue(`INSERT INTO audit_rollup_days (day, dim, key1, key2, type, outcome, events)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
ON CONFLICT (day, dim, key1, key2, type, outcome) DO UPDATE SET events = audit_rollup_days.events + excluded.events`, ds, dims, k1, k2, ts, os, ns)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := w.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("count the events into the rollups: %w", err)
	}
	return nil
}

// RebuildRollups counts every event into the rollups again, in one
// transaction that holds the head row: for a store whose events were
// changed behind audit's back (`audit stats --rebuild`).
func (s *Store) RebuildRollups(ctx context.Context) error {
	if err := s.ensureSchema(ctx); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT 1 FROM audit_head FOR UPDATE"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, rebuildRollupsSQL)
		return err
	})
	return s.wrapErr("rebuild the statistics of", err)
}

// rollupCond is the conditions of f on type and outcome over the rollups'
// columns, its arguments numbered after those already in args.
func rollupCond(f *audit.Filter, args *[]any) string {
	var b strings.Builder
	if len(f.Types) > 0 {
		types := make([]string, len(f.Types))
		for i, t := range f.Types {
			types[i] = string(t)
		}
		*args = append(*args, types)
		fmt.Fprintf(&b, " AND type = ANY($%d::text[])", len(*args))
	}
	if f.Outcome != "" {
		*args = append(*args, string(f.Outcome))
		fmt.Fprintf(&b, " AND outcome = $%d", len(*args))
	}
	return b.String()
}

// statsFromRollups answers q from the rollups and, for what they do not
// count (rollup.Rest: the partial hours or days at the ends of the
// window, the events past rollup_state.seq), from the events, all in tx.
// ok is false when the rollups cannot answer q (rollup.PlanQuery).
func (s *Store) statsFromRollups(ctx context.Context, tx pgx.Tx, q audit.StatsQuery, globs globValues) (res audit.StatsResult, ok bool, err error) {
	plan := rollup.PlanQuery(&q)
	if plan.Why != "" {
		return res, false, nil
	}
	var upTo int64
	if err := tx.QueryRow(ctx, "SELECT seq FROM audit_rollup_state").Scan(&upTo); err != nil {
		return res, false, err
	}
	// rest is the filters of the events the rollups leave for [lo, hi).
	rest := func(w rollup.Span) []audit.Filter {
		var fs []audit.Filter
		for _, p := range rollup.Rest(q.Filter, w) {
			if p.Past {
				p.Filter.After = upTo
			}
			fs = append(fs, p.Filter)
		}
		return fs
	}

	// Totals and the first and last time: the hours' counts, and the rest.
	span := rollup.Window(&q.Filter, rollup.Hour)
	args := []any{span.Lo, span.Hi}
	cond := rollupCond(&q.Filter, &args)
	var firstHour, lastHour *int64
	err = tx.QueryRow(ctx, `SELECT coalesce(sum(events), 0)::bigint, coalesce(sum(events) FILTER (WHERE outcome = 'failure'), 0)::bigint,
	min(hour), max(hour) FROM audit_rollup_hours WHERE hour >= $1 AND hour < $2`+cond, args...).Scan(&res.Total, &res.Failed, &firstHour, &lastHour)
	if err != nil {
		return res, false, err
	}
	var first, last *time.Time
	count := func(f *audit.Filter) error {
		w := whereSQL(f, globs)
		var n, failed int64
		var a, b *time.Time
		err := tx.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE outcome = 'failure'), min(time), max(time) FROM audit_events"+where(w), w.args...).
			Scan(&n, &failed, &a, &b)
		if err != nil {
			return err
		}
		if a != nil && (first == nil || a.Before(*first)) {
			first = a
		}
		if b != nil && (last == nil || b.After(*last)) {
			last = b
		}
		res.Total += n
		res.Failed += failed
		return nil
	}
	for _, f := range rest(span) {
		if err := count(&f); err != nil {
			return res, false, err
		}
	}
	// The first and last events the rollups count are in their first and
	// last hours: read those hours' events for their times (and take
	// their counts back out, counted above already).
	total, failed := res.Total, res.Failed
	for _, h := range []*int64{firstHour, lastHour} {
		if h == nil {
			continue
		}
		f := q.Filter
		f.Since, f.Until = time.Unix(*h*rollup.Hour, 0), time.Unix((*h+1)*rollup.Hour, 0)
		if err := count(&f); err != nil {
			return res, false, err
		}
	}
	res.Total, res.Failed = total, failed
	if res.Total > 0 && first != nil && last != nil {
		if res.First, res.Last, err = firstLast(ctx, tx, &q.Filter, globs, *first, *last); err != nil {
			return res, false, err
		}
	}

	res.Tables, err = rollup.Tables(&q, plan,
		func(t audit.StatsTable, rt rollup.Table, span rollup.Span, add func([]string, int64, int64)) error {
			return rollupRows(ctx, tx, t, rt, q.Zone, &q.Filter, span, add)
		}, rest,
		func(t audit.StatsTable, f audit.Filter) (audit.StatsTableResult, error) {
			return statsTable(ctx, tx, t, q.Zone, &f, globs, nil)
		})
	return res, err == nil, err
}

// rollupRows reads the counts of one table from its rollup over the whole
// units in [lo, hi) and passes each group's keys and counts to add.
func rollupRows(ctx context.Context, tx pgx.Tx, t audit.StatsTable, rt rollup.Table, zone audit.Zone, f *audit.Filter,
	span rollup.Span, add func([]string, int64, int64)) error {
	table, bucket := "audit_rollup_hours", "hour"
	if rt.Days {
		table, bucket = "audit_rollup_days", "day"
	}
	hasTime := slices.ContainsFunc(t.By, audit.Dimension.IsTime)
	cols := rt.Columns(t, bucket)
	sel := strings.Join(cols, ", ")
	if sel != "" {
		sel += ", "
	}
	args := []any{span.Lo, span.Hi}
	q := "SELECT " + sel + "sum(events)::bigint, coalesce(sum(events) FILTER (WHERE outcome = 'failure'), 0)::bigint FROM " + table +
		" WHERE " + bucket + " >= $1 AND " + bucket + " < $2"
	if rt.Days {
		args = append(args, string(rt.Dim))
		q += " AND dim = $3"
	}
	q += rollupCond(f, &args)
	if len(cols) > 0 {
		q += " GROUP BY " + strings.Join(cols, ", ")
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var b int64
	var events *int64
	var failed int64
	texts, vals := rollup.Dest(cols, hasTime, &b)
	vals = append(vals, &events, &failed)
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return err
		}
		if events == nil || *events == 0 {
			continue // sum() over no rows
		}
		add(rollup.Keys(t.By, zone, b, texts), *events, failed)
	}
	return rows.Err()
}
