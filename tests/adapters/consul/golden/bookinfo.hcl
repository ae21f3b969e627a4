# meshspec compile --target consul --format hcl --allow-lossy all examples/bookinfo/mesh.yaml
# info MS4004 at None: 
# warning MS4022 at examples/bookinfo/mesh.yaml:31:5: spec.mtls.mode
# warning MS4023 at examples/bookinfo/mesh.yaml:32:3: spec.authorization
# warning MS4011 at examples/bookinfo/mesh.yaml:85:11: spec.routes[0].matches[0].headers
# warning MS4013 at examples/bookinfo/mesh.yaml:135:9: spec.routes[0].retries.perTryTimeout
# --- 01-mesh-mesh.hcl
Kind = "mesh"
AllowEnablingPermissiveMutualTLS = true
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
# --- 03-service-defaults-details.hcl
Kind = "service-defaults"
Name = "details"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
  Overrides = [
    {
      Name = "reviews"
      PassiveHealthCheck = {
        Interval = "10s"
        BaseEjectionTime = "30s"
        MaxEjectionPercent = 50
        MaxFailures = 5
        EnforcingConsecutive5xx = 100
      }
    },
  ]
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/details"
}
# --- 04-service-defaults-productpage.hcl
Kind = "service-defaults"
Name = "productpage"
Protocol = "http"
MutualTLSMode = "permissive"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
  Overrides = [
    {
      Name = "reviews"
      PassiveHealthCheck = {
        Interval = "10s"
        BaseEjectionTime = "30s"
        MaxEjectionPercent = 50
        MaxFailures = 5
        EnforcingConsecutive5xx = 100
      }
    },
  ]
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/productpage"
}
# --- 05-service-defaults-ratings.hcl
Kind = "service-defaults"
Name = "ratings"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
  Overrides = [
    {
      Name = "reviews"
      PassiveHealthCheck = {
        Interval = "10s"
        BaseEjectionTime = "30s"
        MaxEjectionPercent = 50
        MaxFailures = 5
        EnforcingConsecutive5xx = 100
      }
    },
  ]
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/ratings"
}
# --- 06-service-defaults-reviews.hcl
Kind = "service-defaults"
Name = "reviews"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
  Overrides = [
    {
      Name = "reviews"
      PassiveHealthCheck = {
        Interval = "10s"
        BaseEjectionTime = "30s"
        MaxEjectionPercent = 50
        MaxFailures = 5
        EnforcingConsecutive5xx = 100
      }
    },
  ]
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/reviews"
}
# --- 07-service-defaults-reviews--canary.hcl
Kind = "service-defaults"
Name = "reviews--canary"
Protocol = "http"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/reviews"
}
# --- 08-service-resolver-details.hcl
Kind = "service-resolver"
Name = "details"
Subsets = {
  v1 = {
    Filter = "Service.Meta.version == \"v1\""
  }
  v2 = {
    Filter = "Service.Meta.version == \"v2\""
  }
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/details"
}
# --- 09-service-resolver-productpage.hcl
Kind = "service-resolver"
Name = "productpage"
Subsets = {
  v1 = {
    Filter = "Service.Meta.version == \"v1\""
  }
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/productpage"
}
# --- 10-service-resolver-ratings.hcl
Kind = "service-resolver"
Name = "ratings"
Subsets = {
  v1 = {
    Filter = "Service.Meta.version == \"v1\""
  }
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/ratings"
}
# --- 11-service-resolver-reviews.hcl
Kind = "service-resolver"
Name = "reviews"
Subsets = {
  v1 = {
    Filter = "Service.Meta.version == \"v1\""
  }
  v2 = {
    Filter = "Service.Meta.version == \"v2\""
  }
  v3 = {
    Filter = "Service.Meta.version == \"v3\""
  }
}
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/reviews"
}
# --- 12-service-splitter-reviews--canary.hcl
Kind = "service-splitter"
Name = "reviews--canary"
Splits = [
  {
    Weight = 50
    Service = "reviews"
    ServiceSubset = "v1"
  },
  {
    Weight = 50
    Service = "reviews"
    ServiceSubset = "v3"
  },
]
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/reviews"
}
# --- 13-service-router-details.hcl
Kind = "service-router"
Name = "details"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/details"
  "meshspec.io/names" = "0=all"
}
Routes = [
  {
    Destination = {
      Service = "details"
      ServiceSubset = "v1"
    }
  },
]
# --- 14-service-router-productpage.hcl
Kind = "service-router"
Name = "productpage"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/productpage"
  "meshspec.io/names" = "0=all"
}
Routes = [
  {
    Destination = {
      Service = "productpage"
      ServiceSubset = "v1"
    }
  },
]
# --- 15-service-router-ratings.hcl
Kind = "service-router"
Name = "ratings"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/ratings"
  "meshspec.io/names" = "0=all"
}
Routes = [
  {
    Destination = {
      Service = "ratings"
      ServiceSubset = "v1"
      RequestTimeout = "6s"
      NumRetries = 2
      RetryOn = [
        "connect-failure",
        "refused-stream",
        "reset",
        "gateway-error",
      ]
    }
  },
]
# --- 16-service-router-reviews.hcl
Kind = "service-router"
Name = "reviews"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/reviews"
  "meshspec.io/names" = "0=jason;1=canary"
}
Routes = [
  {
    Match = {
      HTTP = {
        Header = [
          {
            Name = "end-user"
            Exact = "jason"
          },
        ]
      }
    }
    Destination = {
      Service = "reviews"
      ServiceSubset = "v2"
    }
  },
  {
    Destination = {
      Service = "reviews--canary"
      RequestTimeout = "10s"
    }
  },
]
# --- 17-service-intentions-details.hcl
Kind = "service-intentions"
Name = "details"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/details"
  "meshspec.io/names" = "productpage#0=productpage-reads;productpage#1=;*="
}
Sources = [
  {
    Name = "productpage"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          Methods = [
            "GET",
          ]
        }
      },
      {
        Action = "deny"
        HTTP = {
          PathPrefix = "/"
        }
      },
    ]
  },
  {
    Name = "*"
    Action = "deny"
  },
]
# --- 18-service-intentions-productpage.hcl
Kind = "service-intentions"
Name = "productpage"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/productpage"
  "meshspec.io/names" = "*#0=allow-get;*#1="
}
Sources = [
  {
    Name = "*"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          Methods = [
            "GET",
          ]
        }
      },
      {
        Action = "deny"
        HTTP = {
          PathPrefix = "/"
        }
      },
    ]
  },
]
# --- 19-service-intentions-ratings.hcl
Kind = "service-intentions"
Name = "ratings"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/ratings"
  "meshspec.io/names" = "reviews#0=reviews-reads;reviews#1=;*="
}
Sources = [
  {
    Name = "reviews"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          Methods = [
            "GET",
          ]
        }
      },
      {
        Action = "deny"
        HTTP = {
          PathPrefix = "/"
        }
      },
    ]
  },
  {
    Name = "*"
    Action = "deny"
  },
]
# --- 20-service-intentions-reviews.hcl
Kind = "service-intentions"
Name = "reviews"
Meta = {
  "meshspec.io/source" = "examples/bookinfo/mesh.yaml#default/reviews"
  "meshspec.io/names" = "productpage#0=productpage-reads;productpage#1=;*="
}
Sources = [
  {
    Name = "productpage"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          Methods = [
            "GET",
          ]
        }
      },
      {
        Action = "deny"
        HTTP = {
          PathPrefix = "/"
        }
      },
    ]
  },
  {
    Name = "*"
    Action = "deny"
  },
]
