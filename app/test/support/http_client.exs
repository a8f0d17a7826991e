defmodule ElixirApp.Test.HTTPClient do
  @moduledoc false
  # A raw TCP client, so tests control the exact bytes (malformed requests included).

  def port, do: ElixirApp.HTTP.Server.port(ElixirApp.HTTP.Server)

  def get(path, port \\ port()) do
    raw(port, "GET #{path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
  end

  @doc "Sends `bytes`, reads until the server closes, returns {status, headers, body}."
  def raw(port, bytes) do
    {:ok, socket} = :gen_tcp.connect(~c"127.0.0.1", port, [:binary, active: false], 2_000)
    :ok = :gen_tcp.send(socket, bytes)
    response = read_all(socket, [])
    parse(response)
  end

  def read_all(socket, acc) do
    case :gen_tcp.recv(socket, 0, 10_000) do
      {:ok, data} -> read_all(socket, [acc, data])
      {:error, :closed} -> IO.iodata_to_binary(acc)
    end
  end

  def parse(response) do
    [head, body] = :binary.split(response, "\r\n\r\n")
    ["HTTP/1.1 " <> status_line | header_lines] = String.split(head, "\r\n")
    {status, _} = Integer.parse(status_line)

    headers =
      for line <- header_lines do
        [name, value] = String.split(line, ": ", parts: 2)
        {name, value}
      end

    {status, headers, body}
  end
end
