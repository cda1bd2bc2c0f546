package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condeco-sync/condeco-sync/internal/artifact"
	"github.com/condeco-sync/condeco-sync/internal/parquetio"
	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/condeco-sync/condeco-sync/stages/load/scim"
	"github.com/rs/zerolog"
)

// latency is what every answer of the benchmark's server takes.
const latency = 20 * time.Millisecond

// timingServer is a minimal SCIM endpoint for timing the loader: it
// answers every request the load makes after `latency`, doing no work of
// its own, so the figures measure the loader and the network round trips,
// not a server. (SCIMMY, which the correctness tests use, is single-
// threaded and tops out near 700 creates/s on this machine, below what
// 16 workers at 20 ms allow.) With bulk, it offers /Bulk.
func timingServer(bulk bool) *httptest.Server {
	var ids atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/scim+json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/ServiceProviderConfig"):
			fmt.Fprintf(w, `{"patch":{"supported":true},"bulk":{"supported":%t,"maxOperations":1000,"maxPayloadSize":1048576}}`, bulk)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Bulk"):
			var req struct{ Operations []scim.BulkOp }
			json.NewDecoder(r.Body).Decode(&req)
			var out []map[string]any
			for _, op := range req.Operations {
				out = append(out, map[string]any{"method": "POST", "bulkId": op.BulkID, "status": "201",
					"location": fmt.Sprintf("/scim/v2/Users/%d", ids.Add(1))})
			}
			json.NewEncoder(w).Encode(map[string]any{"Operations": out})
		case r.Method == http.MethodPost:
			var res map[string]any
			json.NewDecoder(r.Body).Decode(&res)
			res["id"] = fmt.Sprint(ids.Add(1))
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(res)
		case r.Method == http.MethodGet:
			fmt.Fprint(w, `{"totalResults":0,"Resources":[]}`)
		default:
			fmt.Fprint(w, `{}`)
		}
	}))
}

// benchInputs writes the desired state and change set of an initial
// synchronization of n users and one location.
func benchInputs(b *testing.B, dir string, n int) Input {
	users := make([]schemas.User, n)
	changes := []schemas.Change{{Entity: schemas.EntityLocation, Key: "LON", Op: schemas.OpCreate, Name: "London"}}
	for i := range users {
		u := &users[i]
		u.UserID = fmt.Sprint(100000 + i)
		u.UserName = fmt.Sprintf("user.%d@example.com", i)
		u.GivenName, u.FamilyName, u.Email, u.Active, u.DefaultLocation = "Given", "Family", u.UserName, true, "LON"
		u.PhoneMobile, u.Department, u.Title = "+447911123456", "Sales", "Engineer"
		changes = append(changes, schemas.Change{Entity: schemas.EntityUser, Key: u.UserID, Op: schemas.OpCreate, Name: u.UserName, Grant: "LON"})
	}
	in := Input{Changes: filepath.Join(dir, "changes.parquet"), Users: filepath.Join(dir, "users.parquet"), Locations: filepath.Join(dir, "locations.parquet"),
		Profile: ProfileSCIM2}
	if _, err := parquetio.WriteSlice(in.Users, users); err != nil {
		b.Fatal(err)
	}
	if _, err := parquetio.WriteSlice(in.Changes, changes); err != nil {
		b.Fatal(err)
	}
	if _, err := parquetio.WriteSlice(in.Locations, []schemas.Location{{LocationID: "LON", Name: "London", Active: true}}); err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkLoad10kCreates loads 10,000 creates with scim.concurrency 16
// against a server that takes 20 ms an answer: 16 / 20 ms allows 800
// requests/s. Reported: creates/s in the creates phase, one request each
// (or, with /Bulk, up to 100 creates a request).
func BenchmarkLoad10kCreates(b *testing.B) {
	for _, bulk := range []bool{false, true} {
		b.Run(map[bool]string{false: "requests", true: "bulk"}[bulk], func(b *testing.B) {
			srv := timingServer(bulk)
			defer srv.Close()
			dir := b.TempDir()
			in := benchInputs(b, dir, 10000)
			client, _ := scim.New(srv.URL+"/scim/v2", "t", 10*time.Second)
			in.Client, in.Concurrency, in.Log = client, 16, zerolog.Nop()
			var creates, seconds float64
			for i := 0; b.Loop(); i++ {
				out := filepath.Join(dir, fmt.Sprint("load-", i))
				artifact.MkdirAll(out)
				res, err := Run(context.Background(), in, out)
				if err != nil {
					b.Fatal(err)
				}
				p := res.Details["phases"].(map[string]map[string]float64)["creates"]
				creates += p["operations"]
				seconds += p["seconds"]
				os.RemoveAll(out)
			}
			b.ReportMetric(creates/seconds, "creates/s")
		})
	}
}
