"""The executor side of dispatch: accept a cluster sub-task as a local copy and queue it, or
cancel the copy's run (``POST`` / ``DELETE /rpc/v1/task/sub_task``)."""

from __future__ import annotations

import logging

from pyobshell.engine import remote_copies
from pyobshell.engine.runner import TaskEngine
from pyobshell.engine.remote_copies import RemoteTask

log = logging.getLogger(__name__)


class CopyReceiver:
    def __init__(self, local: TaskEngine):
        self.local = local

    def accept(self, task: RemoteTask) -> int:
        """Create or refresh the copy (idempotent by ``execute_times``); returns its local id."""
        result = remote_copies.accept(self.local.store, task)
        if result.queue:
            self.local.executor.submit(result.local_task_id)
        return result.local_task_id

    def cancel(self, task: RemoteTask) -> bool:
        """Stop the run of this attempt (or a newer one); False when there is no such copy.

        Unlike obshell (which ignores a cancel carrying the copy's own ``execute_times``, so
        its remote cancels rarely stop anything), the attempt the maintainer names is stopped.
        """
        store = self.local.store
        with store.read() as conn:
            mapping = remote_copies.mapping_by_remote(store, conn, task.task_id)
        if mapping is None or mapping.execute_times > task.execute_times:
            return False
        log.info("cancelling copy %d of cluster sub task %d (attempt %d)", mapping.local_task_id, task.task_id,
                 mapping.execute_times)
        self.local.executor.cancel(mapping.local_task_id)
        return True
