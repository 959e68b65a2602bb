//go:build !unix

package sqlite

// Lock is a no-op where flock is not available: nothing then keeps
// offline maintenance off a running relay's database.
func Lock(path string) (release func() error, err error) {
	return func() error { return nil }, nil
}
