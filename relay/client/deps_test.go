package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
)

// The import graph's promises: a client of the admin API links neither
// the Lua engine nor the BigQuery SDK, and the relay's core (model,
// store, admin API, relay.yaml) does not link BigQuery either, which only the
// bigquery module needs.
func TestDependencies(t *testing.T) {
	goBin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go tool: cannot list dependencies")
		}
	}
	const mod = "github.com/relayfn/relayfn/"
	tests := []struct {
		pkgs      []string
		forbidden []string
	}{
		{[]string{mod + "relay/client"}, []string{"github.com/yuin/gopher-lua", "cloud.google.com/go/bigquery"}},
		{[]string{mod + "relay/api"}, []string{"github.com/yuin/gopher-lua", "cloud.google.com/go/bigquery"}},
		{[]string{mod + "relay", mod + "relay/store/sqlite", mod + "relay/admin", mod + "relay/config"}, []string{"cloud.google.com/go/bigquery"}},
	}
	for _, tt := range tests {
		out, err := exec.Command(goBin, append([]string{"list", "-deps"}, tt.pkgs...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", strings.Join(tt.pkgs, " "), err, out)
		}
		deps := strings.Fields(string(out))
		for _, f := range tt.forbidden {
			if i := slices.IndexFunc(deps, func(d string) bool { return d == f || strings.HasPrefix(d, f+"/") }); i >= 0 {
				t.Errorf("%s depends on %s (%s)", strings.Join(tt.pkgs, ", "), f, deps[i])
			}
		}
		nonStd := 0
		for _, d := range deps {
			if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
				nonStd++
			}
		}
		t.Logf("%s: %d packages outside the standard library", strings.Join(tt.pkgs, ", "), nonStd)
	}
}
