resource "aws_appmesh_mesh" "shop" {
  name = "shop"
  spec {
    egress_filter {
      type = "DROP_ALL"
    }
  }
}

resource "aws_appmesh_virtual_node" "cart_v1" {
  name      = "cart-v1"
  mesh_name = aws_appmesh_mesh.shop.id
  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
      tls {
        mode = "STRICT"
        certificate {
          sds {
            secret_name = "spiffe://shop/ns/shop/sa/cart"
          }
        }
        validation {
          trust {
            sds {
              secret_name = "spiffe://shop"
            }
          }
          subject_alternative_names {
            match {
              exact = ["spiffe://shop/ns/shop/sa/frontend"]
            }
          }
        }
      }
    }
    service_discovery {
      dns {
        hostname = "cart-v1.shop.svc.cluster.local"
      }
    }
  }
}

resource "aws_appmesh_virtual_node" "cart_v2" {
  name      = "cart-v2"
  mesh_name = aws_appmesh_mesh.shop.id
  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
      tls {
        mode = "STRICT"
        certificate {
          sds {
            secret_name = "spiffe://shop/ns/shop/sa/cart"
          }
        }
        validation {
          trust {
            sds {
              secret_name = "spiffe://shop"
            }
          }
          subject_alternative_names {
            match {
              exact = ["spiffe://shop/ns/shop/sa/frontend"]
            }
          }
        }
      }
      outlier_detection {
        max_server_errors = 5
        interval {
          unit  = "s"
          value = 10
        }
        base_ejection_duration {
          unit  = "s"
          value = 30
        }
        max_ejection_percent = 50
      }
    }
    service_discovery {
      dns {
        hostname = "cart-v2.shop.svc.cluster.local"
      }
    }
  }
}

resource "aws_appmesh_virtual_node" "frontend" {
  name      = "frontend"
  mesh_name = aws_appmesh_mesh.shop.id
  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http"
      }
    }
    backend {
      virtual_service {
        virtual_service_name = aws_appmesh_virtual_service.cart.name
        client_policy {
          tls {
            certificate {
              sds {
                secret_name = "spiffe://shop/ns/shop/sa/frontend"
              }
            }
            validation {
              trust {
                sds {
                  secret_name = "spiffe://shop"
                }
              }
            }
          }
        }
      }
    }
    service_discovery {
      dns {
        hostname = "frontend.shop.svc.cluster.local"
      }
    }
  }
}

resource "aws_appmesh_virtual_router" "cart" {
  name      = "cart-router"
  mesh_name = aws_appmesh_mesh.shop.id
  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }
  }
}

resource "aws_appmesh_route" "canary" {
  name                = "canary"
  mesh_name           = aws_appmesh_mesh.shop.id
  virtual_router_name = aws_appmesh_virtual_router.cart.name
  spec {
    priority = 0
    http_route {
      match {
        prefix = "/"
        header {
          name = "x-canary"
          match {
            exact = "yes"
          }
        }
      }
      action {
        weighted_target {
          virtual_node = aws_appmesh_virtual_node.cart_v2.name
          weight       = 100
        }
      }
    }
  }
}

resource "aws_appmesh_route" "api" {
  name                = "api"
  mesh_name           = aws_appmesh_mesh.shop.id
  virtual_router_name = aws_appmesh_virtual_router.cart.name
  spec {
    priority = 1
    http_route {
      match {
        prefix = "/api/"
      }
      action {
        weighted_target {
          virtual_node = "cart-v1"
          weight       = 90
        }
        weighted_target {
          virtual_node = "cart-v2"
          weight       = 10
        }
      }
      retry_policy {
        max_retries       = 3
        http_retry_events = ["server-error"]
        tcp_retry_events  = ["connection-error"]
        per_retry_timeout {
          unit  = "ms"
          value = 500
        }
      }
      timeout {
        per_request {
          unit  = "s"
          value = 5
        }
      }
    }
  }
}

resource "aws_appmesh_route" "default" {
  name                = "default"
  mesh_name           = aws_appmesh_mesh.shop.id
  virtual_router_name = aws_appmesh_virtual_router.cart.name
  spec {
    priority = 2
    http_route {
      match {
        prefix = "/"
      }
      action {
        weighted_target {
          virtual_node = "cart-v1"
          weight       = 1
        }
      }
    }
  }
}

resource "aws_appmesh_virtual_service" "cart" {
  name      = "cart.shop.svc.cluster.local"
  mesh_name = aws_appmesh_mesh.shop.id
  spec {
    provider {
      virtual_router {
        virtual_router_name = aws_appmesh_virtual_router.cart.name
      }
    }
  }
}

resource "aws_appmesh_virtual_node" "audit" {
  name      = "audit"
  mesh_name = aws_appmesh_mesh.shop.id
  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http"
      }
    }
    service_discovery {
      dns {
        hostname = "audit.shop.svc.cluster.local"
      }
    }
  }
}
