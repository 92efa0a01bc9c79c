package deps
import (
 _ "github.com/gin-gonic/gin"
 _ "gorm.io/gorm"
 _ "gorm.io/driver/sqlite"
 _ "gorm.io/driver/postgres"
 _ "github.com/spf13/cobra"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/go-jose/go-jose/v4"
 _ "github.com/chromedp/chromedp"
 _ "gopkg.in/yaml.v3"
 _ "golang.org/x/time/rate"
 _ "github.com/hashicorp/go-plugin"
 _ "google.golang.org/grpc"
 _ "google.golang.org/protobuf/proto"
 _ "github.com/robfig/cron/v3"
 _ "github.com/hashicorp/go-hclog"
)
