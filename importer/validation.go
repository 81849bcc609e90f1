package importer

import (
	"errors"
	"strings"

	"github.com/amojo-go/amojo"
)

// invalid reports a field of the importer's input or options that breaks a
// rule, as the root package's checks do.
func invalid(field, reason string) *amojo.ValidationError {
	return &amojo.ValidationError{Field: field, Reason: reason}
}

// within puts prefix in front of the field of a *amojo.ValidationError, so a
// rule checked on a nested value names the whole Go path
// ("Messages[2].Content.FileName").
func within(prefix string, err error) error {
	var ve *amojo.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	field := prefix
	if ve.Field != "" {
		field += "." + ve.Field
	}
	return invalid(field, ve.Reason)
}

// isBlank reports an empty or all-whitespace string.
func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// checkText reports an empty (after trimming) value or one with a line break.
func checkText(field, v string) error {
	if isBlank(v) {
		return invalid(field, "empty")
	}
	if strings.ContainsAny(v, "\r\n") {
		return invalid(field, "contains a line break")
	}
	return nil
}
