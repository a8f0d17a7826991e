import Config

# Port 0: the OS picks a free port so `mix test` never collides with a running dev server.
config :elixir_app,
  port: 0,
  shutdown_drain_ms: 2_000,
  debug_routes: true

config :logger, level: :warning
