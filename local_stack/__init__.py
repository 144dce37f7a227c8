"""Real local stand-ins for the cloud: the Pub/Sub emulator, the Dataproc emulator and
the functions-framework server, as process groups that start fast and stop cleanly.

Used by the end-to-end tests, the local demo and the benchmarks. Linux only: process
groups are watched through /proc.
"""

from local_stack.dataproc_process import DataprocEmulatorProcess
from local_stack.function_server import FunctionServer
from local_stack.processes import StartupError
from local_stack.pubsub_emulator import (
    EmulatorNotInstalledError,
    PubSubApiError,
    PubSubEmulator,
    ReceivedMessage,
)
from local_stack.stack import LocalStack

__all__ = [
    "DataprocEmulatorProcess",
    "EmulatorNotInstalledError",
    "FunctionServer",
    "LocalStack",
    "PubSubApiError",
    "PubSubEmulator",
    "ReceivedMessage",
    "StartupError",
]
