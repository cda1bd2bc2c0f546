// Package rowexpr compiles and runs the config's expressions over a row of
// the users export (scope.users), on github.com/expr-lang/expr: a row's
// columns by their layout names (UserType, Location, Department …; Active
// and Deleted are booleans), checked against the row's type when the
// config is read, so that a misspelt column or a string compared with a
// number is a config error, not a failure at 02:00.
package rowexpr

import (
	"fmt"

	"github.com/condeco-sync/condeco-sync/schemas"
	"github.com/expr-lang/expr"
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
		return false, fmt.Errorf("%s: %w", b.Src, err)
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
