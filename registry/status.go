package registry

import "github.com/gocql/gocql"

// Status is where a version stands. It is derived from the champion pointer
// and the promotion ledger when it is read, never stored beside them: a copy
// written next to the compare-and-set could disagree with the pointer after
// a crash between the two writes, and the pointer is the single source of
// truth.
type Status string

const (
	// StatusChampion: the champion pointer names the version.
	StatusChampion Status = "champion"
	// StatusRetired: the version was champion once and is not any more.
	StatusRetired Status = "retired"
	// StatusCandidate: the version was trained and never promoted.
	StatusCandidate Status = "candidate"
)

// Statuses gives the status of every version the champion pointer or the
// ledger names; a version in neither is a candidate.
func Statuses(champion *Champion, ledger []Promotion) map[gocql.UUID]Status {
	out := map[gocql.UUID]Status{}
	for _, p := range ledger {
		out[p.Version] = StatusRetired
	}
	if champion != nil {
		out[champion.Version] = StatusChampion
	}
	return out
}

// StatusOf is a version's status in the map Statuses made.
func StatusOf(statuses map[gocql.UUID]Status, version gocql.UUID) Status {
	if s, ok := statuses[version]; ok {
		return s
	}
	return StatusCandidate
}
