// Package rowexpr compiles and runs the config's expressions over a row of
// the users export (scope.users), on github.com/expr-lang/expr: a row's
// columns by their layout names (UserType, Location, Department …; Active
// and Deleted are booleans), checked against the row's type when the
// config is read, so that a misspelt column or a string compared with a
// number is a config error, not a failure at 02:00.
package rowexpr

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Row is what an expression sees: one row of the users export, typed.
type Row = schemas.RawUser

// Bool is a compiled expression whose value is a boolean.
type Bool struct {
	Src     string
	program *vm.Program
}

// CompileBool compiles src, an expression over a Row that must be a
// boolean.
func CompileBool(src string) (*Bool, error) {
	p, err := expr.Compile(src, expr.Env(&Row{}), expr.AsBool())
	if err != nil {
		return nil, err
	}
	return &Bool{Src: src, program: p}, nil
}

// Runner runs expressions, one goroutine at a time: its machine is reused
// from one row to the next.
type Runner struct{ vm vm.VM }

// Bool is b's value on row. An expression can still fail on a row (an
// index out of range, a value of no use to it): the error says which.
func (r *Runner) Bool(b *Bool, row *Row) (v bool, err error) {
	defer func() { // the machine's own panics, whatever the row holds
		if p := recover(); p != nil {
			v, err = false, fmt.Errorf("%s: %v", b.Src, p)
		}
	}()
	out, err := r.vm.Run(b.program, row)
	if err != nil {
		return false, fmt.Errorf("%s: %s", b.Src, firstLine(err))
	}
	return out.(bool), nil
}

// Scope is scope.users: a row is in scope when it passes one of the
// include expressions (or there are none) and none of the exclude ones.
type Scope struct {
	include, exclude []*Bool
}

// NewScope compiles the include and exclude expressions; nil for none of
// either.
func NewScope(include, exclude []string) (*Scope, error) {
	if len(include)+len(exclude) == 0 {
		return nil, nil
	}
	s := &Scope{}
	for _, l := range []struct {
		src []string
		dst *[]*Bool
	}{{include, &s.include}, {exclude, &s.exclude}} {
		for _, src := range l.src {
			b, err := CompileBool(src)
			if err != nil {
				return nil, err
			}
			*l.dst = append(*l.dst, b)
		}
	}
	return s, nil
}

// In reports whether row is in scope.
func (s *Scope) In(r *Runner, row *Row) (bool, error) {
	in := len(s.include) == 0
	for _, b := range s.include {
		ok, err := r.Bool(b, row)
		if err != nil {
			return false, err
		}
		if ok {
			in = true
			break
		}
	}
	if !in {
		return false, nil
	}
	for _, b := range s.exclude {
		out, err := r.Bool(b, row)
		if err != nil || out {
			return false, err
		}
	}
	return true, nil
}

// Text is a compiled expression whose value is text: an attribute of
// mapping.users.
type Text struct {
	Src     string
	program *vm.Program
}

// CompileText compiles src, an expression over a Row that must be text,
// with the functions people need beside expr's own (lower, upper, trim,
// replace, join …): coalesce(a, b, …), the first that is not empty, and
// lookup(table, key), key's value in tables[table] ("" for none). A table
// that tables lacks is refused here.
func CompileText(src string, tables map[string]map[string]string) (*Text, error) {
	p, err := expr.Compile(src, expr.Env(&Row{}), expr.AsKind(reflect.String),
		expr.Function("coalesce", coalesce, new(func(...string) string)),
		expr.Function("lookup", func(params ...any) (any, error) {
			table, key := params[0].(string), params[1].(string)
			t, ok := tables[table]
			if !ok {
				return nil, fmt.Errorf("lookup: no table %q in mapping.tables", table)
			}
			return t[key], nil
		}, new(func(string, string) string)))
	if err != nil {
		return nil, err
	}
	var missing []string
	ast.Find(p.Node(), func(n ast.Node) bool {
		call, ok := n.(*ast.CallNode)
		if !ok || len(call.Arguments) == 0 {
			return false
		}
		if id, ok := call.Callee.(*ast.IdentifierNode); ok && id.Value == "lookup" {
			if name, ok := call.Arguments[0].(*ast.StringNode); ok && tables[name.Value] == nil {
				missing = append(missing, name.Value)
			}
		}
		return false
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("lookup: no table %q in mapping.tables", missing[0])
	}
	return &Text{Src: src, program: p}, nil
}

func coalesce(params ...any) (any, error) {
	for _, p := range params {
		if s, _ := p.(string); s != "" {
			return s, nil
		}
	}
	return "", nil
}

// Text is t's value on row; an error says which expression failed.
func (r *Runner) Text(t *Text, row *Row) (v string, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = "", fmt.Errorf("%s: %v", t.Src, p)
		}
	}()
	out, err := r.vm.Run(t.program, row)
	if err != nil {
		return "", fmt.Errorf("%s: %s", t.Src, firstLine(err))
	}
	return out.(string), nil
}

// firstLine is err's first line: expr adds the expression with a caret
// under the place, which a CSV cell or a plan's line has no room for.
func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
