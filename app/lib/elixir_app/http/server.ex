defmodule ElixirApp.HTTP.Server do
  @moduledoc """
  A minimal HTTP/1.1 server on `:gen_tcp`: one acceptor, one process per connection.

  Supervision order (`:rest_for_one`) is what makes shutdown graceful. Children stop in
  reverse order, so on `init:stop()` (which OTP runs on SIGTERM):

    1. the acceptor exits and its listening socket closes: no new connections;
    2. the drainer asks every connection to close once its current response is written
       and waits up to `:drain_ms` for them to finish;
    3. the connection supervisor kills whatever is still running.

  Options: `:name` (required, prefix for the children's names), `:port` (0 = any free port),
  `:ip` (address to listen on, all IPv4 interfaces by default), `:drain_ms`, `:handler` (`{module, options}`, see `ElixirApp.HTTP.Connection`).
  """
  use Supervisor

  alias ElixirApp.HTTP.{Acceptor, Connection, Drainer}

  def start_link(opts) do
    name = Keyword.fetch!(opts, :name)
    Supervisor.start_link(__MODULE__, opts, name: name)
  end

  @doc "The TCP port the server named `name` listens on (useful with `port: 0`)."
  @spec port(atom()) :: :inet.port_number()
  def port(name), do: Acceptor.port(name)

  @impl true
  def init(opts) do
    name = Keyword.fetch!(opts, :name)
    drain_ms = Keyword.fetch!(opts, :drain_ms)
    connections = Module.concat(name, Connections)

    children = [
      {Task.Supervisor, name: connections},
      {Drainer, connections: connections, drain_ms: drain_ms},
      {Acceptor,
       name: name,
       port: Keyword.fetch!(opts, :port),
       ip: Keyword.get(opts, :ip, {0, 0, 0, 0}),
       connections: connections,
       connection: {Connection, Keyword.fetch!(opts, :handler)}}
    ]

    Supervisor.init(children, strategy: :rest_for_one)
  end
end
