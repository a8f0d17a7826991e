defmodule ElixirApp.Database.Migrator do
  @moduledoc """
  Applies plain SQL migrations, tracked as Ecto tracks them.

  A migration is a file `<version>_<name>.sql` (version: digits, e.g. a UTC timestamp
  `20261201090000`) holding one or more SQL statements. Pending migrations (versions not in
  `schema_migrations`) run in version order, each in its own transaction together with the
  insertion of its `schema_migrations` row: a migration is applied entirely or not at all,
  and the first failure stops the run. Do not put `BEGIN`/`COMMIT` in a migration, nor
  statements PostgreSQL refuses inside a transaction (`CREATE INDEX CONCURRENTLY`).

  `schema_migrations` has Ecto's shape (`version bigint PRIMARY KEY, inserted_at
  timestamp(0)`, UTC), so an app that switches to Ecto keeps its history.

  Concurrent runs (two deploys, two tasks) are serialised by a session advisory lock taken
  before anything else, the creation of `schema_migrations` included: the second run waits
  (up to 10 minutes), then finds everything applied.
  """

  alias ElixirApp.Database.{Config, Driver}

  # pg_advisory_lock key of this app's migrations: an arbitrary constant, the same in every
  # version of the app (two versions migrating at once must exclude each other too).
  @lock_key 7_318_041_659_223_514_721
  @lock_wait "10min"
  @lock_wait_ms 600_000
  @setup_timeout_ms 30_000
  # A migration may rewrite a big table; this only bounds a connection that silently died.
  @migration_timeout_ms 3_600_000

  @type migration :: %{version: non_neg_integer(), file: String.t(), path: String.t()}

  @doc """
  The migrations in `dir`, in version order; an error for a `.sql` file without a version,
  or two files with the same version. Other files are ignored.
  """
  @spec migrations(Path.t()) :: {:ok, [migration()]} | {:error, String.t()}
  def migrations(dir) do
    with {:ok, files} <- list(dir) do
      files
      |> Enum.filter(&String.ends_with?(&1, ".sql"))
      |> Enum.reduce_while({:ok, %{}}, fn file, {:ok, acc} ->
        case Integer.parse(file) do
          {version, "_" <> _name} when is_map_key(acc, version) ->
            {:halt, {:error, "#{file} and #{acc[version].file} have the same version #{version}"}}

          {version, "_" <> _name} ->
            {:cont, {:ok, Map.put(acc, version, migration(dir, version, file))}}

          _ ->
            {:halt, {:error, "#{file}: a migration is named <version>_<name>.sql"}}
        end
      end)
      |> case do
        {:ok, by_version} -> {:ok, by_version |> Map.values() |> Enum.sort_by(& &1.version)}
        error -> error
      end
    end
  end

  @doc """
  Connects with `config`, applies the pending migrations of `dir`, and returns the ones it
  applied. Progress goes to `log` (one line per call).
  """
  @spec run(Config.t(), Path.t(), (String.t() -> any())) ::
          {:ok, [migration()]} | {:error, String.t()}
  def run(%Config{} = config, dir, log \\ &IO.puts/1) do
    with {:ok, migrations} <- migrations(dir),
         {:ok, conn} <- Driver.connect(config, "elixir_app migrate") do
      try do
        with :ok <- lock(conn, log),
             {:ok, _} <-
               setup(
                 conn,
                 "CREATE TABLE IF NOT EXISTS schema_migrations " <>
                   "(version bigint PRIMARY KEY, inserted_at timestamp(0))"
               ),
             {:ok, [%{rows: rows}]} <- setup(conn, "SELECT version FROM schema_migrations") do
          applied = MapSet.new(rows, fn [version] -> String.to_integer(version) end)
          pending = Enum.reject(migrations, &MapSet.member?(applied, &1.version))
          apply_all(conn, pending, length(migrations), log)
        end
      after
        # Ends the session, which releases the advisory lock.
        Driver.close(conn)
      end
    end
  end

  defp list(dir) do
    case File.ls(dir) do
      {:ok, files} -> {:ok, files}
      {:error, reason} -> {:error, "cannot read #{dir}: #{:file.format_error(reason)}"}
    end
  end

  defp migration(dir, version, file),
    do: %{version: version, file: file, path: Path.join(dir, file)}

  defp lock(conn, log) do
    case setup(conn, "SELECT pg_try_advisory_lock(#{@lock_key})") do
      {:ok, [%{rows: [["t"]]}]} ->
        :ok

      {:ok, [%{rows: [["f"]]}]} ->
        log.(
          "migrate: another migration run holds the lock; waiting for it (up to #{@lock_wait})"
        )

        sql = "SET lock_timeout TO '#{@lock_wait}'; SELECT pg_advisory_lock(#{@lock_key})"

        case Driver.squery(conn, sql, @lock_wait_ms + @setup_timeout_ms) do
          {:ok, _} ->
            :ok

          {:error, reason} ->
            {:error, "waiting for the migration lock: #{Driver.describe(reason)}"}
        end

      {:error, message} ->
        {:error, message}
    end
  end

  defp setup(conn, sql) do
    case Driver.squery(conn, sql, @setup_timeout_ms) do
      {:ok, results} -> {:ok, results}
      {:error, reason} -> {:error, "#{sql}: #{Driver.describe(reason)}"}
    end
  end

  defp apply_all(_conn, [], total, log) do
    log.("migrate: up to date (#{total} migrations, none pending)")
    {:ok, []}
  end

  defp apply_all(conn, pending, total, log) do
    log.("migrate: #{length(pending)} of #{total} migrations pending")

    Enum.reduce_while(pending, {:ok, []}, fn migration, {:ok, done} ->
      case apply_one(conn, migration, log) do
        :ok -> {:cont, {:ok, [migration | done]}}
        {:error, message} -> {:halt, {:error, message}}
      end
    end)
    |> case do
      {:ok, done} ->
        log.("migrate: done, #{length(done)} applied")
        {:ok, Enum.reverse(done)}

      error ->
        error
    end
  end

  defp apply_one(conn, %{version: version, file: file, path: path}, log) do
    started = System.monotonic_time(:millisecond)

    record =
      "INSERT INTO schema_migrations (version, inserted_at) " <>
        "VALUES (#{version}, timezone('UTC', now())::timestamp(0))"

    with {:ok, sql} <- read(path),
         {:ok, _} <- step(conn, "BEGIN", @setup_timeout_ms),
         {:ok, _} <- step(conn, sql, @migration_timeout_ms),
         {:ok, _} <- step(conn, record, @setup_timeout_ms),
         # COMMIT of a transaction that failed answers ROLLBACK, without an error.
         {:ok, [%{command: "COMMIT"}]} <- step(conn, "COMMIT", @setup_timeout_ms) do
      log.("migrate: applied #{file} (#{System.monotonic_time(:millisecond) - started} ms)")
      :ok
    else
      {:ok, _rolled_back} ->
        {:error, "#{file} failed: its transaction was rolled back; nothing of it was applied"}

      {:error, reason} ->
        _ = Driver.squery(conn, "ROLLBACK", @setup_timeout_ms)
        {:error, "#{file} failed: #{reason}; nothing of it was applied"}
    end
  end

  defp read(path) do
    case File.read(path) do
      {:ok, sql} -> {:ok, sql}
      {:error, reason} -> {:error, "cannot read it: #{:file.format_error(reason)}"}
    end
  end

  defp step(conn, sql, timeout) do
    case Driver.squery(conn, sql, timeout) do
      {:ok, results} -> {:ok, results}
      {:error, reason} -> {:error, Driver.describe(reason)}
    end
  end
end
