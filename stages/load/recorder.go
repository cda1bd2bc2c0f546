package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Recorder is an http.RoundTripper that sends nothing: it writes each
// request it is given as a line of JSON and answers as a compliant,
// empty SCIM server would (a create gets back what it sent, with a made-up id; a search finds
// nothing; /ResourceTypes lists /Users and /Locations). load --dry-run runs the loader on it, so the requests it
// lists are exactly those the loader would send. The Authorization
// header is not recorded.
type Recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
	n   int
}

func NewRecorder() *Recorder { return &Recorder{} }

// Requests is how many requests it recorded.
func (r *Recorder) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Bytes is requests.jsonl.
func (r *Recorder) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body json.RawMessage
	if req.Body != nil {
		raw, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		if len(raw) > 0 {
			body = raw
		}
	}
	path := req.URL.Path
	if q := req.URL.RawQuery; q != "" {
		path += "?" + q
	}
	r.mu.Lock()
	r.n++
	id := fmt.Sprintf("dry-run-%d", r.n)
	line, _ := json.Marshal(struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body,omitempty"`
	}{req.Method, path, body})
	r.buf.Write(line)
	r.buf.WriteByte('\n')
	r.mu.Unlock()

	status, answer := http.StatusOK, `{}`
	switch {
	case strings.HasSuffix(req.URL.Path, "/ServiceProviderConfig"):
		answer = `{"patch":{"supported":true},"bulk":{"supported":false},"filter":{"supported":true}}`
	case strings.HasSuffix(req.URL.Path, "/ResourceTypes"): // the visitor profile's, /Locations included
		answer = `{"Resources":[{"name":"User","endpoint":"/Users"},{"name":"Location","endpoint":"/Locations"}]}`
	case req.Method == http.MethodPost: // the resource sent, with a made-up id
		var res map[string]any
		if json.Unmarshal(body, &res) != nil || res == nil {
			res = map[string]any{}
		}
		res["id"] = id
		b, _ := json.Marshal(res)
		status, answer = http.StatusCreated, string(b)
	case req.Method == http.MethodGet && req.URL.Query().Has("filter"):
		answer = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`
	case req.Method == http.MethodDelete:
		status, answer = http.StatusNoContent, ``
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/scim+json"}},
		Body: io.NopCloser(strings.NewReader(answer)), Request: req}, nil
}
