defmodule ElixirApp.ForceSSL do
  @moduledoc """
  HTTPS only, the way a Phoenix app does it behind the load balancer (FORCE_SSL=true).

  Phoenix apps set `force_ssl` in `config/prod.exs`, which puts `Plug.SSL` in front of the
  endpoint. This hand-written server has no Plug, so this module makes the same decision
  `Plug.SSL` makes with the options docs/your-app.md recommends:

      force_ssl: [
        rewrite_on: [:x_forwarded_proto],
        exclude: [paths: ["/health"], hosts: ["localhost", "127.0.0.1"]]
      ]

  - The scheme is the `x-forwarded-proto` header when it says `http` or `https` (the load
    balancer terminates TLS and always sends it); without it, the connection's own, plain HTTP.
  - Excluded requests pass untouched: the health path (the load balancer's health check sends
    no `x-forwarded-proto` and addresses the task by its IP, so without this exclusion it
    would get a redirect and the task would never become healthy) and requests addressed to
    localhost (the local Docker health check, a shell in the container).
  - HTTPS requests pass with an HSTS header.
  - Anything else is redirected to `https://<PHX_HOST><path>?<query>`: 301 for GET and HEAD,
    307 otherwise (so the method and body are kept).
  """

  @excluded_paths ["/health"]
  @excluded_hosts ["localhost", "127.0.0.1"]
  @hsts {"strict-transport-security", "max-age=31536000"}

  @type decision ::
          :pass
          | {:pass, [{String.t(), String.t()}]}
          | {:redirect, 301 | 307, String.t()}

  @doc "What to do with `request` (the router's request map); `host` is PHX_HOST."
  @spec check(map(), boolean(), String.t()) :: decision()
  def check(_request, false, _host), do: :pass

  def check(request, true, host) do
    cond do
      excluded?(request) -> :pass
      scheme(request) == "https" -> {:pass, [@hsts]}
      true -> {:redirect, redirect_status(request.method), location(request, host)}
    end
  end

  @doc "The paths never redirected (the health check's)."
  def excluded_paths, do: @excluded_paths

  defp excluded?(request) do
    request.path in @excluded_paths or request_host(request.headers) in @excluded_hosts
  end

  # Like Plug.RewriteOn: only "http" and "https" change the scheme.
  defp scheme(%{headers: headers}) do
    case List.keyfind(headers, "x-forwarded-proto", 0) do
      {_, proto} when proto in ["http", "https"] -> proto
      _ -> "http"
    end
  end

  # The Host header without its port ("10.0.1.7:4000" -> "10.0.1.7", "[::1]:4000" -> "[::1]").
  defp request_host(headers) do
    case List.keyfind(headers, "host", 0) do
      {_, "[" <> _ = value} -> value |> String.split("]", parts: 2) |> hd() |> Kernel.<>("]")
      {_, value} -> value |> String.split(":", parts: 2) |> hd() |> String.downcase()
      nil -> ""
    end
  end

  defp redirect_status(method) when method in ["GET", "HEAD"], do: 301
  defp redirect_status(_method), do: 307

  defp location(%{path: path, query: query}, host) do
    "https://" <> host <> path <> if(query == "", do: "", else: "?" <> query)
  end
end
