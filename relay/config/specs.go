package config

import "fmt"

// functionSpecs checks a function's spec list: the specs run against the
// function's file, so it needs one.
func (v *validator) functionSpecs(fn *Function, p string, hasFile bool) {
	if len(fn.Spec) == 0 {
		return
	}
	if !hasFile {
		v.errorf(p+".spec", "needs file: the specs run against the function's file")
	}
	for i, s := range fn.Spec {
		if s == "" {
			v.errorf(fmt.Sprintf("%s.spec[%d]", p, i), "empty path")
		}
	}
}
