package amojo

import "fmt"

// This file keeps secrets out of what the SDK prints.

// formatRedacted prints desc, a description of a value that leaves out its
// secret, for every fmt verb: quoted for %q, as text for all the others (%x
// of a token would print the token in hex, %#v its Go syntax).
func formatRedacted(f fmt.State, verb rune, desc string) {
	v := 's'
	if verb == 'q' {
		v = 'q'
	}
	fmt.Fprintf(f, fmt.FormatString(f, v), desc)
}
