package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// A migration takes the schema from the version before it to Version. Each
// one only adds, so that an older release works on a newer schema.
type migration struct {
	Version     int
	Description string
	SQL         string
}

// migrations is the schema's version line, in order. A new version is
// appended; an applied one is never changed.
var migrations = []migration{
	{1, "webhook inbox", `
CREATE TABLE amojo_inbox (
	id          text        PRIMARY KEY,
	seq         bigint      GENERATED ALWAYS AS IDENTITY,
	scope_id    text        NOT NULL,
	body        bytea       NOT NULL,
	signature   text        NOT NULL,
	received_at timestamptz NOT NULL,
	state       text        NOT NULL DEFAULT 'ready'
	                        CHECK (state IN ('ready', 'claimed', 'dead', 'done')),
	due_at      timestamptz NOT NULL,
	attempts    integer     NOT NULL DEFAULT 0,
	claim_token text,
	last_error  text
);
COMMENT ON TABLE amojo_inbox IS 'amojo webhook inbox: one row per received webhook';
COMMENT ON COLUMN amojo_inbox.due_at IS
	'ready: due at; claimed: lease end; dead: parked at; done: delivered at';
CREATE INDEX amojo_inbox_due ON amojo_inbox (due_at, seq) WHERE state IN ('ready', 'claimed');
CREATE INDEX amojo_inbox_dead ON amojo_inbox (id) WHERE state = 'dead';
CREATE INDEX amojo_inbox_done ON amojo_inbox (due_at) WHERE state = 'done';
`},
	{2, "oauth token store", `
CREATE TABLE amojo_oauth_token (
	key           text        PRIMARY KEY,
	account_url   text        NOT NULL,
	access_token  text        NOT NULL,
	refresh_token text        NOT NULL,
	expiry        timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE amojo_oauth_token IS
	'amojo OAuth token pairs, one per key (account and granting user); as secret as the client secret';
`},
	{3, "importer checkpoint and claims", `
CREATE TABLE amojo_checkpoint (
	name               text        NOT NULL,
	conversation_id    text        NOT NULL,
	scope_id           text        NOT NULL DEFAULT '',
	chat_id            text        NOT NULL DEFAULT '',
	contact_id         bigint      NOT NULL DEFAULT 0,
	linked             boolean     NOT NULL DEFAULT false,
	contact_pending    boolean     NOT NULL DEFAULT false,
	contact_pending_at timestamptz,
	done               boolean     NOT NULL DEFAULT false,
	digest             text        NOT NULL DEFAULT '',
	PRIMARY KEY (name, conversation_id)
);
COMMENT ON TABLE amojo_checkpoint IS 'amojo importer checkpoint: one row per conversation of each import (name)';
CREATE TABLE amojo_checkpoint_msgids (
	name            text   NOT NULL,
	conversation_id text   NOT NULL,
	msgid           text   NOT NULL,
	seq             bigint GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (name, conversation_id, msgid)
);
COMMENT ON TABLE amojo_checkpoint_msgids IS 'amojo importer checkpoint: the msgids amojo accepted, until the conversation is done';
CREATE UNLOGGED TABLE amojo_checkpoint_claims (
	name            text        NOT NULL,
	conversation_id text        NOT NULL,
	owner           text        NOT NULL,
	holder          text        NOT NULL,
	claimed_at      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	PRIMARY KEY (name, conversation_id)
);
COMMENT ON TABLE amojo_checkpoint_claims IS
	'amojo importer claims: the conversations being imported, each by one importer (owner) until expires_at';
`},
}

// SchemaVersion is the schema version this release migrates to.
func SchemaVersion() int { return migrations[len(migrations)-1].Version }

// migrateLock is the key of the advisory lock Migrate holds ("amojo").
const migrateLock int64 = 0x616d6f6a6f

// Migrate brings the schema up to SchemaVersion: it creates the version
// table, then applies each version the database lacks, in one transaction
// under an advisory lock (replicas migrating at once wait for each other, and
// the later ones find nothing to do). A database at a newer version is left
// as it is. Calling Migrate again does nothing.
func (s *Store) Migrate(ctx context.Context) error { return s.migrate(ctx, migrations) }

// migrate applies the versions of line the database lacks.
func (s *Store) migrate(ctx context.Context, line []migration) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS amojo_schema_version (
	version     integer     PRIMARY KEY,
	description text        NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM amojo_schema_version`).Scan(&cur); err != nil {
			return err
		}
		for _, m := range line {
			if m.Version <= cur {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("version %d (%s): %w", m.Version, m.Description, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO amojo_schema_version (version, description) VALUES ($1, $2)`, m.Version, m.Description); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// Version returns the schema version of the database: 0 before Migrate.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM amojo_schema_version`).Scan(&v)
	if err != nil {
		var exists bool
		if qerr := s.pool.QueryRow(ctx, `SELECT to_regclass('amojo_schema_version') IS NOT NULL`).Scan(&exists); qerr == nil && !exists {
			return 0, nil
		}
		return 0, fmt.Errorf("pgstore: schema version: %w", err)
	}
	return v, nil
}
