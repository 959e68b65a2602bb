package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// A secret in relay.yaml (a function's configuration value, a bucket's
// basic-auth password) may be written inline, or as a reference that keeps
// it out of the file:
//
//	config:
//	  STRIPE_SECRET: {env: STRIPE_SECRET}        # an environment variable
//	  SLACK_TOKEN: {file: secrets/slack-token}   # a file, relative to relay.yaml
//	auth: {type: basic, username: ci, password: {env: CI_PASSWORD}}
//
// A file's content is used without its final line break. A variable that
// is not set, or a file that cannot be read, is an error naming the field;
// no message ever holds a secret's value. The references are resolved when
// the file is parsed (through ParseOptions.LookupEnv and ReadFile); a
// document sent to the admin API must hold the values, which fnctl apply
// resolves before sending.

// resolveSecrets replaces each secret reference in doc by the value it
// names, in place, and returns the problems found.
func resolveSecrets(name string, doc *yaml.Node, opts ParseOptions) []error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	var errs []error
	fail := func(path string, line int, format string, args ...any) {
		errs = append(errs, &FieldError{File: name, Path: path, Line: line, Err: fmt.Errorf(format, args...)})
	}
	resolve := func(path string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		var env, file string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				fail(path+"."+k.Value, v.Line, "want the name of an environment variable or a file")
				return
			}
			switch k.Value {
			case "env":
				env = v.Value
			case "file":
				file = v.Value
			default:
				fail(path+"."+k.Value, k.Line, "unknown key %q: a secret is a string, {env: NAME} or {file: PATH}", k.Value)
				return
			}
		}
		var value string
		switch {
		case env != "" && file != "":
			fail(path, n.Line, "give env or file, not both")
			return
		case env != "":
			if opts.LookupEnv == nil {
				fail(path+".env", n.Line, "environment variables are not read here: give the value (fnctl apply reads them)")
				return
			}
			v, ok := opts.LookupEnv(env)
			if !ok || v == "" {
				fail(path+".env", n.Line, "environment variable %q is not set", env)
				return
			}
			value = v
		case file != "":
			if opts.ReadFile == nil {
				fail(path+".file", n.Line, "files are not read here: give the value (fnctl apply reads them)")
				return
			}
			b, err := opts.ReadFile(file)
			if err != nil {
				fail(path+".file", n.Line, "%v", err) // names the file as written, never its content
				return
			}
			value = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			if value == "" {
				fail(path+".file", n.Line, "%s is empty", file)
				return
			}
		default:
			fail(path, n.Line, "a secret is a string, {env: NAME} or {file: PATH}")
			return
		}
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Style: yaml.DoubleQuotedStyle, Line: n.Line, Column: n.Column}
	}
	for i, fn := range seqOf(mapValue(root, "functions")) {
		cfg := mapValue(fn, "config")
		if cfg == nil || cfg.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(cfg.Content); j += 2 {
			resolve(fmt.Sprintf("functions[%d].config.%s", i, cfg.Content[j].Value), cfg.Content[j+1])
		}
	}
	for i, b := range seqOf(mapValue(root, "buckets")) {
		if pw := mapValue(mapValue(b, "auth"), "password"); pw != nil {
			resolve(fmt.Sprintf("buckets[%d].auth.password", i), pw)
		}
	}
	return errs
}

// mapValue is the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// seqOf is the items of sequence n, or none.
func seqOf(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
