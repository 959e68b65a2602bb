package spec

import (
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

// WriteJUnit writes reports as JUnit XML: a testsuite per spec file and a
// testcase per test that ran. A failed test has a failure listing its
// failed assertions, and a test whose function raised an error it did not
// expect has an error (type LuaError); a spec that could not be run has
// one testcase with an error (type SpecError). Each testcase's system-out
// holds the function's log. The output depends only on the reports (no
// timestamps or host names).
func WriteJUnit(w io.Writer, reports []*Report) error {
	doc := junitSuites{Name: "fnctl test"}
	var total time.Duration
	for _, r := range reports {
		name := filepath.ToSlash(r.Path)
		s := junitSuite{Name: name, Time: seconds(r.Duration), Skipped: r.Skipped}
		total += r.Duration
		if r.Err != nil {
			s.Tests, s.Errors = 1, 1
			s.Cases = append(s.Cases, junitCase{
				Name:      name,
				Classname: name,
				Time:      seconds(0),
				Error:     &junitMessage{Message: xmlSafe(firstLine(r.Err.Error())), Type: "SpecError", Text: xmlSafe(r.Err.Error())},
			})
		}
		for _, t := range r.Tests {
			s.Tests++
			c := junitCase{Name: xmlSafe(t.Name), Classname: name, Time: seconds(t.Duration)}
			lines := make([]string, len(t.Failures))
			for i, f := range t.Failures {
				lines[i] = f.String()
			}
			if msg, ok := t.unexpectedError(); ok {
				// The function did not run to its end: an error of the
				// test, not a failed assertion.
				s.Errors++
				c.Error = &junitMessage{Message: xmlSafe(firstLine(msg)), Type: "LuaError", Text: xmlSafe(strings.Join(lines, "\n"))}
			} else if !t.Passed() {
				s.Failures++
				msg := lines[0]
				if len(lines) > 1 {
					msg = fmt.Sprintf("%d assertions failed", len(lines))
				}
				c.Failure = &junitMessage{Message: xmlSafe(firstLine(msg)), Type: "AssertionFailure", Text: xmlSafe(strings.Join(lines, "\n"))}
			}
			if len(t.Logs) > 0 {
				c.SystemOut = &junitText{Text: xmlSafe(strings.Join(t.Logs, "\n"))}
			}
			s.Cases = append(s.Cases, c)
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// xmlSafe replaces what XML 1.0 cannot hold (most control characters,
// invalid UTF-8) with U+FFFD.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// unexpectedError returns the function's error when the test failed
// because the function raised an error the test did not expect.
func (r *TestResult) unexpectedError() (string, bool) {
	for _, f := range r.Failures {
		if (f.Assertion == "error" || f.Assertion == "expect.error") && f.Expected == "no error" {
			return f.Message, true
		}
	}
	return "", false
}
