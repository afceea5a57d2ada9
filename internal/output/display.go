package output

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/audit-cli/audit/internal/audit"
)

// FormatDisplayTime renders t for people, as the web page's audit log does:
// "Today, 2:34 PM", "Yesterday, 12:00 AM", "Nov 27, 5:30 PM" for another day
// of now's year, "Nov 27 2025, 5:30 PM" for another year. Days are calendar
// days in loc (nil means time.Local). A zero t renders as "".
func FormatDisplayTime(t, now time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.Local
	}
	t, now = t.In(loc), now.In(loc)
	clock := t.Format("3:04 PM")
	ty, tm, td := t.Date()
	ny, nm, nd := now.Date()
	yy, ym, yd := time.Date(ny, nm, nd-1, 12, 0, 0, 0, loc).Date()
	switch {
	case ty == ny && tm == nm && td == nd:
		return "Today, " + clock
	case ty == yy && tm == ym && td == yd:
		return "Yesterday, " + clock
	case ty == ny:
		return t.Format("Jan 2") + ", " + clock
	default:
		return t.Format("Jan 2 2006") + ", " + clock
	}
}

// acronyms are the words of resource types written in capitals.
var acronyms = map[string]string{
	"acl": "ACL", "api": "API", "dns": "DNS", "http": "HTTP", "https": "HTTPS", "id": "ID",
	"ip": "IP", "ldap": "LDAP", "mfa": "MFA", "saml": "SAML", "ssh": "SSH", "sso": "SSO",
	"tls": "TLS", "url": "URL", "vpn": "VPN",
}

// HumanizeResourceType turns a resource type as stored into the words the
// web page shows: "server" → "Server", "alert_rule" → "Alert Rule",
// "api_key" → "API Key". Words are split on '_', '-' and spaces, each is
// capitalized, and known acronyms (API, IP, MFA, SSO, URL, TLS, …) are
// written in capitals.
func HumanizeResourceType(s string) string {
	words := strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == ' ' })
	for i, w := range words {
		lw := strings.ToLower(w)
		if a, ok := acronyms[lw]; ok {
			words[i] = a
			continue
		}
		r, n := utf8.DecodeRuneInString(lw)
		words[i] = strings.ToUpper(string(r)) + lw[n:]
	}
	return strings.Join(words, " ")
}

// ActionText is the plain (uncolored, unescaped, untruncated) text of an
// event in one line, as the web page shows it: the action, then the
// resource as "Type: resource", then " — " and the details. For example
// "Updated Server: bbb-node-1 — Changed load_multiplier from 1.0 to 1.5",
// or "MFA Enabled — Two-factor authentication activated" when there is no
// resource. It does not mention the outcome.
func ActionText(e *audit.Event) string {
	return joinDetails(strings.TrimSpace(e.Action+" "+ResourceText(e)), e.Details)
}

// ActionDetails is the text of the table's ACTION column, which has the
// RESOURCE column beside it: the action, then " — " and the details, for
// example "Updated — Changed load_multiplier from 1.0 to 1.5".
func ActionDetails(e *audit.Event) string { return joinDetails(e.Action, e.Details) }

func joinDetails(head, details string) string {
	switch {
	case details == "":
		return head
	case head == "":
		return details
	default:
		return head + " — " + details
	}
}

// ResourceText is the plain text of the RESOURCE column: the resource as
// "Type: name", e.g. "Server: bbb-node-1", or just the name when it has no
// type.
func ResourceText(e *audit.Event) string {
	if e.Resource == "" {
		return ""
	}
	if rt := HumanizeResourceType(e.ResourceType); rt != "" {
		return rt + ": " + e.Resource
	}
	return e.Resource
}

// displayUser is the USER column on a terminal: the display name, or the
// login when there is none.
func displayUser(e *audit.Event) string {
	if e.UserName != "" {
		return e.UserName
	}
	return e.User
}

// loginUser is the USER column off a terminal: the login, stable for
// scripts, or the display name when there is no login.
func loginUser(e *audit.Event) string {
	if e.User != "" {
		return e.User
	}
	return e.UserName
}

// outcomeText is the OUTCOME column; an event without one succeeded.
func outcomeText(e *audit.Event) string {
	if e.Outcome == "" {
		return string(audit.OutcomeSuccess)
	}
	return string(e.Outcome)
}

// failedSuffix marks a failed action in the piped table, which has no
// OUTCOME column; failedMark does on a terminal, in its own color, so
// that a failed login does not look like a delete.
const (
	failedSuffix = " (failed)"
	failedMark   = " ✗ FAILED"
)

// Sanitize makes s safe to print on a terminal: control characters,
// escape sequences and bidi overrides are shown escaped, and s stays on one
// line.
func Sanitize(s string) string { return escapeDisplay(s, false) }

// escapeKeepLayout is escapeDisplay for text whose newlines and tabs are
// its layout (a template's output, JSON lines): those stay, every other
// control character is escaped.
func escapeKeepLayout(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		cells := strings.Split(l, "\t")
		for j, c := range cells {
			cells[j] = escapeDisplay(c, false)
		}
		lines[i] = strings.Join(cells, "\t")
	}
	return strings.Join(lines, "\n")
}

// escapeDisplay makes s safe to show on a terminal and keeps it on one line.
// Data is attacker-controlled: an ESC could move the cursor, clear the
// screen or recolor it, a CR could overwrite the start of the line. So
// TAB, LF and CR become `\t`, `\n`, `\r`; other C0 controls and DEL become
// `\xNN` (ESC is `\x1b`); C1 controls, bidirectional overrides and the
// Unicode line and paragraph separators become `\uNNNN`; bytes that are not
// UTF-8 become `\xNN`. With backslash set, `\` itself becomes `\\`, so the
// escaping is unambiguous (the tab-separated forms do that).
func escapeDisplay(s string, backslash bool) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, n, backslash) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\\' && backslash:
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r, n, false):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(r rune, n int, backslash bool) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return true
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return true
	case r == '\\':
		return backslash
	case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) ||
		(r >= 0x2066 && r <= 0x2069) || r == 0x2028 || r == 0x2029:
		return true
	}
	return false
}

// tsvEscaper keeps a value on one line of tab-separated output and reversible.
var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)
