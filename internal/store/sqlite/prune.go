package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Prune deletes every event with seq <= req.Through and records the
// checkpoint, sealed with the store's chain key, in one transaction. It
// checks first, deleting nothing if any check fails, that the event at
// req.Through still has the hash req.Hash, that exactly req.Events events
// go, and that a newer event stays: Append continues the chain from the
// newest row, so the store must never be emptied by a prune.
func (s *Store) Prune(ctx context.Context, req audit.PruneRequest) (audit.Checkpoint, error) {
	if err := req.Validate(); err != nil {
		return audit.Checkpoint{}, err
	}
	// A missing store has nothing to prune; writer would create it.
	if _, err := s.readers(ctx); err != nil {
		return audit.Checkpoint{}, err
	}
	db, err := s.writer(ctx)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	cp, err := s.prune(ctx, db, req)
	if err != nil {
		return audit.Checkpoint{}, s.wrapErr("prune", err)
	}
	return cp, nil
}

func (s *Store) prune(ctx context.Context, db *sql.DB, req audit.PruneRequest) (audit.Checkpoint, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	defer tx.Rollback()

	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM checkpoints").Scan(&last); err != nil {
		return audit.Checkpoint{}, err
	}
	if err := req.CheckCheckpoint(last); err != nil {
		return audit.Checkpoint{}, err
	}
	var h string
	err = tx.QueryRowContext(ctx, "SELECT hash FROM events WHERE seq = ?", req.Through).Scan(&h)
	found := !errors.Is(err, sql.ErrNoRows)
	if err != nil && found {
		return audit.Checkpoint{}, err
	}
	var n int64
	var newer bool
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM events WHERE seq <= ?1), EXISTS (SELECT 1 FROM events WHERE seq > ?1)",
		req.Through).Scan(&n, &newer); err != nil {
		return audit.Checkpoint{}, err
	}
	if err := req.Check(found, h, n, newer); err != nil {
		return audit.Checkpoint{}, err
	}
	if err := pruneRollups(ctx, tx, req.Through); err != nil {
		return audit.Checkpoint{}, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM events WHERE seq <= ?", req.Through); err != nil {
		return audit.Checkpoint{}, err
	}
	cp := req.Checkpoint(time.Now().Round(0))
	cp.Seal = audit.CheckpointSeal(s.opts.ChainKey, cp)
	var before any
	if !cp.Before.IsZero() {
		before = clampNanos(cp.Before)
		cp.Before = time.Unix(0, before.(int64)).UTC() // as it reads back
		cp.Seal = audit.CheckpointSeal(s.opts.ChainKey, cp)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO checkpoints ("+checkpointColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		cp.Seq, cp.Hash, cp.Events, before, cp.Created.UnixNano(), cp.Archive, cp.ArchiveSHA256, cp.Seal)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	if err := tx.Commit(); err != nil {
		return audit.Checkpoint{}, err
	}
	return cp, nil
}
