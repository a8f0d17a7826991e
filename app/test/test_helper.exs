Code.require_file("support/http_client.exs", __DIR__)
ExUnit.start()
