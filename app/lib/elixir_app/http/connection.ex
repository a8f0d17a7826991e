defmodule ElixirApp.HTTP.Connection do
  @moduledoc """
  One process per TCP connection: reads HTTP/1.1 requests (keep-alive and pipelining
  included) with Erlang's `:http_bin` packet parser, calls the handler, writes responses.

  The handler is `{module, options}`; `module.call(request, options)` gets a map with
  `:method`, `:path`, `:query`, `:headers` (lower-cased names) and `:body`, and returns
  `{route_label, status, headers, body}`. The route label is what metrics record.

  Malformed input gets a 400 and the connection is closed; only this process is affected.
  A request or header line longer than the listener's `packet_size` makes the inet driver
  close the socket itself, so that client sees the connection close without a response.
  """

  alias ElixirApp.Metrics

  require Logger

  # Longer than the AWS ALB's default 60 s idle timeout: the load balancer, not the app,
  # should be the one closing idle keep-alive connections (otherwise it can reuse a
  # connection the app just closed and answer 502).
  @idle_timeout_ms 65_000
  @request_timeout_ms 10_000
  @max_headers 100
  @max_body_bytes 1_048_576

  @doc false
  def serve(handler) do
    receive do
      {:socket, socket} -> await_request(socket, handler)
    after
      5_000 -> :ok
    end
  end

  # Waits for the next request line in active-once mode, so a :drain message from
  # ElixirApp.HTTP.Drainer can end an idle keep-alive connection at once.
  defp await_request(socket, handler) do
    with :ok <- :inet.setopts(socket, active: :once) do
      receive do
        {:http, ^socket, {:http_request, method, uri, version}} ->
          started = System.monotonic_time()
          handle_request(socket, handler, started, method, uri, version)

        {:http, ^socket, _unexpected} ->
          reject(socket, System.monotonic_time(), 400, "malformed request line")

        {:tcp_closed, ^socket} ->
          :ok

        {:tcp_error, ^socket, _reason} ->
          :gen_tcp.close(socket)

        :drain ->
          :gen_tcp.close(socket)
      after
        @idle_timeout_ms -> :gen_tcp.close(socket)
      end
    end
  end

  defp handle_request(socket, {module, options} = handler, started, method, uri, version) do
    deadline = System.monotonic_time(:millisecond) + @request_timeout_ms

    with {:ok, version} <- supported_version(version),
         {:ok, path, query} <- split_uri(uri),
         {:ok, headers} <- read_headers(socket, deadline, []),
         {:ok, body} <- read_body(socket, headers, deadline) do
      request = %{
        method: to_string(method),
        path: path,
        query: query,
        headers: headers,
        body: body
      }

      {route, status, resp_headers, resp_body} = call_handler(module, request, options)
      keep_alive = keep_alive?(version, headers) and not draining?()
      # HEAD: the GET response's headers (content-length included), without the body.
      sent_body = if request.method == "HEAD", do: "", else: resp_body

      send_response(
        socket,
        status,
        resp_headers,
        sent_body,
        keep_alive,
        IO.iodata_length(resp_body)
      )

      Metrics.observe_request(request.method, route, status, System.monotonic_time() - started)

      if keep_alive, do: await_request(socket, handler), else: :gen_tcp.close(socket)
    else
      # A line longer than packet_size: the inet driver has already closed the socket.
      {:error, :emsgsize} -> :ok
      {:error, :closed} -> :ok
      {:error, :timeout} -> reject(socket, started, 408, "request timeout")
      {:error, :too_large} -> reject(socket, started, 413, "request body too large")
      {:error, reason} -> reject(socket, started, 400, reason)
    end
  end

  defp call_handler(module, request, options) do
    module.call(request, options)
  rescue
    exception ->
      Logger.error(Exception.format(:error, exception, __STACKTRACE__))
      {"other", 500, [{"content-type", "application/json"}], ~s({"error":"internal error"})}
  end

  defp supported_version({1, minor} = version) when minor in [0, 1], do: {:ok, version}
  defp supported_version(_), do: {:error, "unsupported HTTP version"}

  defp split_uri({:abs_path, target}), do: split_target(target)
  defp split_uri({:absoluteURI, _scheme, _host, _port, target}), do: split_target(target)
  defp split_uri(_), do: {:error, "unsupported request target"}

  defp split_target(target) do
    case :binary.split(target, "?") do
      [path] -> {:ok, path, ""}
      [path, query] -> {:ok, path, query}
    end
  end

  defp read_headers(_socket, _deadline, acc) when length(acc) > @max_headers,
    do: {:error, "too many headers"}

  defp read_headers(socket, deadline, acc) do
    case :gen_tcp.recv(socket, 0, remaining(deadline)) do
      {:ok, {:http_header, _, name, _, value}} ->
        read_headers(socket, deadline, [{header_name(name), value} | acc])

      {:ok, :http_eoh} ->
        {:ok, Enum.reverse(acc)}

      {:ok, {:http_error, _line}} ->
        {:error, "malformed header"}

      {:ok, _other} ->
        {:error, "malformed header"}

      {:error, reason} ->
        {:error, reason}
    end
  end

  defp header_name(name) when is_atom(name), do: name |> Atom.to_string() |> String.downcase()
  defp header_name(name), do: String.downcase(name)

  defp read_body(socket, headers, deadline) do
    cond do
      List.keymember?(headers, "transfer-encoding", 0) ->
        {:error, "chunked request bodies are not supported"}

      length = List.keyfind(headers, "content-length", 0) ->
        case Integer.parse(elem(length, 1)) do
          {0, ""} -> {:ok, ""}
          {n, ""} when n > @max_body_bytes -> {:error, :too_large}
          {n, ""} when n > 0 -> recv_raw(socket, n, deadline)
          _ -> {:error, "invalid content-length"}
        end

      true ->
        {:ok, ""}
    end
  end

  defp recv_raw(socket, n, deadline) do
    :ok = :inet.setopts(socket, packet: :raw)
    result = :gen_tcp.recv(socket, n, remaining(deadline))
    :ok = :inet.setopts(socket, packet: :http_bin)
    result
  end

  defp remaining(deadline), do: max(deadline - System.monotonic_time(:millisecond), 0)

  defp keep_alive?({1, 1}, headers) do
    case List.keyfind(headers, "connection", 0) do
      {_, value} -> String.downcase(value) != "close"
      nil -> true
    end
  end

  defp keep_alive?(_version, _headers), do: false

  defp draining? do
    receive do
      :drain -> true
    after
      0 -> false
    end
  end

  # Answers a request that could not be read and closes the connection: after a framing
  # error there is no telling where the next request would start.
  defp reject(socket, started, status, reason) do
    body = ~s({"error":#{inspect(to_string(reason))}})
    headers = [{"content-type", "application/json"}]
    send_response(socket, status, headers, body, false, byte_size(body))
    Metrics.observe_request("other", "other", status, System.monotonic_time() - started)
    :gen_tcp.close(socket)
  end

  defp send_response(socket, status, headers, body, keep_alive, content_length) do
    head = [
      "HTTP/1.1 ",
      Integer.to_string(status),
      " ",
      reason_phrase(status),
      "\r\n",
      Enum.map(headers, fn {name, value} -> [name, ": ", value, "\r\n"] end),
      "content-length: ",
      Integer.to_string(content_length),
      "\r\nconnection: ",
      if(keep_alive, do: "keep-alive", else: "close"),
      "\r\ndate: ",
      http_date(),
      "\r\n\r\n"
    ]

    :gen_tcp.send(socket, [head, body])
  end

  defp reason_phrase(200), do: "OK"
  defp reason_phrase(400), do: "Bad Request"
  defp reason_phrase(404), do: "Not Found"
  defp reason_phrase(405), do: "Method Not Allowed"
  defp reason_phrase(408), do: "Request Timeout"
  defp reason_phrase(413), do: "Content Too Large"
  defp reason_phrase(500), do: "Internal Server Error"
  defp reason_phrase(_), do: "Unknown"

  @days {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
  @months {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

  defp http_date do
    {{y, mo, d} = date, {h, mi, s}} = :calendar.universal_time()
    day = elem(@days, :calendar.day_of_the_week(date) - 1)
    pad = &String.pad_leading(Integer.to_string(&1), 2, "0")

    "#{day}, #{pad.(d)} #{elem(@months, mo - 1)} #{y} #{pad.(h)}:#{pad.(mi)}:#{pad.(s)} GMT"
  end
end
