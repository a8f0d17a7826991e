defmodule ElixirApp.MixProject do
  use Mix.Project

  def project do
    [
      app: :elixir_app,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      # The sample must build on machines without Hex access: its one dependency, the
      # PostgreSQL driver, comes from the system when installed there (see p1_pgsql_deps/0).
      deps: p1_pgsql_deps(),
      aliases: p1_pgsql_aliases(),
      releases: [
        elixir_app: [
          include_executables_for: [:unix],
          # runtime_tools lets an operator attach :observer_cli/:recon-style tooling remotely.
          applications: [runtime_tools: :permanent] ++ p1_pgsql_release_applications()
        ]
      ]
    ]
  end

  def application do
    [
      extra_applications: [:logger, :ssl, :public_key] ++ p1_pgsql_extra_applications(),
      mod: {ElixirApp.Application, []}
    ]
  end

  # PostgreSQL driver: p1_pgsql (pure Erlang, SCRAM-SHA-256 and TLS). Where Debian's
  # erlang-p1-pgsql is installed in the OTP lib directory (machines without Hex, CI), it is
  # used from there; anywhere else (the image build) it comes from Hex. The OTP lib directory,
  # not the code path, is checked: once fetched, the Hex copy is on the code path too.
  @system_p1_pgsql Path.wildcard(Path.join(:code.lib_dir(), "p1_pgsql-*/ebin")) != []

  defp p1_pgsql_deps do
    # 1.1.39 and later do SCRAM with stringprep alone (no xmpp); the API used here
    # (pgsql:connect/1, squery/3, terminate/1) is the same as in Debian's 1.1.20.
    if @system_p1_pgsql, do: [], else: [{:p1_pgsql, "~> 1.1.39"}]
  end

  # Debian's p1_pgsql 1.1.20 declares no dependencies but computes SCRAM proofs with the
  # `scram` module of erlang-p1-xmpp, which needs the stringprep NIF started: start
  # stringprep, and ship xmpp's modules in the release without starting that application.
  defp p1_pgsql_extra_applications,
    do: if(@system_p1_pgsql, do: [:p1_pgsql, :stringprep], else: [])

  defp p1_pgsql_release_applications,
    do: if(@system_p1_pgsql, do: [xmpp: :load], else: [])

  # Debian installs some of those applications in directories named after their package
  # (p1_xmpp-1.6.1 holds `xmpp`, p1_stringprep-1.0.29 `stringprep`), and `mix release` finds
  # applications by name (:code.lib_dir/1). Before it runs, expose each such directory under
  # its application's name in _build/system_libs, so the release bundles them like any other.
  defp p1_pgsql_aliases,
    do: if(@system_p1_pgsql, do: [release: [&expose_system_libs/1, "release"]], else: [])

  defp expose_system_libs(_args) do
    links = Path.join(Path.dirname(Mix.Project.build_path()), "system_libs")

    for app_file <- Path.wildcard(Path.join(:code.lib_dir(), "*/ebin/*.app")),
        lib = Path.dirname(Path.dirname(app_file)),
        app = Path.basename(app_file, ".app"),
        [_package, vsn] <- [String.split(Path.basename(lib), "-", parts: 2)],
        not String.starts_with?(Path.basename(lib), app <> "-") do
      link = Path.join(links, "#{app}-#{vsn}")
      File.mkdir_p!(links)
      # File.rm/1 removes the link itself, never what it points to.
      _ = File.rm(link)
      File.ln_s!(lib, link)
      Code.append_path(Path.join(link, "ebin"))
    end
  end
end
