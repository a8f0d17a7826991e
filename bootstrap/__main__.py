"""Bootstrap of elixir-devops CI/CD: state backend, secrets key and GitHub OIDC roles."""

import sys
from pathlib import Path

# Pulumi runs this program with bootstrap/ as the working directory, so only bootstrap/ is on
# sys.path; the shared config validator (config_reader.py) and this package are imported from the
# repository root, as in the tests. This is the one place that sets it up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from bootstrap.bootstrap_settings import load_settings
from bootstrap.github_ci_roles import GithubCiRoles, GithubCiRolesArgs
from bootstrap.release_registry import ReleaseRegistry, ReleaseRegistryArgs
from bootstrap.state_backend import StateBackend, StateBackendArgs

settings = load_settings()

backend = StateBackend(
    "state",
    StateBackendArgs(
        bucket_prefix=settings.state_bucket_prefix,
        project=settings.main_project,
        stacks=settings.environments,
        pull_request_secrets=settings.pull_request_environments,
        tags=settings.tags,
    ),
)
release = ReleaseRegistry(
    "release",
    ReleaseRegistryArgs(
        project=settings.main_project,
        keep_count=settings.release_keep_count,
        tags=settings.tags,
    ),
)
roles = GithubCiRoles(
    "ci",
    GithubCiRolesArgs(
        repository=settings.github_repository,
        stacks=settings.environments,
        github_environments=settings.github_environments,
        deploy_branch=settings.deploy_branch,
        state_bucket_arn=backend.bucket_arn,
        state_bucket_key_arn=backend.bucket_key_arn,
        secrets_key_arns=backend.secrets_key_arns,
        main_project=settings.main_project,
        resource_prefix=settings.resource_prefix,
        existing_provider_arn=settings.existing_oidc_provider_arn,
        release_repository_arn=release.repository_arn,
        pull_request_secrets_key_arn=backend.pull_request_secrets_key_arn,
        tags=settings.tags,
    ),
)

if roles.release_role_arn is not None:
    release.only_pushed_by(roles.release_role_arn)

pulumi.export("stateBucketName", backend.bucket_name)
pulumi.export("backendUrl", backend.backend_url)
pulumi.export("secretsKeyArns", backend.secrets_key_arns)
pulumi.export("secretsProviders", backend.secrets_providers)
pulumi.export("oidcProviderArn", roles.provider_arn)
pulumi.export("deployRoleArns", roles.deploy_role_arns)
pulumi.export("previewRoleArns", roles.preview_role_arns)
pulumi.export("releaseRepositoryUrl", release.repository_url)
pulumi.export("releaseRoleArn", roles.release_role_arn)
if roles.pull_request_role_arn is not None:
    pulumi.export("pullRequestRoleArn", roles.pull_request_role_arn)
    pulumi.export("pullRequestSecretsProvider", backend.pull_request_secrets_provider)
