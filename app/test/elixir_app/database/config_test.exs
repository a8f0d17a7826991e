defmodule ElixirApp.Database.ConfigTest do
  use ExUnit.Case, async: true

  alias ElixirApp.Database.Config

  @password "pa ss@w:rd/?#[]%&=+'\"\\é"
  # What components/database_url.py writes for @password: every byte outside
  # A-Z a-z 0-9 - . _ ~ percent-encoded.
  @encoded "pa%20ss%40w%3Ard%2F%3F%23%5B%5D%25%26%3D%2B%27%22%5C%C3%A9"

  defp parse!(url) do
    assert {:ok, config} = Config.parse_url(url)
    config
  end

  defp error(env) when is_map(env) do
    assert {:error, message} = Config.from_env(env)
    message
  end

  defp error(url), do: error(%{"DATABASE_URL" => url})

  test "no DATABASE_URL, or an empty one, means no database" do
    assert Config.from_env(%{}) == {:ok, nil}
    assert Config.from_env(%{"DATABASE_URL" => ""}) == {:ok, nil}
  end

  test "the Ecto form gives host, port, database and credentials" do
    config = parse!("ecto://app:secret@db.example.com:6432/app_prod")

    assert %Config{
             host: "db.example.com",
             port: 6432,
             database: "app_prod",
             username: "app",
             password: "secret",
             ssl: :disable,
             ssl_root_cert: nil
           } = config
  end

  test "postgres:// and postgresql:// are accepted too, the port defaults to 5432" do
    for scheme <- ["postgres", "postgresql"] do
      assert %Config{host: "db", port: 5432, database: "app"} = parse!("#{scheme}://u:p@db/app")
    end
  end

  test "user, password and database are percent-decoded as Ecto decodes them" do
    config = parse!("ecto://us%3Aer:#{@encoded}@db/my%20db")
    assert {config.username, config.password, config.database} == {"us:er", @password, "my db"}
    # URI.decode/1, like Ecto: a plus sign is a plus sign, not a space.
    assert parse!("ecto://u:a+b@db/app").password == "a+b"
  end

  test "the password may be empty or absent (servers that do not ask for one)" do
    assert parse!("ecto://u:@db/app").password == ""
    assert parse!("ecto://u@db/app").password == ""
  end

  test "an IPv6 literal host loses its brackets" do
    assert parse!("ecto://u:p@[::1]:5433/app").host == "::1"
  end

  test "ssl=true (Ecto's form) and sslmode=require ask for TLS without certificate checks" do
    assert parse!("ecto://u:p@db/app?ssl=true").ssl == :require
    assert parse!("ecto://u:p@db/app?sslmode=require").ssl == :require
    assert parse!("ecto://u:p@db/app?ssl=true&sslmode=require").ssl == :require
  end

  test "ssl=false and sslmode=disable mean a plain connection" do
    assert parse!("ecto://u:p@db/app?ssl=false").ssl == :disable
    assert parse!("ecto://u:p@db/app?sslmode=disable").ssl == :disable
  end

  test "sslmode=verify-full checks the certificate, against sslrootcert when given" do
    assert %Config{ssl: :verify_full, ssl_root_cert: nil} =
             parse!("ecto://u:p@db/app?sslmode=verify-full")

    assert %Config{ssl: :verify_full, ssl_root_cert: "/etc/ssl/rds-global-bundle.pem"} =
             parse!(
               "ecto://u:p@db/app?ssl=true&sslmode=verify-full" <>
                 "&sslrootcert=%2Fetc%2Fssl%2Frds-global-bundle.pem"
             )
  end

  test "POOL_SIZE sets the number of connections, 10 by default" do
    url = "ecto://u:p@db/app"
    assert {:ok, %Config{pool_size: 10}} = Config.from_env(%{"DATABASE_URL" => url})

    assert {:ok, %Config{pool_size: 3}} =
             Config.from_env(%{"DATABASE_URL" => url, "POOL_SIZE" => "3"})

    for bad <- ["0", "-1", "ten", "2.5", "", "1001"] do
      assert error(%{"DATABASE_URL" => url, "POOL_SIZE" => bad}) ==
               "environment variable POOL_SIZE must be an integer between 1 and 1000, " <>
                 "got: #{inspect(bad)}"
    end
  end

  test "ECTO_IPV6=true or 1 resolves the host as IPv6, as Phoenix's runtime.exs does" do
    url = "ecto://u:p@db/app"

    for {value, ipv6} <- [{"true", true}, {"1", true}, {"false", false}, {"yes", false}] do
      assert {:ok, %Config{ipv6: ^ipv6}} =
               Config.from_env(%{"DATABASE_URL" => url, "ECTO_IPV6" => value})
    end

    assert {:ok, %Config{ipv6: false}} = Config.from_env(%{"DATABASE_URL" => url})
  end

  test "bad URLs are refused with a message naming the problem and never the password" do
    cases = [
      {"mysql://u:#{@encoded}@db/app", ~s(has the scheme "mysql")},
      {"ecto://u:#{@password}@db/app", "is not a valid URL"},
      {"//u:#{@encoded}@db/app", "has no scheme"},
      {"ecto://u:#{@encoded}@/app", "has no host"},
      {"ecto://u:#{@encoded}@db", "names no database"},
      {"ecto://u:#{@encoded}@db/", "names no database"},
      {"ecto://u:#{@encoded}@db/app/extra", "contains a slash"},
      {"ecto://:#{@encoded}@db/app", "has no user name"},
      {"ecto://db/app", "has no user name"},
      {"ecto://u:#{@encoded}@db:0/app", "has the port 0"},
      {"ecto://u:#{@encoded}@db:99999/app", "has the port 99999"},
      {"ecto://u:#{@encoded}@db/app?ssl=yes", ~s(has ssl="yes")},
      {"ecto://u:#{@encoded}@db/app?sslmode=prefer", ~s(has sslmode="prefer")},
      {"ecto://u:#{@encoded}@db/app?ssl=false&sslmode=require", "contradict"},
      {"ecto://u:#{@encoded}@db/app?sslrootcert=%2Fca.pem", "without sslmode=verify-full"},
      {"ecto://u:#{@encoded}@db/app?pool_size=5", ~s(unknown query parameter "pool_size")}
    ]

    for {url, expected} <- cases do
      message = error(url)
      assert message =~ "environment variable DATABASE_URL"
      assert message =~ expected, "#{url}: #{message}"
      refute message =~ @encoded
      refute message =~ @password
    end
  end

  test "inspecting a configuration does not show the password" do
    config = parse!("ecto://u:#{@encoded}@db/app")
    refute inspect(config) =~ "pa ss"
    refute inspect(config) =~ @encoded
  end
end
