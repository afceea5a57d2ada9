package postgres

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/audit-cli/audit/internal/audit"
)

// Rows of columns are decoded here from their binary form rather than by
// pgx's Scan, which allocates each text and time on its own: an export of
// a million events spent more client CPU on that than the server spent on
// the query. A row's texts share one allocation.

// columnOIDs are the types of columns, in order.
var columnOIDs = []uint32{pgtype.Int8OID, pgtype.TextOID, pgtype.TimestamptzOID, pgtype.Int2OID,
	pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID,
	pgtype.TextOID, pgtype.InetOID, pgtype.TextOID, pgtype.TextOID}

// textColumns are the text columns of columns.
var textColumns = []int{1, 4, 5, 6, 7, 8, 9, 10, 12, 13}

// binaryRows reports whether rows come in the binary form decodeRow reads.
func binaryRows(fds []pgconn.FieldDescription) bool {
	if len(fds) != len(columnOIDs) {
		return false
	}
	for i, fd := range fds {
		// A text is the same bytes in either format.
		if fd.DataTypeOID != columnOIDs[i] || (fd.Format != pgx.BinaryFormatCode && fd.DataTypeOID != pgtype.TextOID) {
			return false
		}
	}
	return true
}

// scanRows reads the current row of rows, a query of columns.
func scanRows(rows pgx.Rows, binary bool) (audit.Event, error) {
	if binary {
		return decodeRow(rows.RawValues())
	}
	return scanEvent(rows)
}

// decodeRow decodes a row of columns in binary form.
func decodeRow(raw [][]byte) (audit.Event, error) {
	var e audit.Event
	if len(raw) != len(columnOIDs) || len(raw[0]) != 8 || len(raw[2]) != 8 || len(raw[3]) != 2 {
		return e, fmt.Errorf("unexpected row")
	}
	n := 0
	for _, c := range textColumns {
		n += len(raw[c])
	}
	var ip [64]byte
	ipText := ip[:0]
	if raw[11] != nil {
		a, err := decodeInet(raw[11])
		if err != nil {
			return e, err
		}
		ipText = a.AppendTo(ipText)
	}
	var b strings.Builder
	b.Grow(n + len(ipText))
	for _, c := range textColumns {
		b.Write(raw[c])
	}
	b.Write(ipText)
	s := b.String()
	next := func(c int) string {
		v := s[:len(raw[c])]
		s = s[len(raw[c]):]
		return v
	}
	e.Seq = int64(binary.BigEndian.Uint64(raw[0]))
	e.ID = next(1)
	e.User, e.UserName = next(4), next(5)
	e.Type = audit.Type(next(6))
	e.Action, e.ResourceType, e.Resource, e.Details = next(7), next(8), next(9), next(10)
	e.Outcome = audit.Outcome(next(12))
	e.Hash = next(13)
	e.IP = s
	us := int64(binary.BigEndian.Uint64(raw[2]))
	ns := int16(binary.BigEndian.Uint16(raw[3]))
	e.Time = time.UnixMicro(pgEpoch*1_000_000 + us).Add(time.Duration(ns)).UTC()
	return e, nil
}

// decodeInet decodes inet's binary form: family, bits, is_cidr, length,
// address.
func decodeInet(b []byte) (netip.Addr, error) {
	if len(b) < 4 || len(b) != 4+int(b[3]) {
		return netip.Addr{}, fmt.Errorf("bad inet value")
	}
	a, ok := netip.AddrFromSlice(b[4:])
	if !ok {
		return netip.Addr{}, fmt.Errorf("bad inet value")
	}
	return a, nil
}
