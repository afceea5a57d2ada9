package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/audit-cli/audit/internal/audit"
)

// Retention: Prune deletes the oldest part of the chain and records a
// Checkpoint, from which Verify checks the rest (Head is in query.go).

const checkpointColumns = "seq, hash, events, before, before_ns, created, archive, archive_sha256, seal"

// Checkpoint returns the checkpoint of the latest prune, the zero
// Checkpoint when the store was never pruned. A store made by an audit
// before prune existed for PostgreSQL has no table of checkpoints until its
// next write: it was never pruned.
func (s *Store) Checkpoint(ctx context.Context) (audit.Checkpoint, error) {
	if err := s.checkOpen(); err != nil {
		return audit.Checkpoint{}, err
	}
	c, err := scanCheckpoint(s.pool.QueryRow(ctx, "SELECT "+checkpointColumns+" FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"))
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Checkpoint{}, nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		// Either no store at all (Head says so) or one of schema version 1.
		_, _, err := s.Head(ctx)
		return audit.Checkpoint{}, err
	}
	if err != nil {
		return audit.Checkpoint{}, s.wrapErr("read the checkpoint of", err)
	}
	return c, nil
}

// Checkpoints lists the checkpoints of every prune, oldest first: the
// history of the store's retention.
func (s *Store) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if cp, err := s.Checkpoint(ctx); err != nil || cp.IsZero() {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, "SELECT "+checkpointColumns+" FROM audit_checkpoints ORDER BY seq")
	if err != nil {
		return nil, s.wrapErr("read the checkpoints of", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Checkpoint, error) { return scanCheckpoint(r) })
	if err != nil {
		return nil, s.wrapErr("read the checkpoints of", err)
	}
	return out, nil
}

func scanCheckpoint(r pgx.Row) (audit.Checkpoint, error) {
	var c audit.Checkpoint
	var before *time.Time
	var beforeNs int16
	err := r.Scan(&c.Seq, &c.Hash, &c.Events, &before, &beforeNs, &c.Created, &c.Archive, &c.ArchiveSHA256, &c.Seal)
	if before != nil {
		c.Before = before.UTC().Add(time.Duration(beforeNs))
	}
	c.Created = c.Created.UTC()
	return c, err
}

// truncateMin is the fewest events a partition must hold for a prune to
// empty it with TRUNCATE rather than DELETE. Tests lower it.
var truncateMin int64 = 10_000

// truncateLockTimeout bounds how long a prune waits for a partition it
// would TRUNCATE. A reader of that month (an export, a watch catching up)
// holds it off; and while TRUNCATE waits, new readers of the month queue
// behind it. So the prune gives up soon and deletes the rows instead.
const truncateLockTimeout = "1s"

// Prune deletes every event with seq <= req.Through, and their ids, and
// records the checkpoint, sealed with the store's chain key, in one
// transaction. It checks first, deleting nothing if any check fails, that
// the event at req.Through still has the hash req.Hash, that exactly
// req.Events events go, and that a newer event stays: the head row keeps
// the newest seq and hash, but the chain must go on from an event that
// verifies.
//
// The transaction holds the head row, as writers do, so no event is
// written meanwhile. A month's partition whose events all go (its largest
// seq is pruned, as with whole months before the cutoff) and that holds
// truncateMin events or more is emptied with TRUNCATE, which frees its
// space at once and writes no WAL per row; the rest is deleted row by row.
// Detaching the partition there would lock the whole of audit_events
// (ACCESS EXCLUSIVE), every reader and writer, until the prune commits,
// where TRUNCATE locks the one partition. Once the prune has committed,
// dropEmpty detaches and drops the emptied months' partitions, each in a
// transaction of its own that holds the lock for milliseconds.
//
// Values of audit_values that no event has any more are deleted too,
// and values_epoch counted up so that writers in other processes forget
// what they remember of audit_values (see lockHead).
func (s *Store) Prune(ctx context.Context, req audit.PruneRequest) (audit.Checkpoint, error) {
	if err := req.Validate(); err != nil {
		return audit.Checkpoint{}, err
	}
	// A missing store has nothing to prune; ensureSchema would create it.
	if _, _, err := s.Head(ctx); err != nil {
		return audit.Checkpoint{}, err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return audit.Checkpoint{}, err
	}
	var cp audit.Checkpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		cp, err = s.prune(ctx, tx, req)
		return err
	})
	if err != nil {
		return audit.Checkpoint{}, s.wrapErr("prune", err)
	}
	// The events are pruned and the checkpoint is stored: what is left to
	// do only frees catalog entries, and one that cannot be done now is
	// done by the next prune.
	s.dropEmpty(ctx)
	return cp, nil
}

// dropLockTimeout bounds how long dropping a partition waits for the head
// row and for audit_events. Writers wait for the head row meanwhile, and
// while the drop waits for audit_events new readers queue behind it: so
// it gives up soon, and the partition stays, empty, for the next prune.
const dropLockTimeout = "1s"

// dropEmpty detaches and drops the partitions of months before this one
// that hold no event, as a prune leaves them.
// Each goes in a transaction of its own that holds the head row, so that
// no writer adds an event to it meanwhile, counts values_epoch up, so
// that writers in other processes forget which partitions exist (see
// lockHead) and make it again for an event of that month, and gives up on
// a lock it does not get within dropLockTimeout, or a partition the role
// may not drop: those stay, empty, and are dropped by a later prune.
func (s *Store) dropEmpty(ctx context.Context) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_events'::regclass AND c.relname < $1 ORDER BY c.relname`, partitionName(monthIndex(time.Now())))
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		if !partitionRE.MatchString(name) {
			continue // not made by this store
		}
		var gone bool
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+dropLockTimeout+"'"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "SELECT 1 FROM audit_head FOR UPDATE"); err != nil {
				return err
			}
			table := pgx.Identifier{name}.Sanitize()
			var empty bool
			if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+table+")").Scan(&empty); err != nil || !empty {
				return err
			}
			if _, err := tx.Exec(ctx, "ALTER TABLE audit_events DETACH PARTITION "+table+"; DROP TABLE "+table+
				"; UPDATE audit_head SET values_epoch = values_epoch + 1"); err != nil {
				return err
			}
			gone = true
			return nil
		})
		if err == nil && gone {
			s.mu.Lock()
			clear(s.months)
			s.mu.Unlock()
		}
	}
}

func (s *Store) prune(ctx context.Context, tx pgx.Tx, req audit.PruneRequest) (audit.Checkpoint, error) {
	if _, err := tx.Exec(ctx, "SELECT 1 FROM audit_head FOR UPDATE"); err != nil {
		return audit.Checkpoint{}, err
	}
	var last int64
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM audit_checkpoints").Scan(&last); err != nil {
		return audit.Checkpoint{}, err
	}
	if err := req.CheckCheckpoint(last); err != nil {
		return audit.Checkpoint{}, err
	}
	var h string
	err := tx.QueryRow(ctx, "SELECT hash FROM audit_events WHERE seq = $1", req.Through).Scan(&h)
	found := !errors.Is(err, pgx.ErrNoRows)
	if err != nil && found {
		return audit.Checkpoint{}, err
	}
	var n int64
	var newer bool
	if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM audit_events WHERE seq <= $1), EXISTS (SELECT 1 FROM audit_events WHERE seq > $1)",
		req.Through).Scan(&n, &newer); err != nil {
		return audit.Checkpoint{}, err
	}
	if err := req.Check(found, h, n, newer); err != nil {
		return audit.Checkpoint{}, err
	}

	// What goes besides the events: their ids, and the values they had,
	// which are deleted from audit_values at the end if no event kept has
	// them.
	if err := pruneIDs(ctx, tx, req.Through, n); err != nil {
		return audit.Checkpoint{}, err
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE audit_pruned_values (kind text COLLATE "C", value text COLLATE "C") ON COMMIT DROP`); err != nil {
		return audit.Checkpoint{}, err
	}
	// One pass, five small hash tables: a third of the time of one
	// DISTINCT over five rows an event.
	_, err = tx.Exec(ctx, `INSERT INTO audit_pruned_values
SELECT CASE WHEN GROUPING(user_lc) = 0 THEN 'u' WHEN GROUPING(user_name_lc) = 0 THEN 'n' WHEN GROUPING(action_lc) = 0 THEN 'a'
		WHEN GROUPING(resource_type_lc) = 0 THEN 'k' ELSE 'r' END,
	coalesce(user_lc, user_name_lc, action_lc, resource_type_lc, resource_lc)
FROM audit_events WHERE seq <= $1
GROUP BY GROUPING SETS ((user_lc), (user_name_lc), (action_lc), (resource_type_lc), (resource_lc))`, req.Through)
	if err != nil {
		return audit.Checkpoint{}, err
	}

	if err := pruneRollups(ctx, tx, req.Through); err != nil {
		return audit.Checkpoint{}, err
	}
	deleted, err := truncateWhole(ctx, tx, req.Through)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	tag, err := tx.Exec(ctx, "DELETE FROM audit_events WHERE seq <= $1", req.Through)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	if deleted += tag.RowsAffected(); deleted != n {
		return audit.Checkpoint{}, fmt.Errorf("deleted %d events, not the %d counted before: the store changed while it was pruned; nothing was pruned", deleted, n)
	}
	if err := pruneValues(ctx, tx); err != nil {
		return audit.Checkpoint{}, err
	}

	cp := req.Checkpoint(time.Now().Truncate(time.Microsecond)) // as timestamptz keeps it
	var before any
	var beforeNs int16
	if !req.Before.IsZero() {
		before, beforeNs = splitTime(cp.Before)
	}
	cp.Seal = audit.CheckpointSeal(s.opts.ChainKey, cp)
	_, err = tx.Exec(ctx, "INSERT INTO audit_checkpoints ("+checkpointColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		cp.Seq, cp.Hash, cp.Events, before, beforeNs, cp.Created, cp.Archive, cp.ArchiveSHA256, cp.Seal)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	return cp, nil
}

// pruneIDs deletes the ids of the n events with seq <= through from
// audit_event_ids, which has no index on seq: when they are a good part
// of it, in one pass over it; else found by id, from the events, which the
// planner may look up one by one in its primary key.
func pruneIDs(ctx context.Context, tx pgx.Tx, through, n int64) error {
	var ids float64 // an estimate; -1 before the table was first analyzed
	if err := tx.QueryRow(ctx, "SELECT reltuples::float8 FROM pg_class WHERE oid = 'audit_event_ids'::regclass").Scan(&ids); err != nil {
		return err
	}
	sql := "DELETE FROM audit_event_ids WHERE id IN (SELECT id FROM audit_events WHERE seq <= $1)"
	if ids < 0 || float64(4*n) >= ids {
		sql = "DELETE FROM audit_event_ids WHERE seq <= $1"
	}
	_, err := tx.Exec(ctx, sql, through)
	return err
}

// truncateWhole empties with TRUNCATE the partitions of at least
// truncateMin events all of which are pruned (seq <= through), and returns
// how many events they held. A partition it cannot lock within
// truncateLockTimeout, or may not truncate (a role granted DELETE alone),
// is left to the DELETE that follows.
func truncateWhole(ctx context.Context, tx pgx.Tx, through int64) (int64, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_events'::regclass ORDER BY c.relname`)
	if err != nil {
		return 0, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	// The largest seq of each partition, from its seq index.
	b := &pgx.Batch{}
	for _, name := range names {
		b.Queue("SELECT max(seq) FROM " + pgx.Identifier{name}.Sanitize())
	}
	br := tx.SendBatch(ctx, b)
	var whole []string
	for _, name := range names {
		var maxSeq *int64
		if err := br.QueryRow().Scan(&maxSeq); err != nil {
			br.Close()
			return 0, err
		}
		if maxSeq != nil && *maxSeq <= through {
			whole = append(whole, name)
		}
	}
	if err := br.Close(); err != nil {
		return 0, err
	}
	var timeout string
	if len(whole) > 0 {
		if err := tx.QueryRow(ctx, "SELECT current_setting('lock_timeout')").Scan(&timeout); err != nil {
			return 0, err
		}
	}
	var deleted int64
	for _, name := range whole {
		table := pgx.Identifier{name}.Sanitize()
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			return 0, err
		}
		if n < truncateMin {
			continue
		}
		sp, err := tx.Begin(ctx) // a savepoint, to give up on the lock
		if err != nil {
			return 0, err
		}
		_, err = sp.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", truncateLockTimeout)
		if err == nil {
			_, err = sp.Exec(ctx, "TRUNCATE "+table)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "55P03" || pe.Code == "42501") { // lock_not_available, insufficient_privilege
			if err := sp.Rollback(ctx); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if _, err := sp.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", timeout); err != nil {
			return 0, err
		}
		if err := sp.Commit(ctx); err != nil {
			return 0, err
		}
		deleted += n
	}
	return deleted, nil
}

// pruneValues deletes the values of pruned events (audit_pruned_values)
// that no event kept has, each looked up in the facets index, and counts
// values_epoch up if it deleted any.
func pruneValues(ctx context.Context, tx pgx.Tx) error {
	// The lookups must go through the facets index: a scan that stops at
	// the first match would read the whole table for a value nobody has.
	// Pricing scans out makes the plan look expensive enough for JIT
	// compilation, which would take longer than the lookups (a second on
	// the test machine): no JIT. (SET LOCAL: until the prune commits.)
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL jit = off"); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM audit_values v USING audit_pruned_values p
WHERE v.kind = p.kind AND v.value = p.value
	AND NOT EXISTS (SELECT 1 FROM audit_events WHERE `+facetsExpr+` @> ARRAY[p.kind || ':' || p.value])`)
	if err != nil {
		return err
	}
	if tag.RowsAffected() > 0 {
		_, err = tx.Exec(ctx, "UPDATE audit_head SET values_epoch = values_epoch + 1")
	}
	return err
}
