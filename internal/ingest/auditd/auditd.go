// Package auditd reads the Linux audit daemon's raw log
// (/var/log/audit/audit.log, and `ausearch --raw` output): the records
// that share one msg=audit(TIME:SERIAL) are one event.
package auditd

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/ingest"
)

func init() {
	ingest.Register(ingest.Format{Name: audit.SourceAuditd, Title: "auditd", Detect: detect, Decode: decode})
}

// header is the start of a record: an optional node=, its type, and the
// msg=audit(SECONDS.MILLIS:SERIAL): that ties the records of one event.
var header = regexp.MustCompile(`^(?:node=(\S+) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):\s?`)

func detect(first []byte) bool { return header.Match(first) }

// record is one line of the log.
type record struct {
	typ    string
	fields map[string]string
	line   string
}

// group is the records of one event.
type group struct {
	key     string // node and TIME:SERIAL
	node    string
	time    time.Time
	records []record
	line    int // of its first record
}

const maxLine = 1 << 20

// pendingMax is how many events may be open at once: records of a few
// events interleave when the kernel and user space log together.
const pendingMax = 16

func decode(br *bufio.Reader, opts ingest.Options, c *ingest.Counts) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		var pending []*group
		flush := func(g *group) bool {
			c.Read++
			e, ok := mapGroup(g, opts)
			if !ok {
				c.Unmatched++
				return true
			}
			return yield(e, nil)
		}
		for l, err := range ingest.Lines(br, maxLine) {
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			m := header.FindSubmatch(l.Text)
			if m == nil {
				yield(audit.Event{}, &ingest.LineError{Line: l.N, Err: fmt.Errorf("not an auditd record (no type=… msg=audit(…))")})
				return
			}
			node, typ := string(m[1]), string(m[2])
			key := node + "|" + string(m[3]) + "." + string(m[4]) + ":" + string(m[5])
			var g *group
			for _, p := range pending {
				if p.key == key {
					g = p
					break
				}
			}
			if g == nil {
				sec, _ := strconv.ParseInt(string(m[3]), 10, 64)
				ms, _ := strconv.ParseInt(string(m[4]), 10, 64)
				g = &group{key: key, node: node, line: l.N,
					time: time.Unix(sec, ms*int64(time.Millisecond)).UTC()}
				if err := audit.CheckTime("msg=audit("+string(m[3])+"."+string(m[4])+")", g.time); err != nil {
					yield(audit.Event{}, &ingest.LineError{Line: l.N, Err: err})
					return
				}
				pending = append(pending, g)
			}
			if typ == "EOE" {
				pending = remove(pending, g)
				if !flush(g) {
					return
				}
				continue
			}
			g.records = append(g.records, record{typ: typ, fields: parseFields(string(l.Text[len(m[0]):])), line: string(l.Text)})
			if len(pending) > pendingMax {
				oldest := pending[0]
				pending = pending[1:]
				if !flush(oldest) {
					return
				}
			}
		}
		for _, g := range pending {
			if !flush(g) {
				return
			}
		}
	}
}

func remove(gs []*group, g *group) []*group {
	for i, x := range gs {
		if x == g {
			return append(gs[:i], gs[i+1:]...)
		}
	}
	return gs
}

// parseFields reads key=value pairs; values may be "quoted", or
// hex-encoded (unquoted, where the value held a space or a quote). A
// user-space message's msg='…' is read into the same map.
func parseFields(s string) map[string]string {
	f := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		switch {
		case strings.HasPrefix(s, `"`):
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				end = len(s) - 1
			}
			v, s = s[1:1+end], s[min(len(s), end+2):]
		case strings.HasPrefix(s, `'`):
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				end = len(s) - 1
			}
			for ik, iv := range parseFields(s[1 : 1+end]) {
				f[ik] = iv
			}
			s = s[min(len(s), end+2):]
			continue
		default:
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			v, s = s[:end], s[end:]
			if hexFields[k] {
				v = unhex(v)
			}
		}
		if _, dup := f[k]; !dup {
			f[k] = v
		}
	}
	return f
}

// hexFields are the fields auditd writes in hex when their value needs it.
var hexFields = map[string]bool{"acct": true, "cmd": true, "comm": true, "exe": true, "name": true,
	"proctitle": true, "cwd": true, "data": true, "key": true, "new-disk": true, "old-disk": true}

func unhex(v string) string {
	if len(v) < 2 || len(v)%2 != 0 {
		return v
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})) // proctitle separates argv with NUL
}

var (
	loginTypes    = map[string]bool{"USER_LOGIN": true, "USER_AUTH": true}
	logoutTypes   = map[string]bool{"USER_LOGOUT": true, "USER_END": true}
	createTypes   = map[string]bool{"ADD_USER": true, "ADD_GROUP": true}
	deleteTypes   = map[string]bool{"DEL_USER": true, "DEL_GROUP": true}
	securityTypes = map[string]bool{"USER_CHAUTHTOK": true, "USER_MGMT": true, "USER_CMD": true,
		"USER_ROLE_CHANGE": true, "CONFIG_CHANGE": true}
)

// mapGroup turns the records of one event into an audit event; ok is
// false when no rule matches it.
func mapGroup(g *group, opts ingest.Options) (audit.Event, bool) {
	var main *record
	var typ audit.Type
	for i := range g.records {
		r := &g.records[i]
		t, ok := classify(r)
		if ok {
			main, typ = r, t
			break
		}
	}
	if main == nil {
		return audit.Event{}, false
	}
	all := func(k string) string {
		if v := main.fields[k]; v != "" && v != "?" && v != "(null)" {
			return v
		}
		for _, r := range g.records {
			if v := r.fields[k]; v != "" && v != "?" && v != "(null)" {
				return v
			}
		}
		return ""
	}
	// The id is the node and msg=audit(TIME:SERIAL) as auditd wrote them.
	_, ts, _ := strings.Cut(g.key, "|")
	id := "auditd:" + ts
	if g.node != "" {
		id = "auditd:" + g.node + ":" + ts
	}
	e := audit.Event{ID: id, Time: g.time, Type: typ, Action: main.typ, Outcome: audit.OutcomeSuccess}
	e.User = all("acct")
	if e.User == "" {
		e.User = userOf(all("auid"), opts)
	}
	if e.User == "" {
		e.User = userOf(all("uid"), opts)
	}
	if e.User == "" {
		e.User = "system"
	}
	e.UserName = e.User
	if a, err := netip.ParseAddr(all("addr")); err == nil {
		e.IP = a.Unmap().String()
	}
	switch {
	case typ == audit.TypeUpdate && all("name") != "":
		e.ResourceType, e.Resource = "file", all("name")
	case all("exe") != "":
		e.ResourceType, e.Resource = "executable", all("exe")
	case all("terminal") != "":
		e.ResourceType, e.Resource = "terminal", all("terminal")
	}
	if res := main.fields["res"]; res == "failed" || res == "0" || main.fields["success"] == "no" {
		e.Outcome = audit.OutcomeFailure
	}
	var details []string
	for _, k := range []string{"op", "key", "id", "cmd", "hostname", "terminal"} {
		if v := all(k); v != "" && !(k == "terminal" && e.ResourceType == "terminal") {
			details = append(details, k+"="+v)
		}
	}
	if typ == audit.TypeUpdate && all("name") != "" && all("exe") != "" {
		details = append(details, "by "+all("exe"))
	}
	if g.node != "" {
		details = append(details, "node "+g.node)
	}
	e.Details = strings.Join(details, " ")
	lines := make([]string, len(g.records))
	for i, r := range g.records {
		lines[i] = r.line
	}
	raw, _ := json.Marshal(strings.Join(lines, "\n"))
	ingest.Finish(&e, audit.SourceAuditd, raw)
	return e, true
}

func classify(r *record) (audit.Type, bool) {
	switch {
	case loginTypes[r.typ]:
		return audit.TypeLogin, true
	case logoutTypes[r.typ]:
		return audit.TypeLogout, true
	case createTypes[r.typ]:
		return audit.TypeCreate, true
	case deleteTypes[r.typ]:
		return audit.TypeDelete, true
	case securityTypes[r.typ], strings.HasPrefix(r.typ, "ANOM_"):
		return audit.TypeSecurity, true
	case r.typ == "SYSCALL":
		if k := r.fields["key"]; k != "" && k != "(null)" {
			return audit.TypeUpdate, true
		}
	}
	return "", false
}

// userOf names a numeric uid from the given passwd file, else keeps the
// number; the unset auid (4294967295) is no user.
func userOf(uid string, opts ingest.Options) string {
	if uid == "" || uid == "4294967295" || uid == "-1" || uid == "unset" {
		return ""
	}
	if name, ok := opts.Users[uid]; ok {
		return name
	}
	return uid
}

// ReadPasswd reads a passwd(5) file's uid to name map.
func ReadPasswd(data []byte) map[string]string {
	users := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && !strings.HasPrefix(f[0], "#") {
			users[f[2]] = f[0]
		}
	}
	return users
}
