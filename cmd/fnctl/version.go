package main

import (
	"fmt"
	goruntime "runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// commit is the commit fnctl was built from when the build says so with
// -ldflags "-X main.commit=$(git rev-parse HEAD)": for builds where the Go
// toolchain cannot read it (a linked git worktree, a source tree without
// .git). The toolchain's own vcs.revision wins when present.
var commit string

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print fnctl's version and the commit it was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(a.stdout, "fnctl", versionString())
			return err
		},
	}
}

// versionString is the module version and VCS revision fnctl was built
// from, with the Go version and platform.
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi, commit) + fmt.Sprintf(" %s %s/%s", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
}

// versionOf is the module version and commit recorded in bi (which may be
// nil), falling back to linked, the commit given at link time.
func versionOf(bi *debug.BuildInfo, linked string) string {
	version, rev, dirty := "(devel)", "", ""
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
	}
	if rev == "" {
		rev, dirty = linked, ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		version += " (" + rev + dirty + ")"
	}
	return version
}
