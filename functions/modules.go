// Package functions is the function model: the modules functions get, and
// (in its subpackages) the spec format and runner behind fnctl test.
package functions

import (
	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// Deps are the outside parts that modules with side effects use. A module
// whose dependency is missing is not offered: require reports it as not
// found, rather than failing later at a call.
type Deps struct {
	// HTTP sends the http module's requests: the egress client in the
	// relay and fnctl run, the spec's answers in fnctl test.
	HTTP        builtins.Doer
	HTTPOptions builtins.HTTPOptions
}

// Modules returns the modules every function can require, wired to deps.
func Modules(deps Deps) []runtime.Module {
	mods := PureModules()
	if deps.HTTP != nil {
		mods = append(mods, builtins.HTTP(deps.HTTP, deps.HTTPOptions))
	}
	return mods
}

// PureModules are the modules without side effects: the same in the relay
// and in tests.
func PureModules() []runtime.Module {
	return []runtime.Module{
		builtins.JSON(),
		builtins.Crypto(),
		builtins.Base64(),
		builtins.Time(),
		builtins.URLEncoded(),
		builtins.Multipart(),
		builtins.JWT(),
	}
}
