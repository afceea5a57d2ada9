package audit

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Values encodes q as URL query parameters, the form GET /v1/stats takes:
// the filter's parameters (Filter.Values, without limit and order), one
// "table" per table as its dimensions joined by commas and, when Top is
// set, ":" and Top ("table=user:5", "table=day,type"), and "zone" (Zone's
// String) unless the zone is UTC. ParseStatsValues reverses it.
func (q *StatsQuery) Values() url.Values {
	f := q.Filter
	f.Limit, f.Order = 0, Ascending
	v := f.Values()
	for _, t := range q.Tables {
		by := make([]string, len(t.By))
		for i, d := range t.By {
			by[i] = string(d)
		}
		s := strings.Join(by, ",")
		if t.Top > 0 {
			s += ":" + strconv.Itoa(t.Top)
		}
		v.Add("table", s)
	}
	if len(q.Zone) > 0 {
		v.Set("zone", q.Zone.String())
	}
	return v
}

// ParseStatsValues decodes the query parameters of GET /v1/stats into a
// valid StatsQuery. Errors wrap ErrInvalid and name the parameter.
func ParseStatsValues(v url.Values) (StatsQuery, error) {
	rest := url.Values{}
	for k, vs := range v {
		if k != "table" && k != "zone" {
			rest[k] = vs
		}
	}
	var q StatsQuery
	var err error
	if q.Filter, err = ParseValues(rest); err != nil {
		return StatsQuery{}, err
	}
	q.Filter.Limit, q.Filter.Order = 0, Ascending
	for _, s := range v["table"] {
		dims, topText, hasTop := strings.Cut(s, ":")
		var t StatsTable
		if hasTop {
			if t.Top, err = strconv.Atoi(topText); err != nil || t.Top < 0 {
				return StatsQuery{}, fmt.Errorf("%w: parameter table: invalid top %q (want a number >= 0)", ErrInvalid, topText)
			}
		}
		for _, name := range strings.Split(dims, ",") {
			d, err := ParseDimension(name)
			if err != nil {
				return StatsQuery{}, fmt.Errorf("%w: parameter table: %v", ErrInvalid, err)
			}
			t.By = append(t.By, d)
		}
		q.Tables = append(q.Tables, t)
	}
	if s := v.Get("zone"); s != "" {
		if q.Zone, err = ParseZone(s); err != nil {
			return StatsQuery{}, fmt.Errorf("parameter zone: %w", err)
		}
	}
	if err := q.Validate(); err != nil {
		return StatsQuery{}, err
	}
	return q, nil
}

// Values encodes q as URL query parameters: the filter's (Filter.Values,
// without limit and order), "threshold" and "window" (a Go duration,
// "10m0s"). ParseBurstValues reverses it.
func (q *BurstQuery) Values() url.Values {
	f := q.Filter
	f.Limit, f.Order = 0, Ascending
	v := f.Values()
	v.Set("threshold", strconv.Itoa(q.Threshold))
	v.Set("window", q.Window.String())
	return v
}

// ParseBurstValues decodes query parameters into a valid BurstQuery.
// Errors wrap ErrInvalid and name the parameter.
func ParseBurstValues(v url.Values) (BurstQuery, error) {
	rest := url.Values{}
	for k, vs := range v {
		if k != "threshold" && k != "window" {
			rest[k] = vs
		}
	}
	var q BurstQuery
	var err error
	if q.Filter, err = ParseValues(rest); err != nil {
		return BurstQuery{}, err
	}
	q.Filter.Limit, q.Filter.Order = 0, Ascending
	if q.Threshold, err = strconv.Atoi(v.Get("threshold")); err != nil {
		return BurstQuery{}, fmt.Errorf("%w: parameter threshold: invalid number %q", ErrInvalid, v.Get("threshold"))
	}
	if q.Window, err = time.ParseDuration(v.Get("window")); err != nil {
		return BurstQuery{}, fmt.Errorf("%w: parameter window: invalid duration %q (want e.g. 10m)", ErrInvalid, v.Get("window"))
	}
	if err := q.Validate(); err != nil {
		return BurstQuery{}, err
	}
	return q, nil
}
