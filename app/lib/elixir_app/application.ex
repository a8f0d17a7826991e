defmodule ElixirApp.Application do
  @moduledoc false
  use Application

  require Logger

  @impl true
  def start(_type, _args) do
    port = Application.fetch_env!(:elixir_app, :port)
    drain_ms = Application.fetch_env!(:elixir_app, :shutdown_drain_ms)
    :ok = ElixirApp.ClusterVisits.init()

    children = [
      # Started first, stopped last: requests served while draining are still counted.
      ElixirApp.Metrics,
      # Does not wait for the database: the app serves /health while it is down.
      {ElixirApp.Database, Application.get_env(:elixir_app, :database)},
      # DNS discovery (like Phoenix's dns_cluster); nothing starts without DNS_CLUSTER_QUERY.
      {ElixirApp.Cluster,
       query: Application.get_env(:elixir_app, :dns_cluster_query),
       interval: Application.fetch_env!(:elixir_app, :dns_cluster_interval_ms)},
      # Started last: once it accepts connections, everything it depends on is up, so a
      # 200 on /health means "ready".
      {ElixirApp.HTTP.Server,
       name: ElixirApp.HTTP.Server,
       port: port,
       ip: Application.fetch_env!(:elixir_app, :bind_address),
       drain_ms: drain_ms,
       handler: {ElixirApp.Router, router_options()}}
    ]

    with {:ok, pid} <-
           Supervisor.start_link(children, strategy: :one_for_one, name: ElixirApp.Supervisor) do
      Logger.info(
        "elixir_app listening on port #{ElixirApp.HTTP.Server.port(ElixirApp.HTTP.Server)}"
      )

      {:ok, pid}
    end
  end

  defp router_options do
    %{
      host: Application.fetch_env!(:elixir_app, :host),
      debug_routes: Application.fetch_env!(:elixir_app, :debug_routes),
      force_ssl: Application.fetch_env!(:elixir_app, :force_ssl)
    }
  end
end
