defmodule ElixirApp.Metrics do
  @moduledoc """
  Prometheus metrics in the text exposition format, version 0.0.4.

  Metric names are a contract (dashboards and alerts use them). They are the names PromEx's
  Beam and Phoenix plugins give the same measurements, with PromEx's default prefix
  `<otp_app>_prom_ex_` (`elixir_app_prom_ex_` here), so the dashboards and alerts that fit this
  sample fit any Phoenix app using PromEx (docs/monitoring.md):

    * `<prefix>_beam_memory_allocated_bytes` and
      `<prefix>_beam_memory_{processes,binary,ets,atom,code,persistent_term}_total_bytes`,
      `<prefix>_beam_stats_{process,port,atom}_count`,
      `<prefix>_beam_stats_run_queue_count{type="normal"|"dirty"}`,
      `<prefix>_beam_stats_uptime_milliseconds_count`,
      `<prefix>_beam_system_process_limit_info` (gauges)
    * `<prefix>_phoenix_http_requests_total{method,path,status}` (counter)
    * `<prefix>_phoenix_http_request_duration_milliseconds{method,path,status}` (histogram,
      PromEx's buckets)

  and the sample's own, which PromEx has no plugin for:

    * `beam_connected_nodes` (gauge)
    * `database_up`, `database_connections` (gauges; only when a database is configured,
      see `ElixirApp.Database.metric_families/0`)

  HTTP observations live in a public ETS table owned by this process; each observation is
  one atomic `:ets.update_counter/4` on a row holding count, sum and per-bucket counts.
  """
  use GenServer

  @table __MODULE__
  # PromEx's Phoenix plugin prefixes every name with [otp_app, :prom_ex, :phoenix] (and the
  # Beam plugin with ..., :beam); telemetry_metrics_prometheus joins the parts with "_".
  @prefix "#{Mix.Project.config()[:app]}_prom_ex"
  @http @prefix <> "_phoenix_http"
  @beam @prefix <> "_beam"
  # Histogram upper bounds in milliseconds (the `le` label text; PromEx's Phoenix plugin's
  # buckets), and the same in microseconds, the unit durations are stored in.
  @buckets ["10", "100", "500", "1000", "5000", "10000", "30000"]
  @bucket_bounds_us for le <- @buckets, do: String.to_integer(le) * 1_000
  @methods ~w(GET HEAD POST PUT PATCH DELETE OPTIONS)
  @memory_kinds [:processes, :binary, :ets, :atom, :code]

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

  @doc "The metric name prefix: PromEx's default for this OTP application."
  @spec prefix() :: String.t()
  def prefix, do: @prefix

  defp render_beam do
    memory = :erlang.memory()
    {wall_clock_ms, _} = :erlang.statistics(:wall_clock)
    run_queue = :erlang.statistics(:total_run_queue_lengths)
    run_queue_all = :erlang.statistics(:total_run_queue_lengths_all)

    [
      gauge(
        @beam <> "_memory_allocated_bytes",
        "The total amount of memory currently allocated.",
        Keyword.fetch!(memory, :total)
      ),
      for kind <- @memory_kinds do
        gauge(
          "#{@beam}_memory_#{kind}_total_bytes",
          "The total amount of memory currently allocated for #{kind}.",
          Keyword.fetch!(memory, kind)
        )
      end,
      gauge(
        @beam <> "_memory_persistent_term_total_bytes",
        "The total amount of memory currently allocated to Erlang :persistent_term.",
        :persistent_term.info().memory
      ),
      gauge(
        @beam <> "_stats_process_count",
        "A count of how many Erlang processes are currently running.",
        :erlang.system_info(:process_count)
      ),
      gauge(
        @beam <> "_stats_port_count",
        "A count of how many ports are currently active.",
        :erlang.system_info(:port_count)
      ),
      gauge(
        @beam <> "_stats_atom_count",
        "A count of how many atoms are currently allocated.",
        :erlang.system_info(:atom_count)
      ),
      family(
        @beam <> "_stats_run_queue_count",
        "gauge",
        "The number of processes and ports that are ready to run and are in the run queue.",
        [{[type: "normal"], run_queue}, {[type: "dirty"], run_queue_all - run_queue}]
      ),
      gauge(
        @beam <> "_stats_uptime_milliseconds_count",
        "The total number of wall clock milliseconds that have passed since the system started.",
        wall_clock_ms
      ),
      gauge(
        @beam <> "_system_process_limit_info",
        "The maximum number of processes that can simultaneously exist on the BEAM instance.",
        :erlang.system_info(:process_limit)
      ),
      gauge(
        "beam_connected_nodes",
        "Other BEAM nodes this node is connected to (visible nodes: the cluster minus itself).",
        length(Node.list(:visible))
      )
    ]
  end

  defp gauge(name, help, value), do: family(name, "gauge", help, [{[], value}])

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
            {@http <> "_request_duration_milliseconds_bucket", labels ++ [le: le], n}
          end)

        buckets ++
          [
            {@http <> "_request_duration_milliseconds_bucket", labels ++ [le: "+Inf"], count},
            {@http <> "_request_duration_milliseconds_sum", labels,
             elem(row, @sum_pos - 1) / 1_000},
            {@http <> "_request_duration_milliseconds_count", labels, count}
          ]
      end)

    [
      family(
        @http <> "_requests_total",
        "counter",
        "The number of requests have been serviced.",
        requests
      ),
      header(
        @http <> "_request_duration_milliseconds",
        "histogram",
        "The time it takes for the application to respond to HTTP requests."
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
