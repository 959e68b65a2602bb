// Package seal encrypts data at rest with AES-256-GCM.
//
// A sealed message is a version byte, a random 12-byte nonce, the
// ciphertext and a 16-byte authentication tag. The version byte names the
// key and algorithm, so that either can be rotated later without
// ambiguity; it is authenticated together with the caller's additional
// data (AAD). Callers pass, as AAD, what identifies where the message is
// stored (see AAD), so that a ciphertext copied to another row or column
// fails to open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// Version1 is the version byte of a message sealed with AES-256-GCM, a
// random 96-bit nonce and the Sealer's key.
const Version1 byte = 1

const (
	nonceSize = 12
	tagSize   = 16
	// Overhead is how many bytes Seal adds to the plaintext.
	Overhead = 1 + nonceSize + tagSize
)

// ErrOpen is returned, wrapped, by Open for a message that does not
// authenticate: a wrong key, a tampered or truncated message, or AAD other
// than the one it was sealed with. The causes are indistinguishable by
// design.
var ErrOpen = errors.New("seal: message authentication failed (wrong key, wrong context or corrupted data)")

// Sealer seals and opens messages with one key. It is safe for concurrent
// use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer using key, which must be KeySize bytes long.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if aead.Overhead() != nonceSize+tagSize {
		return nil, fmt.Errorf("seal: unexpected AEAD overhead %d", aead.Overhead())
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts and authenticates plaintext, binding it to aad, and returns
// the sealed message (len(plaintext) + Overhead bytes). The nonce is drawn
// from crypto/rand for every call.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	out := make([]byte, 1, len(plaintext)+Overhead)
	out[0] = Version1
	return s.aead.Seal(out, nil, plaintext, versionedAAD(Version1, aad))
}

// Open authenticates and decrypts a message made by Seal with the same aad.
// The error never contains message contents.
func (s *Sealer) Open(ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < Overhead {
		return nil, fmt.Errorf("%w: message is %d bytes, shorter than the minimum %d", ErrOpen, len(ciphertext), Overhead)
	}
	if v := ciphertext[0]; v != Version1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrOpen, v)
	}
	plain, err := s.aead.Open(nil, nil, ciphertext[1:], versionedAAD(Version1, aad))
	if err != nil {
		return nil, ErrOpen
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}

// versionedAAD prefixes aad with the version byte, so that the version is
// authenticated too.
func versionedAAD(v byte, aad []byte) []byte {
	b := make([]byte, 1+len(aad))
	b[0] = v
	copy(b[1:], aad)
	return b
}

// AAD encodes parts (typically a table, a row ID and a column name) as
// additional authenticated data. Each part is prefixed with its length, so
// that distinct lists of parts never encode alike.
func AAD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}
