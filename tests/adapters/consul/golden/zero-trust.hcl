# meshspec compile --target consul --format hcl --allow-lossy all examples/zero-trust/mesh.yaml
# warning MS4001 at None: 
# info MS4004 at None: 
# warning MS4037 at examples/zero-trust/mesh.yaml:29:13: spec.authorization.rules[0].from[0].identities
# warning MS4010 at examples/zero-trust/mesh.yaml:41:3: spec.routes
# info MS4015 at examples/zero-trust/mesh.yaml:41:3: spec.routes
# warning MS4018 at examples/zero-trust/mesh.yaml:41:3: spec.routes
# warning MS4034 at examples/zero-trust/mesh.yaml:90:13: spec.authorization.rules[0].from[0].namespaces
# warning MS4021 at examples/zero-trust/mesh.yaml:107:5: spec.mtls.ports
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
# --- 03-service-defaults-accounts.hcl
Kind = "service-defaults"
Name = "accounts"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
}
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#core/accounts"
}
# --- 04-service-defaults-ledger.hcl
Kind = "service-defaults"
Name = "ledger"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
}
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#core/ledger"
}
# --- 05-service-defaults-metrics-exporter.hcl
Kind = "service-defaults"
Name = "metrics-exporter"
Protocol = "http"
MutualTLSMode = "strict"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
}
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#core/metrics-exporter"
}
# --- 06-service-defaults-web.hcl
Kind = "service-defaults"
Name = "web"
Protocol = "http"
UpstreamConfig = {
  Defaults = {
    PassiveHealthCheck = {
      EnforcingConsecutive5xx = 0
    }
  }
}
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#edge/web"
}
# --- 07-service-router-accounts.hcl
Kind = "service-router"
Name = "accounts"
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#core/accounts"
  "meshspec.io/names" = "0=api;1=api"
}
Routes = [
  {
    Match = {
      HTTP = {
        PathExact = "/v1"
      }
    }
    Destination = {
      Service = "accounts"
    }
  },
  {
    Match = {
      HTTP = {
        PathPrefix = "/v1/"
      }
    }
    Destination = {
      Service = "accounts"
      PrefixRewrite = "/v1/"
    }
  },
]
# --- 08-service-intentions-accounts.hcl
Kind = "service-intentions"
Name = "accounts"
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#core/accounts"
  "meshspec.io/names" = "ledger#0=no-admin;ledger#1=no-admin;ledger#2=ledger-writes;ledger#3=ledger-writes;ledger#4=;web#0=no-admin;web#1=no-admin;web#2=web-reads;web#3=web-reads;web#4=;*#0=no-admin;*#1=no-admin;*#2="
}
Sources = [
  {
    Name = "ledger"
    Permissions = [
      {
        Action = "deny"
        HTTP = {
          PathExact = "/v1/admin"
        }
      },
      {
        Action = "deny"
        HTTP = {
          PathPrefix = "/v1/admin/"
        }
      },
      {
        Action = "allow"
        HTTP = {
          PathExact = "/v1/accounts"
          Methods = [
            "POST",
          ]
          Header = [
            {
              Name = "x-request-id"
              Present = true
            },
          ]
        }
      },
      {
        Action = "allow"
        HTTP = {
          PathPrefix = "/v1/accounts/"
          Methods = [
            "POST",
          ]
          Header = [
            {
              Name = "x-request-id"
              Present = true
            },
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
    Name = "web"
    Permissions = [
      {
        Action = "deny"
        HTTP = {
          PathExact = "/v1/admin"
        }
      },
      {
        Action = "deny"
        HTTP = {
          PathPrefix = "/v1/admin/"
        }
      },
      {
        Action = "allow"
        HTTP = {
          PathExact = "/v1/accounts"
          Methods = [
            "GET",
            "HEAD",
          ]
        }
      },
      {
        Action = "allow"
        HTTP = {
          PathPrefix = "/v1/accounts/"
          Methods = [
            "GET",
            "HEAD",
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
    Permissions = [
      {
        Action = "deny"
        HTTP = {
          PathExact = "/v1/admin"
        }
      },
      {
        Action = "deny"
        HTTP = {
          PathPrefix = "/v1/admin/"
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
# --- 09-service-intentions-ledger.hcl
Kind = "service-intentions"
Name = "ledger"
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#core/ledger"
  "meshspec.io/names" = "accounts#0=core-namespace;accounts#1=;ledger#0=core-namespace;ledger#1=;metrics-exporter#0=core-namespace;metrics-exporter#1=;*="
}
Sources = [
  {
    Name = "accounts"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          PathExact = "/entries"
          Methods = [
            "POST",
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
    Name = "ledger"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          PathExact = "/entries"
          Methods = [
            "POST",
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
    Name = "metrics-exporter"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          PathExact = "/entries"
          Methods = [
            "POST",
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
# --- 10-service-intentions-metrics-exporter.hcl
Kind = "service-intentions"
Name = "metrics-exporter"
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#core/metrics-exporter"
  "meshspec.io/names" = "*#0=scrape;*#1="
}
Sources = [
  {
    Name = "*"
    Permissions = [
      {
        Action = "allow"
        HTTP = {
          PathExact = "/metrics"
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
# --- 11-service-intentions-web.hcl
Kind = "service-intentions"
Name = "web"
Meta = {
  "meshspec.io/source" = "examples/zero-trust/mesh.yaml#edge/web"
  "meshspec.io/names" = "*="
}
Sources = [
  {
    Name = "*"
    Action = "deny"
  },
]
