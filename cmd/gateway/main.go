// Command gateway is the invitation and access gateway: `gateway serve` runs
// it; the other commands administer it from the same machine.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
