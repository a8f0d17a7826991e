defmodule ElixirApp.Database.Routes do
  @moduledoc """
  The HTTP routes backed by the database (called by `ElixirApp.Router`):

    * `GET /ready` — readiness, unlike the shallow `/health`: 200 when the database
      answers `SELECT 1` within 1 s (or when the app has no database), 503 otherwise.
    * `GET /visits` — the visit counter; `POST /visits` adds one visit and answers the
      new count. Both 503 when there is no database, it is down, or it is not migrated.

  Bodies are JSON: `{"status":"ready","database":"up"|"disabled"}`,
  `{"status":"unavailable","database":"down"}`, `{"visits":N}`, `{"error":"..."}`.
  """

  alias ElixirApp.Database

  require Logger

  @json [{"content-type", "application/json"}, {"cache-control", "no-store"}]
  @methods %{"/ready" => ["GET", "HEAD"], "/visits" => ["GET", "HEAD", "POST"]}
  @undefined_table "42P01"

  # One counter row, created by the first visit (priv/migrations creates the table).
  @add_visit """
  INSERT INTO visits (id, count) VALUES (1, 1)
  ON CONFLICT (id) DO UPDATE SET count = visits.count + 1, updated_at = now()
  RETURNING count
  """
  @read_visits "SELECT count FROM visits WHERE id = 1"

  @doc "The paths served here."
  @spec paths() :: [String.t()]
  def paths, do: Map.keys(@methods)

  @spec call(map(), map()) :: {String.t(), pos_integer(), [{String.t(), iodata()}], iodata()}
  def call(%{method: method, path: path}, _options) do
    allowed = Map.fetch!(@methods, path)

    if method in allowed do
      respond(path, method)
    else
      {path, 405, [{"allow", Enum.join(allowed, ", ")} | @json],
       ~s({"error":"method not allowed"})}
    end
  end

  defp respond("/ready", _method) do
    cond do
      not Database.enabled?() ->
        {"/ready", 200, @json, ~s({"status":"ready","database":"disabled"})}

      Database.ping() == :ok ->
        {"/ready", 200, @json, ~s({"status":"ready","database":"up"})}

      true ->
        {"/ready", 503, @json, ~s({"status":"unavailable","database":"down"})}
    end
  end

  defp respond("/visits", method) do
    sql = if method == "POST", do: @add_visit, else: @read_visits

    case Database.query(sql) do
      {:ok, [%{rows: [[count]]}]} -> visits(count)
      {:ok, [%{rows: []}]} -> visits("0")
      {:error, reason} -> failure(reason)
    end
  end

  defp visits(count) do
    # The value comes from a bigint column: digits only, safe to put in JSON as is.
    {"/visits", 200, @json, [~s({"visits":), count, "}"]}
  end

  defp failure(:disabled), do: unavailable("no database configured")
  defp failure(:unavailable), do: unavailable("database unavailable")
  defp failure({:exit, _}), do: unavailable("database unavailable")

  defp failure(%{code: @undefined_table}),
    do: unavailable("database not migrated: run bin/migrate")

  defp failure(%{} = error) do
    Logger.error("GET/POST /visits: #{ElixirApp.Database.Driver.describe(error)}")
    {"/visits", 500, @json, ~s({"error":"database error"})}
  end

  defp unavailable(message), do: {"/visits", 503, @json, ~s({"error":"#{message}"})}
end
