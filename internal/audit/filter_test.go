package audit

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestFilterParamsAreTheList: a filter with every field set encodes to
// exactly the parameters of FilterParams, and reads back the same.
func TestFilterParamsAreTheList(t *testing.T) {
	f := Filter{Users: []string{"jdavis"}, Types: []Type{TypeLogin}, Actions: []string{"a"}, Resources: []string{"r"},
		ResourceTypes: []string{"server"}, IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Outcome: OutcomeFailure,
		Sources: []string{SourceCloudTrail}, Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Until: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Search: "x", After: 1, Before: 9, Limit: 5, Order: Descending}
	v := f.Values()
	var keys []string
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := slices.Clone(FilterParams)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("Values() writes %q, FilterParams lists %q", keys, want)
	}
	back, err := ParseValues(v)
	if err != nil || !reflect.DeepEqual(back, f) {
		t.Fatalf("ParseValues(Values()) = %+v, %v; want %+v", back, err, f)
	}
}
