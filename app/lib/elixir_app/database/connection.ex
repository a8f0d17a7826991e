defmodule ElixirApp.Database.Connection do
  @moduledoc """
  One connection of the pool (`ElixirApp.Database`): a process that owns a p1_pgsql
  connection, runs queries on it one at a time, and reconnects when it is lost.

  It never crashes because of the database: a connection that fails or is lost is marked
  down in the pool's table, and connecting is retried with exponential backoff (200 ms
  doubling to 5 s, with jitter) until the database answers again. The first failure and
  the recovery are logged, not every attempt.
  """
  use GenServer

  alias ElixirApp.Database.Driver

  require Logger

  @min_backoff_ms 200
  @max_backoff_ms 5_000
  @application_name "elixir_app"

  @doc false
  def start_link({secret_config, table, index}),
    do: GenServer.start_link(__MODULE__, {secret_config, table, index})

  @doc false
  def child_spec({_secret_config, _table, index} = arg),
    do: %{id: {__MODULE__, index}, start: {__MODULE__, :start_link, [arg]}}

  @doc """
  Runs `sql` on this connection. `{:error, :unavailable}` when it is not connected.
  """
  @spec query(pid(), iodata(), timeout()) ::
          {:ok, [Driver.result()]} | {:error, :unavailable | Driver.pg_error() | {:exit, term()}}
  def query(pid, sql, timeout) do
    # The connection enforces `timeout`; the margin covers the message round trip.
    GenServer.call(pid, {:query, sql, timeout}, timeout + 1_000)
  catch
    :exit, reason -> {:error, {:exit, reason}}
  end

  @impl true
  def init({secret_config, table, index}) do
    # The driver's connection is linked: its death arrives as a message.
    Process.flag(:trap_exit, true)
    :ets.insert(table, {index, self(), :down})

    # The configuration holds the password: it stays inside a function so that the state,
    # printed in crash reports and by :sys.get_state/1, never shows it.
    state = %{config: secret_config, table: table, index: index, conn: nil, failures: 0}
    {:ok, state, {:continue, :connect}}
  end

  @impl true
  def handle_continue(:connect, state), do: {:noreply, connect(state)}

  @impl true
  def handle_call({:query, _sql, _timeout}, _from, %{conn: nil} = state),
    do: {:reply, {:error, :unavailable}, state}

  def handle_call({:query, sql, timeout}, _from, state) do
    case Driver.squery(state.conn, sql, timeout) do
      {:error, {:exit, _reason} = error} ->
        # Timed out or gone mid-query: the connection's protocol state is unknown.
        Driver.close(state.conn)
        {:reply, {:error, error}, lost(state, Driver.describe(error))}

      result ->
        {:reply, result, state}
    end
  end

  @impl true
  def handle_info(:connect, %{conn: nil} = state), do: {:noreply, connect(state)}
  def handle_info(:connect, state), do: {:noreply, state}

  def handle_info({:EXIT, conn, _reason}, %{conn: conn} = state),
    do: {:noreply, lost(state, "the server closed it")}

  # Exits of connections already replaced, notices, stray messages.
  def handle_info(_message, state), do: {:noreply, state}

  @impl true
  def terminate(_reason, %{conn: conn}) do
    if conn, do: Driver.close(conn)
    :ok
  end

  defp connect(state) do
    case Driver.connect(state.config.(), @application_name) do
      {:ok, conn} ->
        if state.failures > 0,
          do: Logger.info("database connection #{state.index} re-established")

        :ets.insert(state.table, {state.index, self(), :up})
        %{state | conn: conn, failures: 0}

      {:error, message} ->
        if state.failures == 0,
          do: Logger.warning("database connection #{state.index}: #{message}; retrying")

        Process.send_after(self(), :connect, backoff(state.failures))
        %{state | failures: state.failures + 1}
    end
  end

  defp lost(state, why) do
    :ets.insert(state.table, {state.index, self(), :down})
    Logger.warning("database connection #{state.index} lost (#{why}); reconnecting")
    # Reconnect at once: a single dropped connection usually comes back on the first try.
    send(self(), :connect)
    %{state | conn: nil, failures: 1}
  end

  defp backoff(failures) do
    base = min(@max_backoff_ms, @min_backoff_ms * Integer.pow(2, min(failures, 10)))
    # ±20 % so that the pool's connections do not all knock at the same moment.
    jitter = div(base, 5)
    base - jitter + :rand.uniform(2 * jitter + 1) - 1
  end
end
