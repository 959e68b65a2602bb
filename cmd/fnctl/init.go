package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// functionNameRE is what fnctl init accepts as a function name: it names
// the folder and its files.
var functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func newInitCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init NAME",
		Short: "Make a function folder: a working function, its spec and editor support",
		Long: `init makes the folder NAME with:

  NAME.lua             a small working function
  NAME.spec.yaml       its tests (fnctl test NAME)
  testdata/sample.json the sample payload one test sends
  .luarc.json          lua-language-server settings: Lua 5.1, the sandbox's libraries
  types/               the Lua API's type definitions (fnctl types --dir)
  .luacheckrc          luacheck settings: relayfn's and the sandbox's globals

It refuses to replace files that exist unless --force is given.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			name := filepath.Base(filepath.Clean(dir))
			if !functionNameRE.MatchString(name) {
				return usage("function name %q: use letters, digits, '-', '_' and '.', starting with a letter or digit", name)
			}
			files, err := scaffold(name)
			if err != nil {
				return failed(err)
			}
			if !force {
				for rel := range files {
					p := filepath.Join(dir, rel)
					if _, err := os.Stat(p); err == nil {
						return failed(fmt.Errorf("%s exists: not replacing it (--force replaces)", p))
					} else if !errors.Is(err, fs.ErrNotExist) {
						return failed(err)
					}
				}
			}
			for _, rel := range slices.Sorted(maps.Keys(files)) {
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return failed(err)
				}
				if err := os.WriteFile(p, []byte(files[rel]), 0o644); err != nil {
					return failed(err)
				}
			}
			fmt.Fprintf(a.stdout, "Made %s/: %s.lua, %s.spec.yaml, testdata/sample.json, .luarc.json, .luacheckrc, types/\n", dir, name, name)
			fmt.Fprintf(a.stdout, "Next: fnctl test %s\n", dir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace files that exist")
	return cmd
}

// scaffold returns the files of a new function folder, by path relative to
// it.
func scaffold(name string) (map[string]string, error) {
	types, err := typeFiles()
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		name + ".lua":          strings.ReplaceAll(initFunction, "NAME", name),
		name + ".spec.yaml":    strings.ReplaceAll(initSpec, "NAME", name),
		"testdata/sample.json": initSample,
		".luarc.json":          luarcJSON,
		".luacheckrc":          luacheckrc(),
	}
	for f, content := range types {
		files[typesDir+"/"+f] = content
	}
	return files, nil
}

const initFunction = `-- NAME: forwards a JSON webhook with a "received_by" field added, and
-- answers 400 to a body that is not a JSON object (nothing is forwarded then).
-- Config variables: RECEIVED_BY (optional, "relayfn" when unset).

local json = require("json")

local payload, err = json.decode(r.RequestBody)
if err or type(payload) ~= "table" then
  log.warn("not a JSON object: " .. (err or type(payload)))
  r:SetResponseStatusCode(400)
  r:SetResponseHeader("Content-Type", "text/plain; charset=utf-8")
  r:SetResponseBody("expected a JSON object")
  r:StopForwarding()
  return
end

local received_by = cfg:GetValue("RECEIVED_BY")
if received_by == "" then
  received_by = "relayfn"
end
payload.received_by = received_by

local body, encode_err = json.encode(payload)
if encode_err then
  error("encode: " .. encode_err)
end
r:SetRequestBody(body)
r:SetRequestHeader("Content-Type", "application/json")
`

const initSpec = `# Tests of NAME.lua: fnctl test NAME (see the README for every assertion).
version: v1
filename: NAME.lua
driver: lua
config:
  RECEIVED_BY: ci
tests:
  - name: the sample payload is forwarded with received_by
    request:
      method: POST
      header: {Content-Type: application/json}
      body_file: testdata/sample.json
    expect:
      error: false
      stopForwarding: false
      request:
        bodyModified: true
        headerEquals: {Content-Type: application/json}
        json: {event: order.created, order.id: 1042, received_by: ci}

  - name: a body that is not JSON is answered 400 and not forwarded
    request:
      body: hello
    expect:
      error: false
      stopForwarding: true
      response:
        statusEquals: 400
        bodyEquals: expected a JSON object
      logsContain: ["not a JSON object"]
`

const initSample = `{
  "event": "order.created",
  "order": {"id": 1042, "total": "19.90", "currency": "EUR"}
}
`

// luarcJSON configures lua-language-server for the sandbox: Lua 5.1, the
// libraries a function cannot reach disabled, the types/ folder as a
// library (relayfn.lua declares r, cfg, log, the sandbox's os, and the
// modules).
const luarcJSON = `{
  "$schema": "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
  "runtime.version": "Lua 5.1",
  "runtime.builtin": {
    "bit": "disable",
    "bit32": "disable",
    "coroutine": "disable",
    "debug": "disable",
    "ffi": "disable",
    "io": "disable",
    "jit": "disable",
    "os": "disable",
    "package": "disable",
    "table.clear": "disable",
    "table.new": "disable",
    "utf8": "disable"
  },
  "workspace.library": ["types"],
  "workspace.ignoreDir": ["types"]
}
`

// sandboxBase are the base library's globals the sandbox keeps (see
// runtime's removedBase), with relayfn's print and require.
var sandboxBase = []string{
	"_G", "_VERSION", "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print",
	"rawequal", "rawget", "rawset", "require", "select", "setmetatable", "tonumber", "tostring",
	"type", "unpack", "xpcall",
}

// luacheckrc is the luacheck configuration of a function folder: the
// sandbox's globals and relayfn's (r, cfg, log, and the modules, which
// resolve as globals too), all read-only.
func luacheckrc() string {
	var b strings.Builder
	b.WriteString("-- luacheck settings for relayfn functions (Lua 5.1 in relayfn's sandbox),\n")
	b.WriteString("-- written by fnctl init. Run: luacheck .\n")
	b.WriteString("std = \"relayfn\"\n")
	b.WriteString("stds.relayfn = {\n  read_globals = {\n")
	b.WriteString("    -- relayfn\n    \"r\", \"cfg\", \"log\",\n")
	b.WriteString("    -- modules: require(\"json\"), or the global json\n   ")
	for _, n := range moduleNames(luaModules()) {
		fmt.Fprintf(&b, " %q,", n)
	}
	b.WriteString("\n    -- the sandbox: the base library without load, dofile, getfenv, setfenv, ...\n   ")
	for _, n := range sandboxBase {
		fmt.Fprintf(&b, " %q,", n)
	}
	b.WriteString("\n    \"string\", \"table\", \"math\",\n")
	b.WriteString("    os = {fields = {\"time\", \"date\", \"clock\"}},\n  },\n}\n")
	b.WriteString("max_line_length = false\n")
	return b.String()
}
