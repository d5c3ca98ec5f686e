"""Durable bulk QR jobs: the job, its rows (input and result) and its vendor batches

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qr_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("errors", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False, server_default="0"),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_qr_jobs_idempotency", "qr_jobs", ["consumer", "idempotency_key"], unique=True)
    op.create_index("ix_qr_jobs_status", "qr_jobs", ["status"])
    op.create_table(
        "qr_job_rows",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("qr_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(128), nullable=False),
        sa.Column("row", sa.Text(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("vendor_id", sa.String(128), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("media_type", sa.String(64), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
    )
    op.create_index("ix_qr_job_rows_status", "qr_job_rows", ["job_id", "status", "position"])
    op.create_index("ix_qr_job_rows_uid", "qr_job_rows", ["job_id", "uid"], unique=True)
    op.create_table(
        "qr_job_batches",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("qr_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("first_position", sa.Integer(), nullable=False),
        sa.Column("last_position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("vendor_ref", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("polls", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("quota_reached", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("qr_job_batches")
    op.drop_index("ix_qr_job_rows_uid", table_name="qr_job_rows")
    op.drop_index("ix_qr_job_rows_status", table_name="qr_job_rows")
    op.drop_table("qr_job_rows")
    op.drop_index("ix_qr_jobs_status", table_name="qr_jobs")
    op.drop_index("ix_qr_jobs_idempotency", table_name="qr_jobs")
    op.drop_table("qr_jobs")
