package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/relayfn/relayfn/relay/config"
)

// runApplySpecs runs the specs each function of f names (spec:, relative
// to the file) against its file, as fnctl function push --spec does, and
// returns an exit error when a test fails (1) or a spec cannot be run (2):
// then nothing is applied.
func runApplySpecs(ctx context.Context, a *app, w io.Writer, f *config.File) error {
	for _, fn := range f.Functions {
		if len(fn.Spec) == 0 {
			continue
		}
		paths := make([]string, len(fn.Spec))
		for i, p := range fn.Spec {
			paths[i] = f.Resolve(p)
		}
		err := runPushSpecs(ctx, a, w, f.Resolve(fn.File), []byte(fn.Source), paths, time.Duration(fn.Timeout))
		var ee *exitError
		if errors.As(err, &ee) && ee.Err != nil {
			msg := strings.Replace(ee.Err.Error(), "not pushed", "nothing applied", 1)
			return &exitError{Code: ee.Code, Err: errors.New("function " + fn.Name + ": " + msg)}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
