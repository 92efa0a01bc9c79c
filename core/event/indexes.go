package event

// Indexes implements store.Indexer: the indexes of the All users query,
// written out because their column order is the design.
//
// Each list index starts with the event, then the order it serves (name or
// creation, with the id tie-break), then every column a filter or a search
// reads: status, the roles, and the search keys. Any combination of search,
// role and status filters is then answered from one index without visiting
// the table, and the count of a query is a walk of one index range. A page
// reads the table only for the rows it shows. The email and last-name
// indexes serve narrow searches, which the planner prefers when the prefix
// is selective.
//
// Indexes this list replaced are dropped, so an upgraded database does not
// keep paying for them on every write.
func (Attendee) Indexes() []string {
	return []string{
		"DROP INDEX IF EXISTS idx_attendees_event_name",
		"DROP INDEX IF EXISTS idx_attendees_event_created",
		"DROP INDEX IF EXISTS idx_attendees_event_email",
		"DROP INDEX IF EXISTS idx_attendees_event_last",
		"DROP INDEX IF EXISTS idx_attendees_event_status_name",
		"DROP INDEX IF EXISTS idx_attendees_event_status_created",
		"CREATE INDEX IF NOT EXISTS idx_attendees_list_name ON attendees (event_id, name_key, id, status, speaker, moderator, organizer, email, last_key)",
		"CREATE INDEX IF NOT EXISTS idx_attendees_list_created ON attendees (event_id, created_at, id, status, speaker, moderator, organizer, email, name_key, last_key)",
		"CREATE INDEX IF NOT EXISTS idx_attendees_list_email ON attendees (event_id, email, status, speaker, moderator, organizer, name_key, last_key, created_at, id)",
		"CREATE INDEX IF NOT EXISTS idx_attendees_list_last ON attendees (event_id, last_key, status, speaker, moderator, organizer, email, name_key, created_at, id)",
	}
}
