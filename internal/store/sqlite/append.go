package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/audit-cli/audit/internal/audit"
)

const insertSQL = `INSERT INTO events (seq, id, time, user, user_name, type, action, resource_type, resource, details, ip, ip_bin, outcome, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// Append stores the events in one transaction, creating the store on first
// use. Each new event gets the next seq and its hash in the chain, written
// back into the slice; an event whose id is stored already (or appears
// earlier in the batch) is counted as existing and gets Seq 0 and Hash "".
// The batch is validated (and normalized) first: an invalid event fails it
// with a *audit.RecordError before anything is written. On any error
// nothing is stored and the Seq and Hash of the events are left as they
// were.
func (s *Store) Append(ctx context.Context, events []audit.Event) (audit.AppendResult, error) {
	var res audit.AppendResult
	if err := audit.ValidateBatch(events); err != nil {
		return res, err
	}
	for i := range events {
		if events[i].Time.After(maxTime) {
			return res, &audit.RecordError{Index: i, Err: &audit.FieldError{Field: "time",
				Reason: fmt.Sprintf("%s is after %s, the latest time the SQLite store keeps",
					audit.FormatTime(events[i].Time), audit.FormatTime(maxTime))}}
		}
	}
	db, err := s.writer(ctx)
	if err != nil {
		return res, err
	}
	if len(events) == 0 {
		return res, nil
	}
	seqs, hashes, err := s.insert(ctx, db, events)
	if err != nil {
		return res, s.wrapErr("append to", err)
	}
	for i := range events {
		events[i].Seq, events[i].Hash = seqs[i], hashes[i]
		if seqs[i] != 0 {
			res.Added++
		} else {
			res.Existing++
		}
	}
	return res, nil
}

// insert writes events in one BEGIN IMMEDIATE transaction and returns the
// seq and hash of each, 0 and "" for those already stored.
func (s *Store) insert(ctx context.Context, db *sql.DB, events []audit.Event) ([]int64, []string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()

	// The head: the next seq continues sqlite_sequence (so that a seq is
	// never reused) and the chain continues from the newest row.
	var last int64
	var head string
	err = tx.QueryRowContext(ctx, `SELECT
	coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
	coalesce((SELECT hash FROM events ORDER BY seq DESC LIMIT 1), '')`).Scan(&last, &head)
	if err != nil {
		return nil, nil, fmt.Errorf("read the head: %w", err)
	}
	prev := audit.Genesis
	if head != "" {
		if prev, err = hex.DecodeString(head); err != nil {
			return nil, nil, fmt.Errorf("the newest stored hash %q is not hex: %w", head, err)
		}
	}

	stmt, err := tx.PrepareContext(ctx, insertSQL)
	if err != nil {
		return nil, nil, err
	}
	defer stmt.Close()

	// The driver watches a cancellable context with a goroutine per
	// statement; once per event is too costly for a large batch, so the
	// statements run without it and the loop checks ctx itself.
	bg := context.WithoutCancel(ctx)
	chain := audit.NewChain(s.opts.ChainKey)
	seqs := make([]int64, len(events))
	hashes := make([]string, len(events))
	next := last + 1
	for i := range events {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		e := events[i] // a copy: the caller's event changes only on success
		e.Seq = next
		sum := chain.Next(prev, &e)
		h := hex.EncodeToString(sum)
		var ipBin []byte
		if e.IP != "" {
			if a, err := netip.ParseAddr(e.IP); err == nil {
				ipBin = ipKey(a.Unmap())
			}
		}
		r, err := stmt.ExecContext(bg, e.Seq, e.ID, e.Time.UnixNano(), e.User, e.UserName, string(e.Type),
			e.Action, e.ResourceType, e.Resource, e.Details, e.IP, ipBin, string(e.Outcome), h)
		if err != nil {
			return nil, nil, fmt.Errorf("insert event %q: %w", e.ID, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return nil, nil, err
		}
		if n == 1 {
			seqs[i], hashes[i] = next, h
			prev = sum
			next++
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, err
	}
	return seqs, hashes, nil
}
