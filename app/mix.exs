defmodule ElixirApp.MixProject do
  use Mix.Project

  def project do
    [
      app: :elixir_app,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      # No Hex packages on purpose: the sample must build on machines without Hex access.
      deps: [],
      releases: [
        elixir_app: [
          include_executables_for: [:unix],
          # runtime_tools lets an operator attach :observer_cli/:recon-style tooling remotely.
          applications: [runtime_tools: :permanent]
        ]
      ]
    ]
  end

  def application do
    [
      extra_applications: [:logger],
      mod: {ElixirApp.Application, []}
    ]
  end
end
