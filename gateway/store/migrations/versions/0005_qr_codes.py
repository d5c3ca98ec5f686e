"""QR codes created through the facade: what the vendor answered, and ExaRoutes' image (the vendor
keeps none to fetch later)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qr_codes",
        sa.Column("vendor", sa.String(16), primary_key=True),
        sa.Column("vendor_id", sa.String(128), primary_key=True),
        sa.Column("uid", sa.String(128), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("qr_codes")
