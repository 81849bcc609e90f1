package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// checkInboxFlags returns what is wrong with -inbox and -postgres, or "".
func checkInboxFlags(fs *flag.FlagSet) string {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case given["inbox"] && given["postgres"]:
		return "-inbox and -postgres exclude each other: choose one inbox (-inbox for one machine, -postgres for replicas)"
	case given["inbox"] && strings.TrimSpace(fs.Lookup("inbox").Value.String()) == "":
		return "-inbox needs a file path"
	case given["postgres"] && strings.TrimSpace(fs.Lookup("postgres").Value.String()) == "":
		return "-postgres needs a connection string"
	case given["postgres"]:
		// The message of pgx may quote the string, password and all.
		if _, err := pgxpool.ParseConfig(fs.Lookup("postgres").Value.String()); err != nil {
			return "-postgres: not a PostgreSQL connection string (a postgres:// URL or key=value pairs)"
		}
	}
	return ""
}

// openInbox opens the inbox the flags ask for: a FileInbox, or the
// PostgreSQL inbox after migrating its schema; nil without either flag. The
// returned function closes it.
func openInbox(ctx context.Context, cfg config) (amojo.Inbox, func(), error) {
	switch {
	case cfg.inbox != "":
		in, err := amojo.NewFileInbox(cfg.inbox)
		if err != nil {
			return nil, nil, fmt.Errorf("-inbox: %w", err)
		}
		return in, func() { _ = in.Close() }, nil
	case cfg.postgres != "":
		st, err := pgstore.Open(ctx, cfg.postgres)
		if err != nil {
			return nil, nil, fmt.Errorf("-postgres: %w", err)
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("-postgres: %w", err)
		}
		return st.Inbox(), st.Close, nil
	}
	return nil, func() {}, nil
}

// describeInbox names where webhooks wait, for the start-up line.
func describeInbox(cfg config) string {
	switch {
	case cfg.inbox != "":
		return "the inbox file " + cfg.inbox
	case cfg.postgres != "":
		return "the PostgreSQL inbox"
	}
	return "a queue in memory (lost if the program dies; see -inbox and -postgres)"
}
