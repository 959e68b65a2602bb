// Package storeerr builds the errors both stores return for records not
// found and for conflicting writes, so that they read alike whichever
// store made them.
package storeerr

import (
	"errors"
	"fmt"

	"github.com/relayfn/relayfn/relay/store"
)

// NotFound is an error wrapping store.ErrNotFound.
func NotFound(kind, idOrName string) error {
	return fmt.Errorf("%s %q: %w", kind, idOrName, store.ErrNotFound)
}

// Conflict is an error wrapping store.ErrConflict.
func Conflict(kind, name string) error {
	return fmt.Errorf("%s %q: %w", kind, name, store.ErrConflict)
}

// Write is err, a failed write of the record kind name, with context: a
// unique violation becomes store.ErrConflict, a foreign-key violation
// store.ErrNotFound. An err that already wraps either is returned as it
// is, and a nil err is nil. The store's driver tells unique and
// foreignKey apart.
func Write(err error, kind, name string, unique, foreignKey bool) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return err
	}
	switch {
	case unique:
		return Conflict(kind, name)
	case foreignKey:
		return fmt.Errorf("%s %q: a referenced record: %w", kind, name, store.ErrNotFound)
	}
	return fmt.Errorf("%s %q: %w", kind, name, err)
}
