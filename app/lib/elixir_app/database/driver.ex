defmodule ElixirApp.Database.Driver do
  @moduledoc """
  The one place that talks to the PostgreSQL driver, p1_pgsql (`:pgsql`): connecting
  (name resolution, TLS options) and simple-protocol queries with normalised results.

  p1_pgsql authenticates with SCRAM-SHA-256 (what RDS requires), MD5 or a clear-text
  password, whichever the server asks for. Its connection is an unlinked process;
  `connect/2` links it to the caller, so it never outlives its owner.
  """

  alias ElixirApp.Database.Config

  @connect_timeout_ms 5_000

  @typedoc "A PostgreSQL error: SQLSTATE code and message."
  @type pg_error :: %{code: String.t(), message: String.t()}
  @typedoc "One statement's result: its command tag and rows (text values, `nil` for NULL)."
  @type result :: %{command: String.t(), rows: [[String.t() | nil]]}

  @doc """
  Opens a connection linked to the caller. `application_name` shows in
  `pg_stat_activity`. Errors are descriptions safe to log (no password).
  """
  @spec connect(Config.t(), String.t()) :: {:ok, pid()} | {:error, String.t()}
  def connect(%Config{} = config, application_name) do
    with {:ok, address} <- resolve(config),
         {:ok, pid} <- start(config, address) do
      Process.link(pid)

      case squery(pid, "SET application_name TO '#{application_name}'", @connect_timeout_ms) do
        {:ok, _} ->
          {:ok, pid}

        {:error, reason} ->
          close(pid)
          {:error, "setting application_name failed: #{describe(reason)}"}
      end
    end
  end

  @doc """
  Closes a connection at once: its socket closes with it. (`:pgsql.terminate/1` would wait
  behind a query still running, which is when connections get closed.)
  """
  @spec close(pid()) :: :ok
  def close(pid) do
    Process.unlink(pid)
    Process.exit(pid, :kill)
    :ok
  end

  @doc """
  Runs `sql` (one or more statements) with the simple query protocol. The first failing
  statement's error is returned; PostgreSQL runs none of the statements after it, and
  p1_pgsql rolls back the transaction it was in. An exit (timeout, connection gone) is
  returned as `{:error, {:exit, reason}}`: the connection must then be closed.
  """
  @spec squery(pid(), iodata(), timeout()) ::
          {:ok, [result()]} | {:error, pg_error() | {:exit, term()}}
  def squery(pid, sql, timeout) do
    case catch_exit(fn -> :pgsql.squery(pid, IO.iodata_to_binary(sql), timeout) end) do
      {:ok, {:ok, results}} -> normalise(results, [])
      {:ok, other} -> {:error, {:exit, {:unexpected_reply, other}}}
      {:exit, reason} -> {:error, {:exit, reason}}
    end
  end

  @doc "A log-safe description of an error returned by this module."
  @spec describe(pg_error() | {:exit, term()} | String.t()) :: String.t()
  def describe(%{code: code, message: message}), do: "#{message} (SQLSTATE #{code})"
  def describe({:exit, {:timeout, {:gen_server, :call, _}}}), do: "no answer in time"

  def describe({:exit, {reason, {:gen_server, :call, _}}}),
    do: "connection lost (#{kind(reason)})"

  def describe({:exit, reason}), do: "connection lost (#{kind(reason)})"
  def describe(message) when is_binary(message), do: message

  # Driver failure reasons can carry its state, which holds the password: keep the kind of
  # error and drop the rest.
  defp kind(reason) when is_atom(reason), do: Atom.to_string(reason)
  defp kind({:error, reason}), do: kind(reason)
  defp kind({:bad_return_value, reason}), do: kind(reason)
  defp kind({:tls_alert, {_alert, description}}), do: "TLS: #{description}"
  defp kind({{:badmatch, {:error, reason}}, _stack}), do: kind(reason)
  defp kind({reason, _details}) when is_atom(reason), do: Atom.to_string(reason)
  defp kind(_reason), do: "driver error"

  defp normalise([], acc), do: {:ok, Enum.reverse(acc)}

  defp normalise([{:error, fields} | _], _acc) do
    {:error,
     %{
       code: fields |> field(:code) |> to_string(),
       message: fields |> field(:message) |> to_string()
     }}
  end

  defp normalise([{command, _columns, rows} | rest], acc),
    do: normalise(rest, [%{command: to_string(command), rows: rows} | acc])

  defp normalise([command | rest], acc),
    do: normalise(rest, [%{command: to_string(command), rows: []} | acc])

  defp field(fields, key), do: List.keyfind(fields, key, 0, {key, "?"}) |> elem(1)

  # Resolved here rather than by the driver (which tries IPv6 first, then IPv4) so that
  # ECTO_IPV6 decides, as with Postgrex; names are resolved again at every connection, so a
  # DNS change (RDS failover) is followed.
  defp resolve(%Config{host: host, ipv6: ipv6}) do
    charlist = String.to_charlist(host)
    family = if ipv6, do: :inet6, else: :inet

    case :inet.parse_address(charlist) do
      {:ok, address} ->
        {:ok, address}

      {:error, _} ->
        case :inet.getaddr(charlist, family, @connect_timeout_ms) do
          {:ok, address} -> {:ok, address}
          {:error, reason} -> {:error, "cannot resolve #{host} (#{family}): #{reason}"}
        end
    end
  end

  defp start(config, address) do
    options =
      [
        host: :inet.ntoa(address),
        port: config.port,
        database: config.database,
        user: config.username,
        password: config.password,
        as_binary: true,
        connect_timeout: @connect_timeout_ms
      ] ++ tls_options(config)

    # pgsql:connect/1 waits for the handshake; p1_pgsql bounds each step (5 s).
    case :pgsql.connect(options) do
      {:ok, pid} -> {:ok, pid}
      {:error, reason} -> {:error, describe_connect_error(reason, config)}
      other -> {:error, "unexpected answer from the driver: #{kind(other)}"}
    end
  end

  defp tls_options(%Config{ssl: :disable}), do: []

  # libpq's sslmode=require: encrypted, the server's certificate is not checked. The
  # explicit verify_none keeps OTP 26+ (whose default is verify_peer) from refusing.
  defp tls_options(%Config{ssl: :require} = config),
    do: [transport: :ssl, verify: :verify_none] ++ sni(config.host)

  defp tls_options(%Config{ssl: :verify_full} = config) do
    trusted =
      case config.ssl_root_cert do
        nil -> [cacerts: :public_key.cacerts_get()]
        path -> [cacertfile: String.to_charlist(path)]
      end

    [
      transport: :ssl,
      verify: :verify_peer,
      depth: 10,
      customize_hostname_check: [match_fun: &hostname_match/2]
    ] ++ trusted ++ sni(config.host)
  end

  # OTP's HTTPS rules (wildcards included), plus what they lack for a host given as an IP
  # address: OTP compares it with the certificate's DNS names only, libpq's verify-full
  # with its IP addresses.
  @doc false
  def hostname_match({:dns_id, reference} = ref, {:iPAddress, presented} = id) do
    case :inet.parse_address(reference) do
      {:ok, ip} -> ip_bytes(ip) in [presented, IO.iodata_to_binary(presented)]
      {:error, _} -> https_match(ref, id)
    end
  end

  def hostname_match(reference, presented), do: https_match(reference, presented)

  defp https_match(reference, presented),
    do: :public_key.pkix_verify_hostname_match_fun(:https).(reference, presented)

  defp ip_bytes({a, b, c, d}), do: [a, b, c, d]

  defp ip_bytes(words) when tuple_size(words) == 8,
    do: for(word <- Tuple.to_list(words), byte <- [div(word, 256), rem(word, 256)], do: byte)

  # The driver upgrades an open socket, so the name to check the certificate against must
  # be given: OTP checks it against the certificate's DNS names, or IP addresses for an
  # IP literal (`server_name_indication: :disable` would skip the check altogether).
  defp sni(host), do: [server_name_indication: String.to_charlist(host)]

  defp describe_connect_error(reason, config) do
    where = "#{config.host}:#{config.port}"

    case reason do
      {:init, {:error, posix}} when is_atom(posix) ->
        "cannot connect to #{where}: #{:inet.format_error(posix)}"

      {:authentication, fields} when is_list(fields) ->
        "#{where} refused the login of #{inspect(config.username)}: #{field(fields, :message)}"

      {:error_response, fields} when is_list(fields) ->
        "#{where} refused the connection: #{field(fields, :message)}"

      {:starttls, :denied} ->
        "#{where} does not accept TLS (the URL asks for it)"

      other ->
        "cannot connect to #{where}: #{kind(other)}"
    end
  end

  defp catch_exit(fun) do
    {:ok, fun.()}
  catch
    :exit, reason -> {:exit, reason}
  end
end
