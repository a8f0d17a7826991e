# Read at boot, in releases too (the release's config provider evaluates this file).
# The infrastructure sets PORT, PHX_HOST, SECRET_KEY_BASE and RELEASE_COOKIE.
import Config

# Fail fast with a readable message. Raising here is not enough: the boot failure halts the
# VM without flushing stderr, so the exception's text is often lost and operators see only
# an "init terminating in do_boot" term. halt/1 flushes output before exiting with status 1.
fail = fn message ->
  IO.puts(:stderr, "ERROR: " <> message)
  System.halt(1)
end

parse_positive_integer = fn name, value, max ->
  case Integer.parse(value) do
    {int, ""} when int >= 1 and int <= max ->
      int

    _ ->
      fail.(
        "environment variable #{name} must be an integer between 1 and #{max}, got: #{inspect(value)}"
      )
  end
end

if config_env() != :test do
  if port = System.get_env("PORT") do
    config :elixir_app, port: parse_positive_integer.("PORT", port, 65_535)
  end

  if drain = System.get_env("SHUTDOWN_DRAIN_MS") do
    config :elixir_app,
      shutdown_drain_ms: parse_positive_integer.("SHUTDOWN_DRAIN_MS", drain, 600_000)
  end

  if host = System.get_env("PHX_HOST") do
    config :elixir_app, host: host
  end

  if address = System.get_env("BIND_ADDRESS") do
    case :inet.parse_ipv4strict_address(String.to_charlist(address)) do
      {:ok, ip} ->
        config :elixir_app, bind_address: ip

      {:error, _} ->
        fail.(
          "environment variable BIND_ADDRESS must be an IPv4 address, got: #{inspect(address)}"
        )
    end
  end

  # Clustering, read as Phoenix's generated runtime.exs does; empty = no discovery.
  config :elixir_app, dns_cluster_query: System.get_env("DNS_CLUSTER_QUERY")

  if interval = System.get_env("DNS_CLUSTER_INTERVAL_MS") do
    config :elixir_app,
      dns_cluster_interval_ms:
        parse_positive_integer.("DNS_CLUSTER_INTERVAL_MS", interval, 3_600_000)
  end

  case System.get_env("FORCE_SSL") do
    nil -> :ok
    "" -> :ok
    "true" -> config :elixir_app, force_ssl: true
    "false" -> config :elixir_app, force_ssl: false
    other -> fail.("environment variable FORCE_SSL must be true or false, got: #{inspect(other)}")
  end

  # Test-only route used to prove graceful draining against the real release.
  if System.get_env("ELIXIR_APP_DEBUG_ROUTES") == "true" do
    config :elixir_app, debug_routes: true
  end
end

if config_env() == :prod do
  secret_key_base =
    System.get_env("SECRET_KEY_BASE") ||
      fail.("""
      environment variable SECRET_KEY_BASE is missing.
      Generate one with `mix phx.gen.secret` or `openssl rand -base64 48` (at least 64 bytes).\
      """)

  if byte_size(secret_key_base) < 64 do
    fail.(
      "environment variable SECRET_KEY_BASE must be at least 64 bytes long, " <>
        "got #{byte_size(secret_key_base)} bytes"
    )
  end

  # The release script (bin/elixir_app) hands RELEASE_COOKIE to the VM itself; without it the
  # build-time random cookie in releases/COOKIE is used and nodes from different builds
  # cannot connect to each other.
  if System.get_env("RELEASE_DISTRIBUTION", "name") != "none" and
       System.get_env("RELEASE_COOKIE") in [nil, ""] do
    IO.warn("RELEASE_COOKIE is not set: this node uses the build-time cookie", [])
  end

  config :elixir_app, secret_key_base: secret_key_base
else
  config :elixir_app, secret_key_base: String.duplicate("insecure-dev-and-test-key-", 4)
end

# Optional PostgreSQL: DATABASE_URL, POOL_SIZE, ECTO_IPV6 (ElixirApp.Database.Config has the
# accepted forms). Absent or empty DATABASE_URL: the app runs without a database.
if config_env() != :test do
  case ElixirApp.Database.Config.from_env(System.get_env()) do
    {:ok, database} -> config :elixir_app, database: database
    {:error, message} -> fail.(message)
  end
end
