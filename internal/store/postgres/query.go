package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audit-cli/audit/internal/audit"
)

// columns are the audit_events columns a query reads, in the order
// scanEvent expects.
const columns = `seq, id, time, time_ns, "user", user_name, type, action, resource_type, resource, details, ip, outcome, hash, source, raw`

// joinedColumns are columns, of audit_events as e, for queries that join
// audit_event_ids.
const joinedColumns = `e.seq, e.id, e.time, e.time_ns, e."user", e.user_name, e.type, e.action,
	e.resource_type, e.resource, e.details, e.ip, e.outcome, e.hash, e.source, e.raw`

// Query streams the events that match f, in f.Order by seq, at most f.Limit
// of them. Rows are read as the caller iterates, so memory stays constant
// however many events match; stopping early releases the connection.
func (s *Store) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		if err := s.checkOpen(); err != nil {
			yield(audit.Event{}, err)
			return
		}
		var q querier = s.pool
		if len(globsOf(&f)) > 0 {
			// The globs are looked up in the snapshot the query reads.
			tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
			if err != nil {
				yield(audit.Event{}, s.wrapErr("query", err))
				return
			}
			defer tx.Rollback(context.Background()) // read only: nothing to commit
			q = tx
		}
		globs, err := resolveGlobs(ctx, q, &f)
		if err != nil {
			yield(audit.Event{}, s.wrapErr("query", err))
			return
		}
		sql, args := selectSQL(&f, globs, f.Order, f.Limit)
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			yield(audit.Event{}, s.wrapErr("query", err))
			return
		}
		defer rows.Close()
		binary := binaryRows(rows.FieldDescriptions())
		for rows.Next() {
			e, err := scanRows(rows, binary)
			if err != nil {
				yield(audit.Event{}, s.wrapErr("query", err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(audit.Event{}, s.wrapErr("query", err))
		}
	}
}

// querier is what queries run on: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Get returns the event with the given id.
func (s *Store) Get(ctx context.Context, id string) (audit.Event, error) {
	if err := s.checkOpen(); err != nil {
		return audit.Event{}, err
	}
	// The time of the id's row lets the planner look into one partition.
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+joinedColumns+`
FROM audit_event_ids i JOIN audit_events e ON e.seq = i.seq AND e.time = i.time
WHERE i.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	if err := s.checkOpen(); err != nil {
		return 0, "", err
	}
	err = s.pool.QueryRow(ctx, "SELECT seq, hash FROM audit_head").Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", s.wrapErr("read the head of", err)
	}
	return seq, hash, nil
}

func scanEvent(r pgx.Row) (audit.Event, error) {
	var e audit.Event
	var t time.Time
	var ns int16
	var typ, outcome string
	var ip *netip.Prefix
	var raw *string
	err := r.Scan(&e.Seq, &e.ID, &t, &ns, &e.User, &e.UserName, &typ, &e.Action, &e.ResourceType,
		&e.Resource, &e.Details, &ip, &outcome, &e.Hash, &e.Source, &raw)
	if raw != nil && *raw != "" {
		e.Raw = json.RawMessage(*raw)
	}
	e.Time = t.UTC().Add(time.Duration(ns))
	e.Type, e.Outcome = audit.Type(typ), audit.Outcome(outcome)
	if ip != nil {
		e.IP = ip.Addr().String()
	}
	return e, err
}

// selectSQL builds the query for f with every condition in WHERE as bound
// parameters; no value is ever part of the SQL text. globs are the values
// the globs of f match (resolveGlobs).
func selectSQL(f *audit.Filter, globs globValues, order audit.Order, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT " + columns + " FROM audit_events")
	w := whereSQL(f, globs)
	if len(w.conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(w.conds, " AND "))
	}
	if order == audit.Descending {
		b.WriteString(" ORDER BY seq DESC")
	} else {
		b.WriteString(" ORDER BY seq")
	}
	if limit > 0 {
		b.WriteString(" LIMIT " + w.arg(limit))
	}
	return b.String(), w.args
}

type whereBuilder struct {
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (w *whereBuilder) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *whereBuilder) add(cond string) { w.conds = append(w.conds, cond) }

// whereSQL translates every condition of f (all but Limit and Order) to
// SQL that agrees with audit.Filter.Match, the reference.
//
// Type, outcome, user (login or display name), action, resource type and
// resource are facets: the facets index, a GIN over an array of "t:TYPE",
// "o:OUTCOME", "u:login", "n:display name", "a:action", "k:resource type"
// and "r:resource" (the texts lowercased by strings.ToLower, as Match
// compares them), serves "has any of these", and several such conditions
// combine in one index scan. A value without '*' is its facet; a glob is
// the facets of the values it matches in audit_values (resolveGlobs),
// which holds every value written: a glob of any shape is served by the
// index. A glob that matches too many values to list is a LIKE on the
// lowercased column instead, with LIKE's own wildcards escaped.
//
// Search is strpos (a plain substring test, no wildcards) on the
// lowercased action, resource and details. A CIDR is ip <<= prefix, which
// PostgreSQL turns into a range on the inet btree; addresses of the other
// family never fall in it, as in netip.Prefix.Contains.
//
// Times: time holds microseconds and time_ns the nanoseconds beyond, so
// time >= since is time >= since_us, and for a since with nanoseconds,
// also not (time = since_us and time_ns < since_ns); until likewise.
func whereSQL(f *audit.Filter, globs globValues) *whereBuilder {
	w := &whereBuilder{}
	if len(f.Users) > 0 {
		w.add(w.textCond(userField, f.Users, globs))
	}
	if len(f.Types) > 0 {
		facets := make([]string, len(f.Types))
		for i, t := range f.Types {
			facets[i] = "t:" + string(t)
		}
		w.add(w.facetsCond(facets))
	}
	if len(f.Actions) > 0 {
		w.add(w.textCond(actionField, f.Actions, globs))
	}
	if len(f.Resources) > 0 {
		w.add(w.textCond(resourceField, f.Resources, globs))
	}
	if len(f.ResourceTypes) > 0 {
		w.add(w.textCond(resourceTypeField, f.ResourceTypes, globs))
	}
	if len(f.IPs) > 0 {
		w.add(ipCond(w, f.IPs))
	}
	if f.Outcome != "" {
		w.add(w.facetsCond([]string{"o:" + string(f.Outcome)}))
	}
	if len(f.Sources) > 0 {
		w.add("source = ANY(" + w.arg(f.Sources) + ")")
	}
	if !f.Since.IsZero() {
		t, ns := splitTime(f.Since.UTC())
		p := w.arg(t)
		if ns == 0 {
			w.add("time >= " + p)
		} else {
			w.add("time >= " + p + " AND (time > " + p + " OR time_ns >= " + w.arg(ns) + ")")
		}
	}
	if !f.Until.IsZero() {
		t, ns := splitTime(f.Until.UTC())
		p := w.arg(t)
		if ns == 0 {
			w.add("time < " + p)
		} else {
			w.add("time <= " + p + " AND (time < " + p + " OR time_ns < " + w.arg(ns) + ")")
		}
	}
	if f.Search != "" {
		p := w.arg(strings.ToLower(f.Search))
		w.add("(strpos(action_lc, " + p + ") > 0 OR strpos(resource_lc, " + p + ") > 0 OR strpos(details_lc, " + p + ") > 0)")
	}
	if f.After > 0 {
		w.add("seq > " + w.arg(f.After))
	}
	if f.Before > 0 {
		w.add("seq < " + w.arg(f.Before))
	}
	return w
}

// textField is a text filter of audit.Filter: the facet kinds its patterns
// match (a user is a login or a display name) and their columns.
type textField struct {
	kinds []byte
	cols  []string
}

var (
	userField         = textField{[]byte{'u', 'n'}, []string{"user_lc", "user_name_lc"}}
	actionField       = textField{[]byte{'a'}, []string{"action_lc"}}
	resourceTypeField = textField{[]byte{'k'}, []string{"resource_type_lc"}}
	resourceField     = textField{[]byte{'r'}, []string{"resource_lc"}}
)

// textCond is the condition that the field matches any of the patterns.
func (w *whereBuilder) textCond(field textField, patterns []string, globs globValues) string {
	var facets, terms []string
	for _, p := range patterns {
		p = strings.ToLower(p)
		for k, kind := range field.kinds {
			if !strings.Contains(p, "*") {
				facets = append(facets, string(kind)+":"+p)
				continue
			}
			g, ok := globs[globKey{kind, p}]
			if !ok || g.tooMany {
				terms = append(terms, field.cols[k]+" LIKE "+w.arg(globToLike(p)))
				continue
			}
			for _, v := range g.values {
				facets = append(facets, string(kind)+":"+v)
			}
		}
	}
	if len(facets) > 0 {
		terms = append(terms, w.facetsCond(facets))
	}
	if len(terms) == 0 {
		return "false" // globs that match no value ever written
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

// facetsCond is the condition that the event has any of the facets, which
// the facets index serves.
func (w *whereBuilder) facetsCond(facets []string) string {
	return facetsExpr + " && " + w.arg(facets) + "::text[]"
}

// maxGlobValues is how many values a glob may match and still be served
// through the facets index; past it, a LIKE on the column does better.
const maxGlobValues = 1000

// globKey names a glob of a filter: a facet kind and the lowercased
// pattern.
type globKey struct {
	kind    byte
	pattern string
}

// globMatch is what a glob matches in audit_values.
type globMatch struct {
	values  []string
	tooMany bool
}

// globValues are the matches of the globs of a filter.
type globValues map[globKey]globMatch

// globsOf lists the globs of f.
func globsOf(f *audit.Filter) []globKey {
	var keys []globKey
	for _, t := range []struct {
		field    textField
		patterns []string
	}{{userField, f.Users}, {actionField, f.Actions}, {resourceTypeField, f.ResourceTypes}, {resourceField, f.Resources}} {
		for _, p := range t.patterns {
			if p = strings.ToLower(p); strings.Contains(p, "*") {
				for _, kind := range t.field.kinds {
					keys = append(keys, globKey{kind, p})
				}
			}
		}
	}
	return keys
}

// resolveGlobs looks up the values the globs of f match in audit_values,
// in one round trip.
func resolveGlobs(ctx context.Context, q querier, f *audit.Filter) (globValues, error) {
	keys := globsOf(f)
	if len(keys) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, k := range keys {
		b.Queue("SELECT value FROM audit_values WHERE kind = $1 AND value LIKE $2 LIMIT $3",
			string(k.kind), globToLike(k.pattern), maxGlobValues+1)
	}
	br := q.SendBatch(ctx, b)
	out := globValues{}
	for _, k := range keys {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, err
		}
		values, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			br.Close()
			return nil, err
		}
		if len(values) > maxGlobValues {
			out[k] = globMatch{tooMany: true}
		} else {
			out[k] = globMatch{values: values}
		}
	}
	return out, br.Close()
}

// globToLike turns an audit glob ('*' any run, all else literal) into a
// LIKE pattern, escaping LIKE's own wildcards with '\', its default escape.
func globToLike(p string) string {
	parts := strings.Split(p, "*")
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	for i, part := range parts {
		parts[i] = r.Replace(part)
	}
	return strings.Join(parts, "%")
}

// ipCond is the condition that ip lies in any of the prefixes.
func ipCond(w *whereBuilder, prefixes []netip.Prefix) string {
	var terms []string
	for _, p := range prefixes {
		if !p.IsValid() {
			continue // Match's Contains is false for it, too
		}
		terms = append(terms, "ip <<= "+w.arg(p.Masked()))
	}
	if len(terms) == 0 {
		return "false"
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}
