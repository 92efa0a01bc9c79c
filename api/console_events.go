package api

import "github.com/gin-gonic/gin"

// consoleEventRoutes serves the console's event pages.
func (s *Server) consoleEventRoutes(con *gin.RouterGroup) {}
