package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKey reads the key stored hex-encoded in the file at path, or,
// when there is no such file, makes a random key and stores it there (mode
// 0600, hex with a trailing newline) and reports created. The file appears
// with its full contents or not at all, and an existing file is never
// overwritten, so concurrent first starts agree on one key. A file that
// does not hold exactly KeySize hex-encoded bytes is refused; errors name
// the path but never contain key material.
func LoadOrCreateKey(path string) (key []byte, created bool, err error) {
	key, err = readKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	err = createExclusive(path, []byte(hex.EncodeToString(key)+"\n"))
	if errors.Is(err, fs.ErrExist) {
		// Another process made the key first: use theirs.
		key, err = readKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return key, true, nil
}

// readKey reads and decodes the key file at path.
func readKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return key, nil
}

// ParseKey decodes a key given as 64 hex digits (the key file's format),
// surrounding white space ignored: the key handed over by other means
// than the file (an environment variable). Its errors never quote the
// value.
func ParseKey(v string) ([]byte, error) { return parseKey([]byte(v)) }

// parseKey decodes the hex text of a key, without quoting it in errors.
func parseKey(data []byte) ([]byte, error) {
	text := bytes.TrimSpace(data)
	if len(text) != hex.EncodedLen(KeySize) {
		return nil, fmt.Errorf("holds %d characters, want %d hex digits (a %d-byte key, such as `openssl rand -hex 32` prints)",
			len(text), hex.EncodedLen(KeySize), KeySize)
	}
	key := make([]byte, KeySize)
	if _, err := hex.Decode(key, text); err != nil {
		// hex's error quotes the offending character: do not pass it on.
		return nil, fmt.Errorf("not hex-encoded (want %d hex digits)", hex.EncodedLen(KeySize))
	}
	return key, nil
}

// createExclusive makes the file at path with data and mode 0600, failing
// with an error wrapping fs.ErrExist when it exists. It writes a temporary
// file in the same directory and hard-links it into place, so that the file
// is never seen partly written; where hard links are unsupported it falls
// back to O_EXCL.
func createExclusive(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeSync(tmp, data); err != nil {
		return err
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return createExcl(path, data)
	}
	syncDir(dir)
	return nil
}

// createExcl makes the file at path with O_EXCL and writes data to it.
func createExcl(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := writeSync(f, data); err != nil {
		os.Remove(path)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writeSync writes data to f, makes it mode 0600, flushes it to stable
// storage and closes it.
func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir flushes a directory entry to stable storage, where the platform
// allows it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// LoadKey reads the key stored hex-encoded in the file at path, and never
// makes one: for tools that must use the key a store was sealed with.
func LoadKey(path string) ([]byte, error) { return readKey(path) }
