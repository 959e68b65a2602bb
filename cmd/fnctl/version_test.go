package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	rev := "3629a7789f47c0ffee0123456789abcdef012345"
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		bi     *debug.BuildInfo
		linked string
		want   string
	}{
		{"no build info", nil, "", "(devel)"},
		{"plain go build", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "(devel)"},
		{"from a clone", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "false")}, "", "(devel) (3629a7789f47)"},
		{"modified tree", &debug.BuildInfo{Settings: settings("vcs.revision", rev, "vcs.modified", "true")}, "", "(devel) (3629a7789f47-dirty)"},
		{"go install of a tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, "", "v1.2.0"},
		{"linked commit", &debug.BuildInfo{}, rev, "(devel) (3629a7789f47)"},
		{"vcs wins over linked", &debug.BuildInfo{Settings: settings("vcs.revision", "abcdefabcdef0000")}, rev, "(devel) (abcdefabcdef)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionOf(tc.bi, tc.linked); got != tc.want {
				t.Errorf("versionOf = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestVersionShowsCommit builds fnctl as the README says and checks that
// `fnctl version` names the commit it was built from: read by the Go
// toolchain in a clone, given with -ldflags otherwise (Go does not read
// the commit of a linked git worktree).
func TestVersionShowsCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot build fnctl")
	}
	gitCmd, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git command on PATH: cannot read the commit")
	}
	head, err := exec.Command(gitCmd, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	top, err := exec.Command(gitCmd, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatal(err)
	}
	rev := strings.TrimSpace(string(head))[:12]
	want := regexp.MustCompile(`^fnctl \S+ \(` + rev + `(-dirty)?\) go\S+ \S+/\S+\n$`)

	build := func(args ...string) string {
		bin := filepath.Join(t.TempDir(), "fnctl")
		cmd := exec.Command(goCmd, append(append([]string{"build", "-o", bin}, args...), ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		return bin
	}
	check := func(bin string) {
		t.Helper()
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("fnctl version: %v\n%s", err, out)
		}
		if !want.Match(out) {
			t.Errorf("fnctl version = %q, want the commit %s", out, rev)
		}
	}

	check(build("-ldflags", "-X main.commit="+strings.TrimSpace(string(head))))
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err == nil && fi.IsDir() {
		check(build("-buildvcs=auto"))
	} else {
		t.Logf("a linked git worktree: Go does not stamp its commit, checked the -ldflags build only")
	}
}
