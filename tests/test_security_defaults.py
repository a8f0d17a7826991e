"""Secure by default: access logs, flow logs and a read-only root, where the stack says so."""

from __future__ import annotations

import json

from parliament import analyze_policy_string

from plan.mocks import ACCOUNT
from tests.conftest import stack_run


def test_prod_load_balancer_writes_access_logs_to_a_private_encrypted_bucket() -> None:
    run = stack_run("prod")
    lb = run.one("aws:lb/loadBalancer:LoadBalancer")
    bucket = run.one("aws:s3/bucket:Bucket")
    assert lb.inputs["accessLogs"] == {
        "bucket": bucket.outputs["bucket"],
        "prefix": "alb",
        "enabled": True,
    }
    assert lb.inputs["tags"]["access-logs"] == "required"
    assert bucket.protect and bucket.retain_on_delete  # prod keeps its data
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    sse = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = sse.inputs["rules"]
    # ELB access-log delivery supports SSE-S3 only.
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    lifecycle = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs[
        "rules"
    ]
    assert lifecycle[0]["expiration"] == {"days": 90}
    assert run.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }


def test_the_bucket_takes_tls_only_and_only_elb_log_delivery_writes() -> None:
    run = stack_run("prod")
    bucket = run.one("aws:s3/bucket:Bucket").outputs["arn"]
    policy = run.one("aws:s3/bucketPolicy:BucketPolicy")
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    deny = statements["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    logs = f"{bucket}/alb/AWSLogs/{ACCOUNT}/*"
    assert statements["ElbAccountWritesLogs"]["Principal"] == {
        "AWS": "arn:aws:iam::156460612806:root"
    }
    assert statements["ElbLogDeliveryWritesLogs"]["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }
    for sid in ("ElbAccountWritesLogs", "ElbLogDeliveryWritesLogs"):
        assert statements[sid]["Action"] == "s3:PutObject"
        assert statements[sid]["Resource"] == logs
    assert not analyze_policy_string(policy.inputs["policy"]).findings
    # The load balancer is configured only once the bucket lets it write.
    lb = run.one("aws:lb/loadBalancer:LoadBalancer")
    assert policy.urn in lb.dependencies


def test_dev_keeps_no_access_logs_and_no_flow_logs() -> None:
    run = stack_run("dev")
    assert not run.of_type("aws:s3/bucket:Bucket")
    assert not run.of_type("aws:ec2/flowLog:FlowLog")
    lb = run.one("aws:lb/loadBalancer:LoadBalancer")
    assert "access-logs" not in lb.inputs["tags"]


def test_prod_records_vpc_flow_logs_with_a_role_scoped_to_its_log_group() -> None:
    run = stack_run("prod")
    flow = run.one("aws:ec2/flowLog:FlowLog")
    vpc = run.one("aws:ec2/vpc:Vpc")
    assert flow.inputs["vpcId"] == vpc.id
    assert flow.inputs["trafficType"] == "ALL"
    (group,) = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if "flow-logs" in g.name]
    assert flow.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["retentionInDays"] == 365
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if "flow-logs" in r.name]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (policy,) = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if "flow-logs" in p.name]
    document = json.loads(policy.inputs["policy"])
    write = next(s for s in document["Statement"] if s["Sid"] == "WriteFlowLogs")
    assert write["Resource"] == f"{group.outputs['arn']}:*"
    assert not analyze_policy_string(policy.inputs["policy"]).findings
    assert policy.urn in flow.dependencies
