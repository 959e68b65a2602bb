package sqlite

import (
	"errors"
	"net/url"
	"strings"
)

// ErrLocked is returned by Lock when another process holds the database.
var ErrLocked = errors.New("the database is in use by another process")

// Path returns the database file named by dsn (a path, sqlite://path or a
// file: URI), without opening or creating it.
func Path(dsn string) (string, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return "", err
	}
	if cfg.uri {
		// file:path or file:///abs/path
		p := strings.TrimPrefix(cfg.name, "file:")
		if strings.HasPrefix(p, "//") {
			p = strings.TrimPrefix(p, "//localhost")
			p = strings.TrimPrefix(p, "//")
			if !strings.HasPrefix(p, "/") {
				p = "/" + p
			}
		}
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		return p, nil
	}
	return cfg.name, nil
}
