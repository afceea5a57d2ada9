package postgres

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/rollup"
)

// eventColumns are the columns of audit_events a write fills, in the order
// of rowValues (COPY has its own order, copyColumns).
var eventColumns = []string{"seq", "id", "time", "time_ns", "user", "user_name", "type", "action",
	"resource_type", "resource", "details", "ip", "outcome", "hash",
	"user_lc", "user_name_lc", "action_lc", "resource_type_lc", "resource_lc", "details_lc",
	"source", "raw"}

// importBatch is how many events Import hands the database at a time.
const importBatch = 8192

// copyMin is the smallest batch written with COPY; smaller ones are one
// INSERT, which takes fewer round trips.
const copyMin = 64

// splitTime splits t into the microseconds timestamptz keeps and the
// nanoseconds beyond them.
func splitTime(t time.Time) (time.Time, int16) {
	us := t.Truncate(time.Microsecond)
	return us, int16(t.Sub(us))
}

// ipValue is the inet value of a normalized address, nil (NULL) for none.
func ipValue(ip string) any {
	if ip == "" {
		return nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil // not after Normalize
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// rowValues returns e as a row of audit_events (eventColumns).
func rowValues(e *audit.Event) []any {
	t, ns := splitTime(e.Time)
	return []any{e.Seq, e.ID, t, ns, e.User, e.UserName, string(e.Type), e.Action,
		e.ResourceType, e.Resource, e.Details, ipValue(e.IP), string(e.Outcome), e.Hash,
		strings.ToLower(e.User), strings.ToLower(e.UserName), strings.ToLower(e.Action),
		strings.ToLower(e.ResourceType), strings.ToLower(e.Resource), strings.ToLower(e.Details),
		e.SourceName(), rawValue(e.Raw)}
}

// rawValue is the raw column's value: NULL for no original record.
func rawValue(raw []byte) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// Append stores the events in one transaction, creating the schema on
// first use. Each new event gets the next seq and its hash in the chain,
// written back into the slice; an event whose id is stored already (or
// appears earlier in the batch) is counted as existing and gets Seq 0 and
// Hash "". The batch is validated (and normalized) first: an invalid event
// fails it with a *audit.RecordError before anything is written. On any
// error nothing is stored and the Seq and Hash of the events are left as
// they were.
func (s *Store) Append(ctx context.Context, events []audit.Event) (audit.AppendResult, error) {
	var res audit.AppendResult
	if err := audit.ValidateBatch(events); err != nil {
		return res, err
	}
	if err := s.ensureSchema(ctx); err != nil {
		return res, err
	}
	if len(events) == 0 {
		return res, nil
	}
	if err := s.ensurePartitions(ctx, months(events)); err != nil {
		return res, err
	}
	var seqs []int64
	var hashes []string
	var w *writer
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if w, err = s.lockHead(ctx, tx); err != nil {
			return err
		}
		// Made above unless a prune dropped one since (lockHead then
		// forgot them): made again on another connection, committed at
		// once, and visible to this transaction's next statement.
		if err := s.ensurePartitions(ctx, months(events)); err != nil {
			return err
		}
		if seqs, hashes, err = w.write(ctx, newBatch(events)); err != nil {
			return err
		}
		return w.finish(ctx)
	})
	if err != nil {
		return res, s.wrapErr("append to", err)
	}
	s.remember(w.values, w.epoch)
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

// batch is events on their way into the store, with their rows encoded
// for COPY (all but seq and hash) ahead, where Import encodes them: in the
// goroutine that reads the stream, while the database writes the batch
// before.
type batch struct {
	events []audit.Event
	enc    []byte         // the rows, one after the other
	offs   []int          // row i is enc[offs[i]:offs[i+1]]
	values []facetValue   // the distinct facet values of the events
	counts *rollup.Counts // the rollup counts of all the events
}

func newBatch(events []audit.Event) *batch {
	b := &batch{events: events, offs: make([]int, 0, len(events)+1), enc: make([]byte, 0, 400*len(events))}
	for i := range events {
		b.offs = append(b.offs, len(b.enc))
		b.enc = appendRow(b.enc, &events[i])
	}
	b.offs = append(b.offs, len(b.enc))
	b.values = batchValues(events)
	b.counts = rollup.NewCounts()
	for i := range events {
		b.counts.Add(&events[i], 1)
	}
	return b
}

// months returns the months (monthIndex) the events fall in.
func months(events []audit.Event) map[int]bool {
	m := map[int]bool{}
	for i := range events {
		m[monthIndex(events[i].Time)] = true
	}
	return m
}

// Import stores a whole stream of events in one transaction: all of them
// or, on any error, none. Events already stored (by id), or seen earlier in
// the stream, are counted as existing.
//
// A goroutine decodes and validates the stream into batches while the
// database writes the previous one, so that on two cores parsing and
// writing overlap. The head row is locked only once the first batch is
// full (or the stream has ended): an import that fits in one batch never
// holds up other writers while its input is read; a longer one holds the
// lock from then until it commits, as it must, since every event it writes
// gets its seq before theirs.
func (s *Store) Import(ctx context.Context, events iter.Seq2[audit.Event, error]) (audit.AppendResult, error) {
	var res audit.AppendResult
	if err := s.ensureSchema(ctx); err != nil {
		return res, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the reader on every way out
	r := &batchReader{batches: make(chan *batch, 1), done: make(chan struct{})}
	go r.read(ctx, events)

	b, ok := <-r.batches
	if !ok {
		<-r.done
		return res, r.err // nothing at all, or an error in the first batch
	}
	var w *writer
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if w, err = s.lockHead(ctx, tx); err != nil {
			return err
		}
		for ok {
			m := months(b.events)
			// Partitions are made on another connection, committed at
			// once, and visible to this transaction's next statement.
			if err := s.ensurePartitions(ctx, m); err != nil {
				return err
			}
			before := w.added
			if _, _, err := w.write(ctx, b); err != nil {
				var ce *audit.ConflictError
				if errors.As(err, &ce) {
					ce.Index += res.Existing + before
				}
				return err
			}
			res.Existing += len(b.events) - (w.added - before)
			b, ok = <-r.batches
		}
		<-r.done
		if r.err != nil {
			return r.err
		}
		res.Added = w.added
		return w.finish(ctx)
	})
	if err != nil {
		if r.err != nil && errors.Is(err, r.err) {
			return audit.AppendResult{}, err // the stream's or an event's own error
		}
		return audit.AppendResult{}, s.wrapErr("import into", err)
	}
	s.remember(w.values, w.epoch)
	return res, nil
}

// batchReader reads a stream of events into validated batches.
type batchReader struct {
	batches chan *batch
	done    chan struct{} // closed when read has returned; err is set then
	err     error         // the stream's error, or a *audit.RecordError
}

func (r *batchReader) read(ctx context.Context, events iter.Seq2[audit.Event, error]) {
	defer close(r.done)
	defer close(r.batches)
	send := func(events []audit.Event) bool {
		select {
		case r.batches <- newBatch(events):
			return true
		case <-ctx.Done():
			return false
		}
	}
	batch := make([]audit.Event, 0, importBatch)
	n := 0
	for e, err := range events {
		if err != nil {
			r.err = err
			return
		}
		if err := e.Normalize(); err != nil {
			r.err = &audit.RecordError{Index: n, Err: err}
			return
		}
		n++
		batch = append(batch, e)
		if len(batch) == importBatch {
			if !send(batch) {
				return
			}
			batch = make([]audit.Event, 0, importBatch)
		}
	}
	if len(batch) > 0 {
		send(batch)
	}
}

// writer assigns seqs and hashes in a transaction that holds the head row,
// and writes the events.
type writer struct {
	s     *Store
	tx    pgx.Tx
	chain *audit.Chain
	seq   int64  // the last seq assigned
	prev  []byte // its hash, raw
	added int
	// values are the facet values this transaction adds to audit_values;
	// the Store remembers them once it has committed.
	values map[facetValue]struct{}
	epoch  int64 // the values_epoch of the head row
	// start is the seq of the head when the writer locked it; counts are
	// the rollup counts of the events written since, not yet added to
	// the rollups (rollup.go).
	start  int64
	counts *rollup.Counts
}

// lockHead locks the head row of the store and returns a writer that
// continues from it. The lock is what makes seq commit-ordered: a second
// writer waits here until the first one commits (or rolls back), and then
// reads the head that one left, so it assigns larger seqs and commits
// later. The row lock is released only after the commit is visible to
// everyone (PostgreSQL ends a transaction's visibility before it releases
// its locks), so a reader that sees seq N also sees every smaller one.
// It is the same mechanism as a transaction-scoped advisory lock
// (pg_advisory_xact_lock), but scoped to this schema's tables, and it works
// on engines without advisory locks.
func (s *Store) lockHead(ctx context.Context, tx pgx.Tx) (*writer, error) {
	var seq, epoch int64
	var hash string
	err := tx.QueryRow(ctx, "SELECT seq, hash, values_epoch FROM audit_head FOR UPDATE").Scan(&seq, &hash, &epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("the head row of audit_head is missing: the store was changed by hand")
	}
	if err != nil {
		return nil, err
	}
	prev := audit.Genesis
	if hash != "" {
		if prev, err = hex.DecodeString(hash); err != nil {
			return nil, fmt.Errorf("the newest stored hash %q is not hex: %w", hash, err)
		}
	}
	s.mu.Lock()
	if epoch != s.epoch {
		// A prune deleted values from audit_values, or dropped emptied
		// partitions: those remembered as stored may be gone (see
		// prune.go).
		clear(s.known)
		clear(s.months)
		s.epoch = epoch
	}
	s.mu.Unlock()
	return &writer{s: s, tx: tx, chain: audit.NewChain(s.opts.ChainKey), seq: seq, prev: prev,
		values: map[facetValue]struct{}{}, epoch: epoch, start: seq, counts: rollup.NewCounts()}, nil
}

// write stores the events of batch whose ids are not stored yet (the
// first of each id in the batch), in order, and returns the seq and hash
// of each event, 0 and "" for those not written.
//
// Which ids are stored already is one index lookup per id in
// audit_event_ids; holding the head row, the writer is the only one adding
// ids, so the answer stays true until it commits, and the new ids go in
// with COPY (the primary key still guards them). That costs the server
// half the CPU of INSERT … ON CONFLICT DO NOTHING: 1.4 s against 2.5 s
// per million ids, measured with log_statement_stats.
func (w *writer) write(ctx context.Context, b *batch) ([]int64, []string, error) {
	batch := b.events
	firsts := make([]int, 0, len(batch))
	ids := make([]string, 0, len(batch))
	seen := make(map[string]int, len(batch))
	for i := range batch {
		first, ok := seen[batch[i].ID]
		if !ok {
			seen[batch[i].ID] = i
			firsts = append(firsts, i)
			ids = append(ids, batch[i].ID)
			continue
		}
		if f := audit.DiffField(&batch[first], &batch[i]); f != "" {
			return nil, nil, &audit.ConflictError{Index: i, ID: batch[i].ID, Field: f}
		}
	}
	// One index probe per id, as a subplan per element: the planner, which
	// cannot know that few of the ids exist (and sees a table that grows
	// within the transaction), would otherwise scan the whole table for
	// every batch.
	rows, err := w.tx.Query(ctx, `SELECT u.id FROM unnest($1::text[]) AS u(id)
WHERE (SELECT true FROM audit_event_ids i WHERE i.id = u.id)`, ids)
	if err != nil {
		return nil, nil, err
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, err
	}
	if err := w.sameAsStored(ctx, batch, seen, stored); err != nil {
		return nil, nil, err
	}
	fresh := firsts
	if len(stored) > 0 {
		old := make(map[string]bool, len(stored))
		for _, id := range stored {
			old[id] = true
		}
		fresh = make([]int, 0, len(firsts)-len(stored))
		for _, i := range firsts {
			if !old[batch[i].ID] {
				fresh = append(fresh, i)
			}
		}
	}
	seqs := make([]int64, len(batch))
	hashes := make([]string, len(batch))
	if len(fresh) == 0 {
		return seqs, hashes, nil
	}
	if err := w.addValues(ctx, b.values); err != nil {
		return nil, nil, err
	}
	if len(fresh) >= copyMin {
		err = w.copy(ctx, b, fresh, seqs, hashes)
	} else {
		w.assign(batch, fresh, seqs, hashes)
		err = w.insertRows(ctx, batch, fresh, seqs, hashes)
	}
	if err != nil {
		return nil, nil, err
	}
	w.added += len(fresh)
	// The batch counted all its events: take back those not written.
	if len(fresh) < len(batch) {
		for i := range batch {
			if seqs[i] == 0 {
				b.counts.Add(&batch[i], -1)
			}
		}
	}
	w.counts.Merge(b.counts)
	b.counts = rollup.NewCounts()
	if w.counts.Full() {
		return seqs, hashes, w.flushCounts(ctx)
	}
	return seqs, hashes, nil
}

// sameAsStored checks that the events of batch whose ids are stored
// already (first holds the index of each id's first event) are the stored
// events: a *audit.ConflictError, Index relative to the batch, when one
// is not.
func (w *writer) sameAsStored(ctx context.Context, batch []audit.Event, first map[string]int, stored []string) error {
	if len(stored) == 0 {
		return nil
	}
	rows, err := w.tx.Query(ctx, `SELECT `+joinedColumns+`
FROM audit_event_ids i JOIN audit_events e ON e.seq = i.seq AND e.time = i.time
WHERE i.id = ANY($1)`, stored)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		old, err := scanEvent(rows)
		if err != nil {
			return err
		}
		i := first[old.ID]
		if f := audit.DiffField(&old, &batch[i]); f != "" {
			return &audit.ConflictError{Index: i, ID: old.ID, Field: f}
		}
	}
	return rows.Err()
}

// assign gives the events at idx the next seqs and their hashes.
func (w *writer) assign(batch []audit.Event, idx []int, seqs []int64, hashes []string) {
	for _, i := range idx {
		e := batch[i] // a copy: the caller's event changes only on success
		w.seq++
		e.Seq = w.seq
		h := w.chain.Next(w.prev, &e)
		w.prev = h
		seqs[i], hashes[i] = e.Seq, hex.EncodeToString(h)
	}
}

// facetValue is a value of audit_values: a kind (u, n, a, k, r) and a
// lowercased text.
type facetValue struct {
	kind byte
	v    string
}

// addValues adds to audit_values those of values that it may lack. The
// values are those of the whole batch, events stored already included:
// theirs are in audit_values already.
func (w *writer) addValues(ctx context.Context, values []facetValue) error {
	var kinds, texts []string
	w.s.mu.Lock()
	for _, fv := range values {
		if _, ok := w.s.known[fv]; ok {
			continue
		}
		if _, ok := w.values[fv]; ok {
			continue
		}
		w.values[fv] = struct{}{}
		kinds, texts = append(kinds, string(fv.kind)), append(texts, fv.v)
	}
	w.s.mu.Unlock()
	if len(kinds) == 0 {
		return nil
	}
	_, err := w.tx.Exec(ctx, `INSERT INTO audit_values (kind, value)
SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, kinds, texts)
	return err
}

// batchValues returns the distinct facet values of the events.
func batchValues(events []audit.Event) []facetValue {
	raw := map[facetValue]struct{}{} // as written: most repeat, and need no lowercasing again
	lower := map[facetValue]struct{}{}
	var out []facetValue
	for i := range events {
		e := &events[i]
		for _, fv := range [...]facetValue{{'u', e.User}, {'n', e.UserName}, {'a', e.Action},
			{'k', e.ResourceType}, {'r', e.Resource}} {
			if _, ok := raw[fv]; ok {
				continue
			}
			raw[fv] = struct{}{}
			lc := facetValue{fv.kind, strings.ToLower(fv.v)}
			if _, ok := lower[lc]; ok {
				continue
			}
			lower[lc] = struct{}{}
			out = append(out, lc)
		}
	}
	return out
}

// maxKnown bounds how many facet values a Store remembers as stored.
const maxKnown = 100_000

// remember notes facet values committed to audit_values, so that later
// writes need not send them again, unless a prune has deleted values since
// epoch, when they were written.
func (s *Store) remember(values map[facetValue]struct{}, epoch int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch != s.epoch {
		return
	}
	for fv := range values {
		if len(s.known) >= maxKnown {
			return
		}
		s.known[fv] = struct{}{}
	}
}

// copy assigns the events of b at idx their seqs and hashes and writes
// them, and their ids, with COPY. The events are streamed to the server
// as they are assigned, so that hashing in Go and inserting in the
// database overlap.
func (w *writer) copy(ctx context.Context, b *batch, idx []int, seqs []int64, hashes []string) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 0, 128<<10)
		buf = append(buf, copyHeader...)
		for n, i := range idx {
			w.assign(b.events, idx[n:n+1], seqs, hashes)
			buf = append(buf, b.enc[b.offs[i]:b.offs[i+1]]...)
			buf = appendSeqHash(buf, seqs[i], hashes[i])
			if len(buf) >= 120<<10 {
				if _, err := pw.Write(buf); err != nil {
					return
				}
				buf = buf[:0]
			}
		}
		buf = append(buf, copyTrailer...)
		if _, err := pw.Write(buf); err == nil {
			pw.Close()
		}
	}()
	_, err := w.tx.Conn().PgConn().CopyFrom(ctx, pr, copySQL)
	pr.CloseWithError(errCopyEnded) // unblocks the goroutine if the COPY failed
	<-done
	if err != nil {
		return err
	}
	buf := make([]byte, 0, 64*len(idx)+len(copyHeader)+len(copyTrailer))
	buf = append(buf, copyHeader...)
	for _, i := range idx {
		buf = appendIDRow(buf, &b.events[i], seqs[i])
	}
	buf = append(buf, copyTrailer...)
	_, err = w.tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), copyIDsSQL)
	return err
}

var errCopyEnded = errors.New("copy ended")

// insertSQL inserts events given as one array per column (eventColumns).
var insertSQL = func() string {
	types := []string{"bigint", "text", "timestamptz", "smallint", "text", "text", "text", "text",
		"text", "text", "text", "inet", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text"}
	var cols, params []string
	for i, c := range eventColumns {
		cols = append(cols, `"`+c+`"`)
		params = append(params, "$"+strconv.Itoa(i+1)+"::"+types[i]+"[]")
	}
	return "INSERT INTO audit_events (" + strings.Join(cols, ", ") + ") SELECT * FROM unnest(" + strings.Join(params, ", ") + ")"
}()

// insertRows writes a few events, and their ids, in one round trip, which
// COPY takes more of.
func (w *writer) insertRows(ctx context.Context, batch []audit.Event, idx []int, seqs []int64, hashes []string) error {
	cols := make([]any, len(eventColumns))
	for c := range cols {
		cols[c] = make([]any, len(idx))
	}
	ids := make([]string, len(idx))
	idSeqs := make([]int64, len(idx))
	times := make([]time.Time, len(idx))
	for k, i := range idx {
		e := batch[i]
		e.Seq, e.Hash = seqs[i], hashes[i]
		for c, v := range rowValues(&e) {
			cols[c].([]any)[k] = v
		}
		ids[k], idSeqs[k] = e.ID, e.Seq
		times[k], _ = splitTime(e.Time)
	}
	b := &pgx.Batch{}
	b.Queue("INSERT INTO audit_event_ids (id, seq, time) SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[])",
		ids, idSeqs, times)
	b.Queue(insertSQL, cols...)
	return w.tx.SendBatch(ctx, b).Close()
}

// finish moves the head and, where the server can, notifies followers;
// the notification is delivered at commit.
func (w *writer) finish(ctx context.Context) error {
	if w.added == 0 {
		return nil
	}
	if err := w.flushCounts(ctx); err != nil {
		return err
	}
	b := &pgx.Batch{}
	// The rollups count the events up to this writer's, if they counted
	// those up to where it began.
	b.Queue("UPDATE audit_rollup_state SET seq = $1 WHERE seq = $2", w.seq, w.start)
	b.Queue("UPDATE audit_head SET seq = $1, hash = $2", w.seq, hex.EncodeToString(w.prev))
	w.s.mu.Lock()
	notify, schema := w.s.notify == notifyYes, w.s.schema
	w.s.mu.Unlock()
	if notify {
		b.Queue("SELECT pg_notify($1, $2)", notifyChannel, schema+" "+strconv.FormatInt(w.seq, 10))
	}
	return w.tx.SendBatch(ctx, b).Close()
}
