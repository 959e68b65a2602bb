package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// userConfig is the user's fnctl settings, written by fnctl login: the
// relay the remote commands talk to and its admin token. Flags and the
// environment win over it.
type userConfig struct {
	Server string `yaml:"server,omitempty"`
	Token  string `yaml:"token,omitempty"`
}

// userConfigPath is $XDG_CONFIG_HOME/relayfn/config.yaml, or
// $HOME/.config/relayfn/config.yaml.
func userConfigPath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "relayfn", "config.yaml"), nil
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".config", "relayfn", "config.yaml"), nil
	}
	return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: no place for the user config")
}

// loadUserConfig reads the user config; a missing file, or no place for
// one, is an empty one.
func loadUserConfig(getenv func(string) string) (*userConfig, error) {
	path, err := userConfigPath(getenv)
	if err != nil {
		return &userConfig{}, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &userConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("user config: %w", err)
	}
	var c userConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("user config %s: %w", path, err)
	}
	return &c, nil
}

// save writes c to path, readable by its owner only (0600, in a 0700
// folder), replacing the file at once.
func (c *userConfig) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newLoginCmd(a *app) *cobra.Command {
	var server, token string
	var noCheck bool
	cmd := &cobra.Command{
		Use:   "login --server URL [--token T]",
		Short: "Save a relay's address and admin token for the remote commands",
		Long: `login saves the relay's URL and an admin token in the user config
($XDG_CONFIG_HOME/relayfn/config.yaml, or ~/.config/relayfn/config.yaml),
readable by its owner only (mode 0600). The remote commands use them when
neither --server/--token nor FNCTL_SERVER/FNCTL_TOKEN is given. The saved
token is only sent to the saved server: with another --server or
FNCTL_SERVER, give its token too.

The token is --token, or FNCTL_TOKEN, or read from the standard input. login
checks it against the relay first (--no-check saves it as it is).`,
		Example: `  fnctl login --server https://relay.example.com --token "$TOKEN"
  echo "$TOKEN" | fnctl login --server https://relay.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" {
				return usage("--server is required")
			}
			r := &remote{a: a, server: server, output: "text"}
			base, err := r.baseURL()
			if err != nil {
				return err
			}
			if token == "" {
				token = strings.TrimSpace(a.getenv("FNCTL_TOKEN"))
			}
			if token == "" {
				fmt.Fprint(a.stderr, "Admin token (<id>.<secret>): ")
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return usage("no token: give --token, FNCTL_TOKEN, or the token on the standard input")
				}
				token = strings.TrimSpace(line)
			}
			r.token = token
			if !noCheck {
				check := r.run(func(ctx context.Context, s *session, _ *cobra.Command, _ []string) error {
					_, err := s.c.ListBuckets(ctx)
					return err
				})
				if err := check(cmd, nil); err != nil {
					return err
				}
			}
			path, err := userConfigPath(a.getenv)
			if err != nil {
				return failed(err)
			}
			if err := (&userConfig{Server: base, Token: token}).save(path); err != nil {
				return failed(fmt.Errorf("save the user config: %w", err))
			}
			fmt.Fprintf(a.stdout, "Logged in to %s; saved to %s\n", base, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "the relay's URL, such as https://relay.example.com")
	cmd.Flags().StringVar(&token, "token", "", "admin token <id>.<secret> (default $FNCTL_TOKEN, else the standard input)")
	cmd.Flags().BoolVar(&noCheck, "no-check", false, "save without checking the token against the relay")
	return cmd
}

func newLogoutCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the relay and token fnctl login saved",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := userConfigPath(a.getenv)
			if err != nil {
				return failed(err)
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return failed(err)
			}
			fmt.Fprintf(a.stdout, "Removed %s\n", path)
			return nil
		},
	}
}
