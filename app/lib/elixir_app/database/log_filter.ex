defmodule ElixirApp.Database.LogFilter do
  @moduledoc """
  A primary logger filter, installed when the app has a database, for two things the
  driver (p1_pgsql) does not do itself:

    * redact the database password from every log event: the driver keeps it in its
      process state, and a crash report of that process prints the state;
    * drop the driver's own crash reports for a connection the server closed (reasons
      `tcp_close`, `tcp_error`, `{socket, closed}`): a database restart would otherwise
      log two `[error] GenServer ... terminating` per connection, while
      `ElixirApp.Database.Connection` already logs one warning for it.
  """

  @id :elixir_app_database
  @redacted "[REDACTED]"

  @doc "Installs (or replaces) the filter for `password`."
  @spec install(String.t()) :: :ok
  def install(password) do
    _ = :logger.remove_primary_filter(@id)
    :ok = :logger.add_primary_filter(@id, {&__MODULE__.filter/2, password})
  end

  @doc false
  @spec filter(:logger.log_event(), String.t()) :: :logger.filter_return()
  def filter(%{msg: msg, meta: meta} = event, password) do
    cond do
      connection_closed?(msg, meta) -> :stop
      password == "" -> event
      true -> %{event | msg: redact(msg, password), meta: redact(meta, password)}
    end
  end

  # OTP's report, or (Elixir 1.15+, whose translator runs first) the translated event's
  # crash_reason.
  defp connection_closed?({:report, %{label: {:gen_server, :terminate}, reason: reason}}, _meta),
    do: closed_reason?(reason)

  defp connection_closed?(_msg, %{crash_reason: {reason, _stacktrace}}),
    do: closed_reason?(reason)

  defp connection_closed?(_msg, _meta), do: false

  defp closed_reason?(reason),
    do: reason in [:tcp_close, :tcp_error] or match?({:socket, _closed_or_error}, reason)

  defp redact(term, password) when is_binary(term) do
    if String.contains?(term, password), do: String.replace(term, password, @redacted), else: term
  end

  defp redact(term, password) when is_list(term) do
    # The driver turns the password into a list of bytes before using it.
    if term == :binary.bin_to_list(password) or term == String.to_charlist(password),
      do: @redacted,
      else: redact_list(term, password)
  end

  defp redact(term, password) when is_tuple(term),
    do: term |> Tuple.to_list() |> redact_list(password) |> List.to_tuple()

  # :maps.map/2, not Map.new/2: structs are maps without Enumerable.
  defp redact(term, password) when is_map(term),
    do: :maps.map(fn _key, value -> redact(value, password) end, term)

  defp redact(term, _password), do: term

  # Improper lists (iodata may end in a binary) included.
  defp redact_list([head | tail], password),
    do: [redact(head, password) | redact_list(tail, password)]

  defp redact_list([], _password), do: []
  defp redact_list(tail, password), do: redact(tail, password)
end
