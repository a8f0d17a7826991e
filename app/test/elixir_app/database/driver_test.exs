defmodule ElixirApp.Database.DriverTest do
  use ExUnit.Case, async: true

  alias ElixirApp.Database.Driver

  # sslmode=verify-full against a host given as an IP address: OTP alone compares it with
  # the certificate's DNS names; the app also compares it with its IP addresses (as libpq).
  test "an IP-address host matches the certificate's IP addresses, IPv4 and IPv6" do
    assert Driver.hostname_match({:dns_id, ~c"10.0.0.7"}, {:iPAddress, [10, 0, 0, 7]})
    refute Driver.hostname_match({:dns_id, ~c"10.0.0.8"}, {:iPAddress, [10, 0, 0, 7]})

    v6 = [0x20, 0x01, 0x0D, 0xB8] ++ List.duplicate(0, 11) ++ [1]
    assert Driver.hostname_match({:dns_id, ~c"2001:db8::1"}, {:iPAddress, v6})
    refute Driver.hostname_match({:dns_id, ~c"2001:db8::2"}, {:iPAddress, v6})
  end

  test "host names follow the HTTPS rules, wildcards included" do
    assert Driver.hostname_match(
             {:dns_id, ~c"db.abc123.eu-west-1.rds.amazonaws.com"},
             {:dNSName, ~c"*.abc123.eu-west-1.rds.amazonaws.com"}
           )

    refute Driver.hostname_match({:dns_id, ~c"db.example.org"}, {:dNSName, ~c"*.example.com"}) ==
             true

    # A name is never matched against an IP address.
    refute Driver.hostname_match({:dns_id, ~c"db.example.com"}, {:iPAddress, [10, 0, 0, 7]}) ==
             true
  end
end
