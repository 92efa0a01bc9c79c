//go:build bench

package bulk_test

import (
	"gorm.io/gorm"
)

type gormDB = gorm.DB
