"""Local target with several app replicas: one Erlang cluster behind an haproxy container."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import stack_run
from tests.haproxy_support import check_config
from tests.harness import Registered, run_stack

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def replicated() -> Registered:
    run = run_stack("local", overrides={"localReplicas": 3})
    assert run.error is None, run.error
    return run


def _containers(run: Registered) -> dict[str, Any]:
    return {c.name.removeprefix("elixir-app-local-"): c for c in run.of_type(CONTAINER)}


def _env(container: Any) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in container.inputs["envs"])


def test_replicas_share_the_alias_and_form_one_cluster(replicated: Registered) -> None:
    containers = _containers(replicated)
    replicas = [containers[n] for n in ("app", "app-2", "app-3")]
    for replica in replicas:
        (network,) = replica.inputs["networksAdvanced"]
        assert network["aliases"] == ["app"]
        assert not replica.inputs.get("ports"), "only the proxy publishes the app port"
        env = _env(replica)
        assert env["DNS_CLUSTER_QUERY"] == "app"
        assert env["RELEASE_DISTRIBUTION"] == "name"
        assert env["ERL_AFLAGS"] == "-start_epmd false -erl_epmd_port 4370"
        assert replica.inputs["image"] == replicas[0].inputs["image"]
        assert replica.inputs["wait"] is True
    # One cookie for all, and the migrations ran once, before any replica.
    assert len({_env(r)["RELEASE_COOKIE"] for r in replicas}) == 1
    assert all(containers["migrate"].urn in r.dependencies for r in replicas)


def test_the_proxy_publishes_the_port_on_loopback_and_health_checks_every_replica(
    replicated: Registered,
) -> None:
    containers = _containers(replicated)
    proxy = containers["proxy"]
    (port,) = proxy.inputs["ports"]
    assert (port["ip"], port["internal"], port["external"]) == ("127.0.0.1", 4000, 4000)
    (upload,) = proxy.inputs["uploads"]
    config = upload["content"]
    assert "server-template replica 1-3 app:4000 resolvers dns" in config
    assert "http-check send meth GET uri /health" in config
    check_config(config)  # the real haproxy accepts it
    # The port changes hands only once every replica is healthy.
    for name in ("app", "app-2", "app-3"):
        assert containers[name].urn in proxy.dependencies
    assert replicated.outputs["url"] == "http://localhost:4000"


def test_prometheus_scrapes_every_replica(replicated: Registered) -> None:
    prometheus = _containers(replicated)["prometheus"]
    (config,) = [
        u["content"] for u in prometheus.inputs["uploads"] if u["file"].endswith("prometheus.yml")
    ]
    document = yaml.safe_load(config)
    (app_job,) = [job for job in document["scrape_configs"] if job["job_name"] == "elixir-app"]
    assert app_job["static_configs"][0]["targets"] == [
        "elixir-app-local-app:4000",
        "elixir-app-local-app-2:4000",
        "elixir-app-local-app-3:4000",
    ]


def test_one_replica_is_the_single_container_it_always_was() -> None:
    containers = _containers(stack_run("local"))
    assert "proxy" not in containers and "app-2" not in containers
    app = containers["app"]
    assert app.inputs["ports"][0]["external"] == 4000
    assert "DNS_CLUSTER_QUERY" not in _env(app)


def test_replicas_are_bounded() -> None:
    run = run_stack("local", overrides={"localReplicas": 11})
    assert run.error is not None and "elixir-devops:localReplicas = 11" in run.error
