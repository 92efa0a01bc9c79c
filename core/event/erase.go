package event

import "github.com/invitegate/gateway/core/store"

// EraseUser deletes, in tx, every place the user has at events and all that
// hangs from it, as part of erasing the person from the gateway (core/erase):
// visits, links, site sessions, sign-ins, the chat messages they wrote, and
// their speaker image. Unlike Remove it is not an organizer action and checks
// no status: the person's data goes whatever state it is in.
func EraseUser(tx *store.Tx, userID string) error {
	mine := tx.Model(&Attendee{}).Select("id").Where("user_id = ?", userID)
	for _, m := range []any{&Visit{}, &Link{}, &Login{}, &ChatMessage{}} {
		if err := tx.Where("attendee_id IN (?)", mine).Delete(m).Error; err != nil {
			return err
		}
	}
	// An image stays while another attendee still shows it (an organizer
	// may reuse an upload); otherwise it is the person's photo and goes.
	var refs []string
	if err := tx.Model(&Attendee{}).Where("user_id = ? AND image_ref <> ''", userID).Distinct().Pluck("image_ref", &refs).Error; err != nil {
		return err
	}
	if err := tx.Where("user_id = ?", userID).Delete(&Attendee{}).Error; err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	still := tx.Model(&Attendee{}).Select("image_ref").Where("image_ref IN ?", refs)
	return tx.Where("ref IN ? AND ref NOT IN (?)", refs, still).Delete(&Image{}).Error
}
