package api

import "github.com/gin-gonic/gin"

// eventRoutes serves the events API: /api/v1/events and their attendees.
func (s *Server) eventRoutes(v1 *gin.RouterGroup) {}
