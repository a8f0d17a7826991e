"""``make plan`` (issue #16): the offline plan, its diagram and its monthly cost.

Totals are checked against figures worked out by hand from the price table; every AWS type the
program can register must be priced or declared free; the diagrams go through Mermaid's own
parser; the README's cost table and diagram are the plan's output; ``BASE`` compares two real
commits of a throwaway copy of this repository.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from plan import readme
from plan.compare import compare
from plan.cost import ESTIMATORS, FREE, PRICED, Assumptions, NoPriceTable, estimate, load_prices
from plan.cost import split_by_capacity as split
from plan.inventory import components
from plan.mocks import Recorded
from plan.report import Plan, PlanError, from_run
from plan.runner import PROJECT_DIR, stack_file_config
from settings.database import INSTANCE_MEMORY_GIB
from tests.aws_limits import TABLE
from tests.conftest import STACKS, stack_run
from tests.test_aws_limits import OPTION_RUNS, option_run

HOURS = 730
README = PROJECT_DIR / "README.md"
CHECK_MERMAID = PROJECT_DIR / "plan" / "check_mermaid.mjs"
_PLANS: dict[str, Plan] = {}


def stack_plan(stack: str) -> Plan:
    """The plan of a committed stack, from the run the other tests share (one per session)."""
    if stack not in _PLANS:
        _PLANS[stack] = from_run(stack, stack_run(stack).resources, stack_file_config(stack))
    return _PLANS[stack]


def resource(type_: str, name: str, inputs: dict[str, Any], **outputs: Any) -> Recorded:
    return Recorded(
        type=type_,
        name=name,
        urn=f"urn:pulumi:test::elixir-devops::{type_}::{name}",
        id=name,
        inputs=inputs,
        outputs={**inputs, **outputs},
        custom=True,
    )


def fargate_service(
    cpu: int, memory: int, tasks: int, arch: str = "X86_64", spot: bool = False
) -> list[Recorded]:
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/app:1"
    strategies = [{"capacityProvider": "FARGATE", "base": 1, "weight": 1}]
    if spot:
        strategies.append({"capacityProvider": "FARGATE_SPOT", "base": 0, "weight": 3})
    return [
        resource(
            "aws:ecs/taskDefinition:TaskDefinition",
            "task",
            {"cpu": str(cpu), "memory": str(memory), "runtimePlatform": {"cpuArchitecture": arch}},
            arn=arn,
        ),
        resource(
            "aws:ecs/service:Service",
            "service",
            {
                "taskDefinition": arn,
                "desiredCount": tasks,
                "capacityProviderStrategies": strategies,
            },
        ),
    ]


def mermaid(*files: Path) -> subprocess.CompletedProcess[str]:
    assert (PROJECT_DIR / "node_modules" / "mermaid").is_dir(), (
        "Mermaid's parser is not installed: run `npm ci` (scripts/ensure-tools.sh does)"
    )
    return subprocess.run(
        ["node", str(CHECK_MERMAID), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- hand-computed totals ---------------------------------------------------------------------


def test_one_quarter_vcpu_half_gb_x86_task_for_730_hours_costs_what_the_price_list_says() -> None:
    cost = estimate(fargate_service(256, 512, 1), "us-east-1")
    # 0.25 vCPU x 730 h x 0.04048 = 7.3876; 0.5 GB x 730 h x 0.004445 = 1.622425
    assert [(i.quantity, i.monthly_usd) for i in cost.items] == [(182.5, 7.39), (365.0, 1.62)]
    assert cost.monthly_usd == 9.01
    assert not cost.unpriced


def test_arm_tasks_use_the_arm_prices() -> None:
    cost = estimate(fargate_service(1024, 2048, 2, arch="ARM64"), "us-east-1")
    # 2 tasks x 1 vCPU x 730 x 0.03238 = 47.2748; 2 x 2 GB x 730 x 0.00356 = 10.3952
    assert [i.monthly_usd for i in cost.items] == [47.27, 10.4]
    assert all("arm" in i.price for i in cost.items)


def test_spot_share_follows_the_capacity_strategy_base_then_weights() -> None:
    strategy = [
        {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
        {"capacityProvider": "FARGATE_SPOT", "base": 0, "weight": 3},
    ]
    assert split(1, strategy) == {"FARGATE": 1, "FARGATE_SPOT": 0}
    assert split(5, strategy) == {"FARGATE": 2, "FARGATE_SPOT": 3}
    cost = estimate(fargate_service(256, 512, 5, spot=True), "us-east-1")
    by_kind = {("Spot" in i.item, i.price): i.monthly_usd for i in cost.items}
    # on-demand: 2 x 0.25 x 730 x 0.04048 = 14.7752; Spot 70 % off: 3 x 0.25 x 730 x 0.012144
    assert by_kind[(False, "fargate_vcpu_hour_x86")] == 14.78
    assert by_kind[(True, "fargate_vcpu_hour_x86")] == round(3 * 0.25 * 730 * 0.04048 * 0.3, 2)


def test_the_hours_assumption_scales_every_hourly_line() -> None:
    half = estimate(fargate_service(256, 512, 1), "us-east-1", Assumptions(hours=365))
    assert [i.quantity for i in half.items] == [91.25, 182.5]


def test_dev_costs_one_small_task_a_load_balancer_and_a_micro_database() -> None:
    plan = stack_plan("dev")
    prices = load_prices("eu-west-1")
    lines = {(i.component, i.price): i for i in plan.cost.items}
    assert lines[("Service", "fargate_vcpu_hour_x86")].monthly_usd == 7.39  # 0.25 x 730 x 0.04048
    assert lines[("Service", "fargate_gb_hour_x86")].monthly_usd == 1.62
    # dev has no NAT: its task has a public IPv4 address, billed by the hour.
    assert lines[("Service", "public_ipv4_hour")].monthly_usd == 3.65
    assert lines[("LoadBalancer", "alb_hour")].monthly_usd == round(HOURS * 0.0252, 2)
    assert lines[("LoadBalancer", "public_ipv4_hour")].quantity == 2 * HOURS  # two zones
    assert lines[("Database", "rds_instance_hour.db.t4g.micro")].monthly_usd == round(
        HOURS * prices.rds_instance_hour["db.t4g.micro"], 2
    )
    assert not any(i.price.startswith("nat_") for i in plan.cost.items)
    assert plan.cost.monthly_usd == round(sum(i.monthly_usd for i in plan.cost.items), 2)


def test_prod_pays_a_standby_database_and_a_nat_gateway_with_its_address_per_zone() -> None:
    plan = stack_plan("prod")
    lines = {(i.component, i.price): i for i in plan.cost.items}
    instance = lines[("Database", "rds_instance_hour.db.m7g.large")]
    assert instance.unit_usd == 2 * load_prices("eu-west-1").rds_instance_hour["db.m7g.large"]
    assert lines[("Network", "nat_gateway_hour")].count == 3
    assert lines[("Network", "nat_gateway_hour")].monthly_usd == round(3 * HOURS * 0.048, 2)
    assert lines[("Network", "public_ipv4_hour")].count == 3
    assert lines[("Network", "nat_gateway_gb")].quantity == Assumptions().nat_gb
    # Three on-demand 1 vCPU / 2 GB tasks, managed Prometheus, flow logs, access logs.
    assert lines[("Service", "fargate_vcpu_hour_x86")].quantity == 3 * 1 * HOURS
    assert ("ManagedPrometheus", "amp_samples_10m") in lines
    assert ("Network", "logs_ingest_gb") in lines
    assert ("AccessLogBucket", "s3_standard_gb_month") in lines


def test_managed_prometheus_samples_follow_tasks_series_and_the_scrape_interval() -> None:
    plan = stack_plan("prod")
    line = next(i for i in plan.cost.items if i.price == "amp_samples_10m")
    # prod: 3 tasks x 1000 series, scraped every 15 s for 730 h, priced per 10 million.
    assert line.quantity == pytest.approx(3 * 1000 * HOURS * 3600 / 15 / 1e7)


def test_local_target_costs_nothing() -> None:
    plan = stack_plan("local")
    assert plan.target == "local" and plan.region is None
    assert plan.cost.items == [] and plan.cost.monthly_usd == 0
    assert plan.cost.to_json()["price_table"] is None


# -- every type is priced or free -------------------------------------------------------------


def test_every_aws_type_the_program_can_register_has_a_price_or_a_free_entry() -> None:
    """tests/aws_limits.py's table holds every AWS type the runs register (its own test fails
    on a new one): each must be priced here, or declared free with a reason."""
    missing = sorted(t for t in TABLE if t not in PRICED and t not in FREE)
    assert not missing, f"add a price (plan/cost.py PRICED) or a FREE reason for: {missing}"
    assert not set(PRICED) & set(FREE)
    assert set(PRICED) == set(ESTIMATORS), "a priced type needs an estimator and its price keys"
    assert all(reason.strip() for reason in FREE.values())


@pytest.mark.parametrize("label", OPTION_RUNS)
def test_runs_with_every_option_on_have_nothing_unpriced(label: str) -> None:
    run = option_run(label)
    cost = estimate(run.resources, "eu-west-1")
    assert cost.unpriced == []
    assert {r.type for r in run.resources if r.type.startswith("aws:")} <= set(PRICED) | set(FREE)


def test_a_type_without_an_entry_is_reported_as_unpriced_not_silently_free() -> None:
    cost = estimate([resource("aws:apigateway/restApi:RestApi", "api", {})], "us-east-1")
    assert cost.unpriced == ["type aws:apigateway/restApi:RestApi (api)"]
    assert cost.to_json()["complete"] is False


def test_a_hosted_zone_costs_half_a_dollar_a_month_and_its_records_nothing() -> None:
    cost = estimate(
        [
            resource("aws:route53/zone:Zone", "zone", {"name": "example.com"}),
            resource("aws:route53/record:Record", "www", {"name": "www.example.com"}),
        ],
        "us-east-1",
    )
    assert [(i.item, i.monthly_usd) for i in cost.items] == [("Route 53 hosted zone", 0.5)]
    assert not cost.unpriced and "aws:route53/record:Record" in cost.free


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_each_price_table_is_dated_sourced_and_has_every_price_the_plan_uses(region: str) -> None:
    table = load_prices(region)
    document = yaml.safe_load((PROJECT_DIR / table.path).read_text())
    assert document["region"] == region and re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.date)
    used = {key for keys in PRICED.values() for key in keys if not key.startswith("rds_instance")}
    assert used <= set(table.prices), sorted(used - set(table.prices))
    assert set(table.prices) <= used, "a price no line uses"
    for price in table.prices.values():
        assert price.source.startswith("https://aws.amazon.com/"), price.key
        assert price.usd >= 0 and price.per, price.key
    assert table.rds_source.startswith("https://aws.amazon.com/rds/")
    assert set(table.rds_instance_hour) <= set(INSTANCE_MEMORY_GIB)


def test_every_committed_stack_uses_a_priced_database_class_and_region() -> None:
    for stack in STACKS:
        assert stack_plan(stack).cost.unpriced == [], stack


def test_a_region_without_a_price_table_is_refused_naming_the_tables_that_exist() -> None:
    with pytest.raises(NoPriceTable, match=r"'ap-south-2'.*eu-west-1, us-east-1"):
        from_run("dev", stack_run("dev").resources, {"aws:region": "ap-south-2"})
    with pytest.raises(PlanError, match="aws:region"):
        from_run("dev", stack_run("dev").resources, {})


# -- inventory and JSON -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_inventory_counts_every_resource_once_under_its_component(stack: str) -> None:
    plan = stack_plan(stack)
    registered = [
        r
        for r in plan.resources
        if not r.type.startswith("elixir-devops:") and r.type != "pulumi:pulumi:Stack"
    ]
    assert plan.resource_count == len(registered)
    names = {g.component for g in plan.groups}
    assert names <= {c.label for c in components(plan.resources).values()} | {"stack"}


def test_json_output_has_inventory_cost_assumptions_and_diagram() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "plan", "dev", "--format", "json", "--diagram", "-", "--lcu", "2"],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=300,
        check=True,
    )
    result = json.loads(completed.stdout)
    assert set(result) == {
        "stack",
        "target",
        "region",
        "assumptions",
        "inventory",
        "cost",
        "diagram",
    }
    assert (result["stack"], result["target"], result["region"]) == ("dev", "aws", "eu-west-1")
    assert result["assumptions"]["lcu"] == 2 and result["assumptions"]["hours"] == 730
    cost = result["cost"]
    assert cost["complete"] is True and cost["price_table"]["path"] == "plan/prices/eu-west-1.yaml"
    assert cost["monthly_usd"] == pytest.approx(
        sum(i["monthly_usd"] for i in cost["items"]), abs=0.01
    )
    lcu = next(i for i in cost["items"] if i["price"] == "alb_lcu_hour")
    assert lcu["quantity"] == 2 * HOURS
    assert set(lcu) == {"component", "item", "quantity", "unit", "unit_usd", "monthly_usd", "price",
                        "note", "count"}  # fmt: skip
    assert cost["free"]["aws:iam/role:Role"] == "IAM is free"
    assert result["inventory"]["resources"] == stack_plan("dev").resource_count
    assert result["diagram"]["mermaid"].startswith("flowchart LR")


def test_text_output_of_the_local_stack_prints_inventory_diagram_path_and_zero_cost(
    tmp_path: Path,
) -> None:
    diagram = tmp_path / "local.mmd"
    completed = subprocess.run(
        [sys.executable, "-m", "plan", "local", "--diagram", str(diagram)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=300,
        check=True,
    )
    assert f"Resources: {stack_plan('local').resource_count} in" in completed.stdout
    assert "docker:index/container:Container" in completed.stdout
    assert "Estimated monthly cost: USD 0.00 (local target" in completed.stdout
    assert diagram.read_text() == stack_plan("local").diagram


def test_an_unknown_stack_is_refused_naming_the_committed_ones() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "plan", "qa"],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "Pulumi.qa.yaml" in completed.stderr and "dev, local, prod, staging" in completed.stderr


def test_a_pull_request_stack_plans_the_committed_template() -> None:
    """make plan STACK=pr-<number> before the workflow materialises Pulumi.pr-<number>.yaml."""
    plan = stack_plan(readme.PR_EXAMPLE)
    assert plan.stack == "pr-1" and plan.region == "eu-west-1"
    fargate = [i for i in plan.cost.items if i.component == "Service" and "Fargate" in i.item]
    assert fargate and all("Spot" in i.item for i in fargate)
    assert not [i for i in plan.cost.items if "NAT" in i.item]
    assert any("db.t4g.micro, Single-AZ" in i.item for i in plan.cost.items)


# -- the diagram ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_diagram_names_every_component_of_the_stack(stack: str) -> None:
    plan = stack_plan(stack)
    for c in components(plan.resources).values():
        assert f'["{c.label}<br/>' in plan.diagram or f'[("{c.label}<br/>' in plan.diagram, c.label


def test_the_diagram_draws_the_traffic_data_and_alarm_paths() -> None:
    prod = stack_plan("prod").diagram
    for edge in (
        "x_Internet -->|HTTP / HTTPS| c_LoadBalancer",
        "c_LoadBalancer -->|app port| c_Service",
        "c_Service -->|PostgreSQL 5432| c_Database",
        "c_FargateTask -->|metrics remote write| c_ManagedPrometheus",
        "c_Monitoring -->|alarms| c_AlarmTopic",
        "c_AlarmTopic -->|notifications| x_Subscribers",
    ):
        assert edge in prod, edge
    chat = option_run("prod with every option on")
    everything = from_run("prod", chat.resources, stack_file_config("prod")).diagram
    assert "c_AlarmTopic -->|messages| c_ChatForwarder" in everything
    assert "c_ChatForwarder -->|webhook| x_Chat" in everything
    assert "Alarm subscribers<br/>email, https, sqs" in everything


def test_every_diagram_is_valid_mermaid_for_mermaids_own_parser(tmp_path: Path) -> None:
    files = []
    for stack in STACKS:
        files.append(tmp_path / f"{stack}.mmd")
        files[-1].write_text(stack_plan(stack).diagram)
    completed = mermaid(*files)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("flowchart-v2") == len(STACKS)


def test_the_mermaid_parser_rejects_a_broken_diagram(tmp_path: Path) -> None:
    """The check can fail: the prod diagram with one node's bracket left open."""
    broken = tmp_path / "broken.mmd"
    broken.write_text(
        stack_plan("prod").diagram.replace(
            'Service<br/>ECS service on Fargate<br/>4 resources"]', 'Service"', 1
        )
    )
    completed = mermaid(broken)
    assert completed.returncode == 1
    assert "Parse error" in completed.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_diagram_files_are_current(stack: str) -> None:
    committed = PROJECT_DIR / readme.DIAGRAMS_DIR / f"{stack}.mmd"
    assert committed.read_text() == stack_plan(stack).diagram, "run `python -m plan.readme`"


# -- README -----------------------------------------------------------------------------------


def test_readme_cost_table_and_prod_diagram_are_the_plans_output() -> None:
    text = README.read_text()
    plans = [stack_plan(stack) for stack in readme.table_stacks()]
    assert readme.costs_block(plans) in text, "README is stale: run `python -m plan.readme`"
    assert readme.diagram_block(stack_plan("prod")) in text, "run `python -m plan.readme`"
    assert "[docs/plan.md](docs/plan.md)" in text


def test_docs_state_every_assumption_flag_with_its_default() -> None:
    docs = (PROJECT_DIR / "docs" / "plan.md").read_text()
    for name, default in asdict(Assumptions()).items():
        assert f"| `--{name.replace('_', '-')}` | {default:g} |" in docs, name


# -- BASE: two synthetic commits --------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway repository holding this project: commit 1 as committed, commit 2 gives dev
    a NAT gateway. The real repository's branches and worktrees are never touched."""
    repo = tmp_path_factory.mktemp("plan-base") / "repo"
    for name in _git(PROJECT_DIR, "ls-files").splitlines():
        source = PROJECT_DIR / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    _git(repo, "init", "-q", "-b", "main")
    for key, value in (("user.email", "plan@example.com"), ("user.name", "plan test")):
        _git(repo, "config", key, value)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    stack_file = repo / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("natGateways: none", "natGateways: single")
    )
    _git(repo, "commit", "-q", "-am", "dev gets a NAT gateway")
    return repo


def test_base_comparison_of_two_commits_lists_added_resources_and_the_cost_difference(
    two_commits: Path,
) -> None:
    result = compare("dev", "HEAD~1", project_dir=two_commits)

    added = {(c.component, c.type) for c in result.added}
    assert ("Network", "aws:ec2/natGateway:NatGateway") in added
    assert ("Network", "aws:ec2/eip:Eip") in added
    assert result.removed == []
    assert result.base is not None
    assert result.base_commit == _git(two_commits, "rev-parse", "HEAD~1")
    assert result.base.cost.monthly_usd == stack_plan("dev").cost.monthly_usd
    # The NAT gateway's hours, the 10 GB assumed through it and its address; the task moves
    # to a private subnet and loses its own public address.
    nat = round(HOURS * 0.048 + 10 * 0.048 + HOURS * 0.005, 2)  # 35.04 + 0.48 + 3.65
    assert result.component_deltas() == {"Network": nat, "Service": -3.65}
    assert result.delta_usd == round(nat - 3.65, 2)
    # The temporary worktree is gone, and no branch was made.
    assert _git(two_commits, "worktree", "list").count("\n") == 0
    assert _git(two_commits, "branch", "--format=%(refname:short)") == "main"


def test_base_comparison_from_the_command_line_in_markdown(two_commits: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "plan", "dev", "--base", "HEAD~1", "--format", "markdown",
         "--project-dir", str(two_commits)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=300,
        check=True,
    )  # fmt: skip
    head = _git(two_commits, "rev-parse", "HEAD~1")[:12]
    assert completed.stdout.startswith(f"#### Offline plan of `dev` against `{head}`: ")
    assert "| + | Network | `aws:ec2/natGateway:NatGateway` |" in completed.stdout
    assert "| Service | -3.65 |" in completed.stdout


def test_every_pull_request_preview_adds_the_plan_against_its_base_commit() -> None:
    workflow = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / "preview.yml").read_text())
    steps = workflow["jobs"]["preview"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0, "the base commit must be in the clone"
    plan = next(s for s in steps if s.get("id") == "plan")
    assert plan["env"] == {
        "STACK": "${{ matrix.stack }}",
        "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
    }
    assert '-m plan "$STACK" --base "$BASE_SHA" --format markdown > plan.md' in plan["run"]
    comment = steps[steps.index(plan) + 1]
    assert "steps.plan.outcome == 'success'" in comment["if"]
    # The comment pulumi/actions writes for this stack starts with this heading.
    assert comment["env"]["HEADING"] == (
        "#### :tropical_drink: `preview` on elixir-devops/${{ matrix.stack }}"
    )
    assert "-F body=@comment.md" in comment["run"] and "-X PATCH" in comment["run"]
