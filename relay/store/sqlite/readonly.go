package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrReadOnly is returned when the database cannot be written: the file,
// its folder (SQLite makes the -wal and -shm files next to it) or the
// filesystem is read-only for the relay's user, or the DSN asked for
// mode=ro.
var ErrReadOnly = errors.New("the database is read-only")

// isReadOnly reports whether err is SQLite's SQLITE_READONLY (8) or one of
// its extended codes.
func isReadOnly(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY
}

// readOnly wraps a read-only error with ErrReadOnly and what to check;
// other errors are returned as they are.
func readOnly(err error) error {
	if !isReadOnly(err) {
		return err
	}
	return fmt.Errorf("%w: make the file and its folder writable by the relay's user (SQLite writes its -wal and -shm files next to it): %v",
		ErrReadOnly, err)
}

// checkWritable writes to the database once, so that a read-only one is
// found at open rather than at the first webhook. SQLite opens a file it
// cannot write read-only without an error.
func checkWritable(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `UPDATE key_check SET value = value WHERE id = 1`)
	return err
}
