// Package sealed seals and opens the secret columns of both stores. Each
// value is bound to its table, row and column, so that a value copied
// into another row or column does not open.
package sealed

import (
	"fmt"
	"strconv"

	"github.com/relayfn/relayfn/relay/seal"
)

// Value seals b bound to table, row id and column.
func Value(s *seal.Sealer, b []byte, table, id, column string) []byte {
	return s.Seal(b, seal.AAD(table, id, column))
}

// Open opens a value sealed by Value; NULL (nil) opens to nil.
func Open(s *seal.Sealer, b []byte, table, id, column string) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	p, err := s.Open(b, seal.AAD(table, id, column))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s: %w", RecordKind(table), id, column, err)
	}
	return p, nil
}

// RecordKind names a record of table in messages.
func RecordKind(table string) string {
	switch table {
	case "deliveries":
		return "delivery"
	case "webhooks":
		return "webhook"
	case "attempts":
		return "attempt"
	}
	return table
}

// AttemptAAD binds a column of attempt n of delivery deliveryID to the
// attempt.
func AttemptAAD(deliveryID string, n int, column string) []byte {
	return seal.AAD("attempts", deliveryID, strconv.Itoa(n), column)
}

// ConfigAAD binds a configuration value to its function and key.
func ConfigAAD(functionID, key string) []byte {
	return seal.AAD("function_config", functionID, key, "value")
}
