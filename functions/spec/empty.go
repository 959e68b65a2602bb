package spec

import "reflect"

// assertsNothing reports whether e makes no assertion at all: no expect,
// or one whose sections are all empty (expect: {request: {}}). Such a test
// would pass whatever the function did, so it fails instead.
func (e *Expect) assertsNothing() bool {
	return isEmpty(reflect.ValueOf(*e))
}

// isEmpty reports whether v asserts nothing: a nil pointer, an empty map
// or slice, a zero value, or a struct (pointed to or not) of such fields.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		// A set scalar asserts, even false or "": stopForwarding: false.
		return v.IsNil() || v.Elem().Kind() == reflect.Struct && isEmpty(v.Elem())
	case reflect.Interface:
		return v.IsNil()
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() && !isEmpty(v.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Map, reflect.Slice:
		return v.Len() == 0
	}
	return v.IsZero()
}
