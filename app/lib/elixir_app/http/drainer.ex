defmodule ElixirApp.HTTP.Drainer do
  @moduledoc false
  # Does nothing while running. Its terminate/2 is the drain: by the time it runs the
  # acceptor has already stopped (see ElixirApp.HTTP.Server), so only in-flight
  # connections remain. Each is told to close after its current response; idle keep-alive
  # connections close at once.
  use GenServer

  require Logger

  def child_spec(opts) do
    %{
      id: __MODULE__,
      start: {__MODULE__, :start_link, [opts]},
      # The supervisor must give terminate/2 the whole drain window, plus a margin.
      shutdown: Keyword.fetch!(opts, :drain_ms) + 1_000
    }
  end

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts)

  @impl true
  def init(opts) do
    Process.flag(:trap_exit, true)
    {:ok, %{connections: Keyword.fetch!(opts, :connections), drain_ms: opts[:drain_ms]}}
  end

  @impl true
  def terminate(_reason, %{connections: connections, drain_ms: drain_ms}) do
    deadline = System.monotonic_time(:millisecond) + drain_ms
    pids = Task.Supervisor.children(connections)

    refs =
      for pid <- pids, into: MapSet.new() do
        send(pid, :drain)
        Process.monitor(pid)
      end

    if MapSet.size(refs) > 0 do
      Logger.info("draining #{MapSet.size(refs)} connection(s), up to #{drain_ms} ms")
    end

    case await_down(refs, deadline) do
      0 -> :ok
      left -> Logger.warning("drain timed out; closing #{left} connection(s)")
    end
  end

  defp await_down(refs, deadline) do
    if MapSet.size(refs) == 0 do
      0
    else
      timeout = max(deadline - System.monotonic_time(:millisecond), 0)

      receive do
        {:DOWN, ref, :process, _pid, _reason} -> await_down(MapSet.delete(refs, ref), deadline)
      after
        timeout -> MapSet.size(refs)
      end
    end
  end
end
