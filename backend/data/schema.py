"""Table definitions (SQLAlchemy Core), shared by every SQL store and the migrations.

Times are epoch seconds (float) so lease arithmetic is plain comparison on every database.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# The largest value every sa.Integer column holds (32 bits on PostgreSQL): the API
# refuses larger versions and event ids before they reach a query.
INT_MAX = 2**31 - 1

executors = sa.Table(
    "executors",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("stopped_at", sa.Float),
)

graphs = sa.Table(
    "graphs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # Of the graph's content without its id (imports reuse identical sub-graphs).
    sa.Column("content_hash", sa.String(64)),
    sa.Index("ix_graphs_user_hash", "user_id", "content_hash"),
)

graph_executions = sa.Table(
    "graph_executions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("graph_id", sa.String(64), nullable=False, index=True),
    sa.Column("graph_version", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("deadline_at", sa.Float),
    sa.Column("stalled_claims", sa.Integer, nullable=False, server_default="0"),
    sa.Column("credentials", sa.JSON),
    sa.Column("max_tokens", sa.BigInteger),
    # A sub-agent run: the run and node execution that started it, and how deep it is.
    sa.Column("parent_run_id", sa.String(64)),
    sa.Column("parent_node_exec_id", sa.String(64)),
    sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
    # The API request that submitted the run (X-Request-ID), carried into executor logs.
    sa.Column("request_id", sa.String(128)),
    # Its W3C traceparent (version-00 form), the parent of the run's span with tracing on.
    sa.Column("traceparent", sa.String(55)),
    sa.Index("ix_graph_executions_status_created", "status", "created_at"),
    sa.Index("ix_graph_executions_parent", "parent_run_id"),
)

node_executions = sa.Table(
    "node_executions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    # Creation order within the run: "the oldest INCOMPLETE execution" is the lowest seq.
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("node_id", sa.String(64), nullable=False),
    sa.Column("block_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("input_data", sa.JSON, nullable=False),
    sa.Column("output_data", sa.JSON, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("stats", sa.JSON),
    # A resumed run's execution whose outputs were taken from this earlier one, not run.
    sa.Column("reused_from", sa.String(64)),
    sa.Index("ix_node_executions_run_seq", "run_id", "seq", unique=True),
)

execution_events = sa.Table(
    "execution_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_execution_events_run_id", "run_id", "id"),
)

# Retention finds the runs that ended before its cutoff.
sa.Index("ix_graph_executions_ended", graph_executions.c.ended_at)

# -- counters: what run views and /metrics read instead of every node row ---------------

# Node executions of one run by status, and the sum of their attempts. Kept by triggers
# on node_executions (migration 0008), so every writer keeps them exact.
run_node_counts = sa.Table(
    "run_node_counts",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("executions", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.BigInteger, nullable=False),
)

# LLM usage of one run by model, added as its nodes finish (with the provider totals).
run_llm_usage = sa.Table(
    "run_llm_usage",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(255), primary_key=True),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("llm_calls", sa.BigInteger, nullable=False),
)

# Finished node executions by block and duration bucket (stats.DURATION_BOUNDS; bucket
# len(bounds) is above the last bound), since the database was created or upgraded.
node_durations = sa.Table(
    "node_durations",
    metadata,
    sa.Column("block_id", sa.String(64), primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("executions", sa.BigInteger, nullable=False),
    sa.Column("total_seconds", sa.Float, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(255)),
    # SHA-256 hex of the key; the key itself is never stored.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float),
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    # The secret fields as one JSON object, encrypted (a Fernet token); never in clear.
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("hint", sa.String(32), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # The refresh lease: the executor refreshing the OAuth2 token now, and until when.
    sa.Column("refresh_owner", sa.String(64)),
    sa.Column("refresh_until", sa.Float),
    sa.Index("ix_credentials_user_provider", "user_id", "provider"),
)

# An OAuth2 connect flow between its start and its callback: the state (by its hash), the
# user and browser it belongs to, the PKCE verifier (encrypted), and when it expires. A
# callback takes (deletes) its row, so a state is used once.
oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("binding_hash", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("verifier", sa.Text, nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_oauth_states_user_id", "user_id"),
)

# One row: a known value encrypted with the key, so a process started with another key
# stops before it reads (or writes) any credential.
encryption_check = sa.Table(
    "encryption_check",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("token", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# LLM tokens spent, by provider and model, since the database was created (for /metrics).
llm_usage = sa.Table(
    "llm_usage",
    metadata,
    sa.Column("provider", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(255), primary_key=True),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("calls", sa.BigInteger, nullable=False),
)

# What PersistInformationBlock stores and RetrieveInformationBlock reads, per user and scope.
agent_kv = sa.Table(
    "agent_kv",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("scope", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.JSON),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Files blocks produced (images, videos): the record here, the bytes in file_chunks.
files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("node_exec_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_files_user_created", "user_id", "created_at"),
    sa.Index("ix_files_run", "run_id"),
    sa.Index("ix_files_created", "created_at"),
)

# A file's bytes in pieces of at most FILE_CHUNK_BYTES, so a download streams piece by
# piece and no single value is larger than that.
file_chunks = sa.Table(
    "file_chunks",
    metadata,
    sa.Column("file_id", sa.String(64), sa.ForeignKey("files.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# -- triggers: schedules, webhooks, idempotency keys ---------------------------------------

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("graph_id", sa.String(64), nullable=False),
    # None: the graph's active version when a slot fires.
    sa.Column("graph_version", sa.Integer),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("cron", sa.String(255), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("misfire", sa.String(16), nullable=False),
    sa.Column("next_fire_at", sa.Float, nullable=False),
    sa.Column("last_slot_at", sa.Float),
    sa.Column("last_run_id", sa.String(64)),
    sa.Column("last_error", sa.Text),
    # Bumped by every write: a scheduler fires a slot only if nobody wrote in between.
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_schedules_due", "enabled", "next_fire_at"),
)

hooks = sa.Table(
    "hooks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("graph_id", sa.String(64), nullable=False),
    sa.Column("graph_version", sa.Integer),
    sa.Column("name", sa.String(255), nullable=False),
    # The run input (agent input name or trigger node id) the delivered body goes to.
    sa.Column("input_name", sa.String(255), nullable=False),
    sa.Column("auth", sa.String(16), nullable=False),
    # The hook's secret, encrypted by the vault like credentials; never in clear.
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# The run each idempotency key started: an API client's Idempotency-Key, a schedule's
# slot, a webhook's delivery id. The key is unique per user: a second submit with it
# finds the first run instead of starting one.
run_keys = sa.Table(
    "run_keys",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    # What the key belongs to ("schedule:ID", "hook:ID", "api"): rate limits count by it.
    sa.Column("scope", sa.String(128), nullable=False),
    # SHA-256 of what was asked; the same key asking something else is a conflict.
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
    sa.Index("ix_run_keys_scope_created", "scope", "created_at"),
)
