package webhook

import (
	"context"
	"errors"
	"strconv"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/id"
	"github.com/invitegate/gateway/core/problem"
	"github.com/invitegate/gateway/core/store"
)

// DeliveryView is a delivery as an admin sees it: with its event's type.
type DeliveryView struct {
	Delivery
	Type string `json:"type"`
}

// Deliveries returns the endpoint's newest deliveries, at most limit
// (default 50, at most 500).
func (s *Service) Deliveries(ctx context.Context, accountID, endpointID string, limit int) ([]DeliveryView, error) {
	ep, err := s.Get(ctx, accountID, endpointID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var out []DeliveryView
	err = s.db.Read(ctx).Table("webhook_deliveries d").Select("d.*, e.type").
		Joins("JOIN webhook_events e ON e.id = d.event_id").
		Where("d.endpoint_id = ?", ep.ID).Order("d.seq DESC").Limit(limit).Scan(&out).Error
	return out, err
}

// delivery loads one delivery of the endpoint, by its id as the API
// shows it.
func (s *Service) delivery(ctx context.Context, ep *Endpoint, deliveryID string) (*Delivery, error) {
	seq, err := strconv.ParseInt(deliveryID, 10, 64)
	if err != nil || seq <= 0 {
		return nil, problem.ErrNotFound
	}
	var d Delivery
	err = s.db.Read(ctx).Where("seq = ? AND endpoint_id = ?", seq, ep.ID).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &d, err
}

// Replay sends a delivery's event to its endpoint again, as a new
// delivery (same webhook-id, so a receiver that keeps ids knows it),
// after the subject's deliveries queued before it.
func (s *Service) Replay(ctx context.Context, accountID string, who audit.Actor, endpointID, deliveryID string) (*Delivery, error) {
	ep, err := s.Get(ctx, accountID, endpointID)
	if err != nil {
		return nil, err
	}
	d, err := s.delivery(ctx, ep, deliveryID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	nd := &Delivery{AccountID: accountID, EndpointID: ep.ID, EventID: d.EventID, Subject: d.Subject, Status: Pending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(nd).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "webhook.delivery_replayed", "webhook_endpoint", ep.ID, map[string]any{"delivery": d.Seq, "replay": nd.Seq})
	})
	if err != nil {
		return nil, err
	}
	s.Wake()
	return nd, nil
}

// SendTest queues a webhook.test event to the endpoint alone, whatever
// types it wants, so an admin can check the receiver and its signature
// check. A disabled endpoint gets it once enabled.
func (s *Service) SendTest(ctx context.Context, accountID string, who audit.Actor, endpointID string) (*Delivery, error) {
	ep, err := s.Get(ctx, accountID, endpointID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	evID := id.New()
	d := &Delivery{AccountID: accountID, EndpointID: ep.ID, EventID: evID, Subject: "webhook:" + ep.ID, Status: Pending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := insertEvent(tx, evID, accountID, TestEvent, d.Subject, Payload{"endpoint_id": ep.ID, "message": "a test event sent from Invitegate"}, now); err != nil {
			return err
		}
		if err := tx.Create(d).Error; err != nil {
			return err
		}
		return audit.Record(tx, accountID, who, "webhook.test_sent", "webhook_endpoint", ep.ID, nil)
	})
	if err != nil {
		return nil, err
	}
	s.Wake()
	return d, nil
}
