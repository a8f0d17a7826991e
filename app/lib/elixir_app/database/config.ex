defmodule ElixirApp.Database.Config do
  @moduledoc """
  Database settings, read from the environment the infrastructure sets:

    * `DATABASE_URL` (optional; absent or empty: the app runs without a database) —
      `ecto://USER:PASS@HOST[:PORT]/DATABASE`, or the same with `postgres://` or
      `postgresql://`. User, password and database name are percent-decoded exactly as
      Ecto's URL parser does (`URI.decode/1`: `%XX` sequences only, `+` stays `+`). Query:
        * `ssl=true|false` (Ecto's form) — `ssl=true` is `sslmode=require`;
        * `sslmode=disable|require|verify-full` — libpq's meanings: `require` encrypts
          without checking the server's certificate, `verify-full` checks its chain and
          that it names HOST;
        * `sslrootcert=PATH` (with `verify-full`) — PEM file of the CAs to trust, e.g. the
          RDS bundle; without it the operating system's trust store is used.
    * `POOL_SIZE` — connections the app holds, 1 to 1000, default 10.
    * `ECTO_IPV6` — `true` or `1`: resolve HOST to an IPv6 address (as Phoenix's generated
      runtime.exs does); anything else: IPv4.

  Error messages never contain the password (nor the URL, which holds it).
  """

  @derive {Inspect, except: [:password]}
  @enforce_keys [:host, :port, :database, :username, :password]
  defstruct [
    :host,
    :port,
    :database,
    :username,
    :password,
    ssl: :disable,
    ssl_root_cert: nil,
    pool_size: 10,
    ipv6: false
  ]

  @type ssl :: :disable | :require | :verify_full
  @type t :: %__MODULE__{
          host: String.t(),
          port: :inet.port_number(),
          database: String.t(),
          username: String.t(),
          password: String.t(),
          ssl: ssl(),
          ssl_root_cert: String.t() | nil,
          pool_size: pos_integer(),
          ipv6: boolean()
        }

  @schemes ["ecto", "postgres", "postgresql"]
  @default_port 5432
  @max_pool_size 1000
  @ssl_modes %{"disable" => :disable, "require" => :require, "verify-full" => :verify_full}
  @url_form "ecto://USER:PASS@HOST[:PORT]/DATABASE[?ssl=true]"

  @doc """
  The settings in `env` (a map of environment variables): `{:ok, nil}` when DATABASE_URL
  is absent or empty, `{:ok, config}`, or `{:error, message}` naming the variable at fault.
  """
  @spec from_env(%{optional(String.t()) => String.t()}) :: {:ok, t() | nil} | {:error, String.t()}
  def from_env(env) do
    case Map.get(env, "DATABASE_URL", "") do
      "" ->
        {:ok, nil}

      url ->
        with {:ok, config} <- parse_url(url),
             {:ok, pool_size} <- pool_size(Map.get(env, "POOL_SIZE")) do
          {:ok,
           %{config | pool_size: pool_size, ipv6: Map.get(env, "ECTO_IPV6") in ["true", "1"]}}
        end
    end
  end

  @doc "Parses a DATABASE_URL (see the module documentation); the defaults for the rest."
  @spec parse_url(String.t()) :: {:ok, t()} | {:error, String.t()}
  def parse_url(url) when is_binary(url) do
    with {:ok, uri} <- uri(url),
         :ok <- check_scheme(uri.scheme),
         {:ok, host} <- host(uri.host),
         {:ok, port} <- port(uri.port),
         {:ok, database} <- database(uri.path),
         {:ok, username, password} <- userinfo(uri.userinfo),
         {:ok, ssl, ssl_root_cert} <- ssl(uri.query) do
      {:ok,
       %__MODULE__{
         host: host,
         port: port,
         database: database,
         username: username,
         password: password,
         ssl: ssl,
         ssl_root_cert: ssl_root_cert
       }}
    end
  end

  defp uri(url) do
    case URI.new(url) do
      {:ok, uri} -> {:ok, uri}
      # URI.new/1 names the offending part, which may be a piece of the password.
      {:error, _part} -> error("is not a valid URL; expected #{@url_form}")
    end
  end

  defp check_scheme(scheme) when scheme in @schemes, do: :ok

  defp check_scheme(nil), do: error("has no scheme; expected #{@url_form}")

  defp check_scheme(scheme) do
    error(
      "has the scheme #{inspect(scheme)}; expected ecto://, postgres:// or postgresql:// " <>
        "(#{@url_form})"
    )
  end

  defp host(host) when host in [nil, ""], do: error("has no host; expected #{@url_form}")
  defp host(host), do: {:ok, host}

  defp port(nil), do: {:ok, @default_port}
  defp port(port) when port in 1..65_535, do: {:ok, port}
  defp port(port), do: error("has the port #{port}; a port is between 1 and 65535")

  defp database("/" <> name) when name != "" do
    if String.contains?(name, "/") do
      error("names the database #{inspect(name)}, which contains a slash")
    else
      {:ok, decode(name)}
    end
  end

  defp database(_path), do: error("names no database; expected #{@url_form}")

  # As Ecto: the user name ends at the first colon, the rest is the password.
  defp userinfo(userinfo) when userinfo in [nil, ""],
    do: error("has no user name; expected #{@url_form}")

  defp userinfo(userinfo) do
    {raw_user, raw_password} =
      case String.split(userinfo, ":", parts: 2) do
        [user, password] -> {user, password}
        [user] -> {user, ""}
      end

    case decode(raw_user) do
      "" -> error("has no user name; expected #{@url_form}")
      user -> {:ok, user, decode(raw_password)}
    end
  end

  # URI.decode/1, as Ecto: percent escapes only, a `+` stays a `+`.
  defp decode(text), do: URI.decode(text)

  defp ssl(nil), do: {:ok, :disable, nil}

  defp ssl(query) do
    params = URI.query_decoder(query) |> Enum.to_list()

    with :ok <- check_keys(params),
         {:ok, from_ssl} <- ssl_param(params),
         {:ok, from_sslmode} <- sslmode_param(params),
         {:ok, mode} <- combine(from_ssl, from_sslmode) do
      case {mode, last(params, "sslrootcert")} do
        {_mode, ""} -> error("has an empty sslrootcert")
        {:verify_full, root_cert} -> {:ok, :verify_full, root_cert}
        {mode, nil} -> {:ok, mode, nil}
        {_mode, _root_cert} -> error("has sslrootcert without sslmode=verify-full")
      end
    end
  end

  defp check_keys(params) do
    case Enum.find(params, fn {key, _} -> key not in ["ssl", "sslmode", "sslrootcert"] end) do
      nil ->
        :ok

      {key, _} ->
        error(
          "has the unknown query parameter #{inspect(key)} (known: ssl, sslmode, sslrootcert)"
        )
    end
  end

  defp ssl_param(params) do
    case last(params, "ssl") do
      nil -> {:ok, nil}
      "true" -> {:ok, :require}
      "false" -> {:ok, :disable}
      other -> error("has ssl=#{inspect(other)}; ssl is true or false")
    end
  end

  defp sslmode_param(params) do
    case last(params, "sslmode") do
      nil ->
        {:ok, nil}

      mode ->
        case Map.fetch(@ssl_modes, mode) do
          {:ok, mode} ->
            {:ok, mode}

          :error ->
            error("has sslmode=#{inspect(mode)}; sslmode is disable, require or verify-full")
        end
    end
  end

  defp combine(nil, nil), do: {:ok, :disable}
  defp combine(mode, nil), do: {:ok, mode}
  defp combine(nil, mode), do: {:ok, mode}
  defp combine(:disable, :disable), do: {:ok, :disable}
  defp combine(:require, mode) when mode != :disable, do: {:ok, mode}
  defp combine(_ssl, _sslmode), do: error("has ssl and sslmode values that contradict each other")

  defp last(params, key) do
    Enum.reduce(params, nil, fn
      {^key, value}, _ -> value
      _, acc -> acc
    end)
  end

  defp pool_size(nil), do: {:ok, 10}

  defp pool_size(text) do
    case Integer.parse(text) do
      {size, ""} when size in 1..@max_pool_size ->
        {:ok, size}

      _ ->
        {:error,
         "environment variable POOL_SIZE must be an integer between 1 and #{@max_pool_size}, " <>
           "got: #{inspect(text)}"}
    end
  end

  defp error(problem), do: {:error, "environment variable DATABASE_URL " <> problem}
end
