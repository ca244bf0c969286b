"""The audit trail: who asked an agent to change something, or was refused, and what came of it.

``summary`` keeps what a request asked for without its secrets, ``records`` builds one record,
``store`` keeps them in the cluster store, ``journal`` as JSON lines in the agent's ``log/``,
and ``trail`` writes both off the event loop and answers reads.
"""
