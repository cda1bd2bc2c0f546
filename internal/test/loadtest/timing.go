// Package loadtest holds the SCIM endpoint the load benchmarks time the
// loader against.
package loadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"
)

// TimingServer is a minimal SCIM endpoint for timing the loader: it
// answers every request after a fixed latency, doing no work of its own,
// so the figures measure the loader and the round trips, not a server.
// (SCIMMY, which the correctness tests use, is single-threaded and tops
// out near 700 creates/s on a 2-core machine, below what 16 workers at
// 20 ms allow.) It holds nothing but a counter, so at a million users the
// memory measured is the loader's.
type TimingServer struct {
	*httptest.Server
	requests atomic.Int64
}

// Requests is how many requests it answered.
func (s *TimingServer) Requests() int64 { return s.requests.Load() }

// NewTimingServer starts one; with bulk, it offers /Bulk (1,000
// operations, 1 MiB a request).
func NewTimingServer(latency time.Duration, bulk bool) *TimingServer {
	s := &TimingServer{}
	var ids atomic.Int64
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if latency > 0 {
			time.Sleep(latency)
		}
		w.Header().Set("Content-Type", "application/scim+json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
			fmt.Fprintf(w, `{"patch":{"supported":true},"bulk":{"supported":%t,"maxOperations":1000,"maxPayloadSize":1048576},"filter":{"supported":true}}`, bulk)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Bulk"):
			var req struct {
				Operations []struct {
					BulkID string `json:"bulkId"`
					Path   string `json:"path"`
				}
			}
			json.NewDecoder(r.Body).Decode(&req)
			out := make([]map[string]any, 0, len(req.Operations))
			for _, op := range req.Operations {
				out = append(out, map[string]any{"method": "POST", "bulkId": op.BulkID, "status": "201",
					"location": fmt.Sprintf("/scim/v2%s/%d", op.Path, ids.Add(1))})
			}
			json.NewEncoder(w).Encode(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkResponse"}, "Operations": out})
		case r.Method == http.MethodPost:
			var res map[string]any
			json.NewDecoder(r.Body).Decode(&res)
			res["id"] = fmt.Sprint(ids.Add(1))
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(res)
		case r.Method == http.MethodGet:
			fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`)
		case r.Method == http.MethodPatch || r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			fmt.Fprint(w, `{}`)
		}
	}))
	return s
}
