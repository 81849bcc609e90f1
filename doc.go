// Package amojo is a client for the amoCRM / Kommo chats API ("amojo") and the
// few amoCRM REST v4 calls a chat integration needs.
//
// A chat integration connects a messenger, a support desk or a bot to amoCRM
// through a registered chat channel (a channel id and a secret issued by
// amoCRM). With a [Client] it connects the channel to an account, creates
// chats, sends and imports messages, edits them, reports delivery statuses,
// typing and reactions, and reads chat history. With a [CRMClient] it reads the
// account's and users' amojo ids, creates contacts and links chats to them,
// manages the integration's sources and chat templates (with their WhatsApp
// review), closes talks, and reads chat events to catch up after downtime
// ([CRMClient.AllChatEvents]).
// Managers' replies arrive as signed webhooks, which [VerifyWebhook],
// [ParseWebhook] and [NewWebhookHandler] take care of. Package importer,
// built on this package, imports conversations that already happened.
//
// # Signing
//
// Every amojo request is signed: Content-MD5 (lowercase hex) of the exact bytes
// sent, and X-Signature, the lowercase hex HMAC-SHA1 of method, Content-MD5,
// Content-Type, Date and path (never the query) keyed with the channel secret.
// [Signature], [ContentMD5] and [SignRequest] expose the algorithm; the client
// applies it to every attempt, so a retried request carries a fresh Date.
//
// # One request path
//
// All calls of both clients go through one path: the body is marshalled once,
// then each attempt is signed (or given its Bearer token), sent, decoded and
// classified. Network errors and the statuses 429, 502, 503 and 504 are retried
// with capped exponential back-off and jitter, honouring Retry-After; 400, 401,
// 403 and 404 never are. Errors are typed: [*APIError] carries the status,
// amoCRM's code and message, problem+json fields and per-item validation
// errors, and matches [ErrInvalidSignature], [ErrNotFound], [ErrRateLimited] and
// [ErrUnauthorized] with errors.Is. Input that breaks a rule of the API is
// refused with a [*ValidationError] before anything is sent. Redirects are
// never followed (a 3xx is an [*APIError] with its Location), and plain http
// is refused for a host that is not loopback unless [WithInsecureHTTP]
// allows it: both would hand the signed requests or the token to others.
//
// # Ids
//
// The library never invents ids: message ids (msgid), conversation ids and
// participant ids come from the caller, so a retried or repeated message is
// recognised by amoCRM instead of duplicated.
//
// # Webhook inbox
//
// amoCRM sends each webhook once and never retries, so a webhook answered 200
// must not live only in memory. An [Inbox] stores received webhooks durably
// before the answer: [FileInbox] in a synced file shared by the processes of
// one machine, package pgstore in PostgreSQL shared by replicas, [MemoryInbox]
// for tests. [WithWebhookInbox] makes a [WebhookHandler] append each verified
// webhook and answer 200 only once it is stored; its [InboxDelivery] claims
// the events, calls the callback, retries failures with back-off, and parks
// the hopeless ones as dead, reported and requeueable. Delivery is
// at-least-once: a callback may see an event again, and the event id
// ([InboxEventIDFrom] in the callback; [InboxEvent].ID, derived from the
// scope and the signed body) is the key that makes it idempotent.
// docs/inbox.md has the details.
//
// # OAuth
//
// Integrations authorize with OAuth 2.0: [OAuthConfig.AuthorizationURL],
// [ParseRedirect] and [OAuthConfig.Exchange] give the first token pair; an
// [OAuthTokenSource] over a [TokenStore] ([FileTokenStore] on one machine,
// package pgstore's in PostgreSQL for replicas) keeps it fresh for a
// [CRMClient], saving each rotated refresh token before use and serialising
// refreshes across goroutines and processes. A private integration's
// long-lived token is a [StaticToken]. See docs/oauth.md.
//
// # Testing
//
// Package amojotest is an in-memory fake of amoCRM (both APIs, webhooks, fault
// injection) for tests; cmd/amojofake serves the same fake as a program.
package amojo
