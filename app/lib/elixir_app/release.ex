defmodule ElixirApp.Release do
  @moduledoc """
  Tasks run from the release, where Mix is not available (the module
  `mix phx.gen.release` generates for a Phoenix app). `bin/migrate` runs
  `bin/elixir_app eval ElixirApp.Release.migrate`.
  """

  alias ElixirApp.Database.Migrator

  @app :elixir_app

  @doc """
  Applies the pending migrations of `priv/migrations` to the database of DATABASE_URL.
  Exits with status 1, naming the migration that failed, if anything goes wrong (no
  DATABASE_URL included: a deploy that migrates expects a database).
  """
  def migrate, do: migrate(:default)

  @doc "Same, with the migrations of `dir` (a directory of `<version>_<name>.sql` files)."
  def migrate(dir) do
    # eval has applied runtime.exs (which rejects a bad DATABASE_URL) but started nothing.
    :ok = Application.load(@app)
    dir = if dir == :default, do: Application.app_dir(@app, "priv/migrations"), else: dir

    config =
      Application.get_env(@app, :database) ||
        fail("DATABASE_URL is not set: there is no database to migrate")

    ElixirApp.Database.LogFilter.install(config.password)
    # The connection is linked to this process: if the server drops it, its exit must become
    # an error message (the query fails), not kill the migration run with a crash dump.
    Process.flag(:trap_exit, true)
    # The driver and what it needs (ssl, and stringprep for SCRAM), not the app itself.
    for app <- Application.spec(@app, :applications),
        do: {:ok, _} = Application.ensure_all_started(app)

    case Migrator.run(config, dir) do
      {:ok, _applied} -> :ok
      {:error, message} -> fail(message)
    end
  end

  defp fail(message) do
    IO.puts(:stderr, "migrate: ERROR: " <> message)
    System.halt(1)
  end
end
