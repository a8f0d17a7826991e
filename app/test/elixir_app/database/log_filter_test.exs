defmodule ElixirApp.Database.LogFilterTest do
  # Not async: one test installs the filter, which is global to the node.
  use ExUnit.Case, async: false

  import ExUnit.CaptureLog

  alias ElixirApp.Database.LogFilter

  require Logger

  @password "s3cr3t pässword"

  defp event(msg, meta \\ %{}), do: %{level: :error, msg: msg, meta: meta}

  # What p1_pgsql's connection process holds: its options, with the password as given.
  defp driver_state do
    {:state, [host: ~c"127.0.0.1", user: "app", password: @password], [verify: :verify_none],
     :tcp, :undefined, self(), [], :undefined, :undefined, true}
  end

  test "a driver crash report is printed without the password" do
    report = %{label: {:gen_server, :terminate}, reason: :badarg, state: driver_state()}
    %{msg: {:report, redacted}} = LogFilter.filter(event({:report, report}), @password)

    assert redacted.reason == :badarg
    refute inspect(redacted, limit: :infinity) =~ "s3cr3t"
    assert inspect(redacted, limit: :infinity) =~ "[REDACTED]"
  end

  test "the password is redacted in strings, byte lists, format arguments and metadata" do
    bytes = :binary.bin_to_list(@password)
    msg = {~c"~p ~s", [{:password, bytes}, "url ecto://app:#{@password}@db/app"]}
    meta = %{crash_reason: {{:bad, [@password | "tail"]}, []}}
    filtered = LogFilter.filter(event(msg, meta), @password)

    text = inspect(filtered, limit: :infinity)
    refute text =~ "s3cr3t"

    assert {~c"~p ~s", [{:password, "[REDACTED]"}, "url ecto://app:[REDACTED]@db/app"]} =
             filtered.msg
  end

  test "structs in reports are walked too" do
    config = %ElixirApp.Database.Config{
      host: "db",
      port: 5432,
      database: "app",
      username: "app",
      password: @password
    }

    %{msg: {:report, %{config: redacted}}} =
      LogFilter.filter(event({:report, %{config: config}}), @password)

    assert %ElixirApp.Database.Config{password: "[REDACTED]", host: "db"} = redacted
  end

  test "the driver's own reports of a connection the server closed are dropped" do
    for reason <- [:tcp_close, :tcp_error, {:socket, :closed}, {:socket, {:error, :etimedout}}] do
      report = %{label: {:gen_server, :terminate}, reason: reason, state: driver_state()}
      assert LogFilter.filter(event({:report, report}), @password) == :stop
      # As translated by Elixir 1.15+ before the filter sees it.
      translated = event({:string, "GenServer terminating"}, %{crash_reason: {reason, []}})
      assert LogFilter.filter(translated, @password) == :stop
    end

    other = %{label: {:gen_server, :terminate}, reason: :badarg, state: :ok}
    assert %{msg: {:report, ^other}} = LogFilter.filter(event({:report, other}), @password)
  end

  test "once installed, the filter applies to what the app logs" do
    LogFilter.install(@password)

    try do
      log = capture_log(fn -> Logger.error("login with #{@password}") end)
      assert log =~ "login with [REDACTED]"
      refute log =~ "s3cr3t"
    after
      :logger.remove_primary_filter(:elixir_app_database)
    end
  end
end
