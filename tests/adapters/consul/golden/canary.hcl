# meshspec compile --target consul --format hcl --allow-lossy all examples/canary/mesh.yaml
# warning MS4001 at None: 
# info MS4004 at None: 
# info MS4035 at None: 
# warning MS4003 at examples/canary/mesh.yaml:28:3: spec.ports
# warning MS4041 at examples/canary/mesh.yaml:34:3: spec.versions
# info MS4019 at examples/canary/mesh.yaml:36:7: spec.versions[0].labels
# info MS4019 at examples/canary/mesh.yaml:39:7: spec.versions[1].labels
# info MS4015 at examples/canary/mesh.yaml:48:3: spec.routes
# warning MS4018 at examples/canary/mesh.yaml:48:3: spec.routes
# warning MS4011 at examples/canary/mesh.yaml:51:11: spec.routes[0].matches[0].headers
# warning MS4013 at examples/canary/mesh.yaml:81:9: spec.routes[2].retries.perTryTimeout
# warning MS4042 at examples/canary/mesh.yaml:93:7: spec.resilience.connectionLimits.maxRequestsPerConnection
# --- 01-mesh-mesh.hcl
Kind = "mesh"
HTTP = {
  Incoming = {
    RequestNormalization = {
      InsecureDisablePathNormalization = false
      MergeSlashes = true
      PathWithEscapedSlashesAction = "REJECT_REQUEST"
    }
  }
}
# --- 02-proxy-defaults-global.hcl
Kind = "proxy-defaults"
Name = "global"
MutualTLSMode = "strict"
# --- 03-service-defaults-checkout.hcl
Kind = "service-defaults"
Name = "checkout"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
  Overrides = [
    {
      Name = "checkout"
      PassiveHealthCheck = {
        Interval = "10s"
        BaseEjectionTime = "30s"
        MaxEjectionPercent = 20
        MaxFailures = 5
        EnforcingConsecutive5xx = 100
      }
      Limits = {
        MaxConnections = 200
        MaxPendingRequests = 100
      }
    },
  ]
}
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/checkout"
}
# --- 04-service-defaults-checkout--default.hcl
Kind = "service-defaults"
Name = "checkout--default"
Protocol = "http"
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/checkout"
}
# --- 05-service-defaults-checkout--payments.hcl
Kind = "service-defaults"
Name = "checkout--payments"
Protocol = "http"
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/checkout"
}
# --- 06-service-defaults-frontend.hcl
Kind = "service-defaults"
Name = "frontend"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
  Overrides = [
    {
      Name = "checkout"
      PassiveHealthCheck = {
        Interval = "10s"
        BaseEjectionTime = "30s"
        MaxEjectionPercent = 20
        MaxFailures = 5
        EnforcingConsecutive5xx = 100
      }
      Limits = {
        MaxConnections = 200
        MaxPendingRequests = 100
      }
    },
  ]
}
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/frontend"
}
# --- 07-service-resolver-checkout.hcl
Kind = "service-resolver"
Name = "checkout"
Subsets = {
  v1 = {
    Filter = "Service.Meta.app_kubernetes_io_version == \"1.8.2\""
  }
  v2 = {
    Filter = "Service.Meta.app_kubernetes_io_version == \"2.0.0-rc.1\""
  }
}
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/checkout"
}
# --- 08-service-splitter-checkout--default.hcl
Kind = "service-splitter"
Name = "checkout--default"
Splits = [
  {
    Weight = 90
    Service = "checkout"
    ServiceSubset = "v1"
  },
  {
    Weight = 10
    Service = "checkout"
    ServiceSubset = "v2"
  },
]
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/checkout"
}
# --- 09-service-splitter-checkout--payments.hcl
Kind = "service-splitter"
Name = "checkout--payments"
Splits = [
  {
    Weight = 90
    Service = "checkout"
    ServiceSubset = "v1"
  },
  {
    Weight = 10
    Service = "checkout"
    ServiceSubset = "v2"
  },
]
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/checkout"
}
# --- 10-service-router-checkout.hcl
Kind = "service-router"
Name = "checkout"
Meta = {
  "meshspec.io/source" = "examples/canary/mesh.yaml#shop/checkout"
  "meshspec.io/names" = "0=payments;1=payments;2=testers;3=default"
}
Routes = [
  {
    Match = {
      HTTP = {
        PathExact = "/api/payments"
        Methods = [
          "POST",
        ]
      }
    }
    Destination = {
      Service = "checkout--payments"
      RequestTimeout = "10s"
      NumRetries = 1
      RetryOn = [
        "connect-failure",
        "refused-stream",
      ]
    }
  },
  {
    Match = {
      HTTP = {
        PathPrefix = "/api/payments/"
        Methods = [
          "POST",
        ]
      }
    }
    Destination = {
      Service = "checkout--payments"
      RequestTimeout = "10s"
      NumRetries = 1
      RetryOn = [
        "connect-failure",
        "refused-stream",
      ]
      PrefixRewrite = "/api/payments/"
    }
  },
  {
    Match = {
      HTTP = {
        Header = [
          {
            Name = "x-canary"
            Exact = "always"
          },
        ]
      }
    }
    Destination = {
      Service = "checkout"
      ServiceSubset = "v2"
      RequestTimeout = "5s"
    }
  },
  {
    Destination = {
      Service = "checkout--default"
      RequestTimeout = "3s"
      NumRetries = 3
      RetryOn = [
        "connect-failure",
        "refused-stream",
        "reset",
        "gateway-error",
      ]
      RetryOnStatusCodes = [
        503,
      ]
    }
  },
]
