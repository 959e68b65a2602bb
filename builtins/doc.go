// Package builtins holds the Lua modules functions load with require: one
// file per module. Each constructor returns a runtime.Module; modules with
// side effects take their dependencies (an egress client, a recorder) as
// arguments, so tests wire in real local servers. registry.go wires them:
// Modules returns the set a relay or fnctl offers, from injected Deps.
//
// Fallible calls follow Webhook Relay's convention and return value, err
// (err a string, or nil), so a function writes:
//
//	local v, err = json.decode(s)
//	if err then error(err) end
package builtins
