defmodule ElixirApp.Router do
  @moduledoc """
  Routes of the sample app. Each response carries a route label for metrics: the route's
  own path for known routes, `"other"` for everything else, so label cardinality stays
  bounded whatever paths clients send.
  """

  @json [{"content-type", "application/json"}, {"cache-control", "no-store"}]
  @max_sleep_ms 60_000

  # /ready and /visits: see ElixirApp.Database.Routes.
  @database_paths ElixirApp.Database.Routes.paths()

  @spec call(map(), map()) :: {String.t(), pos_integer(), [{String.t(), iodata()}], iodata()}
  def call(request, options) do
    # First, as Plug.SSL is the first plug of a Phoenix endpoint with force_ssl.
    case ElixirApp.ForceSSL.check(request, Map.get(options, :force_ssl, false), options.host) do
      :pass ->
        dispatch(request, options)

      {:pass, extra_headers} ->
        {route, status, headers, body} = dispatch(request, options)
        {route, status, extra_headers ++ headers, body}

      {:redirect, status, location} ->
        {route(request.path, options), status, [{"location", location}], ""}
    end
  end

  defp dispatch(%{path: path} = request, options) when path in @database_paths,
    do: ElixirApp.Database.Routes.call(request, options)

  defp dispatch(%{method: method, path: path} = request, options) do
    route = route(path, options)

    cond do
      route == "other" -> {route, 404, @json, ~s({"error":"not found"})}
      method in ["GET", "HEAD"] -> respond(route, request, options)
      true -> {route, 405, [{"allow", "GET, HEAD"} | @json], ~s({"error":"method not allowed"})}
    end
  end

  defp route(path, options) do
    case path do
      path when path in ["/", "/health", "/metrics", "/cluster"] -> path
      "/debug/sleep" when options.debug_routes -> path
      _ -> "other"
    end
  end

  defp respond("/", request, options) do
    if request.method == "GET", do: ElixirApp.ClusterVisits.increment()
    host = options.host |> to_string() |> html_escape()

    body = """
    <!DOCTYPE html>
    <html lang="en">
    <head><meta charset="utf-8"><title>elixir_app</title></head>
    <body>
    <h1>elixir_app is running</h1>
    <p>Served from #{host}. Health: <a href="/health">/health</a>.
    Prometheus metrics: <a href="/metrics">/metrics</a>.</p>
    </body>
    </html>
    """

    {"/", 200, [{"content-type", "text/html; charset=utf-8"}], body}
  end

  defp respond("/health", _request, _options) do
    {"/health", 200, @json, ~s({"status":"ok"})}
  end

  defp respond("/metrics", _request, _options) do
    {"/metrics", 200, [{"content-type", ElixirApp.Metrics.content_type()}],
     ElixirApp.Metrics.render()}
  end

  # This node, its peers and every node's visit count, gathered over distribution.
  defp respond("/cluster", _request, _options) do
    {"/cluster", 200, @json,
     ElixirApp.ClusterVisits.cluster_state() |> ElixirApp.ClusterVisits.to_json()}
  end

  # Test-only (see config :debug_routes): a request that stays in flight for `ms`
  # milliseconds, to prove that shutdown lets it finish.
  defp respond("/debug/sleep", %{query: query}, _options) do
    ms =
      case Integer.parse(Map.get(URI.decode_query(query), "ms", "0")) do
        {ms, ""} when ms >= 0 -> min(ms, @max_sleep_ms)
        _ -> 0
      end

    Process.sleep(ms)
    {"/debug/sleep", 200, @json, ~s({"slept_ms":#{ms}})}
  end

  defp html_escape(text) do
    for <<char <- text>>, into: "" do
      case char do
        ?< -> "&lt;"
        ?> -> "&gt;"
        ?& -> "&amp;"
        ?" -> "&quot;"
        ?' -> "&#39;"
        char -> <<char>>
      end
    end
  end
end
