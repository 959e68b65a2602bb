package spec

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestWriteJUnit(t *testing.T) {
	e := newEngine(t)
	var reports []*Report
	for _, path := range []string{
		"testdata/pass/all.spec.yaml",
		"testdata/fail/passthrough.spec.yaml",
		"testdata/compile/bad.spec.yaml",
		"testdata/invalid/unknown.spec.yaml",
		"testdata/raise/raise.spec.yaml",
	} {
		r := RunFile(context.Background(), e, path, Options{})
		// Durations are the only thing that varies from run to run.
		r.Duration = 12500 * time.Microsecond
		for i := range r.Tests {
			r.Tests[i].Duration = 1500 * time.Microsecond
		}
		reports = append(reports, r)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, reports); err != nil {
		t.Fatal(err)
	}
	// The output is well-formed XML.
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("output is not XML: %v\n%s", err, buf.String())
	}
	// The Lua error of raise.spec.yaml's first test is an error, not a
	// failure; its second test expects it and passes.
	if doc.Tests != 10 || doc.Failures != 1 || doc.Errors != 3 || len(doc.Suites) != 5 {
		t.Errorf("totals: tests %d, failures %d, errors %d, suites %d", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}

	const golden = "testdata/junit.golden.xml"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("JUnit output differs from %s (run with -update to accept):\n%s", golden, buf.String())
	}
}

func TestXMLSafe(t *testing.T) {
	if got := xmlSafe("a\x00b\tc\n\xffd"); got != "a\uFFFDb\tc\n\uFFFDd" {
		t.Errorf("xmlSafe = %q", got)
	}
}
