package main

import (
	"fmt"
	"io"
	"os"

	"github.com/relayfn/relayfn/functions/spec"
)

// specToStore returns the spec that function push stores with the
// function: the one spec of paths that runs against file (a spec file
// given by name, or one found in a folder whose filename is file), with
// its body files inline. With several such specs none is stored (the
// relay keeps one spec per function), and a note says so on w.
func specToStore(w io.Writer, file string, paths []string) (*string, error) {
	fnInfo, err := os.Stat(file)
	if err != nil {
		return nil, usage("read the function: %v", err)
	}
	var matched []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, usage("--spec: %v", err)
		}
		if !info.IsDir() {
			matched = append(matched, p)
			continue
		}
		found, err := spec.Discover([]string{p})
		if err != nil {
			return nil, usage("--spec: %v", err)
		}
		for _, f := range found {
			s, err := spec.Load(f)
			if err != nil {
				continue
			}
			if si, err := os.Stat(s.FunctionPath); err == nil && os.SameFile(si, fnInfo) {
				matched = append(matched, f)
			}
		}
	}
	if len(matched) != 1 {
		if len(matched) > 1 {
			fmt.Fprintf(w, "fnctl: note: %d specs ran; the relay stores one spec per function, so none was stored (give one with --spec FILE)\n", len(matched))
		}
		return nil, nil
	}
	data, err := spec.Inline(matched[0])
	if err != nil {
		return nil, usage("--spec: %v", err)
	}
	s := string(data)
	return &s, nil
}
