defmodule ElixirApp.Database.MigratorTest do
  # Which files are migrations, and in which order; tests/test_app_database.py applies them
  # to a real PostgreSQL through the release's bin/migrate.
  use ExUnit.Case, async: true

  alias ElixirApp.Database.Migrator

  setup do
    dir =
      Path.join(System.tmp_dir!(), "elixir_app-migrator-#{System.unique_integer([:positive])}")

    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    %{tmp_dir: dir}
  end

  defp write(dir, files),
    do: for(file <- files, do: File.write!(Path.join(dir, file), "SELECT 1;"))

  test "the app's own migrations are versioned and ordered" do
    dir = Application.app_dir(:elixir_app, "priv/migrations")
    assert {:ok, migrations} = Migrator.migrations(dir)
    assert length(migrations) >= 2
    versions = Enum.map(migrations, & &1.version)
    assert versions == Enum.sort(versions)
    assert hd(migrations).file == "20261201090000_create_visits.sql"
  end

  test "migrations are ordered by version number, not by file name", %{tmp_dir: dir} do
    write(dir, ["10_third.sql", "9_second.sql", "1_first.sql", "README.md"])
    assert {:ok, migrations} = Migrator.migrations(dir)

    assert Enum.map(migrations, &{&1.version, &1.file}) == [
             {1, "1_first.sql"},
             {9, "9_second.sql"},
             {10, "10_third.sql"}
           ]

    assert hd(migrations).path == Path.join(dir, "1_first.sql")
  end

  test "a .sql file without a version is an error, not silently skipped", %{tmp_dir: dir} do
    write(dir, ["1_first.sql", "create_things.sql"])

    assert {:error, "create_things.sql: a migration is named <version>_<name>.sql"} =
             Migrator.migrations(dir)
  end

  test "two files with the same version are an error", %{tmp_dir: dir} do
    write(dir, ["1_first.sql", "01_also_first.sql"])
    assert {:error, message} = Migrator.migrations(dir)
    assert message =~ "have the same version 1"
  end

  test "a missing directory is an error naming it", %{tmp_dir: dir} do
    missing = Path.join(dir, "nope")

    assert Migrator.migrations(missing) ==
             {:error, "cannot read #{missing}: no such file or directory"}
  end
end
