package storetest

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Stream yields events as an import reads them, for Store.Import.
func Stream(events []audit.Event) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for e := range slices.Values(events) {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Epoch is the time around which Events places its events: 2026-11-20 UTC.
var Epoch = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

type person struct{ login, name string }

// people are the actors of generated events. They include what breaks
// careless stores: non-ASCII and non-Latin names, emoji, quotes, SQL, and
// the LIKE wildcards '%' and '_' (with a look-alike login that only a
// wrongly escaped '_' would match).
var people = []person{
	{"jdavis", "John Davis"},
	{"smiller", "Sarah Miller"},
	{"mjohnson", "Mike Johnson"},
	{"ajackson", "Ann Jackson"},
	{"system", "System"},
	{"zstastna", "Zoë Šťastná"},
	{"lilei", "李雷"},
	{"pobrien", "Pat O'Brien"},
	{"devops", "Dev 🚀 Ops"},
	{"json_bot", "Jason 100% Bot"},
	{"jsonxbot", "Jason X Bot"},
	{"robert'); DROP TABLE events;--", "Bobby Tables"},
}

type template struct {
	typ          audit.Type
	action       string
	resourceType string
	resources    []string
	details      []string
	failure      string // details when the outcome is failure; "" never fails
}

var templates = []template{
	{audit.TypeLogin, "Portal Access", "session", []string{"web-portal", "admin-console"},
		[]string{"Successful login via password", "Successful login via SSO", "Login with MFA token"},
		"Failed login: invalid password"},
	{audit.TypeLogin, "SSH Login", "server", []string{"bbb-node-1", "bbb-node-2"},
		[]string{"Public key authentication", "Key fingerprint SHA256:abc_def"},
		"Connection refused for user"},
	{audit.TypeLogout, "Logout", "session", []string{"web-portal"},
		[]string{"Session ended, manual logout", "Session expired after 30m idle"}, ""},
	{audit.TypeCreate, "Created", "alert_rule", []string{"High CPU Usage", "Disk > 90%", "Zoë's alert"},
		[]string{"CPU > 80%, Warning", "Threshold 90% (critical)", "Notify #ops_alerts"},
		"Rule name already exists"},
	{audit.TypeCreate, "Created", "api_key", []string{"ci-deploy", "new_integration"},
		[]string{"Scopes: read, write", "Expires in 365 days"}, ""},
	{audit.TypeUpdate, "Updated", "server", []string{"bbb-node-1", "bbb-node-2", "bbb-node-3", "'; DROP TABLE events; --"},
		[]string{"Changed load_multiplier from 1.0 to 1.5", "Changed load_multiplier from 1.5 → 2.0",
			`Set log path to C:\data\logs`, "Set cache to 100%_full"},
		"Permission denied"},
	{audit.TypeUpdate, "Renamed", "account", []string{"李雷的账户", "team-Ω"},
		[]string{"Renamed from \"old\" to \"new\"", "Display name set to 李雷"}, ""},
	{audit.TypeDelete, "Deleted", "api_key", []string{"old-integration", "old_integration"},
		[]string{"Auto-expired after 365 days", "Revoked by admin"}, "Key is in use"},
	{audit.TypeSecurity, "MFA Enabled", "account", []string{"jdavis", "smiller"},
		[]string{"TOTP registered 🔐", "WebAuthn key added"}, ""},
	{audit.TypeSecurity, "Password Changed", "account", []string{"pobrien", "zstastna"},
		[]string{"Password changed", "Password reset via e-mail"}, "Password too weak"},
}

var addresses = []string{
	"192.168.1.100", "192.168.1.101", "192.168.2.7", "10.0.0.55", "10.1.2.3",
	"203.45.67.89", "8.8.8.8", "2001:db8::1", "2001:db8:abcd::42", "2001:db9::7", "fe80::1", "::1",
}

// Events returns n deterministic, valid, varied events for seed: the six
// types, both outcomes, IPv4 and IPv6 addresses and none, non-ASCII text,
// LIKE and SQL metacharacters in values, times with and without fractions
// down to the nanosecond, a few equal times, and times out of seq order.
// Ids are unique for a seed and differ between seeds; Seq and Hash are 0
// and "". Other packages' tests use it for fixtures.
func Events(n int, seed int64) []audit.Event {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	events := make([]audit.Event, n)
	t := Epoch
	for i := range events {
		t = t.Add(time.Duration(1+r.IntN(90)) * time.Second)
		var et time.Time
		switch r.IntN(5) {
		case 0:
			et = t // whole second
		case 1:
			et = t.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		case 2:
			et = t.Add(time.Duration(r.IntN(1e9))) // nanoseconds
		case 3:
			et = t.Add(-time.Duration(r.IntN(6)) * time.Hour) // out of order
		case 4:
			if i > 0 {
				et = events[r.IntN(i)].Time // an equal time
			} else {
				et = t
			}
		}
		p := people[r.IntN(len(people))]
		tp := templates[r.IntN(len(templates))]
		e := audit.Event{
			ID:           eventID(r, seed, i, et),
			Time:         et,
			User:         p.login,
			UserName:     p.name,
			Type:         tp.typ,
			Action:       tp.action,
			ResourceType: tp.resourceType,
			Resource:     tp.resources[r.IntN(len(tp.resources))],
			Details:      tp.details[r.IntN(len(tp.details))],
			Outcome:      audit.OutcomeSuccess,
		}
		if tp.failure != "" && r.IntN(6) == 0 {
			e.Outcome = audit.OutcomeFailure
			e.Details = tp.failure
		}
		if p.login != "system" {
			e.IP = addresses[r.IntN(len(addresses))]
		}
		events[i] = e
	}
	return events
}

// eventID is mostly a UUIDv7 made from the event's time and r, sometimes a
// producer's own id format.
func eventID(r *rand.Rand, seed int64, i int, t time.Time) string {
	if i%10 == 9 {
		return fmt.Sprintf("producer-%d/%d", seed, i)
	}
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", ms>>16, ms&0xffff, r.Uint32()&0xfff,
		0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
}
