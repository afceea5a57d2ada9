package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// columns are the events columns a query reads, in the order scanEvent
// expects.
const columns = "seq, id, time, user, user_name, type, action, resource_type, resource, details, ip, outcome, hash, source, " + rawColumn

// rawColumn reads an event's original record from its own table (NULL
// for none), one rowid lookup.
const rawColumn = "(SELECT raw FROM event_raw WHERE event_raw.seq = events.seq)"

// Query streams the events that match f, in f.Order by seq, at most f.Limit
// of them. Rows are read as the caller iterates, so memory stays constant
// however many events match; stopping early releases the rows.
func (s *Store) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		db, err := s.readers(ctx)
		if err != nil {
			yield(audit.Event{}, err)
			return
		}
		if recentFirst(&f) {
			s.queryRecentFirst(ctx, db, f, yield)
			return
		}
		s.queryRows(ctx, db, f, "", yield)
	}
}

// queryRows yields the events of f (in f.Order, at most f.Limit), read
// with the table hint given (e.g. "NOT INDEXED"); it returns how many, and
// false when the caller stopped or the query failed. A row that cannot be
// read packed is read on its own, after the query's rows are closed (a
// reader's connections are few), and the query goes on after it.
func (s *Store) queryRows(ctx context.Context, db *sql.DB, f audit.Filter, hint string, yield func(audit.Event, error) bool) (n int, ok bool) {
	for {
		q, args := selectSQL(&f, f.Order, f.Limit)
		if hint != "" {
			q = strings.Replace(q, " FROM events", " FROM events "+hint, 1)
		}
		got, alone, ok := s.queryPage(ctx, db, q, args, yield)
		n += got
		if !ok || alone == 0 {
			return n, ok
		}
		e, err := scanEvent(db.QueryRowContext(ctx, "SELECT "+columns+" FROM events WHERE seq = ?", alone), s.raw)
		if err != nil {
			yield(audit.Event{}, s.wrapErr("query", err))
			return n, false
		}
		n++
		if !yield(e, nil) {
			return n, false
		}
		if f.Order == audit.Descending {
			f.Before = alone
		} else {
			f.After = alone
		}
		if f.Limit > 0 {
			if f.Limit -= got + 1; f.Limit <= 0 {
				return n, true
			}
		}
	}
}

// queryPage yields the rows of one query until one cannot be read packed,
// whose seq it returns as alone.
func (s *Store) queryPage(ctx context.Context, db *sql.DB, q string, args []any, yield func(audit.Event, error) bool) (n int, alone int64, ok bool) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		yield(audit.Event{}, s.wrapErr("query", err))
		return n, 0, false
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanPacked(rows, s.raw)
		var u *unpackable
		if errors.As(err, &u) {
			return n, u.seq, true
		}
		if err != nil {
			yield(audit.Event{}, s.wrapErr("query", err))
			return n, 0, false
		}
		n++
		if !yield(e, nil) {
			return n, 0, false
		}
	}
	if err := rows.Err(); err != nil {
		yield(audit.Event{}, s.wrapErr("query", err))
		return n, 0, false
	}
	return n, 0, true
}

// recentWindow is how many of the newest seqs a newest-first page reads by
// seq alone before it asks the indexes.
const recentWindow = 16384

// recentFirst reports whether f is a newest-first page without an upper
// time bound (audit list, list --since 30d, the web console's pages): the
// events it wants are most likely among the newest, where walking seq
// backwards finds them sooner than an index of one of its filters, which
// SQLite would read whole and sort by seq (a user and a type since 30
// days: 140k rows of 10M to sort for 50).
func recentFirst(f *audit.Filter) bool {
	return f.Order == audit.Descending && f.Limit > 0 && f.Until.IsZero()
}

// queryRecentFirst answers a recentFirst query in two steps that together
// return exactly what the one query would: the matches among the
// recentWindow newest seqs below the page's bound, read by seq alone (NOT
// INDEXED); then, if the page is not full, the rest of it below that
// window, through the indexes.
func (s *Store) queryRecentFirst(ctx context.Context, db *sql.DB, f audit.Filter, yield func(audit.Event, error) bool) {
	var top int64
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM events").Scan(&top); err != nil {
		yield(audit.Event{}, s.wrapErr("query", err))
		return
	}
	if f.Before > 0 {
		top = min(top, f.Before-1)
	}
	low := max(f.After, top-recentWindow) // the window is (low, top]
	w := f
	w.After, w.Before = low, top+1
	n, ok := s.queryRows(ctx, db, w, "NOT INDEXED", yield)
	if !ok || n >= f.Limit || low <= f.After {
		return
	}
	rest := f
	rest.Before, rest.Limit = low+1, f.Limit-n
	s.queryRows(ctx, db, rest, "", yield)
}

// Get returns the event with the given id.
func (s *Store) Get(ctx context.Context, id string) (audit.Event, error) {
	db, err := s.readers(ctx)
	if err != nil {
		return audit.Event{}, err
	}
	e, err := scanEvent(db.QueryRowContext(ctx, "SELECT "+columns+" FROM events WHERE id = ?", id), s.raw)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Event{}, fmt.Errorf("event %q: %w", id, audit.ErrNotFound)
	}
	if err != nil {
		return audit.Event{}, s.wrapErr("get event from", err)
	}
	return e, nil
}

// Head returns the seq and hash of the newest event, 0 and "" when the
// store is empty: where the hash chain continues.
func (s *Store) Head(ctx context.Context) (seq int64, hash string, err error) {
	db, err := s.readers(ctx)
	if err != nil {
		return 0, "", err
	}
	err = db.QueryRowContext(ctx, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", s.wrapErr("read the head of", err)
	}
	return seq, hash, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanEvent(r scanner, c *rawCodec) (audit.Event, error) {
	var e audit.Event
	var t int64
	var typ, outcome string
	var raw []byte
	err := r.Scan(&e.Seq, &e.ID, &t, &e.User, &e.UserName, &typ, &e.Action, &e.ResourceType,
		&e.Resource, &e.Details, &e.IP, &outcome, &e.Hash, &e.Source, &raw)
	if err != nil {
		return e, err
	}
	if len(raw) > 0 {
		if raw, err = c.unpack(raw); err != nil {
			return e, err
		}
		e.Raw = json.RawMessage(raw)
	}
	e.Time = time.Unix(0, t).UTC()
	e.Type, e.Outcome = audit.Type(typ), audit.Outcome(outcome)
	return e, nil
}

// packedColumns reads the columns of an event as one string, joined with
// NUL bytes, which no field holds (Normalize refuses them; raw, the last,
// is JSON or compressed, and ends the row):
// one value crosses from SQLite to Go per row instead of fifteen, each a
// conversion and an allocation, which were half the cost of reading a
// row. The fields are those of columns, in its order.
const packedColumns = "concat_ws(char(0), seq, id, time, user, user_name, type, action, resource_type, resource, details, ip, outcome, hash, source, coalesce(" + rawColumn + ", ''))"

// packedFields is the number of fields of packedColumns.
const packedFields = 15

// unpackable is the seq of a row scanPacked could not take apart, for the
// caller to read it again on its own, column by column.
type unpackable struct{ seq int64 }

func (u *unpackable) Error() string {
	return fmt.Sprintf("the row of seq %d cannot be read packed", u.seq)
}

// scanPacked reads a row of packedColumns. The fields are substrings of
// the row's one string. A row it cannot take apart (a NUL in a field,
// written behind the store's back) is an *unpackable error.
func scanPacked(r scanner, c *rawCodec) (audit.Event, error) {
	var row string
	if err := r.Scan(&row); err != nil {
		return audit.Event{}, err
	}
	var f [packedFields]string
	rest := row
	split := 0
	for i := range packedFields - 1 {
		j := strings.IndexByte(rest, 0)
		if j < 0 {
			break
		}
		f[i], rest = rest[:j], rest[j+1:]
		split++
	}
	f[packedFields-1] = rest
	seq, err := strconv.ParseInt(f[0], 10, 64)
	t, terr := strconv.ParseInt(f[2], 10, 64)
	packed := isPacked(rest)
	if err != nil || terr != nil || split != packedFields-1 || (!packed && strings.IndexByte(rest, 0) >= 0) {
		if head, _, ok := strings.Cut(row, "\x00"); ok {
			if seq, err := strconv.ParseInt(head, 10, 64); err == nil {
				return audit.Event{}, &unpackable{seq}
			}
		}
		return audit.Event{}, fmt.Errorf("a row of the events table that cannot be read: %.60q", row)
	}
	e := audit.Event{Seq: seq, ID: f[1], Time: time.Unix(0, t).UTC(), User: f[3], UserName: f[4], Type: audit.Type(f[5]),
		Action: f[6], ResourceType: f[7], Resource: f[8], Details: f[9], IP: f[10], Outcome: audit.Outcome(f[11]),
		Hash: f[12], Source: f[13]}
	if f[14] != "" {
		raw := []byte(f[14])
		if packed {
			if raw, err = c.unpack(raw); err != nil {
				return audit.Event{}, err
			}
		}
		e.Raw = json.RawMessage(raw)
	}
	return e, nil
}

// selectSQL builds the query for f with every condition in WHERE as bound
// parameters; no value is ever part of the SQL text. Its rows are
// packedColumns, read with scanPacked.
func selectSQL(f *audit.Filter, order audit.Order, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT " + packedColumns + " FROM events")
	where, args := whereSQL(f)
	if where != "" {
		b.WriteString(" WHERE " + where)
	}
	if order == audit.Descending {
		b.WriteString(" ORDER BY seq DESC")
	} else {
		b.WriteString(" ORDER BY seq ASC")
	}
	if limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, limit)
	}
	return b.String(), args
}

// whereSQL translates every condition of f (all but Limit and Order) to
// SQL that agrees with audit.Filter.Match, the reference.
//
// Text filters: a value without '*' is an equality and one with '*' a LIKE
// pattern, both on NOCASE columns, so that an index on the column serves an
// equality or a pattern that starts with a literal prefix. SQLite folds ASCII letters only, while Match folds all of Unicode,
// so a pattern with a non-ASCII character is matched by audit_glob, which is
// audit.Glob itself; its leading ASCII part, if any, still narrows the
// search through the index. One difference remains: Go lowercases 'İ'
// (U+0130) to "i" and the Kelvin sign (U+212A) to "k", so an ASCII pattern
// such as "ismail" matches a stored "İsmail" in Match but not here.
func whereSQL(f *audit.Filter) (string, []any) {
	var w whereBuilder
	if len(f.Users) > 0 {
		w.addAll(textCond([]string{"user", "user_name"}, f.Users))
	}
	if len(f.Types) > 0 {
		args := make([]any, len(f.Types))
		for i, t := range f.Types {
			args[i] = string(t)
		}
		w.add("type IN ("+placeholders(len(args))+")", args...)
	}
	if len(f.Actions) > 0 {
		w.addAll(textCond([]string{"action"}, f.Actions))
	}
	if len(f.Resources) > 0 {
		w.addAll(textCond([]string{"resource"}, f.Resources))
	}
	if len(f.ResourceTypes) > 0 {
		w.addAll(textCond([]string{"resource_type"}, f.ResourceTypes))
	}
	if len(f.IPs) > 0 {
		w.addAll(ipCond(f.IPs))
	}
	if f.Outcome != "" {
		w.add("outcome = ?", string(f.Outcome))
	}
	if len(f.Sources) > 0 {
		args := make([]any, len(f.Sources))
		for i, src := range f.Sources {
			args[i] = src
		}
		w.add("source IN ("+placeholders(len(args))+")", args...)
		if !slices.Contains(f.Sources, audit.SourceAudit) {
			// Says what the partial index on source holds, so that
			// SQLite sees it may use it: it proves implications of no
			// more than such a term.
			w.add("source <> 'audit'")
		}
	}
	if !f.Since.IsZero() {
		if f.Since.After(maxTime) {
			w.add("0")
		} else {
			w.add("time >= ?", clampNanos(f.Since))
		}
	}
	if !f.Until.IsZero() && !f.Until.After(maxTime) {
		w.add("time < ?", clampNanos(f.Until))
	}
	if f.Search != "" {
		if isASCII(f.Search) {
			p := "%" + escapeLike(f.Search) + "%"
			w.add(`(action LIKE ? ESCAPE '\' OR resource LIKE ? ESCAPE '\' OR details LIKE ? ESCAPE '\')`, p, p, p)
		} else {
			w.add("audit_contains(?, action, resource, details)", f.Search)
		}
	}
	if f.After > 0 {
		w.add("seq > ?", f.After)
	}
	if f.Before > 0 {
		w.add("seq < ?", f.Before)
	}
	return strings.Join(w.conds, " AND "), w.args
}

type whereBuilder struct {
	conds []string
	args  []any
}

func (w *whereBuilder) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *whereBuilder) addAll(cond string, args []any) { w.add(cond, args...) }

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// textCond is the condition that any of cols matches any of patterns (see
// whereSQL).
func textCond(cols []string, patterns []string) (string, []any) {
	var terms []string
	var args []any
	var exact []any
	for _, p := range patterns {
		switch {
		case !isASCII(p):
			prefix := asciiPrefix(p)
			for _, c := range cols {
				if prefix != "" {
					terms = append(terms, "("+c+" LIKE ?"+escapeClause(prefix)+" AND audit_glob(?, "+c+"))")
					args = append(args, escapeLike(prefix)+"%", p)
				} else {
					terms = append(terms, "audit_glob(?, "+c+")")
					args = append(args, p)
				}
			}
		case strings.Contains(p, "*"):
			like := globToLike(p)
			for _, c := range cols {
				terms = append(terms, c+" LIKE ?"+escapeClause(p))
				args = append(args, like)
			}
		default:
			exact = append(exact, p)
		}
	}
	if len(exact) > 0 {
		in := " IN (" + placeholders(len(exact)) + ")"
		if len(exact) == 1 {
			in = " = ?"
		}
		for _, c := range cols {
			terms = append(terms, c+in)
			args = append(args, exact...)
		}
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}

// escapeClause is the ESCAPE clause a LIKE pattern made from p needs: none
// when p has no LIKE wildcard of its own, which keeps the most common
// patterns in the plainest form for the query planner.
func escapeClause(p string) string {
	if strings.ContainsAny(p, `%_\`) {
		return ` ESCAPE '\'`
	}
	return ""
}

// escapeLike quotes the LIKE wildcards of s with '\'. It is used with
// escapeClause; a '\' needs escaping only when the ESCAPE clause is there,
// which escapeClause adds for it.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// globToLike turns an audit glob ('*' any run, all else literal) into a
// LIKE pattern.
func globToLike(p string) string {
	parts := strings.Split(p, "*")
	for i, part := range parts {
		parts[i] = escapeLike(part)
	}
	return strings.Join(parts, "%")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// asciiPrefix is the part of a glob before its first '*' or non-ASCII byte.
func asciiPrefix(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 || p[i] == '*' {
			return p[:i]
		}
	}
	return p
}

// ipCond is the condition that ip_bin lies in any of the prefixes.
func ipCond(prefixes []netip.Prefix) (string, []any) {
	var terms []string
	var args []any
	for _, p := range prefixes {
		if !p.IsValid() {
			continue // Match's Contains is false for it, too
		}
		lo, hi := prefixRange(p)
		if len(lo) == len(hi) && string(lo) == string(hi) {
			terms = append(terms, "ip_bin = ?")
			args = append(args, lo)
		} else {
			terms = append(terms, "ip_bin BETWEEN ? AND ?")
			args = append(args, lo, hi)
		}
	}
	if len(terms) == 0 {
		return "0", nil
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}

// ipKey is the ip_bin form of an address: its family (4 or 6) as one byte,
// then its 4 or 16 bytes. Stored addresses are never IPv4-mapped IPv6
// (audit.Event.Normalize unmaps them).
func ipKey(a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return append([]byte{4}, b[:]...)
	}
	b := a.As16()
	return append([]byte{6}, b[:]...)
}

// prefixRange returns the first and last ip_bin of the prefix. An
// IPv4-mapped IPv6 prefix stays IPv6, as in netip.Prefix.Contains, and so
// matches no stored (unmapped) address, as in audit.Filter.Match.
func prefixRange(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	lo = ipKey(p.Addr())
	hi = append([]byte(nil), lo...)
	for i := p.Bits(); i < p.Addr().BitLen(); i++ {
		hi[1+i/8] |= 0x80 >> (i % 8)
	}
	return lo, hi
}

// maxTime is the latest time the time column can hold: Unix nanoseconds
// in an int64.
var maxTime = time.Unix(0, math.MaxInt64).UTC()

// clampNanos is t in Unix nanoseconds, clamped to the int64 range.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}
