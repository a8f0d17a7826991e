defmodule ElixirApp.HTTP.Acceptor do
  @moduledoc false
  # Owns the listening socket and hands each accepted socket to a new process under the
  # connection supervisor. It does not trap exits: on shutdown it dies at once and the
  # listening socket closes with it.

  require Logger

  @listen_options [
    :binary,
    # Erlang's built-in HTTP parser (`decode_packet/3`) reads request lines and headers.
    packet: :http_bin,
    active: false,
    reuseaddr: true,
    nodelay: true,
    backlog: 1024,
    # Bounds the request line and each header line; longer ones are rejected with 400.
    packet_size: 16_384
  ]

  def child_spec(opts) do
    %{id: __MODULE__, start: {__MODULE__, :start_link, [opts]}, restart: :permanent}
  end

  def start_link(opts), do: :proc_lib.start_link(__MODULE__, :init, [opts])

  @spec port(atom()) :: :inet.port_number()
  def port(name), do: :persistent_term.get({__MODULE__, name})

  def init(opts) do
    name = Keyword.fetch!(opts, :name)
    requested_port = Keyword.fetch!(opts, :port)

    case :gen_tcp.listen(requested_port, [{:ip, Keyword.fetch!(opts, :ip)} | @listen_options]) do
      {:ok, listen_socket} ->
        {:ok, port} = :inet.port(listen_socket)
        :persistent_term.put({__MODULE__, name}, port)
        :proc_lib.init_ack({:ok, self()})
        accept_loop(listen_socket, Keyword.fetch!(opts, :connections), opts[:connection])

      {:error, reason} ->
        message = "cannot listen on port #{requested_port}: #{:inet.format_error(reason)}"
        Logger.error(message)
        :proc_lib.init_ack({:error, message})
    end
  end

  defp accept_loop(listen_socket, connections, {module, handler}) do
    case :gen_tcp.accept(listen_socket) do
      {:ok, socket} ->
        start_connection(socket, connections, module, handler)
        accept_loop(listen_socket, connections, {module, handler})

      {:error, :closed} ->
        exit(:normal)

      {:error, reason} ->
        # e.g. :emfile under load: back off briefly rather than crash-looping the listener.
        Logger.warning("accept failed: #{inspect(reason)}")
        Process.sleep(50)
        accept_loop(listen_socket, connections, {module, handler})
    end
  end

  defp start_connection(socket, connections, module, handler) do
    with {:ok, pid} <-
           Task.Supervisor.start_child(connections, module, :serve, [handler],
             shutdown: :brutal_kill
           ),
         :ok <- :gen_tcp.controlling_process(socket, pid) do
      send(pid, {:socket, socket})
    else
      _ -> :gen_tcp.close(socket)
    end
  end
end
