"""What travels between an agent and its clients: pydantic shapes only, with obshell's JSON names.

Shared by the agent (api, and the layers that build answers), the Python client and the CLI;
it imports nothing of the server stack, so ``import pyobshell.client`` stays light.
"""
