defmodule ElixirApp.ClusterTest do
  # Discovery logic with a scripted resolver; tests/test_app_cluster.py proves the same code
  # with real nodes and a real DNS server.
  use ExUnit.Case, async: false
  # The test node is not distributed: the cluster warns about it at start.
  @moduletag :capture_log

  import ExUnit.CaptureLog

  alias ElixirApp.Cluster

  defmodule FakeResolver do
    @moduledoc false
    # DNS answers and the connected set are scripted by the test; every connect is recorded.
    use Agent

    def start_link(state), do: Agent.start_link(fn -> state end, name: __MODULE__)
    def set(key, value), do: Agent.update(__MODULE__, &Map.put(&1, key, value))
    def attempts, do: Agent.get(__MODULE__, & &1.attempts)

    def lookup(query) do
      Agent.get(__MODULE__, fn state ->
        send(state.test, {:lookup, query})
        state.addresses
      end)
    end

    def nodes, do: Agent.get(__MODULE__, & &1.connected)

    def connect(node) do
      Agent.get_and_update(__MODULE__, fn state ->
        accepted = node not in state.refused
        connected = if accepted, do: [node | state.connected], else: state.connected
        {accepted, %{state | connected: connected, attempts: state.attempts ++ [node]}}
      end)
    end
  end

  defp start_fake(addresses, opts \\ []) do
    start_supervised!(
      {FakeResolver,
       %{
         test: self(),
         addresses: addresses,
         connected: Keyword.get(opts, :connected, []),
         refused: Keyword.get(opts, :refused, []),
         attempts: []
       }}
    )
  end

  defp start_cluster(interval \\ 50) do
    start_supervised!(
      {Cluster,
       name: :cluster_test, query: "app.internal", interval: interval, resolver: FakeResolver}
    )
  end

  defp await_lookups(count) do
    for _ <- 1..count, do: assert_receive({:lookup, "app.internal"}, 2_000)
  end

  describe "nodes_to_connect/4" do
    test "names every address with this node's basename" do
      assert Cluster.nodes_to_connect(
               [{10, 0, 1, 7}, {10, 0, 2, 9}],
               "elixir_app",
               :"elixir_app@10.0.1.5",
               []
             ) == [:"elixir_app@10.0.1.7", :"elixir_app@10.0.2.9"]
    end

    test "skips this node, the nodes already connected, and duplicate addresses" do
      assert Cluster.nodes_to_connect(
               [{10, 0, 1, 5}, {10, 0, 1, 7}, {10, 0, 1, 8}, {10, 0, 1, 8}],
               "elixir_app",
               :"elixir_app@10.0.1.5",
               [:"elixir_app@10.0.1.7"]
             ) == [:"elixir_app@10.0.1.8"]
    end
  end

  test "basename/1 is the node name before the @" do
    assert Cluster.basename(:"elixir_app@10.0.1.5") == "elixir_app"
  end

  test "without a query nothing is started" do
    for query <- [nil, "", :ignore] do
      assert Cluster.start_link(name: :no_cluster, query: query) == :ignore
    end
  end

  test "each poll connects to the addresses in DNS that are not connected yet" do
    start_fake([{127, 0, 0, 2}, {127, 0, 0, 3}])
    start_cluster()
    await_lookups(3)

    assert Enum.sort(FakeResolver.attempts()) == [:"nonode@127.0.0.2", :"nonode@127.0.0.3"]

    # A node that appears in DNS later is picked up by the next polls.
    FakeResolver.set(:addresses, [{127, 0, 0, 2}, {127, 0, 0, 3}, {127, 0, 0, 4}])
    await_lookups(3)

    assert Enum.sort(FakeResolver.attempts()) ==
             [:"nonode@127.0.0.2", :"nonode@127.0.0.3", :"nonode@127.0.0.4"]
  end

  test "a refused node is retried every poll and warned about once" do
    start_fake([{127, 0, 0, 9}], refused: [:"nonode@127.0.0.9"])

    log =
      capture_log(fn ->
        start_cluster()
        await_lookups(4)
      end)

    assert length(FakeResolver.attempts()) >= 3
    assert [_one] = Regex.scan(~r/cannot connect to nonode@127\.0\.0\.9/, log)
  end

  test "joins and leaves are logged" do
    level = Logger.level()
    Logger.configure(level: :info)
    on_exit(fn -> Logger.configure(level: level) end)
    start_fake([])
    pid = start_cluster(60_000)

    log =
      capture_log(fn ->
        send(pid, {:nodeup, :"elixir_app@10.0.1.7", []})
        send(pid, {:nodedown, :"elixir_app@10.0.1.7", [nodedown_reason: :connection_closed]})
        # A call is served after the two messages: both have been handled.
        :sys.get_state(pid)
      end)

    assert log =~ "elixir_app@10.0.1.7 joined"
    assert log =~ "elixir_app@10.0.1.7 left (:connection_closed"
  end
end
