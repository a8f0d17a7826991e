defmodule ElixirApp.MetricsTest do
  use ExUnit.Case, async: false

  import ElixirApp.Test.HTTPClient

  # Parses the text exposition format into {name, labels, value} and checks the framing:
  # every sample belongs to a family announced by # HELP and # TYPE lines before it.
  defp scrape do
    {200, headers, body} = get("/metrics")
    assert {"content-type", "text/plain; version=0.0.4; charset=utf-8"} in headers
    assert String.ends_with?(body, "\n")

    {types, samples} =
      body
      |> String.split("\n", trim: true)
      |> Enum.reduce({%{}, []}, fn
        "# HELP " <> rest, acc ->
          assert [_name, help] = String.split(rest, " ", parts: 2)
          assert help != ""
          acc

        "# TYPE " <> rest, {types, samples} ->
          [name, type] = String.split(rest, " ")
          assert type in ["gauge", "counter", "histogram"]
          refute Map.has_key?(types, name), "#{name} announced twice"
          {Map.put(types, name, type), samples}

        line, {types, samples} ->
          sample = parse_sample(line)
          assert family_of(elem(sample, 0), types), "sample before its # TYPE: #{line}"
          {types, [sample | samples]}
      end)

    {types, Enum.reverse(samples)}
  end

  defp parse_sample(line) do
    case Regex.run(~r/^([a-z_]+)(?:\{(.*)\})? (\S+)$/, line) do
      [_, name, labels, value] -> {name, parse_labels(labels), parse_number(value)}
      [_, name, value] -> {name, %{}, parse_number(value)}
      nil -> flunk("not a sample line: #{inspect(line)}")
    end
  end

  defp parse_labels(""), do: %{}

  defp parse_labels(text) do
    for [_, key, value] <- Regex.scan(~r/([a-z_]+)="((?:[^"\\]|\\.)*)"/, text), into: %{} do
      {key, value}
    end
  end

  defp parse_number(text) do
    case Float.parse(text) do
      {number, ""} -> number
      _ -> flunk("not a number: #{text}")
    end
  end

  defp family_of(name, types) do
    Enum.find(Map.keys(types), fn family ->
      name == family or
        (types[family] == "histogram" and
           name in ~w(#{family}_bucket #{family}_sum #{family}_count))
    end)
  end

  @prefix ElixirApp.Metrics.prefix()
  @requests @prefix <> "_phoenix_http_requests_total"
  @duration @prefix <> "_phoenix_http_request_duration_milliseconds"

  defp value(samples, name, labels \\ %{}) do
    Enum.find_value(samples, fn {n, l, v} -> if n == name and l == labels, do: v end)
  end

  test "the prefix is PromEx's default for this OTP application" do
    assert @prefix == "elixir_app_prom_ex"
  end

  test "the BEAM gauges of the metric contract are present and sane" do
    {types, samples} = scrape()
    beam = fn suffix -> "#{@prefix}_beam_#{suffix}" end

    memory_kinds = ~w(processes binary ets atom code persistent_term)

    for name <-
          ["memory_allocated_bytes" | Enum.map(memory_kinds, &"memory_#{&1}_total_bytes")] ++
            ~w(stats_process_count stats_port_count stats_atom_count stats_run_queue_count
               stats_uptime_milliseconds_count system_process_limit_info) do
      assert types[beam.(name)] == "gauge", "#{beam.(name)} missing or not a gauge"
    end

    assert types["beam_connected_nodes"] == "gauge"
    total = value(samples, beam.("memory_allocated_bytes"))
    for kind <- memory_kinds, do: assert(value(samples, beam.("memory_#{kind}_total_bytes")) > 0)
    assert total > value(samples, beam.("memory_processes_total_bytes"))
    assert value(samples, beam.("stats_process_count")) > 10
    assert value(samples, beam.("stats_port_count")) > 0
    assert value(samples, beam.("stats_atom_count")) > 1000
    assert value(samples, beam.("stats_run_queue_count"), %{"type" => "normal"}) >= 0
    assert value(samples, beam.("stats_run_queue_count"), %{"type" => "dirty"}) >= 0
    assert value(samples, beam.("stats_uptime_milliseconds_count")) >= 0

    assert value(samples, beam.("system_process_limit_info")) ==
             :erlang.system_info(:process_limit)
  end

  test "HTTP requests are counted by method, route and status, unknown paths as other" do
    {_, before} = scrape()
    count = fn samples, labels -> value(samples, @requests, labels) || 0 end
    health = %{"method" => "GET", "path" => "/health", "status" => "200"}
    other = %{"method" => "GET", "path" => "other", "status" => "404"}

    for _ <- 1..3, do: get("/health")
    get("/does-not-exist-#{System.unique_integer([:positive])}")
    get("/another-unknown-path")

    {types, after_} = scrape()
    assert types[@requests] == "counter"
    assert count.(after_, health) - count.(before, health) == 3
    assert count.(after_, other) - count.(before, other) == 2

    paths = for {@requests, labels, _} <- after_, uniq: true, do: labels["path"]
    routes = ["/", "/health", "/metrics", "/debug/sleep", "/ready", "/visits", "other"]
    assert Enum.all?(paths, &(&1 in routes))
  end

  test "the duration histogram has cumulative buckets ending in +Inf = count" do
    get("/health")
    {types, samples} = scrape()
    assert types[@duration] == "histogram"
    labels = %{"method" => "GET", "path" => "/health", "status" => "200"}

    bucket_name = @duration <> "_bucket"

    buckets =
      for {^bucket_name, l, v} <- samples,
          Map.delete(l, "le") == labels,
          do: {l["le"], v}

    les = Enum.map(buckets, &elem(&1, 0))
    assert les == ~w(10 100 500 1000 5000 10000 30000 +Inf), "PromEx's Phoenix buckets"
    counts = Enum.map(buckets, &elem(&1, 1))
    assert counts == Enum.sort(counts), "buckets must be cumulative"
    assert List.last(counts) == value(samples, @duration <> "_count", labels)
    assert value(samples, @duration <> "_sum", labels) > 0
  end

  test "a slow request lands in the right bucket" do
    labels = %{"method" => "GET", "path" => "/debug/sleep", "status" => "200"}

    bucket = fn samples, le ->
      value(samples, @duration <> "_bucket", Map.put(labels, "le", le)) || 0
    end

    {_, before} = scrape()
    {200, _, _} = get("/debug/sleep?ms=30")
    {_, after_} = scrape()

    assert bucket.(after_, "10") - bucket.(before, "10") == 0
    assert bucket.(after_, "100") - bucket.(before, "100") == 1
  end

  test "label values are escaped" do
    assert ElixirApp.Metrics.escape_label_value(~s(a"b\\c\nd)) == ~s(a\\"b\\\\c\\nd)
  end

  test "unknown methods share one label value" do
    {_, before} = scrape()
    raw(port(), "BREW /nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    {_, after_} = scrape()
    labels = %{"method" => "other", "path" => "other", "status" => "404"}

    assert (value(after_, @requests, labels) || 0) -
             (value(before, @requests, labels) || 0) == 1
  end
end
