package event

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"regexp"
	"time"

	"github.com/invitegate/gateway/core/store"

	"gorm.io/gorm"

	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/problem"
)

// Image is an uploaded speaker image, kept in the database so every replica
// serves it and a backup of the database holds it.
//
// Images are public (the event site shows them to anyone), so the ref is a
// random name nobody can guess from another image's: 16 bytes of
// crypto/rand, base64url. It is a name, not a credential, and is stored as is.
type Image struct {
	Ref         string    `gorm:"primaryKey;size:32" json:"ref"`
	AccountID   string    `gorm:"size:36;not null;index" json:"account_id"`
	ContentType string    `gorm:"size:32;not null" json:"content_type"`
	Width       int       `gorm:"not null" json:"width"`
	Height      int       `gorm:"not null" json:"height"`
	Size        int       `gorm:"not null" json:"size"`
	Data        []byte    `gorm:"not null" json:"-"`
	CreatedBy   string    `gorm:"size:64" json:"created_by"`
	CreatedAt   time.Time `gorm:"not null" json:"created_at"`
}

// ImageURL is where the gateway serves an image, relative to its base URL.
func ImageURL(ref string) string { return "/media/images/" + ref }

var imageRefRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func newImageRef() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// SaveImage validates an upload (ValidateImage: by content, at most
// MaxImageBytes) and stores it for the account, with its audit entry.
func (s *Service) SaveImage(ctx context.Context, c Caller, b []byte) (*Image, error) {
	ct, err := ValidateImage(b)
	if err != nil {
		return nil, err
	}
	w, h, err := imageSize(ct, b)
	if err != nil {
		return nil, err
	}
	img := &Image{Ref: newImageRef(), AccountID: c.AccountID, ContentType: ct, Width: w, Height: h, Size: len(b),
		Data: b, CreatedBy: c.Actor.ID, CreatedAt: s.now()}
	err = s.DB.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Create(img).Error; err != nil {
			return err
		}
		return audit.Record(tx, c.AccountID, c.Actor, "image.uploaded", "image", img.Ref, map[string]any{
			"content_type": ct, "width": w, "height": h, "size": len(b),
		})
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// LoadImage returns a stored image with its bytes. It takes no account: the
// event site serves speaker images to anyone who has the ref.
func LoadImage(ctx context.Context, db store.Reader, ref string) (*Image, error) {
	if !imageRefRE.MatchString(ref) {
		return nil, problem.ErrNotFound
	}
	var img Image
	err := db.Read(ctx).Where("ref = ?", ref).Take(&img).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.ErrNotFound
	}
	return &img, err
}

// CheckImageRef refuses an image_ref that is not an image the account
// uploaded, so a profile never points at nothing or at another account's
// upload. An empty ref (no image) passes.
func CheckImageRef(ctx context.Context, db store.Reader, accountID, ref string) error {
	if ref == "" {
		return nil
	}
	if !imageRefRE.MatchString(ref) {
		return problem.Field("image_ref", "image_ref is not an image reference: upload the image with POST /api/v1/images and send the ref it answers")
	}
	bad := problem.Field("image_ref", fmt.Sprintf("image_ref %q is not an image uploaded to this account: upload it with POST /api/v1/images first", ref))
	var n int64
	if err := db.Read(ctx).Model(&Image{}).Where("ref = ? AND account_id = ?", ref, accountID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return bad
	}
	return nil
}

// imageSize reads the pixel size from the image's header.
func imageSize(ct string, b []byte) (int, int, error) {
	if ct == "image/webp" {
		w, h, err := webpSize(b)
		if err == nil && (w > MaxImageSide || h > MaxImageSide) {
			err = problem.Field("image", fmt.Sprintf("the image is %dx%d pixels; at most %dx%d are allowed (%s recommended)", w, h, MaxImageSide, MaxImageSide, ImageHint))
		}
		return w, h, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, problem.Field("image", "the image is damaged: "+err.Error())
	}
	// The header can promise more pixels than 2 MB could sensibly hold
	// (a decompression bomb); decoding such a thing would take gigabytes.
	if cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return 0, 0, problem.Field("image", fmt.Sprintf("the image is %dx%d pixels; at most %dx%d are allowed (%s recommended)", cfg.Width, cfg.Height, MaxImageSide, MaxImageSide, ImageHint))
	}
	// A valid header over truncated or corrupt data would show as a broken
	// picture on the event site: decode it all once, here.
	if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
		return 0, 0, problem.Field("image", "the image is damaged: "+err.Error())
	}
	return cfg.Width, cfg.Height, nil
}

// MaxImageSide bounds an uploaded image's width and height in pixels.
const MaxImageSide = 4096

// webpSize reads a WebP's canvas size from its first chunk (the standard
// library has no WebP decoder): VP8X carries the canvas, VP8L and VP8 the
// bitstream's frame size.
func webpSize(b []byte) (int, int, error) {
	damaged := problem.Field("image", "the image is damaged: the WebP header is incomplete")
	if len(b) < 30 {
		return 0, 0, damaged
	}
	u24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	switch string(b[12:16]) {
	case "VP8X":
		return u24(b[24:27]) + 1, u24(b[27:30]) + 1, nil
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, damaged
		}
		v := binary.LittleEndian.Uint32(b[21:25])
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, nil
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, damaged
		}
		return int(binary.LittleEndian.Uint16(b[26:28]) & 0x3fff), int(binary.LittleEndian.Uint16(b[28:30]) & 0x3fff), nil
	}
	return 0, 0, damaged
}
