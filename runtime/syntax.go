package runtime

import "fmt"

// ForFunction describes e for a function that has a name but no file of
// its own (one stored in the relay, or given inline in relay.yaml), rather
// than naming the chunk: `function "greet": line 4, column 3: syntax error
// near 'end'`.
func (e *SyntaxError) ForFunction(name string) string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("function %q: line %d, column %d: %s", name, e.Line, e.Column, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("function %q: line %d: %s", name, e.Line, e.Message)
	}
	return fmt.Sprintf("function %q: %s", name, e.Message)
}
