package sandbox

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
)

// applyPatch applies one PATCH operation, already validated against the
// schemas by elimity-com/scim, to attrs (RFC 7644 §3.5.2). Paths with a
// value filter (`emails[type eq "work"]`) are refused: condeco-sync never
// sends them, and a sandbox that half-supported them would mislead.
func applyPatch(attrs map[string]any, core string, op scim.PatchOperation) error {
	if op.Path == nil {
		m, ok := op.Value.(map[string]any)
		if !ok || op.Op == scim.PatchOperationRemove {
			return scimerrors.ScimErrorNoTarget
		}
		for k, v := range m {
			if sub, isMap := v.(map[string]any); isMap && strings.HasPrefix(k, "urn:") && k != core {
				ext := child(attrs, k)
				for sk, sv := range sub {
					set(ext, op.Op, sk, sv)
				}
				continue
			}
			set(attrs, op.Op, k, v)
		}
		return nil
	}
	if op.Path.ValueExpression != nil || op.Path.SubAttribute != nil {
		return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidPath, Status: 400,
			Detail: fmt.Sprintf("path %s: the sandbox does not support filtered PATCH paths", op.Path)}
	}
	ap := op.Path.AttributePath
	target := attrs
	if uri := ap.URI(); uri != "" && uri != core {
		target = child(attrs, uri)
	}
	name := ap.AttributeName
	if sub := ap.SubAttributeName(); sub != "" {
		target, name = child(target, name), sub
	}
	if op.Op == scim.PatchOperationRemove {
		delete(target, key(target, name))
		return nil
	}
	set(target, op.Op, name, op.Value)
	return nil
}

// set applies an add or replace of one attribute: add appends to a
// multi-valued attribute (skipping values it has) and merges a complex
// one; replace sets it.
func set(m map[string]any, op, name string, v any) {
	k := key(m, name)
	if op == scim.PatchOperationAdd {
		switch old := m[k].(type) {
		case []any:
			if vs, ok := v.([]any); ok {
				for _, x := range vs {
					if !containsValue(old, x) {
						old = append(old, x)
					}
				}
				m[k] = old
				return
			}
		case map[string]any:
			if vm, ok := v.(map[string]any); ok {
				for sk, sv := range vm {
					old[key(old, sk)] = sv
				}
				return
			}
		}
	}
	m[k] = v
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

// child is the complex attribute name of m, made when absent.
func child(m map[string]any, name string) map[string]any {
	k := key(m, name)
	c, ok := m[k].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[k] = c
	}
	return c
}

// key is the key of m that names attribute name (attribute names are
// case-insensitive), or name itself.
func key(m map[string]any, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

// coreUser is the core User schema's id.
var coreUser = schema.CoreUserSchema().ID
