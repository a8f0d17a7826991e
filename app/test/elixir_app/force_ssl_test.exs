defmodule ElixirApp.ForceSSLTest do
  # FORCE_SSL=true behaves as a Phoenix endpoint with
  # force_ssl: [rewrite_on: [:x_forwarded_proto], exclude: [paths: ["/health"], hosts: [...]]]
  # behind the load balancer: what users reach is redirected to HTTPS, the health check is not.
  use ExUnit.Case, async: true

  import ElixirApp.Test.HTTPClient

  alias ElixirApp.ForceSSL
  alias ElixirApp.HTTP.Server

  @host "app.example.com"

  defp request(method, path, headers, query \\ "") do
    %{method: method, path: path, query: query, headers: headers, body: ""}
  end

  describe "check/3" do
    test "off: every request passes" do
      assert ForceSSL.check(request("GET", "/", [{"x-forwarded-proto", "http"}]), false, @host) ==
               :pass
    end

    test "plain HTTP through the load balancer is redirected to the public host, query kept" do
      plain =
        request(
          "GET",
          "/a/b",
          [{"host", "lb-1.elb.amazonaws.com"}, {"x-forwarded-proto", "http"}],
          "q=1&r=2"
        )

      assert ForceSSL.check(plain, true, @host) ==
               {:redirect, 301, "https://app.example.com/a/b?q=1&r=2"}
    end

    test "a redirected POST keeps its method (307)" do
      post = request("POST", "/form", [{"host", @host}, {"x-forwarded-proto", "http"}])
      assert ForceSSL.check(post, true, @host) == {:redirect, 307, "https://app.example.com/form"}
    end

    test "HTTPS through the load balancer passes with HSTS" do
      secure = request("GET", "/", [{"host", @host}, {"x-forwarded-proto", "https"}])

      assert {:pass, [{"strict-transport-security", "max-age=" <> _}]} =
               ForceSSL.check(secure, true, @host)
    end

    test "the ALB health check (task IP as host, no x-forwarded-proto) passes on the health path only" do
      check = request("GET", "/health", [{"host", "10.0.12.34:4000"}])
      assert ForceSSL.check(check, true, @host) == :pass
      other = request("GET", "/", [{"host", "10.0.12.34:4000"}])
      assert ForceSSL.check(other, true, @host) == {:redirect, 301, "https://app.example.com/"}
    end

    test "requests to localhost pass (the local Docker health check, a shell in the container)" do
      for host <- ["localhost", "localhost:4000", "127.0.0.1:4000"] do
        assert ForceSSL.check(request("GET", "/", [{"host", host}]), true, @host) == :pass
      end
    end

    test "an unknown x-forwarded-proto leaves the scheme plain HTTP, as Plug.RewriteOn does" do
      odd = request("GET", "/", [{"host", @host}, {"x-forwarded-proto", "wss"}])
      assert {:redirect, 301, _} = ForceSSL.check(odd, true, @host)
    end
  end

  describe "a server with force_ssl on" do
    setup do
      spec =
        {Server,
         name: :force_ssl_test_server,
         port: 0,
         drain_ms: 1_000,
         handler: {ElixirApp.Router, %{host: @host, debug_routes: false, force_ssl: true}}}

      start_supervised!(spec)
      %{port: Server.port(:force_ssl_test_server)}
    end

    test "redirects plain HTTP, serves HTTPS with HSTS and the health check as is", %{port: port} do
      send_get = fn path, headers ->
        lines = Enum.map_join(headers, "", fn {k, v} -> "#{k}: #{v}\r\n" end)
        raw(port, "GET #{path} HTTP/1.1\r\n#{lines}connection: close\r\n\r\n")
      end

      {301, headers, ""} =
        send_get.("/metrics?x=1", [{"host", @host}, {"x-forwarded-proto", "http"}])

      assert {"location", "https://app.example.com/metrics?x=1"} in headers

      {200, headers, _} = send_get.("/", [{"host", @host}, {"x-forwarded-proto", "https"}])
      assert {"strict-transport-security", "max-age=31536000"} in headers

      {200, headers, ~s({"status":"ok"})} = send_get.("/health", [{"host", "10.0.12.34:4000"}])
      refute List.keymember?(headers, "strict-transport-security", 0)
    end
  end
end
