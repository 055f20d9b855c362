"""Payables (échéances) of every programme (issue 13): created from any source, sent to payment in the open batch of
their programme and execution date (the programme's calendar, as data), paid again only after a rejection and a
change of RIB.

Life cycle: a_payer → en_lot (« Envoyer en paiement »: its payment is created in the batch) → payee (the bank
executed it) ; en_lot → rejetee (« à repayer »: the payer or the bank refused its payment) → a_payer (only once
the payee's IBAN differs from the rejected payment's) ; a_payer | rejetee → annulee (with a reason).

Allocations are one source among others: their payables are written by `paiements.creer_paiements` (the send of
the allocation's own workflow, set-based, straight to en_lot with their payment). The other programmes call
`creer_echeances` with their source's lines; `echeances_demandes_indemnisation` wires the Activité partielle
claims as the first of them (the programme issues will add their own life cycles).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from ..models import (AutorisationAP, CalendrierPaiement, CompteBancaire, DemandeIndemnisation, Dispositif, Echeance,
                      Paiement)
from ..models.enums import (AutorisationStatut, DIStatut, EcheanceStatut as E,
                            PaiementStatut as PS, Role as R, SourceEcheance as SE, TypeBeneficiairePaiement as TB)
from .engine import Guard, Param, T, Workflow, id_in
from .guards import iban_valide

# The programmes that are not youth parcours: their dispositif row (the batches' and the grids' « programme ») is
# created on first use, with its payment calendar (data, editable by the administrator). [derived: the ASP's
# payment days per programme are not in the rules; the 1st and 15th of R41 are used until they are given]
PROGRAMMES = {
    "AP": ("Activité partielle", "1,15", False),
    "AFAS": ("Aide au fonctionnement des espaces de rencontre (Afas)", "1,15", False),
    "NACRE": ("Nouvel accompagnement pour la création ou la reprise d'entreprise (NACRE)", "1,15", False),
    "AR": ("Adultes-relais", "1", True),
    "SC": ("Service civique", "1", True),
    # issue 16 [derived, as above]: the GRTH reimbursements and the DGF instalments of the ESATs, the EA aid
    "ESAT": ("Garantie de rémunération et DGF des ESAT", "1,15", False),
    "EA": ("Aide au poste en entreprise adaptée", "1,15", False),
}
CALENDRIER_R41 = {"CEJ": ("1,15", False), "PACEA": ("1", True)}  # R41, also written as data by migration 0012
PROGRAMME_DE_SOURCE = {
    SE.DI_ACTIVITE_PARTIELLE: "AP", SE.AFAS_ACOMPTE: "AFAS", SE.AFAS_SOLDE: "AFAS", SE.NACRE_AVANCE: "NACRE",
    SE.NACRE_MENSUALITE: "NACRE", SE.ADULTE_RELAIS_MOIS: "AR", SE.SERVICE_CIVIQUE_MOIS: "SC",
    SE.SC_SUBVENTION: "SC", SE.ESAT_GARANTIE: "ESAT", SE.ESAT_DGF: "ESAT", SE.EA_AIDE_POSTE: "EA",
    SE.NACRE_EXPERTISE: "NACRE", SE.ADULTE_RELAIS_REGUL: "AR",  # issue 16: an expertise, a regularisation
}


# ---- calendar --------------------------------------------------------------------------------------------------
def _jours(texte: str) -> tuple[int, ...]:
    jours = tuple(sorted({int(j) for j in texte.replace(" ", "").split(",") if j}))
    if not jours or any(not 1 <= j <= 28 for j in jours):
        raise ValueError(f"Calendrier de paiement « {texte} » : des jours du mois entre 1 et 28, séparés par des "
                         "virgules.")
    return jours


def prochaine_date(jours: str, mois_suivant: bool, aujourd_hui: date) -> date:
    """The batch date of a send made on `aujourd_hui`: the next of `jours` (today included), or with `mois_suivant`
    the first of them in the next month. With ("1,15", False) and ("1", True) it is R41 for CEJ and PACEA
    (tests: the same dates as rules.calendrier.prochaine_date_envoi)."""
    days = _jours(jours)
    suivant = date(aujourd_hui.year + aujourd_hui.month // 12, aujourd_hui.month % 12 + 1, 1)
    if mois_suivant:
        return suivant.replace(day=days[0])
    for d in days:
        if aujourd_hui.day <= d:
            return aujourd_hui.replace(day=d)
    return suivant.replace(day=days[0])


def date_de_lot(session, dispositif_id: int, code: str, aujourd_hui: date) -> date:
    """The programme's calendar row (data); without one, R41 for CEJ/PACEA and the programme's default."""
    row = session.execute(sa.select(CalendrierPaiement.jours, CalendrierPaiement.mois_suivant)
                          .where(CalendrierPaiement.dispositif_id == dispositif_id)).first()
    if row is None:
        row = CALENDRIER_R41.get(code) or PROGRAMMES.get(code, (None, "1,15", False))[1:]
    return prochaine_date(row[0], row[1], aujourd_hui)


def dispositif_programme(session, code: str) -> Dispositif:
    """The dispositif row of a programme (created with its calendar on first use; never offered to a parcours)."""
    d = session.execute(sa.select(Dispositif).where(Dispositif.code == code)).scalar_one_or_none()
    if d is None:
        libelle, jours, mois_suivant = PROGRAMMES[code]
        d = Dispositif(code=code, libelle=libelle, allocation_autorisee=False, actif=False)
        session.add(d)
        session.flush()
        session.add(CalendrierPaiement(dispositif_id=d.id, jours=jours, mois_suivant=mois_suivant,
                                       commentaire="calendrier par défaut du programme"))
        session.flush()
    return d


# ---- creation from any source ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LigneEcheance:
    source_id: int
    periode: date
    payee_type: TB
    payee_id: int
    montant: Decimal
    iban: str
    titulaire: str
    libelle: str
    bic: str | None = None
    compte_bancaire_id: int | None = None


def _insert(session):
    from .paiements import _insert as insert
    return insert(session)


def creer_echeances(session, source_type: SE, lignes: list[LigneEcheance], ctx, *, dispositif_code: str | None = None
                    ) -> list[int]:
    """The payables of one source type (at most one per source and period: a line already there is skipped), in
    one INSERT … ON CONFLICT DO NOTHING per 1,000 lines, audited by one INSERT … SELECT. Bad input (amount ≤ 0,
    no IBAN) refuses the whole call before anything is written. Returns the ids created."""
    from ..models import AuditEvent
    source_type = SE(source_type)
    code = dispositif_code or PROGRAMME_DE_SOURCE[source_type]
    dispositif_id = dispositif_programme(session, code).id
    erreurs = [f"ligne {k + 1} : montant {l.montant} non positif" for k, l in enumerate(lignes)
               if Decimal(l.montant) <= 0]
    erreurs += [f"ligne {k + 1} : IBAN absent" for k, l in enumerate(lignes) if not (l.iban or "").strip()]
    if erreurs:
        raise ValueError("Échéances refusées, rien n'a été créé : " + " ; ".join(erreurs[:5]) + ".")
    pg = session.get_bind().dialect.name == "postgresql"
    created: list[int] = _inserer_unnest(session, dispositif_id, source_type, lignes, ctx) if pg else []
    for start in range(0, 0 if pg else len(lignes), 1000):  # SQLite (the demo): a multi-row VALUES
        rows = [{"dispositif_id": dispositif_id, "source_type": source_type.value, "source_id": l.source_id,
                 "periode": l.periode.replace(day=1), "payee_type": TB(l.payee_type).value, "payee_id": l.payee_id,
                 "compte_bancaire_id": l.compte_bancaire_id, "iban": l.iban.replace(" ", "").upper(), "bic": l.bic,
                 "titulaire": l.titulaire[:70], "libelle": l.libelle[:140],
                 "montant": Decimal(l.montant).quantize(Decimal("0.01")), "statut": E.A_PAYER.value,
                 "tentatives": 0, "version": 1, "created_at": ctx.now, "updated_at": ctx.now}
                for l in lignes[start:start + 1000]]
        stmt = (_insert(session)(Echeance.__table__).values(rows)
                .on_conflict_do_nothing(index_elements=["source_type", "source_id", "periode"])
                .returning(Echeance.__table__.c.id))
        created += session.execute(stmt).scalars().all()
    if created:
        session.execute(sa.insert(AuditEvent).from_select(
            ["at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status", "params"],
            sa.select(sa.literal(ctx.now, sa.DateTime), sa.literal(ctx.actor_id, sa.Integer), sa.literal("echeance"),
                      Echeance.id, sa.literal("creer"), sa.null(), sa.literal(E.A_PAYER.value),
                      sa.literal({"source": source_type.value}, AuditEvent.__table__.c.params.type))
            .where(id_in(session, Echeance.id, created))))
    return created


_INSERT_UNNEST = sa.text("""
    INSERT INTO echeance (dispositif_id, source_type, source_id, periode, payee_type, payee_id, compte_bancaire_id,
                          iban, bic, titulaire, libelle, montant, statut, tentatives, version, created_at, updated_at)
    SELECT :dispositif_id, :source_type, u.source_id, u.periode, u.payee_type, u.payee_id, u.compte_bancaire_id,
           u.iban, u.bic, u.titulaire, u.libelle, u.montant, :statut, 0, 1, :now, :now
    FROM unnest(CAST(:source_id AS integer[]), CAST(:periode AS date[]), CAST(:payee_type AS varchar[]),
                CAST(:payee_id AS integer[]), CAST(:compte_bancaire_id AS integer[]), CAST(:iban AS varchar[]),
                CAST(:bic AS varchar[]), CAST(:titulaire AS varchar[]), CAST(:libelle AS varchar[]),
                CAST(:montant AS numeric[]))
         WITH ORDINALITY AS u(source_id, periode, payee_type, payee_id, compte_bancaire_id, iban, bic, titulaire,
                              libelle, montant, n)
    ORDER BY u.n
    ON CONFLICT (source_type, source_id, periode) DO NOTHING
    RETURNING id""")


def _inserer_unnest(session, dispositif_id, source_type, lignes, ctx) -> list[int]:
    """PostgreSQL: the lines as ten arrays, one INSERT … SELECT FROM unnest(…) per 10,000 lines — one statement
    text whatever the count (a multi-row VALUES of 1,000 lines was compiled by SQLAlchemy and parsed by psycopg
    each time: ≈ 2 s of Python for 20,000 payables, issue 13's benchmark)."""
    created: list[int] = []
    for start in range(0, len(lignes), 10_000):
        part = lignes[start:start + 10_000]
        created += session.execute(_INSERT_UNNEST, {
            "dispositif_id": dispositif_id, "source_type": source_type.value, "statut": E.A_PAYER.value,
            "now": ctx.now,
            "source_id": [l.source_id for l in part], "periode": [l.periode.replace(day=1) for l in part],
            "payee_type": [TB(l.payee_type).value for l in part], "payee_id": [l.payee_id for l in part],
            "compte_bancaire_id": [l.compte_bancaire_id for l in part],
            "iban": [l.iban.replace(" ", "").upper() for l in part], "bic": [l.bic for l in part],
            "titulaire": [l.titulaire[:70] for l in part], "libelle": [l.libelle[:140] for l in part],
            "montant": [Decimal(l.montant).quantize(Decimal("0.01")) for l in part]}).scalars().all()
    return created


def echeances_demandes_indemnisation(session, di_ids: list[int], comptes: dict[int, tuple[str, str | None, str]],
                                     ctx) -> list[int]:
    """Activité partielle (R74): each validated claim becomes the payable of its month, to its establishment, for its
    allowance (`montant_allocation`), paid to the account given per establishment id: (iban, bic, titulaire)."""
    rows = session.execute(
        sa.select(DemandeIndemnisation.id, DemandeIndemnisation.annee, DemandeIndemnisation.mois,
                  DemandeIndemnisation.montant_allocation, AutorisationAP.etablissement_id, AutorisationAP.numero)
        .join(AutorisationAP, AutorisationAP.id == DemandeIndemnisation.autorisation_id)
        .where(id_in(session, DemandeIndemnisation.id, di_ids), DemandeIndemnisation.statut == DIStatut.VALIDEE,
               DemandeIndemnisation.montant_allocation > 0)).all()
    manquants = sorted({r.etablissement_id for r in rows} - set(comptes))
    if manquants:
        raise ValueError(f"Compte bancaire inconnu pour les établissements {manquants} : rien n'a été créé.")
    lignes = [LigneEcheance(source_id=r.id, periode=date(r.annee, r.mois, 1), payee_type=TB.ETABLISSEMENT,
                            payee_id=r.etablissement_id, montant=r.montant_allocation,
                            iban=comptes[r.etablissement_id][0], bic=comptes[r.etablissement_id][1],
                            titulaire=comptes[r.etablissement_id][2],
                            libelle=f"ACTIVITE PARTIELLE {r.numero} {r.mois:02d}/{r.annee}")
              for r in rows]
    return creer_echeances(session, SE.DI_ACTIVITE_PARTIELLE, lignes, ctx)


# ---- what each source allows (the payer's controls, in SQL) ----------------------------------------------------
def controles_sources(select, echeance=Echeance, sources=None):
    """Outer-join the non-allocation sources the payer checks to `select` and return the CASE arms
    [(condition, French reason)]: the payee is eligible and the amount is within what the source allows.

    `sources`: the source types present in what is checked (a batch holds one programme's payables): the joins and
    arms of the other sources are left out, which the planner would otherwise carry for every row (issue 13's
    benchmark: a tenth of an emission). None: all of them."""
    def present(*types):
        return sources is None or any(SE(t).value in sources for t in types)

    arms = []
    if present(SE.DI_ACTIVITE_PARTIELLE):
        di = sa.orm.aliased(DemandeIndemnisation)
        ap = sa.orm.aliased(AutorisationAP)
        is_di = echeance.source_type == SE.DI_ACTIVITE_PARTIELLE
        select = (select.outerjoin(di, sa.and_(is_di, di.id == echeance.source_id))
                  .outerjoin(ap, ap.id == di.autorisation_id))
        arms += [
            (sa.and_(is_di, sa.func.coalesce(di.statut, "") != DIStatut.VALIDEE.value),
             "demande d'indemnisation non validée"),
            (sa.and_(is_di, sa.not_(sa.func.coalesce(ap.statut.in_([AutorisationStatut.ACCORDEE,
                                                                      AutorisationStatut.ACCORD_IMPLICITE]),
                                                     sa.false()))),
             "autorisation d'activité partielle non accordée (R71)"),
            (sa.and_(is_di, echeance.montant > di.montant_allocation),
             "montant supérieur à l'allocation de la demande (R74)"),
        ]
    # issue 16: a service civique month (R55), an ESAT declaration or DGF instalment (R53), an EA declaration (R54)
    from .afas_paiements import controles_afas  # issue 15: the Afas acomptes and balance (R79)
    from .esat import controles_sources_esat
    from .service_civique import controles_sources_sc
    from .adultes_relais import controles_sources_ar
    from .nacre import controles_sources_nacre
    for controles, types in ((controles_sources_sc, (SE.SERVICE_CIVIQUE_MOIS, SE.SC_SUBVENTION)),
                             (controles_sources_esat, (SE.ESAT_GARANTIE, SE.ESAT_DGF, SE.EA_AIDE_POSTE)),
                             (controles_afas, (SE.AFAS_ACOMPTE, SE.AFAS_SOLDE)),
                             # issue 16: the NACRE advance, monthly payments and expertise (R51), the Adultes-relais
                             # aid and complement (R52)
                             (controles_sources_nacre, (SE.NACRE_AVANCE, SE.NACRE_MENSUALITE, SE.NACRE_EXPERTISE)),
                             (controles_sources_ar, (SE.ADULTE_RELAIS_MOIS, SE.ADULTE_RELAIS_REGUL))):
        if present(*types):
            select, more = controles(select, echeance)
            arms += more
    return select, arms


# ---- what the NACRE and Adultes-relais controls share (issue 16) -------------------------------------------------
def _mois_num(d):
    """year × 12 + month of a date column, in SQL (PostgreSQL and SQLite): months compared whatever the day."""
    return sa.cast(sa.extract("year", d), sa.Integer) * 12 + sa.cast(sa.extract("month", d), sa.Integer)


def fin_effective(model, entity: str):
    """The day an agreement (a NACRE convention, an Adultes-relais post) stops covering payments, in SQL: its end
    date while in progress; once terminated or ended, the day of that transition when it came before (the date of
    its `terminer` / `resilier` audit event), else its end date."""
    from ..models import AuditEvent
    from ..models.enums import ConventionStatut as C
    fin = sa.func.date(sa.select(sa.func.max(AuditEvent.at))
                       .where(AuditEvent.entity == entity, AuditEvent.entity_id == model.id,
                              AuditEvent.action.in_(["terminer", "resilier"])).scalar_subquery())
    return sa.case((model.statut == C.EN_COURS, model.date_fin),
                   (sa.func.coalesce(fin, model.date_fin) < model.date_fin, fin), else_=model.date_fin)


def couvre_periode(model, entity: str, periode, mois: int | sa.ColumnElement = 1):
    """The agreement covers the `mois` months from `periode` (a quarter for a regularisation): it began by their
    end and had not ended before their first day (in progress, or ended after the period: its last payments)."""
    return sa.and_(_mois_num(model.date_debut) <= _mois_num(periode) + mois - 1,
                   fin_effective(model, entity) >= periode)


def iban_normalise(col):
    return sa.func.upper(sa.func.replace(sa.func.coalesce(col, ""), " ", ""))


def controles_des_lots(session, lot_ids, limite: int = 20) -> list[dict]:
    """The payer's dry run of an emission (the batches' « Émettre » simulation): per batch, its reference and
    {French reason: payments the controls would refuse}; read only."""
    from ..models import LotPaiement
    lots = session.execute(sa.select(LotPaiement.id, LotPaiement.reference)
                           .where(id_in(session, LotPaiement.id, list(lot_ids)[:limite]))
                           .order_by(LotPaiement.id)).all()
    return [{"lot_id": i, "reference": ref, "refus": apercu_controles(session, i)} for i, ref in lots]


def apercu_controles(session, lot_id: int) -> dict[str, int]:
    """The payer's dry run on one prepared batch: {French reason: number of payments the emission would refuse},
    read only (the same SELECT as the emission, paiements._controles)."""
    from .paiements import _controles
    _, refused = _controles(session, lot_id)
    return {why: len(rows) for why, rows in refused.items()}


# ---- the life cycle --------------------------------------------------------------------------------------------
def _iban_valide_sql(session, ids, ctx):
    """R76 as a resolved guard (as for allocations): schwifty once per distinct IBAN of the chunk, then SQL."""
    ibans = session.execute(sa.select(Echeance.iban).distinct().where(id_in(session, Echeance.id, ids))).scalars().all()
    valides = sorted(i for i in ibans if iban_valide(i))
    return Echeance.iban.in_(valides) if valides else sa.false()


def _courant_iban():
    """The IBAN a payable is paid to now: its account row's when it has one (a youth's RIB); for a NACRE or an
    Adultes-relais payable the account named on its convention or post (issue 16: changed there after a
    rejection, it is the new RIB); else its own."""
    from ..models import ConventionNacre, DeclarationAdulteRelais, ExpertiseNacre, PosteAdulteRelais
    conv = (sa.select(iban_normalise(ConventionNacre.iban)).where(ConventionNacre.id == Echeance.source_id)
            .correlate(Echeance).scalar_subquery())
    conv_exp = (sa.select(iban_normalise(ConventionNacre.iban))
                .join(ExpertiseNacre, ExpertiseNacre.convention_id == ConventionNacre.id)
                .where(ExpertiseNacre.id == Echeance.source_id).correlate(Echeance).scalar_subquery())
    poste = (sa.select(iban_normalise(PosteAdulteRelais.iban)).where(PosteAdulteRelais.id == Echeance.source_id)
             .correlate(Echeance).scalar_subquery())
    poste_regul = (sa.select(iban_normalise(PosteAdulteRelais.iban))
                   .join(DeclarationAdulteRelais, DeclarationAdulteRelais.poste_id == PosteAdulteRelais.id)
                   .where(DeclarationAdulteRelais.id == Echeance.source_id).correlate(Echeance).scalar_subquery())
    compte = (sa.select(CompteBancaire.iban).where(CompteBancaire.id == Echeance.compte_bancaire_id)
              .correlate(Echeance).scalar_subquery())
    partenaire = sa.case(
        (Echeance.source_type.in_([SE.NACRE_AVANCE, SE.NACRE_MENSUALITE]), conv),
        (Echeance.source_type == SE.NACRE_EXPERTISE, conv_exp),
        (Echeance.source_type == SE.ADULTE_RELAIS_MOIS, poste),
        (Echeance.source_type == SE.ADULTE_RELAIS_REGUL, poste_regul), else_=sa.null())
    return sa.func.coalesce(compte, sa.func.nullif(partenaire, ""), Echeance.iban)


def _rib_change(ctx):
    # issue 13: paid again only after its RIB changed — the current IBAN differs from the rejected payment's
    dernier = (sa.select(Paiement.iban).where(Paiement.echeance_id == Echeance.id, Paiement.statut == PS.REJETE)
               .order_by(Paiement.id.desc()).limit(1).correlate(Echeance).scalar_subquery())
    return sa.func.coalesce(dernier, "") != _courant_iban()


def _sans_paiement_vivant(ctx):
    return ~sa.exists().where(Paiement.echeance_id == Echeance.id, Paiement.statut != PS.REJETE)


IBAN_VALIDE = Guard("R76", "IBAN invalide (clé RIB ou format)", resolve=_iban_valide_sql)
RIB_CHANGE = Guard("R76", "RIB inchangé depuis le rejet : changer le RIB avant de repayer", _rib_change)
SANS_PAIEMENT = Guard("P1", "un paiement de cette échéance est en cours ou exécuté", _sans_paiement_vivant)
MOTIF = Param("motif", "Motif", kind="textarea", max_length=300)


def _effect_paiements(session, ids, ctx):
    from .paiements import paiements_echeances
    paiements_echeances(session, ids, actor_id=ctx.actor_id, now=ctx.now)


ECHEANCE = Workflow("echeance", Echeance, [
    T("mettre_en_lot", "Envoyer en paiement", {E.A_PAYER}, E.EN_LOT, {R.SIEGE, R.COMPTABLE}, guards=[IBAN_VALIDE],
      values=lambda ctx: {"tentatives": Echeance.tentatives + 1}, effects=[_effect_paiements]),
    # the payer's refusal or the bank's rejection of its payment (paiements.generer_fichiers, remettre_a_payer)
    T("rejeter", "Rejeter (paiement refusé)", {E.EN_LOT}, E.REJETEE, {R.COMPTABLE}, guards=[SANS_PAIEMENT],
      params=[MOTIF], values=lambda ctx: {"motif": ctx.params["motif"]}, system=True, style="danger"),
    T("remettre_a_payer", "Remettre à payer (RIB changé)", {E.REJETEE}, E.A_PAYER, {R.COMPTABLE},
      guards=[RIB_CHANGE, SANS_PAIEMENT],
      values=lambda ctx: {"iban": _courant_iban(), "motif": None}, style="warning"),
    T("annuler", "Annuler", {E.A_PAYER, E.REJETEE}, E.ANNULEE, {R.COMPTABLE, R.MANAGER}, params=[MOTIF],
      values=lambda ctx: {"motif": ctx.params["motif"]}, style="danger"),
], amount_column="montant")
