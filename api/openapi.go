package api

import (
	_ "embed"

	"github.com/gin-gonic/gin"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(200, "application/json", openapiDoc)
}
