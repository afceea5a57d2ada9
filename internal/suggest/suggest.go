// Package suggest finds the word a user probably meant: `--usr` for
// --user, `secrity` for security, `last-weak` for last-week.
package suggest

import "strings"

// Closest returns the candidate nearest to s by edit distance
// (case-insensitive), when it is near enough to be a typo: one edit (a
// letter added, dropped, changed, or two swapped), or two in a word of
// eight letters or more. It returns "" otherwise, and for s
// itself.
func Closest(s string, candidates []string) string {
	s = strings.ToLower(s)
	best, bestD := "", 3
	for _, c := range candidates {
		d := distance(s, strings.ToLower(c))
		if d == 0 {
			return ""
		}
		if n := len([]rune(s)); d < bestD && (d == 1 && n >= 3 || d == 2 && n >= 8) {
			best, bestD = c, d
		}
	}
	return best
}

// Hint is "did you mean X?" for Closest's answer, or "".
func Hint(s string, candidates []string) string {
	if c := Closest(s, candidates); c != "" {
		return "did you mean " + c + "?"
	}
	return ""
}

// distance is the Damerau–Levenshtein distance of a and b (insertions,
// deletions, substitutions and swaps of two neighbours), in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
