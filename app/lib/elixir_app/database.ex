defmodule ElixirApp.Database do
  @moduledoc """
  The app's PostgreSQL pool: `pool_size` `ElixirApp.Database.Connection` processes, each
  holding one connection, and the functions the rest of the app uses.

  Optional: without a configuration (no DATABASE_URL) nothing is started and every query
  answers `{:error, :disabled}`. With one, the pool starts without waiting for the
  database, so the app boots and serves `/health` while the database is down; queries
  answer `{:error, :unavailable}` until a connection is up.

  A query goes to the next connected connection in round-robin order and waits for it if
  it is busy (one query at a time per connection, as in any pool).
  """
  use Supervisor

  alias ElixirApp.Database.{Config, Connection, Driver}

  @table __MODULE__
  @pool_key {__MODULE__, :pool}
  @default_timeout_ms 5_000
  @ping_timeout_ms 1_000

  @type error :: :disabled | :unavailable | Driver.pg_error() | {:exit, term()}

  @doc "Starts the pool for `config` (a `ElixirApp.Database.Config`), or nothing for `nil`."
  def start_link(config), do: Supervisor.start_link(__MODULE__, config, name: __MODULE__)

  @impl true
  def init(nil) do
    :persistent_term.put(@pool_key, :disabled)
    :ignore
  end

  def init(%Config{pool_size: size} = config) do
    ElixirApp.Database.LogFilter.install(config.password)
    # Owned by this supervisor, which outlives the connections writing to it.
    table = :ets.new(@table, [:named_table, :public, :set, read_concurrency: true])
    :persistent_term.put(@pool_key, {size, :atomics.new(1, signed: false)})
    secret_config = fn -> config end
    children = for index <- 1..size, do: {Connection, {secret_config, table, index}}
    Supervisor.init(children, strategy: :one_for_one, max_restarts: 3 * size)
  end

  @doc "Whether the app was configured with a database."
  @spec enabled?() :: boolean()
  def enabled?, do: pool() != :disabled

  @doc "Runs `sql` (simple query protocol, one or more statements) on a pooled connection."
  @spec query(iodata(), timeout()) :: {:ok, [Driver.result()]} | {:error, error()}
  def query(sql, timeout \\ @default_timeout_ms) do
    case pool() do
      :disabled ->
        {:error, :disabled}

      {size, counter} ->
        case checkout(size, counter) do
          nil -> {:error, :unavailable}
          pid -> Connection.query(pid, sql, timeout)
        end
    end
  end

  @doc """
  `:ok` when the database answers a trivial query within `timeout` (1 s by default);
  what `/ready` and the `database_up` metric report.
  """
  @spec ping(timeout()) :: :ok | {:error, error()}
  def ping(timeout \\ @ping_timeout_ms) do
    case query("SELECT 1", timeout) do
      {:ok, _} -> :ok
      {:error, reason} -> {:error, reason}
    end
  end

  @doc "Number of pool connections currently open."
  @spec connected() :: non_neg_integer()
  def connected do
    case pool() do
      :disabled -> 0
      _ -> :ets.select_count(@table, [{{:_, :_, :up}, [], [true]}])
    end
  end

  @doc """
  Metric families for `ElixirApp.Metrics`, as `{name, type, help, [{labels, value}]}`.
  None without a database: a `database_up` of 0 would page someone about a database
  that does not exist.
  """
  @spec metric_families() :: [{String.t(), String.t(), String.t(), [{keyword(), number()}]}]
  def metric_families do
    if enabled?() do
      [
        {"database_up", "gauge",
         "1 if the database answered a trivial query within #{@ping_timeout_ms} ms, else 0.",
         [{[], if(ping() == :ok, do: 1, else: 0)}]},
        {"database_connections", "gauge", "Open connections of the database pool.",
         [{[], connected()}]}
      ]
    else
      []
    end
  end

  defp pool, do: :persistent_term.get(@pool_key, :disabled)

  defp checkout(size, counter) do
    start = :atomics.add_get(counter, 1, 1)

    Enum.find_value(0..(size - 1), fn offset ->
      index = rem(start + offset, size) + 1

      case :ets.lookup(@table, index) do
        [{^index, pid, :up}] -> pid
        _ -> nil
      end
    end)
  end
end
