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

  defp value(samples, name, labels \\ %{}) do
    Enum.find_value(samples, fn {n, l, v} -> if n == name and l == labels, do: v end)
  end

  test "the BEAM gauges of the metric contract are present and sane" do
    {types, samples} = scrape()

    for name <- ~w(beam_memory_bytes beam_process_count beam_port_count beam_atom_count
                   beam_run_queue_length beam_uptime_seconds) do
      assert types[name] == "gauge", "#{name} missing or not a gauge"
    end

    memory = fn kind -> value(samples, "beam_memory_bytes", %{"kind" => kind}) end
    for kind <- ~w(total processes binary ets atom code system), do: assert(memory.(kind) > 0)
    assert memory.("total") > memory.("processes")
    assert value(samples, "beam_process_count") > 10
    assert value(samples, "beam_port_count") > 0
    assert value(samples, "beam_atom_count") > 1000
    assert value(samples, "beam_run_queue_length") >= 0
    assert value(samples, "beam_uptime_seconds") >= 0
  end

  test "HTTP requests are counted by method, route and status, unknown paths as other" do
    {_, before} = scrape()
    count = fn samples, labels -> value(samples, "http_requests_total", labels) || 0 end
    health = %{"method" => "GET", "path" => "/health", "status" => "200"}
    other = %{"method" => "GET", "path" => "other", "status" => "404"}

    for _ <- 1..3, do: get("/health")
    get("/does-not-exist-#{System.unique_integer([:positive])}")
    get("/another-unknown-path")

    {types, after_} = scrape()
    assert types["http_requests_total"] == "counter"
    assert count.(after_, health) - count.(before, health) == 3
    assert count.(after_, other) - count.(before, other) == 2

    paths = for {"http_requests_total", labels, _} <- after_, uniq: true, do: labels["path"]
    routes = ["/", "/health", "/metrics", "/debug/sleep", "/ready", "/visits", "other"]
    assert Enum.all?(paths, &(&1 in routes))
  end

  test "the duration histogram has cumulative buckets ending in +Inf = count" do
    get("/health")
    {types, samples} = scrape()
    assert types["http_request_duration_seconds"] == "histogram"
    labels = %{"method" => "GET", "path" => "/health", "status" => "200"}

    buckets =
      for {"http_request_duration_seconds_bucket", l, v} <- samples,
          Map.delete(l, "le") == labels,
          do: {l["le"], v}

    les = Enum.map(buckets, &elem(&1, 0))
    assert List.first(les) == "0.005"
    assert Enum.take(les, -2) == ["10", "+Inf"]
    counts = Enum.map(buckets, &elem(&1, 1))
    assert counts == Enum.sort(counts), "buckets must be cumulative"
    assert List.last(counts) == value(samples, "http_request_duration_seconds_count", labels)
    assert value(samples, "http_request_duration_seconds_sum", labels) > 0
  end

  test "a slow request lands in the right bucket" do
    labels = %{"method" => "GET", "path" => "/debug/sleep", "status" => "200"}

    bucket = fn samples, le ->
      value(samples, "http_request_duration_seconds_bucket", Map.put(labels, "le", le)) || 0
    end

    {_, before} = scrape()
    {200, _, _} = get("/debug/sleep?ms=30")
    {_, after_} = scrape()

    assert bucket.(after_, "0.025") - bucket.(before, "0.025") == 0
    assert bucket.(after_, "0.05") - bucket.(before, "0.05") == 1
  end

  test "label values are escaped" do
    assert ElixirApp.Metrics.escape_label_value(~s(a"b\\c\nd)) == ~s(a\\"b\\\\c\\nd)
  end

  test "unknown methods share one label value" do
    {_, before} = scrape()
    raw(port(), "BREW /nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    {_, after_} = scrape()
    labels = %{"method" => "other", "path" => "other", "status" => "404"}

    assert (value(after_, "http_requests_total", labels) || 0) -
             (value(before, "http_requests_total", labels) || 0) == 1
  end
end
