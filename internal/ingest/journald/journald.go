// Package journald reads the systemd journal as `journalctl -o json`
// writes it, one entry a line, and keeps the entries that audit
// something: sshd logins and logouts, sudo, useradd/userdel,
// passwd/chpasswd. Every other entry is skipped and counted.
package journald

import (
	"bufio"
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
	ingest.Register(ingest.Format{Name: audit.SourceJournald, Title: "journald", Detect: detect, Decode: decode})
}

func detect(first []byte) bool {
	return ingest.HasKeys(first, "__CURSOR") || ingest.HasKeys(first, "__REALTIME_TIMESTAMP", "MESSAGE")
}

const maxLine = 8 << 20

func decode(br *bufio.Reader, opts ingest.Options, c *ingest.Counts) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for l, err := range ingest.Lines(br, maxLine) {
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			e, keep, err := mapEntry(l.Text, c)
			if err != nil {
				yield(e, &ingest.LineError{Line: l.N, Err: err})
				return
			}
			if keep && !yield(e, nil) {
				return
			}
		}
	}
}

// text reads a journal field: a string, or, for a value that is not
// UTF-8, the array of its bytes journalctl writes instead.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b []byte
	var nums []int
	if json.Unmarshal(raw, &nums) == nil {
		for _, n := range nums {
			b = append(b, byte(n))
		}
		return string(b)
	}
	return ""
}

// rule maps the messages of one program.
type rule struct {
	re    *regexp.Regexp
	build func(m []string, e *audit.Event)
}

var rules = map[string][]rule{
	"sshd": {
		{regexp.MustCompile(`^Accepted (\S+) for (\S+) from (\S+) port (\d+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeLogin, Action: "SSH Login", User: m[2], IP: m[3],
				ResourceType: "session", Resource: "ssh", Details: "accepted " + m[1] + " from port " + m[4]}
		}},
		{regexp.MustCompile(`^Failed (\S+) for (invalid user )?(\S+) from (\S+) port (\d+)`), func(m []string, e *audit.Event) {
			d := "failed " + m[1]
			if m[2] != "" {
				d += " for an invalid user"
			}
			*e = audit.Event{Type: audit.TypeLogin, Action: "SSH Login", User: m[3], IP: m[4], Outcome: audit.OutcomeFailure,
				ResourceType: "session", Resource: "ssh", Details: d}
		}},
		{regexp.MustCompile(`^Invalid user (\S*) from (\S+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeLogin, Action: "SSH Login", User: m[1], IP: m[2], Outcome: audit.OutcomeFailure,
				ResourceType: "session", Resource: "ssh", Details: "invalid user"}
		}},
		{regexp.MustCompile(`^Disconnected from user (\S+) (\S+) port (\d+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeLogout, Action: "SSH Logout", User: m[1], IP: m[2],
				ResourceType: "session", Resource: "ssh", Details: "disconnected"}
		}},
		{regexp.MustCompile(`^pam_unix\(sshd:session\): session closed for user (\S+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeLogout, Action: "SSH Logout", User: m[1],
				ResourceType: "session", Resource: "ssh", Details: "session closed"}
		}},
	},
	"sudo": {
		{regexp.MustCompile(`^\s*(\S+) : (?:(.*?) ; )?TTY=(\S+) ; PWD=(.*?) ; USER=(\S+) ; (?:.*; )?COMMAND=(.*)$`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeSecurity, Action: "Sudo Command", User: m[1],
				ResourceType: "command", Resource: m[6], Details: "as " + m[5] + " in " + m[4] + " on " + m[3]}
			if m[2] != "" {
				e.Outcome = audit.OutcomeFailure
				e.Details = m[2] + "; " + e.Details
			}
		}},
	},
	"useradd": {
		{regexp.MustCompile(`^new user: name=([^,]+), UID=(\d+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeCreate, Action: "Created", ResourceType: "user", Resource: m[1], Details: "UID " + m[2]}
		}},
		{regexp.MustCompile(`^new group: name=([^,]+), GID=(\d+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeCreate, Action: "Created", ResourceType: "group", Resource: m[1], Details: "GID " + m[2]}
		}},
	},
	"userdel": {
		{regexp.MustCompile(`^delete user '([^']+)'`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeDelete, Action: "Deleted", ResourceType: "user", Resource: m[1]}
		}},
		{regexp.MustCompile(`^removed group '([^']+)'`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeDelete, Action: "Deleted", ResourceType: "group", Resource: m[1]}
		}},
	},
	"passwd": {
		{regexp.MustCompile(`^pam_unix\(passwd:chauthtok\): password changed for (\S+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeSecurity, Action: "Password Changed", ResourceType: "user", Resource: m[1]}
		}},
	},
	"chpasswd": {
		{regexp.MustCompile(`^pam_unix\(chpasswd:chauthtok\): password changed for (\S+)`), func(m []string, e *audit.Event) {
			*e = audit.Event{Type: audit.TypeSecurity, Action: "Password Changed", ResourceType: "user", Resource: m[1]}
		}},
	},
}

func mapEntry(data []byte, c *ingest.Counts) (audit.Event, bool, error) {
	var f map[string]json.RawMessage
	if err := ingest.Unmarshal("a journal entry", data, &f); err != nil {
		return audit.Event{}, false, err
	}
	cursor, ts := text(f["__CURSOR"]), text(f["__REALTIME_TIMESTAMP"])
	if cursor == "" || ts == "" {
		return audit.Event{}, false, fmt.Errorf("not a journal entry (no __CURSOR/__REALTIME_TIMESTAMP)")
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return audit.Event{}, false, fmt.Errorf("__REALTIME_TIMESTAMP: invalid time %q (want microseconds since 1970)", ts)
	}
	c.Read++
	prog := text(f["SYSLOG_IDENTIFIER"])
	if prog == "" {
		prog = text(f["_COMM"])
	}
	msg := text(f["MESSAGE"])
	var e audit.Event
	matched := false
	for _, r := range rules[prog] {
		if m := r.re.FindStringSubmatch(msg); m != nil {
			r.build(m, &e)
			matched = true
			break
		}
	}
	if !matched {
		c.Unmatched++
		return audit.Event{}, false, nil
	}
	if e.User == "" {
		// useradd, userdel, passwd: run by the user of the process.
		e.User = "root"
		if uid := text(f["_UID"]); uid != "" && uid != "0" {
			e.User = uid
		}
	}
	e.UserName = e.User
	if a, err := netip.ParseAddr(e.IP); err == nil {
		e.IP = a.Unmap().String()
	} else {
		e.IP = ""
	}
	if e.Outcome == "" {
		e.Outcome = audit.OutcomeSuccess
	}
	if host := text(f["_HOSTNAME"]); host != "" {
		e.Details = strings.TrimPrefix(e.Details+"; host "+host, "; ")
	}
	e.ID = cursor // Finish makes a digest of one audit cannot keep
	e.Time = time.UnixMicro(us).UTC()
	if err := audit.CheckTime("__REALTIME_TIMESTAMP", e.Time); err != nil {
		return audit.Event{}, false, err
	}
	ingest.Finish(&e, audit.SourceJournald, data)
	return e, true, nil
}
