"""Cluster mode: agents beside the observers of one cluster work as one.

* :mod:`~pyobshell.cluster.agent_registry`: every agent registers itself in ``ocs.all_agent``.
* :mod:`~pyobshell.cluster.token`: the one agent token the cluster's agents share.
* :mod:`~pyobshell.cluster.maintainer_election`: the lease on ``task_maintainer`` row 1,
  measured on the database clock; :mod:`~pyobshell.cluster.coordinator` runs it.
* :mod:`~pyobshell.cluster.remote_dispatch`: the maintainer sends ready sub-tasks to their
  executors; :mod:`~pyobshell.cluster.task_sync`: executors run copies and write results back.
* :mod:`~pyobshell.cluster.member`: all of it composed for one agent.

Layering: api → cluster → engine (and security for request building).
"""
