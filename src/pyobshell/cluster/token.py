"""The one agent token of a cluster: the first agent to join stores its token in ``ocs``, every
other agent adopts it (written to its home, where the request verifier reads it)."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from pyobshell.engine.rows import utcnow
from pyobshell.cluster.tables import agent_token
from pyobshell.security.agent_token import AgentToken

log = logging.getLogger(__name__)
TOKEN_ROW = 1


def _stored(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(agent_token.c.token).where(agent_token.c.id == TOKEN_ROW)).scalar()


def adopt_cluster_token(engine: Engine, home: Path) -> AgentToken:
    """Make ``<home>/agent_token`` the cluster's token and return it."""
    own = AgentToken.load_or_create(home)
    stored = _stored(engine)
    if stored is None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(agent_token).values(id=TOKEN_ROW, token=own.value, gmt_create=utcnow()))
            log.info("this agent's token is now the cluster's agent token")
            return own
        except SQLAlchemyError:  # most likely a duplicate key: another agent was first
            stored = _stored(engine)
            if stored is None:
                raise
    if stored is None:
        raise RuntimeError("the cluster agent token row vanished")
    token = AgentToken(stored)
    if not own.matches(token.value):
        token.save(home)
        log.info("adopted the cluster's agent token")
    return token
