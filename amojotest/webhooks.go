package amojotest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// WebhookTimeout is how long the fake, like amoCRM, waits for a webhook
// receiver to answer. Webhooks are sent once, never retried.
const WebhookTimeout = 5 * time.Second

// TypingDuration is how long a manager's typing notification lasts: its
// expired_at is the send time plus this.
const TypingDuration = 5 * time.Second

// The kinds of webhook the fake sends.
const (
	WebhookMessage  = "message"
	WebhookTyping   = "typing"
	WebhookReaction = "reaction"
)

// WebhookResult is the outcome of one webhook delivery.
type WebhookResult struct {
	Kind       string // WebhookMessage, WebhookTyping or WebhookReaction
	ScopeID    string
	URL        string // the URL posted to, ":scope_id" replaced
	Body       []byte // the exact JSON sent
	Signature  string // the X-Signature header sent
	StatusCode int    // the receiver's answer; 0 when there was none
	Err        error  // transport error or non-200 answer; nil on success
	MessageID  string // amojo id of the message the webhook is about
	Time       time.Time
}

// ManagerMessage is what a CRM user (or the channel bot) writes in a chat.
type ManagerMessage struct {
	// UserID is the amojo id of the CRM user who writes; empty means the
	// channel bot.
	UserID    string
	Type      string // "text" when empty
	Text      string
	Media     string
	Thumbnail string
	FileName  string
	FileSize  int64
	// Markup and Template are copied into the webhook as given (JSON
	// values), when set.
	Markup   any
	Template any
}

// Webhooks returns the outcome of every webhook sent, oldest first.
func (s *Server) Webhooks() []WebhookResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookResult, len(s.webhooks))
	for i, w := range s.webhooks {
		w.Body = slices.Clone(w.Body)
		out[i] = w
	}
	return out
}

// hookTarget checks that scopeID can receive webhooks and returns the scope
// and the webhook URL. It is called with s.mu held.
func (s *Server) hookTarget(scopeID string) (*scope, string, error) {
	sc, ok := s.scopes[scopeID]
	if !ok || !sc.connected {
		return nil, "", fmt.Errorf("amojotest: scope %q is not connected", scopeID)
	}
	if sc.hookVersion != "v2" {
		return nil, "", fmt.Errorf("amojotest: scope %q is connected with hook_api_version %s; webhooks need v2", scopeID, sc.hookVersion)
	}
	if sc.channel.WebhookURL == "" {
		return nil, "", fmt.Errorf("amojotest: channel %s has no webhook URL", sc.channel.ID)
	}
	return sc, strings.ReplaceAll(sc.channel.WebhookURL, ":scope_id", scopeID), nil
}

// hookChat finds chatID in sc. It is called with s.mu held.
func (s *Server) hookChat(sc *scope, chatID string) (*chat, error) {
	ch, ok := s.chats[chatID]
	if !ok || ch.scope != sc {
		return nil, fmt.Errorf("amojotest: no chat %q in scope %q", chatID, sc.id)
	}
	return ch, nil
}

func conversationJSON(ch *chat) map[string]any {
	c := map[string]any{"id": ch.id}
	if ch.conversationID != "" {
		c["client_id"] = ch.conversationID
	}
	return c
}

// receiverJSON is the external participant in a webhook: phone and email are
// always present, empty when unknown.
func receiverJSON(p *participant) map[string]any {
	m := map[string]any{"id": p.ID, "name": p.Name, "phone": p.Phone, "email": p.Email}
	if p.ClientID != "" {
		m["client_id"] = p.ClientID
	}
	if p.Avatar != "" {
		m["avatar"] = p.Avatar
	}
	return m
}

// StartChat opens a chat from the CRM side ("write first"), as a manager
// does by writing to a phone number: the chat has no conversation_id and its
// external participant only a name and phone. It returns the chat id and the
// participant's amojo id. A ManagerReply to the chat sends a webhook without
// conversation.client_id; the integration binds the chat by answering with
// conversation_ref_id (the chat id) and sender.ref_id (the participant id).
func (s *Server) StartChat(scopeID, phone, name string) (chatID, participantID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[scopeID]
	if !ok || !sc.connected {
		return "", "", fmt.Errorf("amojotest: scope %q is not connected", scopeID)
	}
	if phone == "" {
		return "", "", fmt.Errorf("amojotest: StartChat needs a phone")
	}
	ch := s.newChat(sc, "", "")
	p := &participant{Participant: Participant{ID: s.newID(), Name: name, Phone: phone}}
	sc.byRef[p.ID] = p
	ch.client = p
	return ch.id, p.ID, nil
}

// ManagerReply stores a message written by a CRM user (or the bot) in chat
// chatID of scopeID, so history shows it, and posts the v2 outgoing-message
// webhook to the channel's webhook URL, signed with the channel secret. The
// scope must be connected with hook_api_version v2 and the chat must have an
// external participant. The error is non-nil when nothing could be sent or
// the receiver did not answer 200; the result says what happened in either
// case and is also recorded in Webhooks.
func (s *Server) ManagerReply(ctx context.Context, scopeID, chatID string, m ManagerMessage) (WebhookResult, error) {
	s.mu.Lock()
	sc, url, err := s.hookTarget(scopeID)
	var ch *chat
	if err == nil {
		ch, err = s.hookChat(sc, chatID)
	}
	var sender *participant
	if err == nil {
		ref := m.UserID
		if ref == "" {
			ref = sc.channel.Bot.ID
		}
		if sender = sc.crmParticipant(ref); sender == nil {
			err = fmt.Errorf("amojotest: %q is neither a user of the account nor the channel bot", m.UserID)
		}
	}
	if err == nil && ch.client == nil {
		err = fmt.Errorf("amojotest: chat %q has no external participant to reply to", chatID)
	}
	typ := m.Type
	if typ == "" {
		typ = "text"
	}
	if err == nil && !messageType(typ) {
		err = fmt.Errorf("amojotest: unknown message type %q", typ)
	}
	if err != nil {
		s.mu.Unlock()
		return WebhookResult{}, err
	}
	now := s.now()
	sc.seq++
	msg := &message{chat: ch, msec: now.UnixMilli(), seq: sc.seq, sender: sender, receiver: ch.client}
	msg.ID, msg.Time = s.newID(), time.UnixMilli(now.UnixMilli()).UTC()
	msg.Type, msg.Text, msg.Media, msg.Thumbnail, msg.FileName, msg.FileSize = typ, m.Text, m.Media, m.Thumbnail, m.FileName, m.FileSize
	ch.messages = append(ch.messages, msg)
	sc.msgByID[msg.ID] = msg
	s.recordMessage(msg)

	inner := map[string]any{
		"id": msg.ID, "type": typ, "text": m.Text, "tag": "", "media": m.Media, "thumbnail": m.Thumbnail,
		"file_name": m.FileName, "file_size": m.FileSize,
	}
	if m.Markup != nil {
		inner["markup"] = m.Markup
	}
	if m.Template != nil {
		inner["template"] = m.Template
	}
	outer := map[string]any{
		"receiver":       receiverJSON(ch.client),
		"sender":         map[string]any{"id": sender.ID, "name": sender.Name},
		"conversation":   conversationJSON(ch),
		"timestamp":      msg.msec / 1000,
		"msec_timestamp": msg.msec,
		"message":        inner,
	}
	if ch.source != "" {
		outer["source"] = map[string]any{"external_id": ch.source}
	}
	payload := map[string]any{"account_id": sc.acc.AmojoID, "time": now.Unix(), "message": outer}
	secret := sc.channel.Secret
	s.mu.Unlock()
	return s.sendHook(ctx, WebhookMessage, scopeID, url, secret, msg.ID, payload)
}

// ManagerTyping posts the "manager is typing" webhook for chat chatID of
// scopeID on behalf of the CRM user with amojo id userID.
func (s *Server) ManagerTyping(ctx context.Context, scopeID, chatID, userID string) (WebhookResult, error) {
	s.mu.Lock()
	sc, url, err := s.hookTarget(scopeID)
	var ch *chat
	if err == nil {
		ch, err = s.hookChat(sc, chatID)
	}
	if err == nil && sc.crmParticipant(userID) == nil {
		err = fmt.Errorf("amojotest: %q is not a user of the account", userID)
	}
	if err != nil {
		s.mu.Unlock()
		return WebhookResult{}, err
	}
	now := s.now()
	payload := map[string]any{
		"account_id": sc.acc.AmojoID,
		"time":       now.Unix(),
		"action": map[string]any{"typing": map[string]any{
			"user":         map[string]any{"id": userID},
			"conversation": conversationJSON(ch),
			"expired_at":   now.Add(TypingDuration).Unix(),
		}},
	}
	secret := sc.channel.Secret
	s.mu.Unlock()
	return s.sendHook(ctx, WebhookTyping, scopeID, url, secret, "", payload)
}

// ManagerReaction posts the reaction webhook: the CRM user with amojo id
// userID reacts with emoji to message messageID (an amojo message id) of chat
// chatID, or removes the reaction when emoji is empty. The reaction is stored
// on the message. The webhook carries both the nested message and the older
// top-level msgid.
func (s *Server) ManagerReaction(ctx context.Context, scopeID, chatID, messageID, userID, emoji string) (WebhookResult, error) {
	s.mu.Lock()
	sc, url, err := s.hookTarget(scopeID)
	var ch *chat
	if err == nil {
		ch, err = s.hookChat(sc, chatID)
	}
	var msg *message
	if err == nil {
		if msg = sc.msgByID[messageID]; msg == nil || msg.chat != ch {
			err = fmt.Errorf("amojotest: no message %q in chat %q", messageID, chatID)
		}
	}
	if err == nil && sc.crmParticipant(userID) == nil {
		err = fmt.Errorf("amojotest: %q is not a user of the account", userID)
	}
	if err != nil {
		s.mu.Unlock()
		return WebhookResult{}, err
	}
	typ := "react"
	if emoji == "" {
		typ = "unreact"
		delete(msg.Reactions, userID)
	} else {
		if msg.Reactions == nil {
			msg.Reactions = map[string]string{}
		}
		msg.Reactions[userID] = emoji
	}
	mj := map[string]any{
		"id": msg.ID, "sender": userJSON(msg.sender, false),
		"timestamp": msg.msec / 1000, "msec_timestamp": msg.msec,
	}
	if msg.ClientID != "" {
		mj["client_id"] = msg.ClientID
	}
	if msg.receiver != nil {
		mj["receiver"] = userJSON(msg.receiver, false)
	}
	reaction := map[string]any{
		"message":      mj,
		"msgid":        msg.ID,
		"user":         map[string]any{"id": userID},
		"conversation": conversationJSON(ch),
		"type":         typ,
	}
	if emoji != "" {
		reaction["emoji"] = emoji
	}
	now := s.now()
	payload := map[string]any{"account_id": sc.acc.AmojoID, "time": now.Unix(), "action": map[string]any{"reaction": reaction}}
	secret := sc.channel.Secret
	s.mu.Unlock()
	return s.sendHook(ctx, WebhookReaction, scopeID, url, secret, msg.ID, payload)
}

// sendHook posts payload once, signed with secret, and records the outcome.
func (s *Server) sendHook(ctx context.Context, kind, scopeID, url, secret, msgID string, payload any) (WebhookResult, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return WebhookResult{}, fmt.Errorf("amojotest: encode webhook: %w", err)
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	res := WebhookResult{
		Kind: kind, ScopeID: scopeID, URL: url, Body: body,
		Signature: hex.EncodeToString(mac.Sum(nil)), MessageID: msgID, Time: s.now(),
	}
	res.StatusCode, res.Err = s.post(ctx, url, body, res.Signature)
	s.mu.Lock()
	s.webhooks = append(s.webhooks, res)
	s.mu.Unlock()
	return res, res.Err
}

func (s *Server) post(ctx context.Context, url string, body []byte, sig string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("amojotest: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Signature", sig)
	resp, err := s.hooks.Do(req)
	if err != nil {
		return 0, fmt.Errorf("amojotest: webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("amojotest: webhook answered %d, want 200", resp.StatusCode)
	}
	return resp.StatusCode, nil
}
