package event

import "gorm.io/gorm"

// EraseUser deletes, in tx, every place the user has at events and all that
// hangs from it, as part of erasing the person from the gateway (core/erase).
// Unlike Remove it is not an organizer action and checks no status: the
// person's data goes whatever state it is in.
func EraseUser(tx *gorm.DB, userID string) error {
	mine := tx.Model(&Attendee{}).Select("id").Where("user_id = ?", userID)
	for _, m := range []any{&Visit{}} {
		if err := tx.Where("attendee_id IN (?)", mine).Delete(m).Error; err != nil {
			return err
		}
	}
	return tx.Where("user_id = ?", userID).Delete(&Attendee{}).Error
}
