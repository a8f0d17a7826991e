# Reads a Phoenix app's config files with Elixir itself, for tests/phoenix_config.py.
#
#   elixir tests/phoenix_config.exs env-reads config/runtime.exs
#     one line per System.get_env/fetch_env/fetch_env! call: "required NAME" when the file
#     raises without it (fetch_env!, or get_env(...) || raise ...), "read NAME" otherwise.
#   elixir tests/phoenix_config.exs eval config/runtime.exs
#     evaluates the file as a release does in prod (Config.Reader, env :prod) with the
#     current environment, and prints the endpoint and repo settings the tests check, or the
#     exception the file raised (exit status 2).
#   elixir tests/phoenix_config.exs force-ssl config/prod.exs
#     evaluates the compile-time prod config and prints force_ssl's excluded paths and hosts
#     ("paths /health", "hosts localhost").

defmodule PhoenixConfig do
  def env_call({{:., _, [{:__aliases__, _, [:System]}, fun]}, _, [name | _]})
      when fun in [:get_env, :fetch_env, :fetch_env!] and is_binary(name),
      do: {fun, name}

  def env_call(_), do: nil

  def env_reads(path) do
    ast = path |> File.read!() |> Code.string_to_quoted!()

    {_, found} =
      Macro.prewalk(ast, [], fn
        {:||, _, [left, {:raise, _, _}]} = node, acc ->
          case env_call(left) do
            {_, name} -> {node, [{"required", name} | acc]}
            nil -> {node, acc}
          end

        node, acc ->
          case env_call(node) do
            {:fetch_env!, name} -> {node, [{"required", name} | acc]}
            {_, name} -> {node, [{"read", name} | acc]}
            nil -> {node, acc}
          end
      end)

    for {kind, name} <- Enum.reverse(found), do: IO.puts("#{kind} #{name}")
  end

  def eval(path) do
    config = Config.Reader.read!(path, env: :prod, target: :host)

    for {app, entries} <- config, {key, value} <- entries, is_list(value) do
      for field <- [:url, :http, :server, :pool_size, :socket_options],
          Keyword.has_key?(value, field) do
        IO.puts("#{app} #{inspect(key)} #{field} #{inspect(Keyword.fetch!(value, field))}")
      end
    end
  rescue
    error ->
      IO.puts("raised #{Exception.message(error) |> String.split("\n") |> hd()}")
      System.halt(2)
  end

  def force_ssl(path) do
    for {_app, entries} <- Config.Reader.read!(path, env: :prod, target: :host),
        {_key, value} <- entries,
        is_list(value),
        force_ssl = Keyword.get(value, :force_ssl),
        {kind, items} when kind in [:paths, :hosts] <- force_ssl[:exclude] || [],
        item <- items do
      IO.puts("#{kind} #{item}")
    end
  end
end

case System.argv() do
  ["env-reads", path] -> PhoenixConfig.env_reads(path)
  ["eval", path] -> PhoenixConfig.eval(path)
  ["force-ssl", path] -> PhoenixConfig.force_ssl(path)
end
