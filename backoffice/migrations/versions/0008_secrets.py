"""No secret in clear (issue 12): the reset and first-password links leave the mail outbox.

Before, mail_outbox.contexte held the absolute link with its token, readable in the mails grid. The
outbox now keeps a reference to the token row (id and nonce, workflows.comptes.deriver_jeton) and the
mail job derives the token at send time. Here, for the rows written before:
- every "lien" is removed from mail_outbox.contexte; a mail not sent yet is marked `echec` with the
  reason (its template then says to ask for a new link if someone sends it again);
- every unused token dies (used_at set): they were all readable in clear.
No schema change. Downgrade: nothing to undo (the links are not put back).

Revision ID: 0008_secrets
Revises: 0007_debit_paiements
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_secrets"
down_revision = "0007_debit_paiements"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MOTIF = "Lien retiré (il était conservé en clair, migration 0008) : demandez un nouveau lien."


def upgrade():
    bind = op.get_bind()
    mails = sa.table("mail_outbox", sa.column("id", sa.Integer), sa.column("contexte", JSON),
                     sa.column("statut", sa.String), sa.column("derniere_erreur", sa.Text))
    jetons = sa.table("jeton_compte", sa.column("used_at", sa.DateTime))
    rows = bind.execute(sa.select(mails.c.id, mails.c.contexte, mails.c.statut)
                        .where(sa.cast(mails.c.contexte, sa.Text).like("%/password/reset/%"))).all()
    for ident, contexte, statut in rows:
        values = {"contexte": {k: v for k, v in (contexte or {}).items() if k != "lien"}}
        if statut != "envoye":
            values.update(statut=sa.text("'echec'"), derniere_erreur=MOTIF)  # an enum on PostgreSQL
        bind.execute(sa.update(mails).where(mails.c.id == ident).values(**values))
    bind.execute(sa.update(jetons).where(jetons.c.used_at.is_(None)).values(used_at=sa.func.current_timestamp()))


def downgrade():
    pass
