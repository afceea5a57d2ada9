package suggest

import "testing"

func TestClosest(t *testing.T) {
	flags := []string{"user", "type", "since", "until", "period", "limit", "output", "resource", "resource-type"}
	for _, c := range []struct{ in, want string }{
		{"usr", "user"},
		{"tpye", "type"},
		{"sinse", "since"},
		{"resouce", "resource"},
		{"resource-typ", "resource-type"},
		{"user", ""},    // itself
		{"x", ""},       // too short to guess
		{"colour", ""},  // nothing near
		{"USR", "user"}, // case-insensitive
	} {
		if got := Closest(c.in, flags); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	periods := []string{"today", "yesterday", "this-week", "last-week", "this-month", "last-month", "this-year", "last-year"}
	for _, c := range []struct{ in, want string }{
		{"last-weak", "last-week"},
		{"yesterdayy", "yesterday"},
		{"thisweek", "this-week"},
		{"2026-11", ""},
	} {
		if got := Closest(c.in, periods); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Closest("secrity", []string{"login", "logout", "create", "update", "delete", "security"}); got != "security" {
		t.Errorf("Closest(secrity) = %q", got)
	}
}
