package egress

import (
	"fmt"
	"io"
	"sync"
)

// tooLarge returns the error for a body over limit bytes.
func tooLarge(limit int64) error {
	return fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
}

// cappedBody passes through at most limit bytes of rc; reading past them
// fails with an error wrapping ErrResponseTooLarge instead of returning EOF,
// so a truncated body is never mistaken for a whole one.
type cappedBody struct {
	rc    io.ReadCloser
	limit int64
	left  int64
	err   error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// The cap is reached: the body is fine only if it ends here.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.err = tooLarge(b.limit)
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// cancelBody calls cancel once the body is closed, releasing the timeout
// context that covers reading it.
type cancelBody struct {
	io.ReadCloser
	once   sync.Once
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}
