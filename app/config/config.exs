# Compile-time configuration. Everything that varies per environment at run time (port, host,
# secrets, drain bound) is read from environment variables in config/runtime.exs.
import Config

config :elixir_app,
  port: 4000,
  # Address the HTTP server listens on (BIND_ADDRESS); all IPv4 interfaces by default.
  bind_address: {0, 0, 0, 0},
  host: "localhost",
  # How long a SIGTERM'd node waits for in-flight requests before closing the remaining
  # connections. Below ECS's default stopTimeout (30 s) so the node exits 0 on its own.
  shutdown_drain_ms: 15_000,
  # /debug/sleep?ms=N exists only where this is true (tests); never in a default release.
  debug_routes: false,
  # FORCE_SSL=true: plain-HTTP requests from the load balancer are redirected to https://host
  # (ElixirApp.ForceSSL, what a Phoenix app's force_ssl does); off by default.
  force_ssl: false,
  # DNS discovery of the other nodes (DNS_CLUSTER_QUERY); nil = no clustering.
  dns_cluster_query: nil,
  dns_cluster_interval_ms: 5_000

config :logger, :console, format: "$time $metadata[$level] $message\n"

import_config "#{config_env()}.exs"
