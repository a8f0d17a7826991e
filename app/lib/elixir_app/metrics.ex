defmodule ElixirApp.Metrics do
  @moduledoc """
  Prometheus metrics in the text exposition format, version 0.0.4.

  Metric names are a contract (dashboards and alerts use them):

    * `beam_memory_bytes{kind}`, `beam_process_count`, `beam_port_count`,
      `beam_atom_count`, `beam_run_queue_length`, `beam_uptime_seconds`,
      `beam_connected_nodes` (gauges)
    * `http_requests_total{method,path,status}` (counter)
    * `http_request_duration_seconds{method,path,status}` (histogram)
    * `database_up`, `database_connections` (gauges; only when a database is configured,
      see `ElixirApp.Database.metric_families/0`)

  HTTP observations live in a public ETS table owned by this process; each observation is
  one atomic `:ets.update_counter/4` on a row holding count, sum and per-bucket counts.
  """
  use GenServer

  @table __MODULE__
  # Histogram upper bounds in seconds (the `le` label text), and the same in microseconds,
  # the unit durations are stored in.
  @buckets ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"]
  @bucket_bounds_us for le <- @buckets, do: round(elem(Float.parse(le), 0) * 1_000_000)
  @methods ~w(GET HEAD POST PUT PATCH DELETE OPTIONS)
  @memory_kinds [:total, :processes, :binary, :ets, :atom, :code, :system]

  # Row layout: {key, count, sum_us, bucket_1 .. bucket_n}; buckets are not cumulative here.
  @count_pos 2
  @sum_pos 3
  @first_bucket_pos 4

  def start_link(_opts), do: GenServer.start_link(__MODULE__, nil, name: __MODULE__)

  @impl true
  def init(nil) do
    :ets.new(@table, [:named_table, :public, :set, write_concurrency: true])
    {:ok, nil}
  end

  @spec content_type() :: String.t()
  def content_type, do: "text/plain; version=0.0.4; charset=utf-8"

  @doc "Records one HTTP request; `duration` is in native time units."
  @spec observe_request(String.t(), String.t(), pos_integer(), integer()) :: :ok
  def observe_request(method, route, status, duration) do
    method = if method in @methods, do: method, else: "other"
    key = {method, route, Integer.to_string(status)}
    duration = duration |> System.convert_time_unit(:native, :microsecond) |> max(0)

    increments =
      case Enum.find_index(@bucket_bounds_us, &(duration <= &1)) do
        nil -> [{@count_pos, 1}, {@sum_pos, duration}]
        index -> [{@count_pos, 1}, {@sum_pos, duration}, {@first_bucket_pos + index, 1}]
      end

    default = List.to_tuple([key, 0, 0 | List.duplicate(0, length(@buckets))])
    :ets.update_counter(@table, key, increments, default)
    :ok
  end

  @doc "The whole exposition, as iodata."
  @spec render() :: iodata()
  def render do
    [
      render_beam(),
      render_http(),
      for(
        {name, type, help, samples} <- ElixirApp.Database.metric_families(),
        do: family(name, type, help, samples)
      )
    ]
  end

  defp render_beam do
    memory = :erlang.memory()
    {wall_clock_ms, _} = :erlang.statistics(:wall_clock)

    [
      family(
        "beam_memory_bytes",
        "gauge",
        "Memory allocated by the BEAM, by kind.",
        for(kind <- @memory_kinds, do: {[kind: kind], Keyword.fetch!(memory, kind)})
      ),
      family("beam_process_count", "gauge", "Number of BEAM processes.", [
        {[], :erlang.system_info(:process_count)}
      ]),
      family("beam_port_count", "gauge", "Number of BEAM ports (sockets, files...).", [
        {[], :erlang.system_info(:port_count)}
      ]),
      family("beam_atom_count", "gauge", "Number of atoms in the atom table.", [
        {[], :erlang.system_info(:atom_count)}
      ]),
      family(
        "beam_run_queue_length",
        "gauge",
        "Processes ready to run, summed over all run queues (dirty ones included).",
        [{[], :erlang.statistics(:total_run_queue_lengths_all)}]
      ),
      family("beam_uptime_seconds", "gauge", "Time since the BEAM started.", [
        {[], wall_clock_ms / 1000}
      ]),
      family(
        "beam_connected_nodes",
        "gauge",
        "Other BEAM nodes this node is connected to (visible nodes: the cluster minus itself).",
        [{[], length(Node.list(:visible))}]
      )
    ]
  end

  defp render_http do
    rows = @table |> :ets.tab2list() |> Enum.sort()

    requests = for row <- rows, do: {labels(row), elem(row, @count_pos - 1)}

    durations =
      Enum.flat_map(rows, fn row ->
        labels = labels(row)
        count = elem(row, @count_pos - 1)

        bucket_counts =
          for i <- 0..(length(@buckets) - 1), do: elem(row, @first_bucket_pos - 1 + i)

        cumulative = Enum.scan(bucket_counts, &+/2)

        buckets =
          Enum.zip_with(@buckets, cumulative, fn le, n ->
            {"http_request_duration_seconds_bucket", labels ++ [le: le], n}
          end)

        buckets ++
          [
            {"http_request_duration_seconds_bucket", labels ++ [le: "+Inf"], count},
            {"http_request_duration_seconds_sum", labels, elem(row, @sum_pos - 1) / 1_000_000},
            {"http_request_duration_seconds_count", labels, count}
          ]
      end)

    [
      family("http_requests_total", "counter", "HTTP requests served.", requests),
      header(
        "http_request_duration_seconds",
        "histogram",
        "HTTP request duration, from request line to response written."
      ),
      for({name, labels, value} <- durations, do: sample(name, labels, value))
    ]
  end

  defp labels(row) do
    {method, route, status} = elem(row, 0)
    [method: method, path: route, status: status]
  end

  defp family(name, type, help, samples) do
    [header(name, type, help), for({labels, value} <- samples, do: sample(name, labels, value))]
  end

  defp header(name, type, help),
    do: ["# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n"]

  defp sample(name, [], value), do: [name, " ", format_value(value), "\n"]

  defp sample(name, labels, value) do
    pairs =
      labels
      |> Enum.map(fn {key, val} ->
        [Atom.to_string(key), "=\"", escape_label_value(to_string(val)), "\""]
      end)
      |> Enum.intersperse(",")

    [name, "{", pairs, "} ", format_value(value), "\n"]
  end

  defp format_value(value) when is_integer(value), do: Integer.to_string(value)
  defp format_value(value) when is_float(value), do: :erlang.float_to_binary(value, [:short])

  @doc false
  # Label values come from bounded sets today; escaping keeps the output valid regardless.
  def escape_label_value(text) do
    text
    |> String.replace("\\", "\\\\")
    |> String.replace("\"", "\\\"")
    |> String.replace("\n", "\\n")
  end
end
