// Package functions is the function model: the module set functions get,
// and (in its subpackages) the spec format and runner behind fnctl test.
package functions

import (
	"github.com/relayfn/relayfn/runtime"
)

// Deps are the outside parts that modules with side effects use.
type Deps struct{}

// Modules returns the modules every function can require, wired to deps.
func Modules(deps Deps) []runtime.Module {
	return []runtime.Module{}
}
