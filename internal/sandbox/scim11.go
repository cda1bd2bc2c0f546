package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/condeco-sync/condeco-sync/schemas"
	scimerrors "github.com/elimity-com/scim/errors"
)

// SCIM 1.1 (Options.SCIM11) is the wire of Eptura Visitor's public API,
// kept strictly, so that a client that speaks 2.0 to it finds out here
// and not in a tenant:
//
//   - the configuration is at /ServiceProviderConfigs (1.1's name), and
//     /ServiceProviderConfig is not found;
//   - bodies are application/json (415 for anything else) and name
//     urn:scim:schemas:core:1.0 (400 for any other schema);
//   - PATCH takes a partial resource (SCIM 1.1 API §3.3.2): a singular
//     attribute replaces, a complex one merges its sub-attributes, a
//     multi-valued one merges its values (a value with "operation":
//     "delete" is removed), and the attributes meta.attributes names are
//     removed first; a 2.0 PatchOp is refused;
//   - errors are {"Errors":[{"description","code"}]}.
//
// Underneath it is the same store and rules as the 2.0 sandbox: this file
// translates at the door.

// Message URNs of SCIM 2.0 that 1.1 names by its one core URN.
const (
	schemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// serve11 answers r as a SCIM 1.1 server: what 1.1 does differently is
// answered here, the rest by next, whose answer is then written in 1.1's
// words.
func (s *Sandbox) serve11(w http.ResponseWriter, r *http.Request, path string, next func(http.ResponseWriter, *http.Request)) {
	out := &buffered{header: http.Header{}}
	s.door11(out, r, path, next)
	write11(w, out)
}

// door11 is serve11 before the answer is translated.
func (s *Sandbox) door11(w http.ResponseWriter, r *http.Request, path string, next func(http.ResponseWriter, *http.Request)) {
	p := strings.TrimPrefix(path, "/v2")
	switch {
	case p == "/ServiceProviderConfig":
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "a SCIM 1.1 service provider publishes /ServiceProviderConfigs"})
		return
	case p == "/ServiceProviderConfigs" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"schemas": []string{schemas.SchemaCore10},
			"documentationUrl": "condeco-sync sandbox: Eptura Visitor's public Generic SCIM API, SCIM 1.1",
			"patch":            map[string]any{"supported": true}, "bulk": map[string]any{"supported": false},
			"filter": map[string]any{"supported": true, "maxResults": 200}, "changePassword": map[string]any{"supported": false},
			"sort": map[string]any{"supported": false}, "etag": map[string]any{"supported": false},
			"authenticationSchemes": []any{map[string]any{"name": "OAuth Bearer Token", "description": "Authorization: Bearer <token>"}}})
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
		next(w, r)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, scimerrors.ScimError{Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type %q: a SCIM 1.1 service provider takes application/json", r.Header.Get("Content-Type"))})
		return
	}
	var body map[string]any
	raw, err := readBody(r)
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		writeError(w, invalid("the body is not a JSON object: %v", err))
		return
	}
	if _, ok := body["Operations"]; ok || bytes.Contains(raw, []byte(schemaPatchOp)) {
		writeError(w, invalid("SCIM 1.1 has no PatchOp: a PATCH body is a partial resource (SCIM 1.1 API, section 3.3.2)"))
		return
	}
	if !namesCore10(body["schemas"]) {
		writeError(w, invalid("schemas must name %s (a SCIM 1.1 service provider knows no other)", schemas.SchemaCore10))
		return
	}
	id, isUser := strings.CutPrefix(p, "/Users/")
	if r.Method != http.MethodPatch || !isUser {
		next(w, r)
		return
	}
	if _, err := s.users.change(id, func(rec *record) error { return patch11(rec.Attributes, body) }); err != nil {
		if se, ok := err.(scimerrors.ScimError); ok {
			writeError(w, se)
		} else {
			writeError(w, scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: err.Error()})
		}
		return
	}
	get := r.Clone(r.Context())
	get.Method, get.Body, get.ContentLength = http.MethodGet, http.NoBody, 0
	next(w, get) // the resource as it now is
}

// namesCore10 reports whether names, a body's schemas, holds SCIM 1.1's
// core URN.
func namesCore10(names any) bool {
	list, _ := names.([]any)
	for _, s := range list {
		if s == schemas.SchemaCore10 {
			return true
		}
	}
	return false
}

// patch11 applies a SCIM 1.1 partial resource to attrs.
func patch11(attrs, body map[string]any) error {
	meta, _ := body["meta"].(map[string]any)
	if names, ok := meta["attributes"].([]any); ok {
		for _, n := range names {
			name, _ := n.(string)
			top, sub, nested := strings.Cut(name, ".")
			if !nested {
				delete(attrs, key(attrs, name))
			} else if c, ok := attrs[key(attrs, top)].(map[string]any); ok {
				delete(c, key(c, sub))
			}
		}
	}
	for k, v := range body {
		switch k {
		case "schemas", "meta", "id":
			continue
		}
		switch v := v.(type) {
		case []any:
			old, _ := attrs[key(attrs, k)].([]any)
			for _, x := range v {
				if m, ok := x.(map[string]any); ok && m["operation"] == "delete" {
					old = removeValue(old, m)
					continue
				}
				if !containsValue(old, x) {
					old = append(old, x)
				}
			}
			attrs[key(attrs, k)] = old
		case map[string]any:
			c := child(attrs, k)
			for sk, sv := range v {
				c[key(c, sk)] = sv
			}
		default:
			attrs[key(attrs, k)] = v
		}
	}
	return nil
}

// removeValue drops from list the values del names: those with its value
// (and its type, when it gives one).
func removeValue(list []any, del map[string]any) []any {
	out := list[:0:0]
	for _, x := range list {
		m, _ := x.(map[string]any)
		if m != nil && m["value"] == del["value"] && (del["type"] == nil || m["type"] == del["type"]) {
			continue
		}
		out = append(out, x)
	}
	return out
}

// buffered is an answer held to be translated.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header { return b.header }
func (b *buffered) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *buffered) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

// write11 writes b in SCIM 1.1's words: application/json, the 1.0 core
// URN for 2.0's resource and message URNs, and errors as 1.1 lists them.
func write11(w http.ResponseWriter, b *buffered) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	body := b.body.Bytes()
	if b.status >= 400 {
		var e struct {
			Detail string          `json:"detail"`
			Status json.RawMessage `json:"status"`
		}
		json.Unmarshal(body, &e)
		code := strings.Trim(string(e.Status), `"`)
		if _, err := strconv.Atoi(code); err != nil {
			code = strconv.Itoa(b.status)
		}
		body, _ = json.Marshal(map[string]any{"Errors": []any{map[string]any{"description": e.Detail, "code": code}}})
	} else {
		for _, urn := range []string{coreUser, schemaListResponse, schemaError} {
			body = bytes.ReplaceAll(body, []byte(`"`+urn+`"`), []byte(`"`+schemas.SchemaCore10+`"`))
		}
	}
	if len(body) > 0 {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(b.status)
	w.Write(body)
}
