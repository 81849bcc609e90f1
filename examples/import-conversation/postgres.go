package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/importer"
	"github.com/amojo-go/amojo/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// checkCheckpointFlags returns what is wrong with -checkpoint, -postgres and
// -import-name, or "".
func checkCheckpointFlags(fs *flag.FlagSet, fake, dryRun bool) string {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	value := func(name string) string { return fs.Lookup(name).Value.String() }
	switch {
	case given["checkpoint"] && given["postgres"]:
		return "-checkpoint and -postgres exclude each other: choose one checkpoint (-checkpoint FILE for one machine, -postgres DSN for runs on several)"
	case given["import-name"] && !given["postgres"]:
		return "-import-name names the import in the PostgreSQL checkpoint: give -postgres too"
	case given["import-name"] && strings.TrimSpace(value("import-name")) == "":
		return "-import-name needs a name"
	case given["postgres"] && strings.TrimSpace(value("postgres")) == "":
		return "-postgres needs a connection string"
	case given["postgres"]:
		// The message of pgx may quote the string, password and all.
		if _, err := pgxpool.ParseConfig(value("postgres")); err != nil {
			return "-postgres: not a PostgreSQL connection string (a postgres:// URL or key=value pairs)"
		}
		if fake && !dryRun {
			// The fake lives in this process: the next run would find none
			// of the chats and contacts the checkpoint names.
			return "-postgres needs an account: the in-process fake amoCRM starts empty on every run, so there would be nothing to resume or share " +
				"(set AMOJO_CHANNEL_ID and the rest, e.g. to a cmd/amojofake that keeps running)"
		}
	}
	return ""
}

// openPostgres opens the PostgreSQL checkpoint of cfg, migrating the schema
// first, and returns it with the options the importer needs: the import is
// named by -import-name, or else by the scope (channel and account), whose
// account is asked from REST unless AMOJO_ACCOUNT_ID gives it. The
// returned function closes the store.
func openPostgres(ctx context.Context, cfg config, chats *amojo.Client, crm *amojo.CRMClient) (*pgstore.Checkpoint, []importer.Option, func(), error) {
	var opts []importer.Option
	name := cfg.importName
	if name == "" {
		accountID := cfg.AccountID
		if accountID == "" {
			acc, err := crm.Account(ctx)
			if err != nil {
				return nil, nil, nil, err
			}
			accountID = acc.AmojoID
			opts = append(opts, importer.WithAccountID(accountID))
		}
		name = amojo.ScopeID(chats.ChannelID(), accountID)
	}
	st, err := pgstore.Open(ctx, cfg.postgres)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("-postgres: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, nil, fmt.Errorf("-postgres: %w", err)
	}
	cp := st.Checkpoint(name)
	return cp, append(opts, importer.WithCheckpoint(cp)), st.Close, nil
}
