package diff

import "github.com/condeco-sync/condeco-sync/schemas"

// changed lists the fields whose values differ between before and after:
// their names and values for people, their positions for load.
type changed struct {
	names, before, after []string
	set                  schemas.FieldSet
}

func (c *changed) add(name, b, a string) bool {
	if b == a {
		return false
	}
	c.names = append(c.names, name)
	c.before = append(c.before, b)
	c.after = append(c.after, a)
	return true
}

func (c *changed) has(name string) bool {
	for _, n := range c.names {
		if n == name {
			return true
		}
	}
	return false
}

func compareFields[T any](fields []schemas.Field[T], before, after *T) changed {
	var c changed
	for i := range fields {
		if f := &fields[i]; c.add(f.Name, f.Value(before), f.Value(after)) {
			c.set = c.set.With(i)
		}
	}
	return c
}
