package amojo

import (
	"errors"
	"testing"
)

func TestValidateID(t *testing.T) {
	for id, want := range map[string]string{
		"":       "empty",
		".":      "must not be . or ..",
		"..":     "must not be . or ..",
		"a b":    "contains whitespace or control characters",
		"a\x7fb": "contains whitespace or control characters",
		"x_y-1":  "",
	} {
		err := ValidateID("ScopeID", id)
		var ve *ValidationError
		switch {
		case want == "" && err != nil:
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		case want != "" && (!errors.As(err, &ve) || ve.Field != "ScopeID" || ve.Reason != want):
			t.Errorf("ValidateID(%q) = %v, want ScopeID: %s", id, err, want)
		}
	}
}
