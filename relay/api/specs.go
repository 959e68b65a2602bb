package api

// FunctionSpec is a function's stored spec (GET
// /v1/admin/functions/{function}/spec).
type FunctionSpec struct {
	// Spec is the YAML of the spec, request bodies inline.
	Spec string `json:"spec"`
}
