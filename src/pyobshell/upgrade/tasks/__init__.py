"""The task types of the OB upgrade DAG (obshell-upgrade reference §6), registered in the
engine's default registry when this package is imported.

Each task finds its agent's facts through :mod:`pyobshell.upgrade.environment`; the
context keys they read and write are in :mod:`.upgrade_context`. The ``*_node`` helpers
build nodes with the params a task needs.
"""

from pyobshell.upgrade.tasks.check_packages import CheckPackagesTask
from pyobshell.upgrade.tasks.download_packages import DownloadPackagesTask
from pyobshell.upgrade.tasks.gates import ApprovalGateTask, SoakTask, approval_gate_node, soak_node
from pyobshell.upgrade.tasks.minor_freeze import MinorFreezeTask, minor_freeze_node
from pyobshell.upgrade.tasks.parameters import BackupParametersTask, RestoreParametersTask
from pyobshell.upgrade.tasks.python_env import CheckPythonEnvTask
from pyobshell.upgrade.tasks.reinstall_observer import ReinstallAndRestartObserverTask, reinstall_node
from pyobshell.upgrade.tasks.unpack_packages import UnpackPackagesTask
from pyobshell.upgrade.tasks.work_dir import CreateUpgradeDirTask, RemoveUpgradeCheckDirTask
from pyobshell.upgrade.tasks.scripts import (
    CHECKER,
    HEALTH_CHECKER,
    POST,
    PRE,
    ExecPreScriptTask,
    ExecScriptTask,
    script_node,
)
from pyobshell.upgrade.tasks.zones import StartZoneTask, StopZoneTask, start_zone_node, stop_zone_node

# The five per-host package nodes that open every OB upgrade DAG, in order (all parallel).
HEADER_TASKS = (CheckPythonEnvTask, CreateUpgradeDirTask, DownloadPackagesTask, CheckPackagesTask,
                UnpackPackagesTask)

__all__ = [
    "CHECKER", "HEADER_TASKS", "HEALTH_CHECKER", "POST", "PRE", "ApprovalGateTask", "BackupParametersTask",
    "CheckPackagesTask", "SoakTask", "approval_gate_node", "soak_node",
    "CheckPythonEnvTask", "CreateUpgradeDirTask", "DownloadPackagesTask", "ExecPreScriptTask", "ExecScriptTask",
    "MinorFreezeTask",
    "ReinstallAndRestartObserverTask", "RemoveUpgradeCheckDirTask", "RestoreParametersTask", "StartZoneTask",
    "StopZoneTask", "UnpackPackagesTask", "minor_freeze_node", "reinstall_node", "script_node",
    "start_zone_node", "stop_zone_node",
]
