package schedule

// Jobs: what a run of each plugin kind does, as its record names it
// (core/scheduled keeps the records).
const (
	JobGroupSync       = "group-sync"
	JobTemplateRefresh = "template-refresh"
)
