package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"time"
)

// Pruner is implemented by stores that can delete the oldest part of
// their chain, leaving a Checkpoint from which the rest still verifies.
type Pruner interface {
	// Prune deletes every event with seq <= req.Through in one transaction
	// and records the checkpoint (req.Through and its hash), sealed with
	// the store's chain key. It fails, deleting nothing, unless the stored
	// hash of req.Through is req.Hash, exactly req.Events events are
	// deleted, and a newer event remains: the newest event is never pruned,
	// because the next append continues the chain from it.
	Prune(ctx context.Context, req PruneRequest) (Checkpoint, error)
}

// PruneRequest says what a Prune deletes and what it records. Through,
// Hash and Events come from the archive the caller wrote first, so that
// the store deletes exactly what was archived.
type PruneRequest struct {
	Through       int64     `json:"through"`        // delete every event with seq <= Through
	Hash          string    `json:"hash"`           // the stored hash of event Through
	Events        int64     `json:"events"`         // how many events that deletes
	Before        time.Time `json:"before"`         // the cutoff that chose Through
	Archive       string    `json:"archive"`        // base name of the archive file, "" for none
	ArchiveSHA256 string    `json:"archive_sha256"` // lowercase hex SHA-256 of the archive file
}

// Validate checks what a prune needs before a store is touched: a seq to
// prune through and the number of events archived.
func (r PruneRequest) Validate() error {
	if r.Through <= 0 || r.Events <= 0 {
		return fmt.Errorf("%w: prune needs a seq to prune through and the number of events", ErrInvalid)
	}
	return nil
}

// CheckCheckpoint refuses a prune through a seq at or before the latest
// checkpoint, last.
func (r PruneRequest) CheckCheckpoint(last int64) error {
	if r.Through <= last {
		return fmt.Errorf("%w: seq %d is pruned already (the checkpoint is at seq %d)", ErrInvalid, r.Through, last)
	}
	return nil
}

// Checkpoint is the checkpoint the prune of r leaves, created at created
// (rounded as the store keeps times), before it is sealed.
func (r PruneRequest) Checkpoint(created time.Time) Checkpoint {
	cp := Checkpoint{Seq: r.Through, Hash: r.Hash, Events: r.Events, Created: created.UTC(),
		Archive: r.Archive, ArchiveSHA256: r.ArchiveSHA256}
	if !r.Before.IsZero() {
		cp.Before = r.Before.UTC()
	}
	return cp
}

// Check is what every Pruner verifies, inside its transaction, before it
// deletes anything: that event Through is still stored (found) with the
// archived hash, that the store holds exactly the archived number of
// events up to it, and that a newer event remains (prune keeps the newest,
// from which the chain continues).
func (r PruneRequest) Check(found bool, hash string, events int64, newer bool) error {
	switch {
	case !found:
		return fmt.Errorf("event seq %d, the last to prune, is not in the store (any more); nothing was pruned", r.Through)
	case hash != r.Hash:
		return fmt.Errorf("%w: the stored hash of seq %d is not the one archived — it changed since it was read; nothing was pruned",
			ErrIntegrity, r.Through)
	case events != r.Events:
		return fmt.Errorf("the store holds %d events up to seq %d, but %d were archived: it changed since; nothing was pruned",
			events, r.Through, r.Events)
	case !newer:
		return fmt.Errorf("%w: seq %d is the newest event, which prune always keeps: the chain continues from it", ErrInvalid, r.Through)
	}
	return nil
}

// Checkpoint is where the hash chain resumes after a prune: the seq and
// hash of the last pruned event, which the first kept event links to, with
// what the prune recorded about itself. Seal binds the fields together
// under the chain key (see CheckpointSeal), so a checkpoint changed by hand
// is detected. The zero Checkpoint means the store was never pruned and
// the chain starts at Genesis.
type Checkpoint struct {
	Seq           int64     `json:"seq"`
	Hash          string    `json:"hash"`
	Events        int64     `json:"events"` // events this prune deleted
	Before        time.Time `json:"before"` // the cutoff of the prune
	Created       time.Time `json:"created"`
	Archive       string    `json:"archive"`
	ArchiveSHA256 string    `json:"archive_sha256"`
	Seal          string    `json:"seal"`
}

// IsZero reports whether c is the zero Checkpoint: nothing was pruned.
func (c Checkpoint) IsZero() bool { return c.Seq == 0 && c.Hash == "" }

// CheckpointSeal returns the seal of c (its Seal field aside) as lowercase
// hex: H("audit checkpoint\n" || fields), where H is HMAC-SHA-256 with key,
// or SHA-256 without, and the fields are seq, hash, events, before,
// created, archive and archive_sha256, each encoded as in Canonical (times
// in RFC 3339 UTC, "" when zero).
func CheckpointSeal(key []byte, c Checkpoint) string {
	var h hash.Hash
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
	} else {
		h = sha256.New()
	}
	b := []byte("audit checkpoint\n")
	for _, f := range []string{strconv.FormatInt(c.Seq, 10), c.Hash, strconv.FormatInt(c.Events, 10),
		FormatTime(c.Before), FormatTime(c.Created), c.Archive, c.ArchiveSHA256} {
		b = appendField(b, f)
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
