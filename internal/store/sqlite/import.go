package sqlite

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/retry"
	"github.com/audit-cli/audit/internal/store/rollup"
)

// importBatch is how many decoded events travel together from the reading
// goroutine to the writing one.
const importBatch = 1024

// deferIndexesMin is how many events an import adds to an empty store
// before it drops the secondary indexes, to build them anew at commit
// (chainWriter.deferIndexes). A store of E events waits for 3E more: a
// rebuild covers the events stored before too, and for an import that
// ends soon after the switch it costs more than it saves, so the switch
// waits until the import has shown it is large.
const deferIndexesMin = 10_000

// ImportLockWait is how long Import waits, in all, for the write lock that
// another writer holds before it fails with audit.ErrBusy.
const ImportLockWait = 5 * time.Minute

// Import stores a whole stream of events in one transaction: either every
// event is stored (or found stored already) or, on any error — from the
// stream, an invalid event, the disk, a cancelled ctx — none is. The stream
// is read on its own goroutine so that decoding and inserting use two cores.
func (s *Store) Import(ctx context.Context, events iter.Seq2[audit.Event, error]) (audit.AppendResult, error) {
	var res audit.AppendResult
	type batch struct {
		rows []row
		// counts, when set, are the rollup counts of the rows so far
		// not handed over yet (the reader hands them over when they are
		// many, and with the last batch).
		counts *rollup.Counts
		err    error
	}
	batches := make(chan batch, 4)
	// The dictionaries the import trains compress its later records on
	// this goroutine's side too: they are in its one transaction.
	var trained rawEncoders
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(batches)
		b := make([]row, 0, importBatch)
		counts := rollup.NewCounts()
		send := func(x batch) bool {
			select {
			case batches <- x:
				return true
			case <-stop:
				return false
			}
		}
		// Validation happens here too, off the writing goroutine, and so does
		// the part of each insert that needs no seq (newRow).
		index := 0
		for e, err := range events {
			if err == nil {
				err = validate(&e, index)
			}
			if err != nil {
				send(batch{rows: b, err: err})
				return
			}
			index++
			b = append(b, newRow(e, trained.or(s.raw)))
			counts.Add(&e, 1)
			if len(b) == importBatch {
				x := batch{rows: b}
				if counts.Full() {
					x.counts, counts = counts, rollup.NewCounts()
				}
				if !send(x) {
					return
				}
				b = make([]row, 0, importBatch)
			}
		}
		send(batch{rows: b, counts: counts})
	}()

	// A stream that is bad from its first records does not create the
	// store file: the first batch arrives before the writer opens it.
	first, ok := <-batches
	if ok && first.err != nil {
		return res, first.err
	}
	// An import cannot be tried again by its caller once its stream is
	// being read, so it waits for another writer's lock longer than an
	// Append does.
	var w *chainWriter
	err := retry.Do(ctx, retry.Policy{For: ImportLockWait, First: 100 * time.Millisecond, Retryable: busy}, func() error {
		db, err := s.writer(ctx)
		if err != nil {
			return err
		}
		w, err = s.beginChain(ctx, db)
		return err
	})
	if err != nil {
		return res, s.wrapErr("import into", err)
	}
	defer w.rollback()
	w.batchCounts = true // counted by the decoding goroutine
	w.raws.onTrain = trained.add
	// Past this many new events, building the indexes anew at commit costs
	// less than keeping them up to date; seq bounds the rows stored.
	deferAfter := 3*(w.next-1) + deferIndexesMin

	for b := range prepend(first, ok, batches) {
		if err := ctx.Err(); err != nil {
			return audit.AppendResult{}, err
		}
		for i := range b.rows {
			seq, _, err := w.add(&b.rows[i])
			var ce *audit.ConflictError
			if errors.As(err, &ce) {
				ce.Index = res.Added + res.Existing
				return audit.AppendResult{}, err
			}
			if err != nil {
				if ctx.Err() != nil {
					// database/sql rolled the transaction back as ctx
					// ended, and the insert found its statement closed.
					return audit.AppendResult{}, ctx.Err()
				}
				return audit.AppendResult{}, s.wrapErr("import into", err)
			}
			if seq != 0 {
				res.Added++
			} else {
				res.Existing++
				w.counts.Add(&b.rows[i].e, -1) // stored already: counted then
			}
		}
		if b.err != nil {
			return audit.AppendResult{}, b.err
		}
		if b.counts != nil {
			if err := flushCounts(w.bg, w.tx, b.counts); err != nil {
				return audit.AppendResult{}, s.wrapErr("import into", err)
			}
		}
		if err := w.flushFull(); err != nil {
			return audit.AppendResult{}, s.wrapErr("import into", err)
		}
		if !w.deferred && int64(res.Added) >= deferAfter {
			if err := w.deferIndexes(ctx); err != nil {
				return audit.AppendResult{}, s.wrapErr("import into", err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return audit.AppendResult{}, err
	}
	if err := w.commit(ctx); err != nil {
		if ctx.Err() != nil {
			return audit.AppendResult{}, ctx.Err() // interrupted while building the indexes
		}
		return audit.AppendResult{}, s.wrapErr("import into", err)
	}
	return res, nil
}

// prepend yields first (when ok) and then what arrives on rest.
func prepend[T any](first T, ok bool, rest <-chan T) iter.Seq[T] {
	return func(yield func(T) bool) {
		if ok && !yield(first) {
			return
		}
		for x := range rest {
			if !yield(x) {
				return
			}
		}
	}
}

// validate normalizes e, the index-th event of a stream, as Append does.
func validate(e *audit.Event, index int) error {
	if err := e.Normalize(); err != nil {
		return &audit.RecordError{Index: index, Err: err}
	}
	if e.Time.After(maxTime) {
		return &audit.RecordError{Index: index, Err: &audit.FieldError{Field: "time",
			Reason: fmt.Sprintf("%s is after %s, the latest time the SQLite store keeps",
				audit.FormatTime(e.Time), audit.FormatTime(maxTime))}}
	}
	return nil
}
