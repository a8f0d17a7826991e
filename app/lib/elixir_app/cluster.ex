defmodule ElixirApp.Cluster do
  @moduledoc """
  DNS-based node discovery, behaving like Phoenix's `dns_cluster`.

  Every `:interval` milliseconds (default 5000) it resolves the A records of `:query` with
  OTP's own resolver (`:inet_res`, so a name server configured through `ERL_INETRC` is
  honoured) and connects to `<basename>@<ip>` for every address, where `<basename>` is this
  node's own (the part of `node()` before `@`). It skips itself and nodes it is already
  connected to; connection attempts run in parallel, each bounded by `:connect_timeout`.

  Like `dns_cluster`, DNS only ever adds nodes: a node that disappears from DNS stays
  connected until it stops (its connection closes, or net_kernel's tick declares it gone).
  Joins and leaves of visible nodes are logged whatever caused them.

  Options: `:query` (a host name; `nil`, `""` or `:ignore` start nothing, so discovery costs
  nothing when `DNS_CLUSTER_QUERY` is unset), `:interval`, `:connect_timeout`, `:name`, and
  `:resolver`, a module with `lookup/1`, `connect/1` and `nodes/0` (see
  `ElixirApp.Cluster.Resolver`, the default; tests pass their own).

  Nodes of different deploys join each other (the basename does not carry a revision): see
  docs/clustering.md for what that asks of messages exchanged between nodes.
  """
  use GenServer

  require Logger

  @default_interval_ms 5_000
  @default_connect_timeout_ms 10_000

  defmodule Resolver do
    @moduledoc "The real resolver: OTP's DNS client and distribution."

    @doc "IPv4 addresses in the A records of `query`; `[]` when the query fails."
    @spec lookup(String.t()) :: [:inet.ip4_address()]
    def lookup(query) do
      case :inet_res.getbyname(String.to_charlist(query), :a) do
        {:ok, {:hostent, _name, _aliases, :inet, _length, addresses}} -> addresses
        {:error, _reason} -> []
      end
    end

    @spec connect(node()) :: boolean() | :ignored
    def connect(node), do: Node.connect(node)

    @spec nodes() :: [node()]
    def nodes, do: Node.list(:visible)
  end

  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) do
    %{id: Keyword.get(opts, :name, __MODULE__), start: {__MODULE__, :start_link, [opts]}}
  end

  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    GenServer.start_link(__MODULE__, opts, name: Keyword.get(opts, :name, __MODULE__))
  end

  @doc """
  Nodes to connect to: `<basename>@<ip>` for every address, without this node and without
  the nodes already connected.
  """
  @spec nodes_to_connect([:inet.ip_address()], String.t(), node(), [node()]) :: [node()]
  def nodes_to_connect(addresses, basename, self_node, connected) do
    known = MapSet.new([self_node | connected])

    addresses
    |> Enum.uniq()
    |> Enum.map(fn address -> :"#{basename}@#{:inet.ntoa(address)}" end)
    |> Enum.reject(&MapSet.member?(known, &1))
  end

  @doc "The basename of a node name: `\"elixir_app\"` for `:\"elixir_app@10.0.1.7\"`."
  @spec basename(node()) :: String.t()
  def basename(node) do
    [basename | _host] = node |> Atom.to_string() |> String.split("@", parts: 2)
    basename
  end

  @impl true
  def init(opts) do
    case Keyword.get(opts, :query) do
      query when query in [nil, "", :ignore] ->
        :ignore

      query when is_binary(query) ->
        if not Node.alive?() do
          Logger.warning(
            "DNS_CLUSTER_QUERY is set but this node is not distributed: set " <>
              "RELEASE_DISTRIBUTION=name and RELEASE_NODE=<name>@<ip> (rel/env.sh.eex does)"
          )
        end

        :ok = :net_kernel.monitor_nodes(true, [:nodedown_reason, node_type: :visible])

        state = %{
          query: query,
          interval: Keyword.get(opts, :interval, @default_interval_ms),
          connect_timeout: Keyword.get(opts, :connect_timeout, @default_connect_timeout_ms),
          resolver: Keyword.get(opts, :resolver, Resolver),
          basename: basename(node()),
          # Nodes whose last connection attempt failed: warned about once, not every poll.
          failing: MapSet.new()
        }

        {:ok, state, {:continue, :discover}}

      other ->
        raise ArgumentError, "expected :query to be a host name, got: #{inspect(other)}"
    end
  end

  @impl true
  def handle_continue(:discover, state), do: {:noreply, discover(state)}

  @impl true
  def handle_info(:discover, state), do: {:noreply, discover(state)}

  def handle_info({:nodeup, node, _info}, state) do
    Logger.info("cluster: #{node} joined (#{length(state.resolver.nodes())} connected)")
    {:noreply, state}
  end

  def handle_info({:nodedown, node, info}, state) do
    Logger.info(
      "cluster: #{node} left (#{inspect(info[:nodedown_reason])}, " <>
        "#{length(state.resolver.nodes())} connected)"
    )

    {:noreply, state}
  end

  # Late replies of connection attempts that outlived the connect timeout.
  def handle_info(_message, state), do: {:noreply, state}

  defp discover(%{resolver: resolver} = state) do
    candidates =
      state.query
      |> resolver.lookup()
      |> nodes_to_connect(state.basename, node(), resolver.nodes())

    failed =
      candidates
      |> Task.async_stream(&{&1, resolver.connect(&1)},
        timeout: state.connect_timeout,
        on_timeout: :kill_task,
        max_concurrency: 16,
        zip_input_on_exit: true
      )
      |> Enum.flat_map(fn
        {:ok, {_node, true}} -> []
        {:ok, {node, _false_or_ignored}} -> [node]
        {:exit, {node, :timeout}} -> [node]
      end)
      |> MapSet.new()

    for node <- MapSet.difference(failed, state.failing) do
      Logger.warning(
        "cluster: cannot connect to #{node} (node down, different cookie, or " <>
          "distribution port blocked); retrying every #{state.interval} ms"
      )
    end

    Process.send_after(self(), :discover, state.interval)
    %{state | failing: failed}
  end
end
