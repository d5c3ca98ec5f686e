"""REST consumers of the gateway (gateway-held mode): hashed keys mapped to upstream credentials

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rest_consumers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("upstream_style", sa.String(16), nullable=False, server_default=""),
        sa.Column("upstream_api_key", sa.Text(), nullable=False, server_default=""),
        sa.Column("upstream_app_key", sa.Text(), nullable=False, server_default=""),
        sa.Column("upstream_client_id", sa.Text(), nullable=False, server_default=""),
        sa.Column("upstream_client_secret", sa.Text(), nullable=False, server_default=""),
        sa.Column("ip_allowlist", sa.Text(), nullable=False, server_default=""),
        sa.Column("rate_limit", sa.String(64), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_rest_consumers_key_hash", "rest_consumers", ["key_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_rest_consumers_key_hash", table_name="rest_consumers")
    op.drop_table("rest_consumers")
