package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/builtins"
	"github.com/relayfn/relayfn/runtime"
)

// typesDir is the folder, next to a function, holding its editor
// definitions; .luarc.json points lua-language-server at it.
const typesDir = "types"

// errTypesOnly is what the modules built for type generation answer: they
// are opened to list their functions, never called.
var errTypesOnly = errors.New("modules built for type definitions send nothing")

// inertDoer is the http module's transport for type generation.
type inertDoer struct{}

func (inertDoer) Do(context.Context, string, *http.Request) (*http.Response, error) {
	return nil, errTypesOnly
}

// luaModules are every module the relay can offer, as it registers them,
// with dependencies that refuse everything: enough to list their functions.
func luaModules() []runtime.Module {
	dial := func(context.Context, string, string, string) (net.Conn, error) { return nil, errTypesOnly }
	return builtins.Modules(builtins.Deps{
		HTTP:       inertDoer{},
		HTTPClient: func(string) *http.Client { return &http.Client{Transport: inertTransport{}} },
		Do:         inertDoer{}.Do,
		Dial:       dial,
		SMTP:       &builtins.EmailOptions{Host: "localhost"},
	})
}

type inertTransport struct{}

func (inertTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errTypesOnly }

// moduleNames are the names of mods, sorted.
func moduleNames(mods []runtime.Module) []string {
	names := make([]string, 0, len(mods))
	for _, m := range mods {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	return names
}

// typeFiles are the editor definition files by name: relayfn.lua and a
// stub per module so that require("json") resolves.
func typeFiles() (map[string]string, error) {
	mods := luaModules()
	defs, err := builtins.LuaDefinitions(mods)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"relayfn.lua": defs}
	for _, name := range moduleNames(mods) {
		files[name+".lua"] = builtins.LuaModuleStub(name)
	}
	return files, nil
}

// writeTypes writes the definition files into dir, replacing older ones.
func writeTypes(dir string) error {
	files, err := typeFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func newTypesCmd(a *app) *cobra.Command {
	var file, dir string
	cmd := &cobra.Command{
		Use:   "types [--file FILE | --dir DIR]",
		Short: "Print or write the Lua type definitions for lua-language-server",
		Long: `types prints the definition file (---@meta) of relayfn's Lua API for
lua-language-server: r, cfg, log, os and every module's functions with their
parameter and return types, generated from the modules fnctl registers.

--file FILE writes it to FILE; --dir DIR writes DIR/relayfn.lua and a file per
module (DIR/json.lua, ...) so that require("json") resolves too, which is
what fnctl init puts in a function's types/ folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" && dir != "" {
				return usage("--file and --dir: give one")
			}
			if dir != "" {
				if err := writeTypes(dir); err != nil {
					return failed(fmt.Errorf("write types: %w", err))
				}
				return nil
			}
			defs, err := builtins.LuaDefinitions(luaModules())
			if err != nil {
				return failed(err)
			}
			if file != "" {
				if err := os.WriteFile(file, []byte(defs), 0o644); err != nil {
					return failed(fmt.Errorf("write types: %w", err))
				}
				return nil
			}
			_, err = fmt.Fprint(a.stdout, defs)
			return err
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "write the definitions to `FILE` instead of printing them")
	cmd.Flags().StringVar(&dir, "dir", "", "write relayfn.lua and one file per module into `DIR`")
	return cmd
}
