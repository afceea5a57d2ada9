package server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/audit-cli/audit/internal/audit"
)

// stats answers GET /v1/stats: the query parameters of
// audit.StatsQuery.Values, counted by the store, as a JSON
// audit.StatsResult.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	serveStats(s, w, r, audit.ParseStatsValues, func(ctx context.Context, st audit.Statser, q audit.StatsQuery) (*audit.StatsResult, error) {
		res, err := st.Stats(ctx, q)
		if res.Tables == nil {
			res.Tables = []audit.StatsTableResult{}
		}
		return &res, err
	})
}

// logins answers GET /v1/stats/logins: the bursts of failed logins that
// the query parameters of audit.BurstQuery.Values ask for, as a JSON array
// of audit.Burst.
func (s *Server) logins(w http.ResponseWriter, r *http.Request) {
	serveStats(s, w, r, audit.ParseBurstValues, func(ctx context.Context, st audit.Statser, q audit.BurstQuery) ([]audit.Burst, error) {
		bursts, err := st.Bursts(ctx, q)
		if bursts == nil {
			bursts = []audit.Burst{}
		}
		return bursts, err
	})
}

// serveStats answers a statistics request: the query parsed from the URL
// (400 when it is bad), computed by the store within a query slot, as JSON.
func serveStats[Q, R any](s *Server, w http.ResponseWriter, r *http.Request,
	parse func(url.Values) (Q, error), compute func(context.Context, audit.Statser, Q) (R, error)) {
	st, ok := s.opts.ReadStore.(audit.Statser)
	if !ok {
		notImplemented(w, "the server's store cannot compute statistics")
		return
	}
	q, err := parse(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	release, ok := s.querySlot(r)
	if !ok {
		return
	}
	defer release()
	res, err := compute(r.Context(), st, q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// notImplemented answers a request for what the server's store cannot do.
func notImplemented(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusNotImplemented, msg)
}
