package amojotest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// WithRateLimitBlock makes the fake block an account, as amoCRM does after
// repeated rate-limit breaches: once the account's REST calls earned n 429
// answers within window (on the rate clock, see WithRateClock), every REST
// call of the account answers 403 with nginx's HTML "403 Forbidden" page and
// no X-Request-Id, until SetBlocked lifts the block. Off by default. It
// panics unless n is positive and window longer than zero.
func WithRateLimitBlock(n int, window time.Duration) Option {
	if n < 1 || window <= 0 {
		panic(fmt.Sprintf("amojotest: WithRateLimitBlock(%d, %v)", n, window))
	}
	return func(cfg *config) { cfg.blockAfter, cfg.blockWindow = n, window }
}

// SetBlocked blocks or unblocks the REST API of account accountID (see
// WithRateLimitBlock); unblocking also forgets its recent 429s.
func (s *Server) SetBlocked(accountID string, blocked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, err := s.findAccount(accountID)
	if err != nil {
		return err
	}
	acc.crm.blocked = blocked
	if !blocked {
		acc.crm.limited = nil
	}
	return nil
}

// Blocked reports whether the REST API of account accountID is blocked.
func (s *Server) Blocked(accountID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, ok := s.accounts[accountID]
	return ok && acc.crm.blocked
}

// blockPage is what nginx in front of amoCRM answers a blocked account.
const blockPage = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n" +
	"<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

// refuseBlocked answers the block page if acc is blocked. Called with s.mu
// held.
func (s *Server) refuseBlocked(w http.ResponseWriter, acc *account) bool {
	if !acc.crm.blocked {
		return false
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(blockPage)))
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(blockPage))
	return true
}

// noteRateLimited records a 429 answered to acc and blocks the account when
// WithRateLimitBlock says so. Called with s.mu held.
func (s *Server) noteRateLimited(acc *account) {
	if s.cfg.blockAfter <= 0 {
		return
	}
	now := s.cfg.rateNow()
	kept := acc.crm.limited[:0]
	for _, t := range acc.crm.limited {
		if now.Sub(t) < s.cfg.blockWindow {
			kept = append(kept, t)
		}
	}
	acc.crm.limited = append(kept, now)
	if len(acc.crm.limited) >= s.cfg.blockAfter {
		acc.crm.blocked = true
	}
}

// nextRequestID issues the X-Request-Id of a REST answer. Called with s.mu
// held.
func (s *Server) nextRequestID() string {
	s.restRequests++
	return fmt.Sprintf("amojotest-%08d", s.restRequests)
}
