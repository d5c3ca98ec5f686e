"""Consumer scopes for the unified facade (/api/...): records, qr, events, feeds, admin

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Consumers made before scopes existed keep what they could reach: everything but admin.
    with op.batch_alter_table("rest_consumers") as batch:
        batch.add_column(sa.Column("scopes", sa.String(128), nullable=False,
                                   server_default="records,qr,events,feeds"))


def downgrade() -> None:
    with op.batch_alter_table("rest_consumers") as batch:
        batch.drop_column("scopes")
