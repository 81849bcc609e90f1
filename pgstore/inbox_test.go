package pgstore_test

import (
	"testing"
	"time"

	"github.com/amojo-go/amojo"
	"github.com/amojo-go/amojo/internal/inboxtest"
	"github.com/amojo-go/amojo/pgstore"
)

func TestInboxConformance(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T, now func() time.Time) amojo.Inbox {
		return open(t, pgstore.WithClock(now)).Inbox()
	})
}
