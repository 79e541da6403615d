"""Fresh databases and topics for each phase, removed at the end of the run.

One database `bench_<random>` is created on DATABASE_URL's server and migrated with
`python -m service migrate`; each phase gets a clone of it (`CREATE DATABASE ... TEMPLATE`),
which is much faster than migrating again. Topics are named `bench.<run>.<phase>.<role>`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy-style URL as a plain libpq/asyncpg DSN."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    """The same server URL, another database."""
    prefix, _, _ = url.rpartition("/")
    return f"{prefix}/{name}"


class Databases:
    """The migrated template and its per-phase clones on the stack's server."""

    def __init__(self, *, server_url: str, run_id: str) -> None:
        self._server_url = server_url
        self.template = f"bench_{run_id}"
        self._created: list[str] = []

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(self._server_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def create_template(self) -> None:
        """CREATE DATABASE bench_<run> and migrate it to head (a subprocess, as in production)."""
        await self._admin(f'CREATE DATABASE "{self.template}"')
        self._created.append(self.template)
        env = {**os.environ, "DATABASE_URL": with_database(self._server_url, self.template)}
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "service", "migrate"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migration failed: {result.stderr.decode()[-2000:]}")

    async def clone(self, phase: str) -> str:
        """A fresh database for one phase; its SQLAlchemy URL."""
        name = f"{self.template}_{phase}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self._created.append(name)
        return with_database(self._server_url, name)

    async def drop_all(self) -> None:
        """Drop every database this run created (clones first, then the template)."""
        for name in reversed(self._created):
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


@dataclass(frozen=True)
class PhaseTopics:
    """The three topics of one phase."""

    input: str
    output: str
    dlq: str


class Topics:
    """Creates the phases' topics and deletes them at the end."""

    def __init__(self, *, bootstrap: str, run_id: str) -> None:
        self._bootstrap = bootstrap
        self._run_id = run_id
        self._created: list[str] = []

    async def create(self, phase: str, *, partitions: int) -> PhaseTopics:
        """Input with `partitions` partitions; output and dead-letter topics with one."""
        base = f"bench.{self._run_id}.{phase}"
        topics = PhaseTopics(input=f"{base}.in", output=f"{base}.out", dlq=f"{base}.dlq")
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(topics.input, partitions, 1),
                    NewTopic(topics.output, 1, 1),
                    NewTopic(topics.dlq, 1, 1),
                ]
            )
        finally:
            await admin.close()
        self._created.extend([topics.input, topics.output, topics.dlq])
        return topics

    async def delete_all(self) -> None:
        """Delete every topic this run created."""
        if not self._created:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(self._created)
        finally:
            await admin.close()
        self._created.clear()
