package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/rollup"
)

const insertSQL = `INSERT INTO events (seq, id, time, user, user_name, type, action, resource_type, resource, details, ip, ip_bin, outcome, hash, source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// insertRawSQL stores an imported event's original record beside it (see
// migration 5).
const insertRawSQL = `INSERT INTO event_raw (seq, raw) VALUES (?, ?)`

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
		if ctx.Err() != nil {
			return res, ctx.Err() // see Import
		}
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
	w, err := s.beginChain(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	defer w.rollback()
	seqs := make([]int64, len(events))
	hashes := make([]string, len(events))
	for i := range events {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		r := newRow(events[i], s.raw.encoder) // a copy: the caller's event changes only on success
		if seqs[i], hashes[i], err = w.add(&r); err != nil {
			var ce *audit.ConflictError
			if errors.As(err, &ce) {
				ce.Index = i
			}
			return nil, nil, err
		}
	}
	if err := w.commit(ctx); err != nil {
		return nil, nil, err
	}
	return seqs, hashes, nil
}

// chainWriter inserts events into an open write transaction, continuing
// the seq numbering and the hash chain from the head it read at the start.
type chainWriter struct {
	tx    *sql.Tx
	stmt  *sql.Stmt
	raw   *sql.Stmt // prepared on the first event with a raw record
	raws  rawWriter
	bg    context.Context
	chain *audit.Chain
	prev  []byte
	next  int64
	// skipped tells that an insert was skipped as stored already; see
	// commit.
	skipped bool
	// start is the seq of the head when the transaction began; counts
	// are the rollup counts of the events inserted since (rollup.go),
	// which add keeps unless batchCounts says that the caller does.
	start       int64
	counts      *rollup.Counts
	batchCounts bool
	// rebuild holds the CREATE INDEX statements of the indexes that
	// deferIndexes dropped, for commit to run again.
	rebuild  []string
	deferred bool
}

func (s *Store) beginChain(ctx context.Context, db *sql.DB) (*chainWriter, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	// The head: the next seq continues sqlite_sequence (so that a seq is
	// never reused) and the chain continues from the newest row.
	var last int64
	var head string
	err = tx.QueryRowContext(ctx, `SELECT
	coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
	coalesce((SELECT hash FROM events ORDER BY seq DESC LIMIT 1), '')`).Scan(&last, &head)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("read the head: %w", err)
	}
	prev := audit.Genesis
	if head != "" {
		if prev, err = hex.DecodeString(head); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("the newest stored hash %q is not hex: %w", head, err)
		}
	}
	stmt, err := tx.PrepareContext(ctx, insertSQL)
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	// The driver watches a cancellable context with a goroutine per
	// statement; once per event is too costly for a large batch, so the
	// statements run without it and callers check ctx themselves.
	w := &chainWriter{tx: tx, stmt: stmt, bg: context.WithoutCancel(ctx),
		chain: audit.NewChain(s.opts.ChainKey), prev: prev, next: last + 1, start: last,
		counts: rollup.NewCounts(), raws: rawWriter{c: s.raw}}
	if err := w.raws.begin(w.bg, tx); err != nil {
		w.rollback()
		return nil, err
	}
	return w, nil
}

// row is a validated event with what its insert needs that does not
// depend on its seq, so that an import can compute it on the decoding
// goroutine.
type row struct {
	e      audit.Event
	tail   []byte // e.CanonicalTail()
	ipBin  []byte // the ip_bin column
	packed []byte // e.Raw compressed, when its source had a dictionary (rawcodec.go)
}

func newRow(e audit.Event, encoder func(source string) *rawEncoder) row {
	r := row{e: e, tail: e.CanonicalTail()}
	if len(e.Raw) > 0 {
		if enc := encoder(e.SourceName()); enc != nil {
			r.packed = enc.enc.EncodeAll(e.Raw, nil)
		}
	}
	if e.IP != "" {
		if a, err := netip.ParseAddr(e.IP); err == nil {
			r.ipBin = ipKey(a.Unmap())
		}
	}
	return r
}

// add inserts r unless its id is stored, returning its new seq and hash, or
// 0 and "" when it was stored already.
func (w *chainWriter) add(r *row) (int64, string, error) {
	e := &r.e
	e.Seq = w.next
	sum := w.chain.NextTail(w.prev, e.Seq, r.tail)
	h := hex.EncodeToString(sum)
	res, err := w.stmt.ExecContext(w.bg, e.Seq, e.ID, e.Time.UnixNano(), e.User, e.UserName, string(e.Type),
		e.Action, e.ResourceType, e.Resource, e.Details, e.IP, r.ipBin, string(e.Outcome), h, e.SourceName())
	if err != nil {
		return 0, "", fmt.Errorf("insert event %q: %w", e.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, "", err
	}
	if n != 1 {
		if err := w.sameAsStored(e); err != nil {
			return 0, "", err
		}
		w.skipped = true
		return 0, "", nil
	}
	if len(e.Raw) > 0 {
		if w.raw == nil {
			if w.raw, err = w.tx.PrepareContext(w.bg, insertRawSQL); err != nil {
				return 0, "", err
			}
		}
		v, err := w.raws.value(w.bg, w.tx, r)
		if err != nil {
			return 0, "", err
		}
		if _, err := w.raw.ExecContext(w.bg, e.Seq, v); err != nil {
			return 0, "", fmt.Errorf("insert the original record of %q: %w", e.ID, err)
		}
	}
	if !w.batchCounts {
		w.counts.Add(e, 1)
		if err := w.flushFull(); err != nil {
			return 0, "", err
		}
	}
	w.prev = sum
	w.next++
	return e.Seq, h, nil
}

// sameAsStored checks that e, whose id is stored already (by an earlier
// transaction or earlier in this one), is the stored event: a *
// audit.ConflictError (Index left for the caller) when it is not.
func (w *chainWriter) sameAsStored(e *audit.Event) error {
	old, err := scanEvent(w.tx.QueryRowContext(w.bg, "SELECT "+columns+" FROM events WHERE id = ?", e.ID), w.raws.c)
	if err != nil {
		return fmt.Errorf("read the stored event %q: %w", e.ID, err)
	}
	if f := audit.DiffField(&old, e); f != "" {
		return &audit.ConflictError{ID: e.ID, Field: f}
	}
	return nil
}

// deferIndexes drops the secondary indexes of the events table inside the
// transaction; commit builds them again. Building an index from a sorted
// run of all rows costs much less than inserting into it row by row (1M
// events: the eight take 6.3 s kept up to date, 3.0 s built at commit), so
// a bulk import that outgrows the store it began with switches to this. The unique
// index on id stays: it keeps the insert idempotent. Readers keep seeing
// the indexes of the last commit, and a rollback brings them back.
func (w *chainWriter) deferIndexes(ctx context.Context) error {
	rows, err := w.tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema
WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		return fmt.Errorf("list the indexes: %w", err)
	}
	var names []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return fmt.Errorf("list the indexes: %w", err)
		}
		names = append(names, name)
		w.rebuild = append(w.rebuild, def)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("list the indexes: %w", err)
	}
	for _, name := range names {
		if _, err := w.tx.ExecContext(ctx, "DROP INDEX "+quoteIdent(name)); err != nil {
			return fmt.Errorf("drop index %s for the import: %w", name, err)
		}
	}
	w.deferred = true
	return nil
}

// buildIndexes runs the CREATE INDEX statements deferIndexes saved.
// SQLite sorts the keys of each with helper threads when its sorter works
// in chunks, and a small page cache makes it do so: the eight indexes of
// 1M events take 3.0 s instead of 4.0 s. The connection's settings are
// put back afterwards: it serves the writes that follow.
func (w *chainWriter) buildIndexes(ctx context.Context) (err error) {
	if len(w.rebuild) == 0 {
		return nil
	}
	threads := min(runtime.NumCPU(), 4)
	if _, err := w.tx.ExecContext(ctx, fmt.Sprintf("PRAGMA threads = %d; PRAGMA cache_size = %d", threads, sortCacheKiB)); err != nil {
		return err
	}
	defer func() {
		_, rerr := w.tx.ExecContext(w.bg, fmt.Sprintf("PRAGMA threads = 0; PRAGMA cache_size = %d", writerCacheKiB))
		err = errors.Join(err, rerr)
	}()
	for _, def := range w.rebuild {
		if _, err := w.tx.ExecContext(ctx, def); err != nil {
			return err
		}
	}
	return nil
}

// sortCacheKiB is the page cache (as SQLite's negative cache_size, KiB)
// while buildIndexes runs: SQLite's sorter holds that much in memory
// before it hands a sorted chunk to a helper thread and starts the next.
const sortCacheKiB = -4096

// quoteIdent quotes an SQL identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// commit ends the transaction, first building the indexes deferIndexes
// dropped. SQLite raises the AUTOINCREMENT counter
// (sqlite_sequence) to the seq an INSERT carries before it checks the
// conflict, so an event skipped as stored already would leave the counter
// one past the last seq really assigned: the next write would then skip a
// seq, and verify would report that gap as deleted events. The counter is
// put back first.
func (w *chainWriter) commit(ctx context.Context) error {
	if err := w.buildIndexes(ctx); err != nil {
		return fmt.Errorf("build the indexes again: %w", err)
	}
	if err := flushCounts(w.bg, w.tx, w.counts); err != nil {
		return err
	}
	// The rollups count the events up to this commit's, if they counted
	// those up to where it began (see rollup.go).
	if w.next-1 > w.start {
		if _, err := w.tx.ExecContext(w.bg, "UPDATE rollup_state SET seq = ? WHERE seq = ?", w.next-1, w.start); err != nil {
			return fmt.Errorf("count the events into the rollups: %w", err)
		}
	}
	if w.skipped {
		last := w.next - 1
		if _, err := w.tx.ExecContext(w.bg, `UPDATE sqlite_sequence SET seq = ? WHERE name = 'events' AND seq > ?`, last, last); err != nil {
			return fmt.Errorf("restore the seq counter: %w", err)
		}
	}
	if err := w.tx.Commit(); err != nil {
		return err
	}
	w.raws.committed()
	return nil
}

// flushFull adds the counts to the rollups once they are many.
func (w *chainWriter) flushFull() error {
	if w.counts.Full() {
		return flushCounts(w.bg, w.tx, w.counts)
	}
	return nil
}

func (w *chainWriter) rollback() {
	w.stmt.Close()
	if w.raw != nil {
		w.raw.Close()
	}
	w.tx.Rollback()
}
