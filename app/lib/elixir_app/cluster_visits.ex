defmodule ElixirApp.ClusterVisits do
  @moduledoc """
  A visit counter that shows the cluster at work: each node counts the `GET /` it serves,
  and `cluster_state/1` asks every connected node for its count over Erlang distribution,
  so any node answers `GET /cluster` with the same per-node table and total.

  The remote call is `ElixirApp.ClusterVisits.local_visits/0` through `:erpc`. Nodes of the
  old and the new revision are connected during a rolling deploy, so that function is a
  contract between revisions: keep its name, arity and result shape, or add a new function
  next to it and remove the old one a deploy later (docs/clustering.md). A node that cannot
  answer (an old revision without the function, a node going down) is listed under
  `unreachable` instead of failing the request.
  """

  @key {__MODULE__, :counter}

  @doc "Creates this node's counter; called once at boot, before the HTTP server starts."
  @spec init() :: :ok
  def init do
    :persistent_term.put(@key, :counters.new(1, [:write_concurrency]))
  end

  @spec increment() :: :ok
  def increment, do: :counters.add(:persistent_term.get(@key), 1, 1)

  @doc "Visits this node has served since it started. Called remotely by other nodes."
  @spec local_visits() :: non_neg_integer()
  def local_visits, do: :counters.get(:persistent_term.get(@key), 1)

  @doc """
  This node, the nodes it is connected to, and the visits each of them has served.
  Asks all nodes in parallel; each one has `timeout_ms` to answer.
  """
  @spec cluster_state(timeout()) :: %{
          node: node(),
          nodes: [node()],
          visits: %{node() => non_neg_integer()},
          unreachable: [node()]
        }
  def cluster_state(timeout_ms \\ 2_000) do
    nodes = Enum.sort(Node.list(:visible))
    results = :erpc.multicall(nodes, __MODULE__, :local_visits, [], timeout_ms)

    {visits, unreachable} =
      nodes
      |> Enum.zip(results)
      |> Enum.reduce({%{node() => local_visits()}, []}, fn
        {node, {:ok, count}}, {visits, down} when is_integer(count) ->
          {Map.put(visits, node, count), down}

        {node, _error}, {visits, down} ->
          {visits, [node | down]}
      end)

    %{node: node(), nodes: nodes, visits: visits, unreachable: Enum.reverse(unreachable)}
  end

  @doc "`cluster_state/1` as a JSON document."
  @spec to_json(map()) :: iodata()
  def to_json(%{node: node, nodes: nodes, visits: visits, unreachable: unreachable}) do
    visit_pairs =
      visits
      |> Enum.sort()
      |> Enum.map(fn {name, count} -> [json_string(name), ":", Integer.to_string(count)] end)

    [
      ~s({"node":),
      json_string(node),
      ~s(,"nodes":),
      json_list(nodes),
      ~s(,"visits":{),
      Enum.intersperse(visit_pairs, ","),
      ~s(},"total_visits":),
      Integer.to_string(visits |> Map.values() |> Enum.sum()),
      ~s(,"unreachable":),
      json_list(unreachable),
      "}"
    ]
  end

  defp json_list(names),
    do: ["[", names |> Enum.map(&json_string/1) |> Enum.intersperse(","), "]"]

  # Node names are atoms of letters, digits and `_-.@:`; escaping keeps any other name valid.
  defp json_string(name) do
    escaped =
      for <<char <- Atom.to_string(name)>>, into: "" do
        case char do
          ?" ->
            "\\\""

          ?\\ ->
            "\\\\"

          char when char < 0x20 ->
            "\\u" <> String.pad_leading(Integer.to_string(char, 16), 4, "0")

          char ->
            <<char>>
        end
      end

    [?", escaped, ?"]
  end
end
