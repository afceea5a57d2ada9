package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
)

// bar is one bar of a chart: its label, count, and length in the SVG.
type bar struct {
	Label  string
	Count  int64
	Failed int64
	Width  int
	Y, TY  int
	Href   string
}

type chart struct {
	Title  string
	Bars   []bar
	Height int
}

type burstRow struct {
	By, Key, Others string
	Count           int
	First, Last     string
	Href            string
}

type statsData struct {
	View    *view
	Window  string
	Total   int64
	Failed  int64
	Charts  []chart
	Bursts  []burstRow
	Ranges  []option
	Default bool
}

// chartWidth is the length of the longest bar.
const chartWidth = 320

// statsPage shows the numbers of `audit stats` for the view's window:
// events by type, by day and by the most active users, and the bursts of
// failed logins, as server-rendered SVG bar charts.
func (c *Console) statsPage(w http.ResponseWriter, r *http.Request) {
	v, err := c.parseView(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	st, ok := c.opts.Store.(audit.Statser)
	if !ok {
		c.fail(w, r, http.StatusNotImplemented, "This store cannot compute statistics.")
		return
	}
	d := statsData{View: &v}
	f := v.Filter
	if f.Since.IsZero() && f.Until.IsZero() && f.After == 0 {
		f.Since = v.Now.In(v.Loc).AddDate(0, 0, -audit.DefaultReviewDays)
		d.Default = true
	}
	d.Window = output.RangeText(f.Since, f.Until, v.Loc)
	for _, rg := range Ranges {
		d.Ranges = append(d.Ranges, option{rg.Value, rg.Label, rg.Value == v.Range})
	}
	release, ok := c.opts.QuerySlot(r)
	if !ok {
		return
	}
	defer release()
	ctx := r.Context()
	res, err := st.Stats(ctx, audit.StatsQuery{Filter: f, Zone: audit.ZoneIn(v.Loc, f.Since, f.Until),
		Tables: []audit.StatsTable{
			{By: []audit.Dimension{audit.DimType}},
			{By: []audit.Dimension{audit.DimUser}, Top: 10},
			{By: []audit.Dimension{audit.DimDay}},
		}})
	if err != nil {
		c.storeFailed(w, r, err)
		return
	}
	d.Total, d.Failed = res.Total, res.Failed
	titles := []string{"Events by type", "Most active users", "Events by day"}
	params := []string{"type", "user", ""}
	for i, t := range res.Tables {
		if i == 2 {
			sortByKey(t.Rows)
		}
		d.Charts = append(d.Charts, makeChart(titles[i], t.Rows, func(key string) string {
			if params[i] == "" {
				return ""
			}
			return v.url("/", params[i], key)
		}))
	}
	bursts, err := st.Bursts(ctx, audit.BurstQuery{Filter: f, Threshold: audit.DefaultBurstThreshold, Window: audit.DefaultBurstWindow})
	if err != nil && !errors.Is(err, context.Canceled) {
		c.storeFailed(w, r, err)
		return
	}
	for _, b := range bursts {
		br := burstRow{By: string(b.By), Key: output.Sanitize(b.Key), Count: b.Count,
			First: output.FormatDisplayTime(b.First, v.Now, v.Loc), Last: output.FormatDisplayTime(b.Last, v.Now, v.Loc)}
		others := b.IPs
		param := "user"
		if b.By == audit.DimIP {
			others, param = b.Users, "ip"
		}
		for i, o := range others {
			if i > 0 {
				br.Others += ", "
			}
			br.Others += output.Sanitize(o)
		}
		br.Href = v.url("/", param, b.Key, "type", "login", "failed", "1")
		d.Bursts = append(d.Bursts, br)
	}
	c.render(w, r, http.StatusOK, "stats", "Statistics", d)
}

func sortByKey(rows []audit.StatsRow) {
	slices.SortFunc(rows, func(a, b audit.StatsRow) int { return strings.Compare(a.Keys[0], b.Keys[0]) })
}

func makeChart(title string, rows []audit.StatsRow, href func(string) string) chart {
	ch := chart{Title: title}
	var top int64 = 1
	for _, r := range rows {
		top = max(top, r.Events)
	}
	for i, r := range rows {
		w := int(r.Events * chartWidth / top)
		if r.Events > 0 && w == 0 {
			w = 1
		}
		ch.Bars = append(ch.Bars, bar{Label: output.Sanitize(r.Keys[0]), Count: r.Events, Failed: r.Failed,
			Width: w, Y: i * 26, TY: i*26 + 15, Href: href(r.Keys[0])})
	}
	ch.Height = max(26, len(rows)*26)
	return ch
}

type verifyData struct {
	OK      bool
	Result  audit.VerifyResult
	Problem string
	Took    string
	Events  string
}

// verifyPage runs the chain verification, as `audit verify` does with
// the server's key, and shows the result.
func (c *Console) verifyPage(w http.ResponseWriter, r *http.Request) {
	release, ok := c.opts.QuerySlot(r)
	if !ok {
		return
	}
	defer release()
	start := time.Now()
	res, err := audit.Verify(r.Context(), c.opts.Primary, audit.VerifyOptions{Key: c.opts.ChainKey})
	d := verifyData{Result: res, Took: time.Since(start).Round(time.Millisecond).String(),
		Events: strconv.FormatInt(res.Events, 10)}
	var ie *audit.IntegrityError
	switch {
	case errors.As(err, &ie):
		d.Problem = output.Sanitize(ie.Error())
		c.render(w, r, http.StatusConflict, "verify", "Integrity", d)
		return
	case err != nil:
		c.storeFailed(w, r, err)
		return
	}
	d.OK = true
	c.render(w, r, http.StatusOK, "verify", "Integrity", d)
}
