package sqlite

import "github.com/relayfn/relayfn/relay/store/internal/sealed"

// attemptAAD is sealed.AttemptAAD, by the name the migration tests use.
var attemptAAD = sealed.AttemptAAD
