defmodule ElixirApp.EndpointsTest do
  # Talks to the server the application started (config/test.exs: port 0, debug routes on).
  use ExUnit.Case, async: true

  import ElixirApp.Test.HTTPClient

  test "GET / answers a short HTML page" do
    {200, headers, body} = get("/")
    assert {"content-type", "text/html; charset=utf-8"} in headers
    assert body =~ "elixir_app is running"
  end

  test "GET /health answers 200 with a JSON status" do
    assert {200, headers, ~s({"status":"ok"})} = get("/health")
    assert {"content-type", "application/json"} in headers
  end

  test "HEAD /health sends the headers without the body" do
    {200, headers, ""} =
      raw(port(), "HEAD /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")

    assert {"content-length", "15"} in headers
  end

  test "an unknown path is a 404" do
    assert {404, _, _} = get("/no/such/page")
  end

  test "a known path with another method is a 405 naming the allowed ones" do
    {405, headers, _} =
      raw(
        port(),
        "POST /health HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi"
      )

    assert {"allow", "GET, HEAD"} in headers
  end

  test "malformed requests get a 400 and the server keeps serving" do
    assert {400, _, _} = raw(port(), "GARBAGE\r\n\r\n")
    assert {400, _, _} = raw(port(), "GET / HTTP/1.1\r\nno colon here\r\n\r\n")
    assert {400, _, _} = raw(port(), "GET / HTTP/1.1\r\ncontent-length: nope\r\n\r\n")
    assert {400, _, _} = raw(port(), "GET / HTTP/2.0\r\n\r\n")

    assert {200, _, _} = get("/health")
  end

  test "an overlong request line closes that connection only" do
    {:ok, socket} = :gen_tcp.connect(~c"127.0.0.1", port(), [:binary, active: false])
    :ok = :gen_tcp.send(socket, "GET /" <> String.duplicate("a", 20_000) <> " HTTP/1.1\r\n\r\n")
    assert read_all(socket, []) == ""
    assert {200, _, _} = get("/health")
  end

  test "keep-alive: pipelined requests on one connection are answered in order" do
    {:ok, socket} = :gen_tcp.connect(~c"127.0.0.1", port(), [:binary, active: false])

    :ok =
      :gen_tcp.send(
        socket,
        "GET /health HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
      )

    response = read_all(socket, [])
    assert [_, second] = String.split(response, ~s({"status":"ok"}), parts: 2)
    assert {200, _, body} = parse(second)
    assert body =~ "elixir_app is running"
  end

  test "a client closing mid-request does not disturb the listener" do
    {:ok, socket} = :gen_tcp.connect(~c"127.0.0.1", port(), [:binary, active: false])
    :ok = :gen_tcp.send(socket, "GET /health HTTP/1.1\r\nhost: x")
    :ok = :gen_tcp.close(socket)
    assert {200, _, _} = get("/health")
  end
end
