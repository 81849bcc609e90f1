// Package pgstore keeps the state of an amojo integration in PostgreSQL, so
// that every replica of an integration behind a load balancer sees it: the
// webhook inbox (an amojo.Inbox shared by all replicas), the OAuth token
// pairs (an amojo.TokenStore with its lock, so that replicas refresh one at
// a time) and the importer's checkpoint (an importer.Checkpoint and
// importer.Claimer, so an import can move between machines and run on
// several at once). It uses pgx
// (github.com/jackc/pgx/v5) and accepts a connection string (Open) or a
// *pgxpool.Pool of the application (New).
//
// # Schema
//
// The package owns a few tables, all named amojo_*, in the schema the
// connection's search_path selects. Migrate creates and upgrades them; call
// it at start-up, before using the store. The schema has one version line:
// the table amojo_schema_version holds a row per version applied, and each
// version only adds (tables, indexes, columns with defaults), so a release
// works on a schema a newer release migrated. Migrate runs in one transaction
// under an advisory lock, so replicas starting together migrate once, and a
// failed migration leaves nothing half done.
//
//	version 1  amojo_inbox: the webhook inbox
//	version 2  amojo_oauth_token: OAuth token pairs
//	version 3  amojo_checkpoint, amojo_checkpoint_msgids, amojo_checkpoint_claims:
//	           the importer's checkpoint and claims
//
// # Inbox
//
// Store.Inbox returns the amojo.Inbox. Append is one INSERT … ON CONFLICT
// (id) DO NOTHING, committed before it returns (with PostgreSQL's default
// synchronous_commit, on disk). Claim takes due rows with FOR UPDATE SKIP
// LOCKED, so N replicas claim disjoint events without waiting for each
// other, and leases them with a random claim token in the same statement;
// Done, Fail and Extend succeed only with the current token, so a worker
// whose lease expired (and whose event another worker took) cannot settle it.
// Expired leases are reclaimed by Claim itself: due_at is the due time of a
// ready event and the lease end of a claimed one, and one partial index
// serves both. Dead events stay in the table until requeued. Delivered events
// keep their row, without body, for the retention (amojo.DefaultInboxRetention
// unless WithRetention says otherwise), so a webhook appended again within it
// is recognised; Claim deletes older ones, once a minute at most.
//
// Times (leases, due times) come from the store's clock (time.Now unless
// WithClock says otherwise), so the replicas' clocks should agree (NTP); a
// skew well under the lease (a minute by default) does no harm.
//
// # OAuth token store
//
// Store.TokenStore(key) returns the amojo.TokenStore and amojo.TokenLocker
// of the pair saved under key, a row of amojo_oauth_token (account URL,
// access and refresh token in text columns, expiry). One installation may
// hold several pairs, one per administrator who authorized it: key them by
// account and granting user, such as "https://acme.amocrm.ru/user-6101".
// Each replica gives its amojo.OAuthTokenSource a handle on the same key,
// and the source takes the lock around "load, refresh if still needed,
// save": of the replicas that find the access token stale, the first
// refreshes and saves, and the others load its pair when they get the lock.
//
//   - Lock is pg_try_advisory_xact_lock(class, hash) in a transaction that
//     stays open (idle, holding no rows) until unlock rolls it back. Waiting
//     is a try every few milliseconds (at most 20 ms apart) that gives the
//     connection back to the pool in between, so it ends as soon as ctx does
//     and leaves no queued lock request behind. A transaction-level lock
//     ends with its transaction, whatever happens: unlock, the connection
//     dying, the server ending it; no connection goes back to the pool still
//     holding it, and it works through a transaction-pooling PgBouncer. The
//     holder's Load and Save use other connections, so the pool needs at
//     least two. An idle_in_transaction_session_timeout shorter than a
//     refresh (one HTTP round trip) would end the lock early.
//   - The lock's key is in PostgreSQL's two-int4 key space, which is apart
//     from the one-int8 space Migrate's lock uses: the class 0x616d6f74
//     ("amot") and the 32-bit FNV-1a hash of the key. Two keys with one hash
//     only wait for each other's refreshes.
//   - Load reads the row each time, nothing is cached: after the lock it
//     returns what the last holder saved. No row is an error matching
//     amojo.ErrNoToken.
//   - Save is one INSERT … ON CONFLICT (key) DO UPDATE, committed (durable
//     with the default synchronous_commit) before it returns. It is also a
//     compare-and-swap, the second guard docs/oauth.md recommends: once a
//     handle has loaded or saved the row, its Save overwrites only the pair
//     it saw (or the same pair, a save repeated after a lost answer), and
//     otherwise fails with amojo.ErrTokenConflict. So a holder whose lock
//     was lost (its connection died) cannot overwrite the pair the next
//     holder saved with one whose refresh token is spent; its save goes
//     through when nobody wrote in between, which is safe, and saves the
//     only copy of a rotated pair as early as possible. A handle's first
//     Save, before any Load, replaces the row: save a new authorization
//     through a new handle.
//
// The table holds live credentials: grant it to the integration's role
// only, and do not log query arguments on the pool (a pgx tracer that
// does would log the tokens). Errors and the handle's String, Format,
// LogValue and JSON forms name the key, never a token.
//
// # Checkpoint
//
// Store.Checkpoint(name) returns the importer.Checkpoint of the import
// called name: a job's name, or the scope it imports into. Several imports
// share a database without seeing each other's conversations; the
// processes of one import, on any machine, share its progress by using the
// same name. A conversation is a row of amojo_checkpoint (scope, chat,
// contact, link, pending contact creation and its time, done and digest)
// plus a row per msgid in amojo_checkpoint_msgids, in the order recorded.
// Record is one statement, committed before it returns: a msgid is an
// insert (ON CONFLICT DO NOTHING keeps it once) that costs the same at the
// 50 000th message of a conversation as at the first, never a rewrite of a
// growing list; the other entries update the row as
// importer.CheckpointState.Apply defines them, and Done deletes the
// conversation's msgids (its digest stands for them). Load reads the row
// and the msgids in one statement. Times are kept to the microsecond.
//
// # Claims
//
// Checkpoint is also an importer.Claimer: the importer claims each
// conversation before its first request and releases it when the
// conversation is over, so two importers never import the same
// conversation at the same time. A claim is a row of
// amojo_checkpoint_claims naming its owner (random, one per Checkpoint
// value), its holder (host and process id, for people) and when it
// expires. The holder renews all its claims in one UPDATE every third of
// the lease (DefaultClaimLease, WithClaimLease) from a goroutine that runs
// while it holds any, and deletes a claim on release. A conversation
// claimed by another importer whose lease has not expired is refused with
// an error wrapping importer.ErrClaimed, naming the holder; the importer
// leaves it to that one (Progress.ConversationsClaimedElsewhere), and a
// later run of the same input finds it done. When a holder dies its claims
// stay until their lease ends, and then another importer takes the
// conversation over and resumes it from the checkpoint.
//
// Each Record of a claimed conversation is fenced: it writes only while the
// claim's row still names its owner, and holds that row (FOR KEY SHARE)
// until it commits, while a takeover locks it FOR UPDATE first. So a
// holder that stalled past its lease, and whose conversation another
// importer took over, records nothing more (its Record fails with
// ErrClaimed, and its importer leaves the conversation to the new holder),
// and the new holder loads everything the old one recorded. What fencing
// cannot stop is a request the stalled holder had already sent to amoCRM:
// a message is harmless (amojo refuses a second message with its msgid),
// and a contact creation is found again by the importer's search (see
// importer.ErrContactUnconfirmed). Keep the lease well above the stalls an
// importer may see.
//
// Session advisory locks (pg_try_advisory_lock) were weighed against lease
// rows and not chosen, though they vanish at once when their process dies.
// They belong to one connection: a claim would pin a pooled connection (or
// all claims would share a few held ones, serialising their Records to
// stay fenced), and a connection lost to a network blip or a pooler in
// transaction mode drops its locks without the process noticing. A machine
// that vanishes keeps its backends, and their locks, until TCP keepalive
// gives up (hours by default). Their keys are 64-bit hashes of the
// conversation ids, shared with every other use of advisory locks in the
// database. A lease row is visible (SELECT * FROM amojo_checkpoint_claims
// shows who imports what, until when), works through any pooler, and ends
// by itself after the lease; the price is that a dead importer's
// conversations wait for its lease to end.
//
// The claims table is UNLOGGED: a claim is written and renewed without
// waiting for the disk, and a crash of the database (or a failover to a
// standby) empties it. Every holder then finds its claims gone: its next
// Record of such a conversation fails with ErrClaimed, and the conversation
// is taken up again by whichever importer claims it next, from the
// checkpoint, which is logged like any table. Lease times come from the
// store's clock, as the inbox's do: the importers' clocks should agree
// (NTP), with a skew well under the lease.
//
// # Why not River
//
// github.com/riverqueue/river is a well-kept job queue for Go on PostgreSQL
// (and, with its riversqlite driver, on SQLite): retries with back-off, a
// rescuer for stuck jobs, discarded (dead) jobs, unique jobs, LISTEN/NOTIFY.
// It was weighed against the small table here, and not chosen:
//
//   - Dependencies. River brings its driver, shared and type modules, a cron
//     parser and JSON path libraries; on SQLite it also needs a database/sql
//     SQLite driver (cgo, or a large pure-Go port). The file inbox here needs
//     nothing beyond the standard library, and this package nothing beyond
//     pgx.
//   - Schema ownership. River's tables (jobs, leaders, queues, clients) and
//     its own migration line (rivermigrate) would sit beside this package's
//     versioned schema, which also gets the OAuth token store and the
//     importer's checkpoint: two migration lines to run and upgrade in step
//     with two libraries, on PostgreSQL and again on SQLite.
//   - Semantics. River rescues a job stuck in running after a fixed horizon
//     (an hour by default) and has no fencing token: a worker that resumes
//     after its job was rescued can still complete it. Here a lease is per
//     claim, extended while the callback runs, and a stale claim's Done
//     fails. River's jobs are typed arguments run by registered workers in a
//     client with its own lifecycle; the inbox is one callback.
//   - The 200. River's insert is one statement and a commit too (with its
//     unique-job bookkeeping), so it would answer amoCRM no sooner.
//
// What the small table costs is this package's code: the queries below, a
// delivery engine in package amojo (amojo.InboxDelivery: workers, back-off,
// dead letters, lease renewal), and one behaviour suite run against the
// memory, file and PostgreSQL inboxes. An application already running River
// can still put amojo webhooks into it by implementing amojo.Inbox.
package pgstore
