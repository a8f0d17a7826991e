"""elixir-devops: the Elixir app from its Dockerfile to a monitored container service.

Reads the stack's settings (a bad value stops here, before any resource), builds the target's
components and exports what a person needs to reach and operate the app.
"""

import pulumi

import program
import settings

for name, value in program.build(settings.from_pulumi()).items():
    pulumi.export(name, value)
