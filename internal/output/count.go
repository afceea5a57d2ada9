package output

import (
	"strconv"
	"strings"
)

// GroupDigits writes n with commas between groups of three digits, as
// people read counts: 1234567 → "1,234,567".
func GroupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Count writes n, its digits grouped, and the word for that many:
// "1 event", "0 events", "1,204,331 events".
func Count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return GroupDigits(n) + " " + many
}
