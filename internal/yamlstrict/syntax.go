package yamlstrict

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlLineRE is the position yaml.v3 puts in its syntax errors.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// maxSyntaxScanLines bounds the documents SyntaxError re-parses line by
// line; longer ones keep yaml.v3's line.
const maxSyntaxScanLines = 5000

// SyntaxError turns a yaml.v3 syntax error of data into a *FieldError for
// file on the line of the mistake. yaml.v3 reports many parser errors on
// an earlier line: a line too few ("did not find expected key"), or the
// line where the enclosing block began ("did not find expected '-'
// indicator"). The line given here is the first from which every prefix
// of the document fails to parse: the earliest line the document cannot
// be completed without changing, which is where the mistake is. A prefix
// that fails only because it ends inside a construct that a later line
// closes (a flow list, a quoted string) does not count, since a longer
// prefix parses again.
func SyntaxError(file string, data []byte, err error) *FieldError {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if found := mistakeLine(data); found > line {
		line = found
	}
	return &FieldError{File: file, Line: line, Err: errors.New(msg)}
}

// mistakeLine is the first line n such that the first n, n+1, ... lines
// all fail to parse; 0 when not found.
func mistakeLine(data []byte) int {
	var ends []int // ends[i] is the end of line i+1
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	if len(ends) > maxSyntaxScanLines {
		return 0
	}
	first := 0
	for n := len(ends); n >= 1; n-- {
		var node yaml.Node
		if yaml.Unmarshal(bytes.Clone(data[:ends[n-1]]), &node) == nil {
			break
		}
		first = n
	}
	return first
}
