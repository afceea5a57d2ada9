package server

import (
	"net/http"

	"github.com/audit-cli/audit/internal/audit"
)

// stats answers GET /v1/stats: the query parameters of
// audit.StatsQuery.Values, counted by the store, as a JSON
// audit.StatsResult.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st, ok := s.opts.Store.(audit.Statser)
	if !ok {
		notImplemented(w, "the server's store cannot compute statistics")
		return
	}
	q, err := audit.ParseStatsValues(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	release, ok := s.querySlot(r)
	if !ok {
		return
	}
	defer release()
	res, err := st.Stats(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if res.Tables == nil {
		res.Tables = []audit.StatsTableResult{}
	}
	writeJSON(w, http.StatusOK, &res)
}

// logins answers GET /v1/stats/logins: the bursts of failed logins that
// the query parameters of audit.BurstQuery.Values ask for, as a JSON array
// of audit.Burst.
func (s *Server) logins(w http.ResponseWriter, r *http.Request) {
	st, ok := s.opts.Store.(audit.Statser)
	if !ok {
		notImplemented(w, "the server's store cannot compute statistics")
		return
	}
	q, err := audit.ParseBurstValues(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	release, ok := s.querySlot(r)
	if !ok {
		return
	}
	defer release()
	bursts, err := st.Bursts(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if bursts == nil {
		bursts = []audit.Burst{}
	}
	writeJSON(w, http.StatusOK, bursts)
}

// notImplemented answers a request for what the server's store cannot do.
func notImplemented(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusNotImplemented, msg)
}
