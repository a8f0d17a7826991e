defmodule ElixirApp.Database.RoutesTest do
  # The test configuration has no database (config/runtime.exs reads DATABASE_URL outside
  # the test environment only); tests/test_app_database.py covers the app with a real one.
  use ExUnit.Case, async: true

  import ElixirApp.Test.HTTPClient

  defp request(method, path) do
    raw(
      port(),
      "#{method} #{path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
  end

  test "without a database /ready answers 200: the app is ready, it needs none" do
    assert {200, headers, ~s({"status":"ready","database":"disabled"})} = get("/ready")
    assert {"content-type", "application/json"} in headers
  end

  test "without a database /visits answers 503 saying so, for reads and writes" do
    for method <- ["GET", "POST"] do
      assert {503, _, ~s({"error":"no database configured"})} = request(method, "/visits")
    end
  end

  test "/health stays a plain 200, whatever the database" do
    assert {200, _, ~s({"status":"ok"})} = get("/health")
  end

  test "other methods get a 405 naming the allowed ones" do
    assert {405, headers, _} = request("DELETE", "/visits")
    assert {"allow", "GET, HEAD, POST"} in headers
    assert {405, headers, _} = request("POST", "/ready")
    assert {"allow", "GET, HEAD"} in headers
  end

  test "without a database /metrics has no database series" do
    {200, _, body} = get("/metrics")
    refute body =~ "database_"
  end
end
