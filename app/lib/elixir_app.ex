defmodule ElixirApp do
  @moduledoc """
  A small HTTP service built on OTP only (no Hex packages), standing in for a Phoenix app:
  `GET /`, `GET /health` and `GET /metrics` (Prometheus text format).
  """
end
