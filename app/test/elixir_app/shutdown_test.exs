defmodule ElixirApp.ShutdownTest do
  # Stops a separate server instance the way init:stop() (SIGTERM) stops the application's.
  use ExUnit.Case, async: true
  # The cut-off test logs a drain timeout on purpose.
  @moduletag :capture_log

  import ElixirApp.Test.HTTPClient

  alias ElixirApp.HTTP.Server

  defp start_server(name, drain_ms) do
    spec =
      {Server,
       name: name,
       port: 0,
       drain_ms: drain_ms,
       handler: {ElixirApp.Router, %{host: "localhost", debug_routes: true}}}

    pid = start_supervised!(spec)
    {pid, Server.port(name)}
  end

  defp in_flight(port, path) do
    task = Task.async(fn -> get(path, port) end)
    # Give the server time to accept and start the request before shutting down.
    Process.sleep(200)
    task
  end

  test "shutdown stops accepting, lets the in-flight request finish, then returns" do
    {_pid, port} = start_server(:drain_test_server, 5_000)
    task = in_flight(port, "/debug/sleep?ms=800")

    {time_us, :ok} = :timer.tc(fn -> stop_supervised(Server) end)

    assert {200, _, ~s({"slept_ms":800})} = Task.await(task)
    assert time_us < 2_000_000
    assert {:error, :econnrefused} = :gen_tcp.connect(~c"127.0.0.1", port, [])
  end

  test "idle keep-alive connections do not hold shutdown up" do
    {_pid, port} = start_server(:idle_test_server, 5_000)
    {:ok, socket} = :gen_tcp.connect(~c"127.0.0.1", port, [:binary, active: false])
    :ok = :gen_tcp.send(socket, "GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    {:ok, _response} = :gen_tcp.recv(socket, 0, 2_000)

    {time_us, :ok} = :timer.tc(fn -> stop_supervised(Server) end)

    assert time_us < 1_000_000
    assert {:error, :closed} = :gen_tcp.recv(socket, 0, 1_000)
  end

  test "requests still running after the drain bound are cut off" do
    {_pid, port} = start_server(:cutoff_test_server, 300)
    {:ok, socket} = :gen_tcp.connect(~c"127.0.0.1", port, [:binary, active: false])
    :ok = :gen_tcp.send(socket, "GET /debug/sleep?ms=5000 HTTP/1.1\r\nhost: x\r\n\r\n")
    Process.sleep(200)

    {time_us, :ok} = :timer.tc(fn -> stop_supervised(Server) end)

    assert time_us < 1_500_000
    assert read_all(socket, []) == "", "the connection closes without a response"
  end
end
