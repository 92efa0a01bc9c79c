package api

import "github.com/gin-gonic/gin"

// eventSiteRoutes serves the event site an attendee uses: /e/{slug}.
func (s *Server) eventSiteRoutes(e *gin.Engine) {}
