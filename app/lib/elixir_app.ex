defmodule ElixirApp do
  @moduledoc """
  A small HTTP service built on OTP, standing in for a Phoenix app: `GET /`, `GET /health`,
  `GET /metrics` (Prometheus text format) and, backed by PostgreSQL through the p1_pgsql
  driver, `GET /ready` and `GET/POST /visits` (see `ElixirApp.Database`).
  """
end
