"""Know before you apply: the program of a stack run offline, its inventory, diagram and cost.

``python -m plan <stack>`` (``make plan STACK=<stack>``) runs ``__main__.py`` under the same
mocks the tests use - no Pulumi CLI, cloud account or Docker engine - and prints what the stack
would create, a Mermaid diagram of its components, and an estimated monthly cost from the dated
price table of its region (``plan/prices/<region>.yaml``). See docs/plan.md.
"""
