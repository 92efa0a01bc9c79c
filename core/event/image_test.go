package event_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/invitegate/gateway/core/account"
	"github.com/invitegate/gateway/core/audit"
	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/schema"
	"github.com/invitegate/gateway/core/store"
	"github.com/invitegate/gateway/core/store/storetest"
)

func encodeImage(t *testing.T, w, h int, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		img.Set(x, x%h, color.RGBA{200, uint8(x), 30, 255})
	}
	var b bytes.Buffer
	if err := enc(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pngOf(b *bytes.Buffer, i image.Image) error  { return png.Encode(b, i) }
func jpegOf(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) }

func TestImages(t *testing.T) {
	storetest.Each(t, schema.Models(), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		// testdata/python.webp is CPython's test image (Lib/test/test_email/data),
		// a real 16x16 VP8X WebP.
		webp, err := os.ReadFile("testdata/python.webp")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			b    []byte
			ct   string
			w, h int
		}{
			{"png", encodeImage(t, 30, 20, pngOf), "image/png", 30, 20},
			{"jpeg", encodeImage(t, 17, 9, jpegOf), "image/jpeg", 17, 9},
			{"webp", webp, "image/webp", 16, 16},
		} {
			img, err := f.svc.SaveImage(ctx, f.caller, tc.b)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if img.ContentType != tc.ct || img.Width != tc.w || img.Height != tc.h || img.Size != len(tc.b) || len(img.Ref) != 22 {
				t.Fatalf("%s: saved %+v", tc.name, img)
			}
			got, err := event.LoadImage(ctx, db, img.Ref)
			if err != nil || !bytes.Equal(got.Data, tc.b) || got.ContentType != tc.ct || got.AccountID != f.caller.AccountID {
				t.Fatalf("%s: loaded %v %v", tc.name, got, err)
			}
			var n int64
			db.R.Model(&audit.Entry{}).Where("action = ? AND target_id = ? AND account_id = ?", "image.uploaded", img.Ref, f.caller.AccountID).Count(&n)
			if n != 1 {
				t.Fatalf("%s: %d audit entries", tc.name, n)
			}
			if err := event.CheckImageRef(ctx, db, f.caller.AccountID, img.Ref); err != nil {
				t.Fatalf("%s: own image refused: %v", tc.name, err)
			}
		}

		good := encodeImage(t, 30, 20, pngOf)
		for _, tc := range []struct {
			name, want string
			b          []byte
		}{
			{"text named .png", "text/plain", []byte("hello, I am a text file\n")},
			{"truncated png", "damaged", good[:len(good)-20]},
			{"header only", "damaged", good[:40]},
			{"too wide", "pixels", encodeImage(t, event.MaxImageSide+1, 1, pngOf)},
			{"too large", "2 MB", append(append([]byte{}, good...), make([]byte, event.MaxImageBytes)...)},
			{"empty", "empty", nil},
		} {
			_, err := f.svc.SaveImage(ctx, f.caller, tc.b)
			if code(err) != "invalid" || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "image: ") {
				t.Errorf("%s: %v, want an invalid image naming %q", tc.name, err, tc.want)
			}
		}
		var stored, audited int64
		db.R.Model(&event.Image{}).Count(&stored)
		db.R.Model(&audit.Entry{}).Where("action = ?", "image.uploaded").Count(&audited)
		if stored != 3 || audited != 3 {
			t.Fatalf("refused uploads left %d images, %d audit entries (want 3, 3)", stored, audited)
		}

		// Another account's upload is not a ref this account may use.
		other, err := account.Create(ctx, db, "Other")
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := f.svc.SaveImage(ctx, event.Caller{AccountID: other.ID, Actor: audit.System}, good)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{theirs.Ref, "AAAAAAAAAAAAAAAAAAAAAA", "../../etc/passwd"} {
			if err := event.CheckImageRef(ctx, db, f.caller.AccountID, ref); code(err) != "invalid" || !strings.Contains(err.Error(), "image_ref") {
				t.Errorf("ref %q: %v", ref, err)
			}
		}
		if err := event.CheckImageRef(ctx, db, f.caller.AccountID, ""); err != nil {
			t.Errorf("no image refused: %v", err)
		}
		for _, ref := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "x", ""} {
			if _, err := event.LoadImage(ctx, db, ref); code(err) != "not_found" {
				t.Errorf("load %q: %v", ref, err)
			}
		}
	})
}
