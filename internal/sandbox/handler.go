package sandbox

import (
	"maps"
	"net/http"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
)

// handler serves one resource type from the store (scim.ResourceHandler).
type handler struct {
	s    *Sandbox
	typ  string // the store's name for the type: "Users"
	core string // the type's core schema id
	// check, when set, vets a resource about to be stored (id, with
	// attrs) against the others of its type.
	check func(id string, attrs map[string]any, t txn) error
	// created, when set, runs on a resource just created, before it is
	// stored.
	created func(rec *record) error
}

func (h *handler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	rec := &record{ID: newID(), Attributes: attrs, Created: now()}
	rec.Modified = rec.Created
	err := h.s.store.update(h.typ, func(t txn) error {
		if h.check != nil {
			if err := h.check(rec.ID, attrs, t); err != nil {
				return err
			}
		}
		if h.created != nil {
			if err := h.created(rec); err != nil {
				return err
			}
		}
		return t.put(rec)
	})
	if err != nil {
		return scim.Resource{}, err
	}
	return resource(rec), nil
}

func (h *handler) Get(_ *http.Request, id string) (scim.Resource, error) {
	rec := h.s.store.get(h.typ, id)
	if rec == nil {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return resource(rec), nil
}

func (h *handler) GetAll(_ *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	var match []scim.Resource
	for _, rec := range h.s.store.all(h.typ) {
		if p.FilterValidator != nil {
			view := maps.Clone(rec.Attributes) // shallow: the filter only reads
			view["id"] = rec.ID
			if p.FilterValidator.PassesFilter(view) != nil {
				continue
			}
		}
		match = append(match, resource(rec))
	}
	page := scim.Page{TotalResults: len(match), Resources: []scim.Resource{}}
	start := max(p.StartIndex, 1) - 1
	if start < len(match) {
		page.Resources = match[start:min(len(match), start+max(p.Count, 0))]
	}
	return page, nil
}

func (h *handler) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	return h.change(id, func(rec *record) error {
		rec.Attributes = attrs
		return nil
	})
}

func (h *handler) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	return h.change(id, func(rec *record) error {
		for _, op := range ops {
			if err := applyPatch(rec.Attributes, h.core, op); err != nil {
				return err
			}
		}
		return nil
	})
}

// change edits the record id on a copy, checks the result against the
// other records, and stores it: a refused change leaves the record as it
// was.
func (h *handler) change(id string, edit func(rec *record) error) (scim.Resource, error) {
	var out scim.Resource
	err := h.s.store.update(h.typ, func(t txn) error {
		old := t.get(id)
		if old == nil {
			return scimerrors.ScimErrorResourceNotFound(id)
		}
		rec := *old
		rec.Attributes = deepCopy(old.Attributes)
		if err := edit(&rec); err != nil {
			return err
		}
		// sendInvitation is write-only and for creates: a PUT or PATCH
		// never sends an email, and it is never stored.
		if ext, ok := rec.Attributes[h.s.extension].(map[string]any); ok {
			delete(ext, "sendInvitation")
		}
		if h.check != nil {
			if err := h.check(id, rec.Attributes, t); err != nil {
				return err
			}
		}
		rec.Modified = now()
		out = resource(&rec)
		return t.put(&rec)
	})
	return out, err
}

func (h *handler) Delete(_ *http.Request, id string) error {
	return h.s.store.update(h.typ, func(t txn) error {
		if t.get(id) == nil {
			return scimerrors.ScimErrorResourceNotFound(id)
		}
		return t.del(id)
	})
}

// resource is rec as elimity-com/scim answers it.
func resource(rec *record) scim.Resource {
	r := scim.Resource{ID: rec.ID, Attributes: deepCopy(rec.Attributes),
		Meta: scim.Meta{Created: &rec.Created, LastModified: &rec.Modified}}
	if ext, ok := rec.Attributes["externalId"].(string); ok {
		r.ExternalID = optional.NewString(ext)
	}
	return r
}

// deepCopy copies a resource's attributes, so what a handler answers or
// edits is never the stored value.
func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopy(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = copyValue(x)
		}
		return out
	}
	return v
}
