package console

import (
	"io/fs"
	"strings"
	"testing"
)

// maxScriptGzip is the budget of the console's scripts, compressed.
const maxScriptGzip = 300 << 10

// TestVendoredScriptSize checks that every script the console serves,
// vendored or its own, fits the budget once compressed with gzip -9.
func TestVendoredScriptSize(t *testing.T) {
	total, raw := 0, 0
	err := fs.WalkDir(files, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		data, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		gz := len(gzipped(data))
		t.Logf("%s: %d bytes, %d gzipped", path, len(data), gz)
		total += gz
		raw += len(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scripts: %d bytes, %d gzipped", raw, total)
	if total > maxScriptGzip {
		t.Errorf("scripts are %d bytes gzipped, over the %d-byte budget", total, maxScriptGzip)
	}
	for _, lic := range []string{"static/vendor/htmx/LICENSE", "static/vendor/codemirror/LICENSE", "static/vendor/VERSIONS"} {
		if _, err := fs.Stat(files, lic); err != nil {
			t.Errorf("vendored files without %s: %v", lic, err)
		}
	}
}
