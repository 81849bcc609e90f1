//go:build !unix

package pgtest

import "errors"

type cluster struct{ dsn string }

func findBinaries() (string, error) {
	return "", errors.New("starting a cluster is supported on unix only")
}

func startCluster(string) (*cluster, error) { return nil, errors.New("unsupported") }

func (c *cluster) stop() {}
