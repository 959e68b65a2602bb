package spec

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// IsSpecFile reports whether name is a spec file's name: "spec.yaml" or
// ending in ".spec.yaml".
func IsSpecFile(name string) bool {
	return name == "spec.yaml" || strings.HasSuffix(name, ".spec.yaml")
}

// Discover returns the spec files paths name. A file is taken as given,
// whatever its name. A folder is searched recursively for files IsSpecFile
// accepts, leaving out folders whose names start with "." or "_" and
// node_modules and vendor folders (unless given themselves). Files come in
// the order of paths, each folder's in lexical order, each file once.
func Discover(paths []string) ([]string, error) {
	var out []string
	seen := make(map[string]bool)
	add := func(p string) {
		if key := filepath.Clean(p); !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("find specs: %w", err)
		}
		if !info.IsDir() {
			add(root)
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && skipDir(d.Name()) {
					return filepath.SkipDir
				}
				return nil
			}
			if IsSpecFile(d.Name()) {
				add(p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find specs in %s: %w", root, err)
		}
	}
	return out, nil
}

func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
		name == "node_modules" || name == "vendor"
}
