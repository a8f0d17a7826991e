"""The local registry container: loopback port, persistent storage, health-gated creation."""

from __future__ import annotations

from components.local.registry import ContainerRegistry, ContainerRegistryArgs
from tests.harness import run_components


def test_registry_is_published_on_loopback_with_persistent_storage() -> None:
    outputs: dict[str, str] = {}

    def build() -> list:
        registry = ContainerRegistry(
            "reg",
            ContainerRegistryArgs(
                repository="elixir-app",
                network_name="reg-net",
                host_port=5055,
                bind_address="127.0.0.1",
            ),
        )
        registry.repository_url.apply(lambda url: outputs.setdefault("repository_url", url))
        return [registry.repository_url, registry.registry_address]

    registered = run_components(build)
    container = registered.one("docker:index/container:Container")
    volume = registered.one("docker:index/volume:Volume")
    image = registered.one("docker:index/remoteImage:RemoteImage")
    component = registered.one("elixir-devops:local:ContainerRegistry")
    assert {container.parent, volume.parent, image.parent} == {component.urn}
    assert container.inputs["ports"] == [{"internal": 5000, "external": 5055, "ip": "127.0.0.1"}]
    assert container.inputs["volumes"] == [
        {"volumeName": volume.outputs["name"], "containerPath": "/var/lib/registry"}
    ]
    assert container.inputs["image"] == image.outputs["imageId"]
    assert image.inputs["name"] == "registry:2.8.3"
    assert "/v2/" in " ".join(container.inputs["healthcheck"]["tests"])
    assert container.inputs["wait"] is True
    assert outputs["repository_url"] == "localhost:5055/elixir-app"


def test_retained_registry_keeps_its_images() -> None:
    registered = run_components(
        lambda: [
            ContainerRegistry(
                "kept",
                ContainerRegistryArgs(
                    repository="elixir-app",
                    network_name="n",
                    host_port=5000,
                    bind_address="127.0.0.1",
                    retain_on_delete=True,
                ),
            ).repository_url
        ]
    )
    volume = registered.one("docker:index/volume:Volume")
    assert volume.retain_on_delete and volume.protect
