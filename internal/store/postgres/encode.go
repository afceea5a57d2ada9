package postgres

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Events are written with COPY … (FORMAT binary), encoded here rather than
// by pgx's generic CopyFrom: with one []any per row, every string boxed
// into an interface, that cost an import as much client CPU as parsing
// its JSON did. A row's fields are encoded once, when the batch is made,
// except seq and hash, which come last in copyColumns so that the writer,
// which assigns them, only appends them.

// copyColumns is the column order of the COPY.
var copyColumns = []string{"id", "time", "time_ns", "user", "user_name", "type", "action",
	"resource_type", "resource", "details", "ip", "outcome",
	"user_lc", "user_name_lc", "action_lc", "resource_type_lc", "resource_lc", "details_lc",
	"source", "raw", "seq", "hash"}

// copySQL is the COPY statement of the events.
var copySQL = func() string {
	cols := make([]string, len(copyColumns))
	for i, c := range copyColumns {
		cols[i] = `"` + c + `"`
	}
	return "COPY audit_events (" + strings.Join(cols, ", ") + ") FROM STDIN (FORMAT binary)"
}()

// copyIDsSQL is the COPY statement of the ids.
const copyIDsSQL = "COPY audit_event_ids (id, seq, time) FROM STDIN (FORMAT binary)"

// copyHeader starts a binary COPY: the signature, no flags, no extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyTrailer ends it.
var copyTrailer = []byte{0xff, 0xff}

// pgEpoch is where PostgreSQL counts timestamps from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// appendRow appends the binary COPY encoding of e's fields in copyColumns
// order, but for seq and hash, which appendSeqHash appends.
func appendRow(b []byte, e *audit.Event) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(copyColumns)))
	b = appendText(b, e.ID)
	t, ns := splitTime(e.Time)
	b = appendTimestamp(b, t)
	b = binary.BigEndian.AppendUint32(b, 2)
	b = binary.BigEndian.AppendUint16(b, uint16(ns))
	b = appendText(b, e.User)
	b = appendText(b, e.UserName)
	b = appendText(b, string(e.Type))
	b = appendText(b, e.Action)
	b = appendText(b, e.ResourceType)
	b = appendText(b, e.Resource)
	b = appendText(b, e.Details)
	b = appendInet(b, e.IP)
	b = appendText(b, string(e.Outcome))
	b = appendText(b, strings.ToLower(e.User))
	b = appendText(b, strings.ToLower(e.UserName))
	b = appendText(b, strings.ToLower(e.Action))
	b = appendText(b, strings.ToLower(e.ResourceType))
	b = appendText(b, strings.ToLower(e.Resource))
	b = appendText(b, strings.ToLower(e.Details))
	b = appendText(b, e.SourceName())
	if len(e.Raw) == 0 {
		b = binary.BigEndian.AppendUint32(b, 0xffffffff) // NULL
	} else {
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Raw)))
		b = append(b, e.Raw...)
	}
	return b
}

// appendIDRow appends a row of audit_event_ids.
func appendIDRow(b []byte, e *audit.Event, seq int64) []byte {
	b = binary.BigEndian.AppendUint16(b, 3)
	b = appendText(b, e.ID)
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	t, _ := splitTime(e.Time)
	return appendTimestamp(b, t)
}

func appendTimestamp(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64((t.Unix()-pgEpoch)*1_000_000+int64(t.Nanosecond()/1000)))
}

// appendSeqHash appends the last two fields of a row.
func appendSeqHash(b []byte, seq int64, hash string) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	return appendText(b, hash)
}

func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendInet appends a normalized address as inet, or NULL for none.
func appendInet(b []byte, ip string) []byte {
	a, err := netip.ParseAddr(ip)
	if ip == "" || err != nil {
		return binary.BigEndian.AppendUint32(b, 0xffffffff) // NULL
	}
	if a.Is4() {
		v := a.As4()
		b = binary.BigEndian.AppendUint32(b, 8)
		b = append(b, 2, 32, 0, 4) // PGSQL_AF_INET, bits, not cidr, length
		return append(b, v[:]...)
	}
	v := a.As16()
	b = binary.BigEndian.AppendUint32(b, 20)
	b = append(b, 3, 128, 0, 16) // PGSQL_AF_INET6
	return append(b, v[:]...)
}
