package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// The store keeps the hash chain: Head (query.go) and Checkpoint are what
// audit.Verify needs besides Query, and Prune (prune.go) is retention.
var (
	_ audit.ChainStore = (*Store)(nil)
	_ audit.Pruner     = (*Store)(nil)
)

const checkpointColumns = "seq, hash, events, before, created, archive, archive_sha256, seal"

// Checkpoint returns the checkpoint of the latest prune, the zero
// Checkpoint when the store was never pruned.
func (s *Store) Checkpoint(ctx context.Context) (audit.Checkpoint, error) {
	db, err := s.readers(ctx)
	if err != nil {
		return audit.Checkpoint{}, err
	}
	c, err := scanCheckpoint(db.QueryRowContext(ctx, "SELECT "+checkpointColumns+" FROM checkpoints ORDER BY seq DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Checkpoint{}, nil
	}
	if err != nil {
		return audit.Checkpoint{}, s.wrapErr("read the checkpoint of", err)
	}
	return c, nil
}

// Checkpoints lists the checkpoints of every prune, oldest first: the
// history of the store's retention.
func (s *Store) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	db, err := s.readers(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "SELECT "+checkpointColumns+" FROM checkpoints ORDER BY seq")
	if err != nil {
		return nil, s.wrapErr("read the checkpoints of", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, s.wrapErr("read the checkpoints of", err)
		}
		out = append(out, c)
	}
	return out, s.wrapErr("read the checkpoints of", rows.Err())
}

func scanCheckpoint(r scanner) (audit.Checkpoint, error) {
	var c audit.Checkpoint
	var before sql.NullInt64
	var created int64
	err := r.Scan(&c.Seq, &c.Hash, &c.Events, &before, &created, &c.Archive, &c.ArchiveSHA256, &c.Seal)
	if before.Valid {
		c.Before = time.Unix(0, before.Int64).UTC()
	}
	c.Created = time.Unix(0, created).UTC()
	return c, err
}

// canonicalSQL reads each event as one string that SQLite joins with NUL
// bytes: its hash, seq and time, then its text fields in the order of
// audit.Event.Canonical. One column spares most of the per-column and
// per-row work of Query (concat_ws also allocates once where || would for
// every piece). Stored events hold no NUL (ingest rejects it), so a row
// that does not split into exactly canonicalFields fields was made by
// hand; ReadCanonical stops there and lets Query explain. The original
// record comes last, out of the order of the encoding, because a
// compressed one may hold NUL bytes (rawcodec.go).
//
// Before it comes ip_bin in hex: the column the --ip filter searches is
// derived from ip, outside the chain, so ReadCanonical checks that it
// still matches ip (a changed ip_bin would hide an event from an IP
// filter, or make it match another address).
const canonicalSQL = `SELECT concat_ws(char(0), hash, seq, time, id, user, user_name, type, action,
	resource_type, resource, details, ip, outcome, source, hex(ip_bin), coalesce(` + rawColumn + `, ''))
FROM events WHERE seq > ? AND seq < ? ORDER BY seq`

// canonicalNoRawSQL is canonicalSQL for a range of seqs without original
// records, as the events audit records itself are: it spares the lookup
// in event_raw, an eighth of the time of a verify.
const canonicalNoRawSQL = `SELECT concat_ws(char(0), hash, seq, time, id, user, user_name, type, action,
	resource_type, resource, details, ip, outcome, source, hex(ip_bin), '')
FROM events WHERE seq > ? AND seq < ? ORDER BY seq`

// canonicalFields is the number of NUL-joined fields of canonicalSQL.
const canonicalFields = 16

// ReadCanonical streams the canonical encoding of the events with after <
// seq < before (before <= 0: no bound), oldest first, for audit.Verify. A
// row it cannot take apart ends the scan there with no error, so that
// Verify's Query takes over and explains.
func (s *Store) ReadCanonical(ctx context.Context, after, before int64, fn func(seq int64, canonical, hash []byte) error) error {
	db, err := s.readers(ctx)
	if err != nil {
		return err
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	// One snapshot for the look into event_raw and the read.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.wrapErr("read", err)
	}
	defer tx.Rollback()
	query := canonicalSQL
	var withRaw bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM event_raw WHERE seq > ? AND seq < ?)", after, before).Scan(&withRaw); err != nil {
		return s.wrapErr("read", err)
	}
	if !withRaw {
		query = canonicalNoRawSQL
	}
	rows, err := tx.QueryContext(ctx, query, after, before)
	if err != nil {
		return s.wrapErr("read", err)
	}
	defer rows.Close()
	var (
		row     sql.RawBytes
		buf     = make([]byte, 0, 1024)
		derived error
	)
	for rows.Next() {
		if err := rows.Scan(&row); err != nil {
			return s.wrapErr("read", err)
		}
		seq, canonical, hash, ip, ipBin, ok := appendCanonical(buf[:0], row, s.raw)
		if !ok {
			return nil
		}
		// A changed event is the chain's to report; a derived column that
		// is wrong under a sound chain is reported once the chain verified.
		if derived == nil {
			derived = checkIPBin(seq, ip, ipBin)
		}
		buf = canonical
		if err := fn(seq, canonical, hash); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrapErr("read", err)
	}
	return derived
}

// appendCanonical takes a row of canonicalSQL apart and appends the
// canonical encoding of its event to buf, as audit.Event.Canonical encodes
// it. hash points into row.
func appendCanonical(buf, row []byte, c *rawCodec) (seq int64, canonical, hash, ip, ipBinHex []byte, ok bool) {
	// The last field, raw, may be compressed and hold NUL bytes; every
	// other field is text.
	var fields [canonicalFields - 1][]byte
	for i := range fields {
		j := bytes.IndexByte(row, 0)
		if j < 0 {
			return 0, buf, nil, nil, nil, false
		}
		fields[i], row = row[:j], row[j+1:]
	}
	raw := row
	if isPacked(raw) {
		var err error
		if raw, err = c.unpack(raw); err != nil {
			return 0, buf, nil, nil, nil, false
		}
	} else if bytes.IndexByte(raw, 0) >= 0 {
		return 0, buf, nil, nil, nil, false
	}
	n := 0
	next := func() []byte {
		f := fields[n]
		n++
		return f
	}
	hash = next()
	seq, ok1 := parseInt(next())
	nanos, ok2 := parseInt(next())
	if !ok1 || !ok2 {
		return 0, buf, nil, nil, nil, false
	}
	var num [20]byte
	buf = appendField(buf, strconv.AppendInt(num[:0], seq, 10))
	buf = appendField(buf, next()) // id
	var ts [40]byte
	buf = appendField(buf, time.Unix(0, nanos).UTC().AppendFormat(ts[:0], time.RFC3339Nano))
	for i := range canonicalFields - 7 {
		f := next()
		if i == 7 {
			ip = f
		}
		buf = appendField(buf, f)
	}
	// source and raw are in the encoding of imported events only, as
	// audit.Event.HasProducer decides.
	source, ipBinHex := next(), next()
	if (len(source) > 0 && string(source) != audit.SourceAudit) || len(raw) > 0 {
		buf = appendField(buf, source)
		buf = appendField(buf, raw)
	}
	return seq, buf, hash, ip, ipBinHex, true
}

// checkIPBin reports an *audit.IntegrityError when ip_bin (in hex) is not
// what ingest derives from ip.
func checkIPBin(seq int64, ip, ipBinHex []byte) error {
	var want []byte
	if len(ip) > 0 {
		if a, err := netip.ParseAddr(string(ip)); err == nil {
			want = ipKey(a.Unmap())
		}
	}
	if strings.EqualFold(hex.EncodeToString(want), string(ipBinHex)) {
		return nil
	}
	return &audit.IntegrityError{Seq: seq, Problem: audit.ProblemChanged,
		Detail: fmt.Sprintf("ip_bin, the indexed copy of ip %q, was changed — IP filters would miss this event or match it wrongly", ip)}
}

// parseInt parses what SQLite writes for an integer: decimal digits with
// an optional '-'.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n < 0 {
		return 0, false // overflow
	}
	if neg {
		n = -n
	}
	return n, true
}

func appendField(b, f []byte) []byte {
	b = strconv.AppendInt(b, int64(len(f)), 10)
	b = append(b, ':')
	b = append(b, f...)
	return append(b, '\n')
}
