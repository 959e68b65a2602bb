package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/relayfn/relayfn/relay/admin"
	"github.com/relayfn/relayfn/relay/config"
	"github.com/relayfn/relayfn/relay/seal"
	"github.com/relayfn/relayfn/relay/store/postgres"
	"github.com/relayfn/relayfn/relay/store/sqlite"
)

func newAdminTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin-token",
		Short: "Manage the admin tokens offline, on the relay's store",
		Long: `Manage the admin tokens offline, on the relay's store itself. While the relay
runs, make and revoke admin tokens through the admin API instead (fnctl token).`,
		Args: exactArgs(),
	}
	cmd.AddCommand(newAdminTokenResetCmd(a))
	return cmd
}

func newAdminTokenResetCmd(a *app) *cobra.Command {
	var configPath, storeURL string
	cmd := &cobra.Command{
		Use:   "reset [--config relay.yaml] [--store URL]",
		Short: "Replace every admin token with a new one, printed once",
		Long: `Replace every admin token with one new token and print its credential once:
the way back in for an operator who lost the admin token. It works on the
store and key file the relay.yaml's server section names (or the defaults,
relayfn.db and relayfn.key in the working folder; --store overrides the
store), and refuses while a relay is running on that store: stop the relay
first. The key file must exist: a database is never opened with a new key.

On PostgreSQL (--store postgres://…) the nodes may keep running: the new
token works on all of them at once. The key comes from RELAYFN_KEY when
set, else from server.encryption_key_file.`,
		Example: `  fnctl admin-token reset --config relay.yaml
  fnctl admin-token reset --store sqlite:///var/lib/relayfn/relay.db
  RELAYFN_KEY=$(cat relayfn.key) fnctl admin-token reset --store 'postgres://relay@db.internal/relayfn'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := loadServerConfig(configPath, storeURL)
			if err != nil {
				return err
			}
			s := f.Server
			if config.IsPostgres(s.Store) {
				return resetPostgres(cmd.Context(), a, s)
			}
			dbPath, err := sqlite.Path(s.Store)
			if err != nil {
				return usage("server.store: %v", err)
			}
			if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
				return failed(fmt.Errorf("server.store: no database at %s: nothing to reset (the relay's first start makes an admin token)", dbPath))
			} else if err != nil {
				return failed(fmt.Errorf("server.store: %w", err))
			}
			key, err := seal.LoadKey(s.KeyFile())
			if err != nil {
				return failed(fmt.Errorf("server.encryption_key_file: %w", err))
			}
			sealer, err := seal.New(key)
			if err != nil {
				return failed(fmt.Errorf("server.encryption_key_file: %w", err))
			}
			release, err := sqlite.Lock(dbPath)
			if errors.Is(err, sqlite.ErrLocked) {
				return failed(fmt.Errorf("a relay is running on %s (it holds the database's lock): stop it first, then run admin-token reset again; "+
					"or, with an admin token you still have, make a new one through the running relay (fnctl token create)", dbPath))
			} else if err != nil {
				return failed(err)
			}
			defer release()
			ctx := cmd.Context()
			st, err := sqlite.Open(ctx, s.Store, sealer)
			if err != nil {
				return failed(fmt.Errorf("server.store: %w", err))
			}
			cred, removed, err := admin.ResetTokens(ctx, st)
			if cerr := st.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(a.stderr, "Removed %d admin token(s) from %s.\n", removed, dbPath)
			fmt.Fprintf(a.stdout, "\nNew admin token (shown once, keep it safe):\n\n    %s\n\nUse it with: export FNCTL_TOKEN=%s\n\n", cred, cred)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&configPath, "config", "", "relay.yaml naming the store and key file")
	fs.StringVar(&storeURL, "store", "", "store URL (sqlite://PATH or postgres://…), overriding server.store")
	return cmd
}

// resetPostgres replaces the admin tokens of the relay on the PostgreSQL
// database s.Store names. It opens the store as no node (the running
// nodes keep theirs), with the key of RELAYFN_KEY or the key file, never a
// new one, and refuses a database where no relay ever ran.
func resetPostgres(ctx context.Context, a *app, s config.Server) error {
	where := config.RedactStore(s.Store)
	var key []byte
	var err error
	if v := a.getenv(config.EnvKey); v != "" {
		if key, err = seal.ParseKey(v); err != nil {
			return usage("%s: %v", config.EnvKey, err)
		}
	} else if file := s.KeyFile(); file != "" {
		if key, err = seal.LoadKey(file); err != nil {
			return failed(fmt.Errorf("server.encryption_key_file: %w", err))
		}
	} else {
		return usage("the key of a PostgreSQL store is needed: set %s or server.encryption_key_file", config.EnvKey)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return failed(err)
	}
	// Opening the store would make its tables in an empty database: look
	// first.
	conn, err := pgx.Connect(ctx, s.Store)
	if err != nil {
		return failed(fmt.Errorf("server.store %s: %w", where, config.ScrubError(err, s.Store)))
	}
	var table *string
	err = conn.QueryRow(ctx, `SELECT to_regclass('key_check')::text`).Scan(&table)
	conn.Close(ctx)
	if err != nil {
		return failed(fmt.Errorf("server.store %s: %w", where, config.ScrubError(err, s.Store)))
	}
	if table == nil {
		return failed(fmt.Errorf("server.store: no relay database at %s: nothing to reset (the relay's first start makes an admin token)", where))
	}
	st, err := postgres.Open(ctx, s.Store, sealer, postgres.Options{})
	if err != nil {
		return failed(fmt.Errorf("server.store %s: %w", where, config.ScrubError(err, s.Store)))
	}
	cred, removed, err := admin.ResetTokens(ctx, st)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return failed(config.ScrubError(err, s.Store))
	}
	fmt.Fprintf(a.stderr, "Removed %d admin token(s) from %s.\n", removed, where)
	fmt.Fprintf(a.stdout, "\nNew admin token (shown once, keep it safe):\n\n    %s\n\nUse it with: export FNCTL_TOKEN=%s\n\n", cred, cred)
	return nil
}
