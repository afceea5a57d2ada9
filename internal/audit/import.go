package audit

import (
	"context"
	"fmt"
	"iter"
)

// PartialError reports an import that failed after some of its events had
// been stored in earlier, committed batches. Importing the same events
// again is safe: stored ones are skipped by id.
type PartialError struct {
	Stored int
	Err    error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%v (%d events of earlier batches were stored; importing again is safe)", e.Err, e.Stored)
}

// Unwrap returns the cause.
func (e *PartialError) Unwrap() error { return e.Err }

// Importer is implemented by stores that can take a whole stream of events
// in one all-or-nothing transaction, however long it is.
type Importer interface {
	Import(ctx context.Context, events iter.Seq2[Event, error]) (AppendResult, error)
}

// ImportBatch is how many events Import hands a store that is not an
// Importer in one Append.
const ImportBatch = 5000

// Import stores a stream of events: in one transaction when st is an
// Importer, otherwise in Append batches of ImportBatch (each batch is then
// all-or-nothing, the stream as a whole is not). An error from the stream
// stops the import.
func Import(ctx context.Context, st Store, events iter.Seq2[Event, error]) (AppendResult, error) {
	if im, ok := st.(Importer); ok {
		return im.Import(ctx, events)
	}
	var total AppendResult
	batch := make([]Event, 0, ImportBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		r, err := st.Append(ctx, batch)
		total.Added += r.Added
		total.Existing += r.Existing
		batch = batch[:0]
		return err
	}
	partial := func(err error) (AppendResult, error) {
		if total.Added+total.Existing > 0 {
			return total, &PartialError{Stored: total.Added + total.Existing, Err: err}
		}
		return total, err
	}
	for e, err := range events {
		if err != nil {
			return partial(err)
		}
		batch = append(batch, e)
		if len(batch) == ImportBatch {
			if err := flush(); err != nil {
				return partial(err)
			}
		}
	}
	if err := flush(); err != nil {
		return partial(err)
	}
	return total, nil
}
