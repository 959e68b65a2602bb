// Package functions is the function model: a function, its versions and
// the Store that keeps them. It is a leaf: the modules a function can
// require are wired in builtins (registry.go), and the spec format and
// runner behind fnctl test live in functions/spec.
package functions

import (
	"context"
	"time"
)

// Function is a named function with versions. Source and Hash are those of
// the current version.
type Function struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Driver  string `json:"driver"`
	Version int    `json:"version"`
	Hash    string `json:"hash"`
	Source  string `json:"source,omitempty"`
	// Timeout is the invocation deadline; 0 means the engine's default.
	Timeout   time.Duration `json:"timeout"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// Version is one saved source of a function.
type Version struct {
	FunctionID string    `json:"function_id"`
	Version    int       `json:"version"`
	Hash       string    `json:"hash"`
	Source     string    `json:"source,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Store keeps functions, their versions and their configuration variables.
// Configuration values are secrets: implementations encrypt them at rest.
type Store interface {
	// CreateFunction saves f with its first version (f.Source); it fills
	// f.ID (when empty), Version, Hash and the times.
	CreateFunction(ctx context.Context, f *Function) error
	// AddVersion saves source as the function's next version and makes it
	// current.
	AddVersion(ctx context.Context, id, source, hash string) (*Function, error)
	// UpdateFunction saves f's name and timeout.
	UpdateFunction(ctx context.Context, f *Function) error
	// GetFunction finds a function by ID or name, with its current source.
	GetFunction(ctx context.Context, idOrName string) (*Function, error)
	ListFunctions(ctx context.Context) ([]*Function, error)
	ListVersions(ctx context.Context, id string) ([]*Version, error)
	DeleteFunction(ctx context.Context, id string) error

	SetConfig(ctx context.Context, id, key, value string) error
	DeleteConfig(ctx context.Context, id, key string) error
	// Config returns the function's configuration variables.
	Config(ctx context.Context, id string) (map[string]string, error)
}
