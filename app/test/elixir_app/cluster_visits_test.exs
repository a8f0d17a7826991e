defmodule ElixirApp.ClusterVisitsTest do
  use ExUnit.Case, async: false

  import ElixirApp.Test.HTTPClient

  alias ElixirApp.ClusterVisits

  test "GET / counts a visit; /health and HEAD / do not" do
    before = ClusterVisits.local_visits()

    {200, _, _} = get("/")
    {200, _, _} = get("/health")
    {200, _, _} = raw(port(), "HEAD / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")

    assert ClusterVisits.local_visits() == before + 1
  end

  test "GET /cluster answers this node, its peers and the visits of each" do
    {200, _, _} = get("/")
    {200, headers, body} = get("/cluster")
    assert {"content-type", "application/json"} in headers

    # The test node is not distributed: it is alone in its cluster.
    visits = ClusterVisits.local_visits()

    assert body ==
             ~s({"node":"nonode@nohost","nodes":[],"visits":{"nonode@nohost":#{visits}},) <>
               ~s("total_visits":#{visits},"unreachable":[]})
  end

  test "the JSON lists every node, sums the visits and escapes names" do
    state = %{
      node: :"elixir_app@10.0.1.5",
      nodes: [:"elixir_app@10.0.1.7", :"elixir_app@10.0.1.8"],
      visits: %{:"elixir_app@10.0.1.5" => 2, :"elixir_app@10.0.1.7" => 3, :"odd\"name" => 1},
      unreachable: [:"elixir_app@10.0.1.8"]
    }

    assert IO.iodata_to_binary(ClusterVisits.to_json(state)) ==
             ~s({"node":"elixir_app@10.0.1.5",) <>
               ~s("nodes":["elixir_app@10.0.1.7","elixir_app@10.0.1.8"],) <>
               ~s("visits":{"elixir_app@10.0.1.5":2,"elixir_app@10.0.1.7":3,"odd\\"name":1},) <>
               ~s("total_visits":6,"unreachable":["elixir_app@10.0.1.8"]})
  end
end
