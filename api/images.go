package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/invitegate/gateway/core/event"
	"github.com/invitegate/gateway/core/problem"
)

// multipartSlack is what a multipart body may carry beyond the image itself
// (boundaries, part headers, a small text field or two).
const multipartSlack = 64 << 10

var errImageTooLarge = problem.Field("image", fmt.Sprintf("the image is larger than 2 MB; upload at most 2 MB (%s recommended)", event.ImageHint))

// uploadImage stores a speaker image: the multipart field "image" (a form's
// file input) or the raw body sent with an image content type. What the
// image is comes from its bytes, never from its name or declared type.
func (s *Server) uploadImage(c *gin.Context) {
	b, err := readImage(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	img, err := s.cfg.Events.SaveImage(c.Request.Context(), who(c).eventCaller(), b)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"ref": img.Ref, "url": event.ImageURL(img.Ref), "content_type": img.ContentType,
		"width": img.Width, "height": img.Height})
}

func readImage(c *gin.Context) ([]byte, error) {
	ct := c.GetHeader("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, problem.Field("image", "send the image as the multipart/form-data field \"image\", or as the request body with its image content type (e.g. image/png)")
	}
	if mt == "multipart/form-data" {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, event.MaxImageBytes+multipartSlack)
		mr, err := c.Request.MultipartReader()
		if err != nil {
			return nil, problem.Field("image", "the multipart body cannot be read: "+err.Error())
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, problem.Field("image", `the form has no "image" field: send the file in a field named "image"`)
			}
			if err != nil {
				return nil, bodyError(err)
			}
			if part.FormName() != "image" {
				part.Close()
				continue
			}
			return readLimited(part)
		}
	}
	if !strings.HasPrefix(mt, "image/") {
		return nil, problem.Field("image", fmt.Sprintf("content type %s is not an image: send the image as multipart/form-data field \"image\", or as the body with an image content type", mt))
	}
	return readLimited(c.Request.Body)
}

// readLimited reads at most MaxImageBytes, refusing anything longer without
// reading it all.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, event.MaxImageBytes+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if len(b) > event.MaxImageBytes {
		return nil, errImageTooLarge
	}
	return b, nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errImageTooLarge
	}
	return problem.Field("image", "the upload was cut off or malformed: "+err.Error())
}

// mediaImage serves an uploaded image to anyone (the event site shows
// speakers publicly). A ref names one immutable upload, so it may be cached
// for good; nosniff and the stored type keep a browser from reading it as
// anything but the image it was checked to be.
func (s *Server) mediaImage(c *gin.Context) {
	img, err := event.LoadImage(c.Request.Context(), s.cfg.DB, c.Param("ref"))
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+img.Ref+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Disposition", "inline")
	if c.GetHeader("If-None-Match") == `"`+img.Ref+`"` {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, img.ContentType, img.Data)
}
