"""Service civique (R55, issue 16): contracts, their monthly computation and payment, the hosts' documents.

Life cycles:
- contract: en_cours → terminee (the mission ended) | resiliee (broken off, with a reason);
- month: calcule → liquide (« Liquider et envoyer en paiement »: its payables — the volunteer's indemnity and
  social increase, the associative host's subsidy — are created and put in the programme's open SEPA batch)
  | annule (with a reason).

The monthly run: `calculer_mois` (one month, every contract of a filter, dry run first) writes the month lines
set-based (one SELECT, one INSERT … ON CONFLICT DO NOTHING and one audit INSERT per chunk); the « Mois de
service civique » grid then liquidates them in bulk on its filter (dry run, confirmation: the engine). A replay
of either step changes nothing: the month line is unique per contract and month, the payables per source and
period, and « liquider » only moves a « calculé » line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import calendar

import sqlalchemy as sa

from .. import policy
from ..models import (AgrementServiceCivique, AuditEvent, Compte, ContratServiceCivique, MoisServiceCivique,
                      PieceServiceCivique, Structure)
from ..models.enums import (ConventionStatut as CS, MoisProgrammeStatut as MS, Role as R, SourceEcheance as SE,
                            TypeBeneficiairePaiement as TB, TypeStructure)
from ..rules import service_civique as regles
from ..rules.params import HorsBareme
from . import audit
from .engine import Guard, Param, T, Workflow, id_in
from .errors import TransitionRefused
from .guards import iban_valide
from .selection import Selection

ROLES_ASP = {R.SIEGE, R.COMPTABLE}  # the ASP's agents who liquidate and send to payment (« Envoyer en paiement »)
ROLES_GESTION = {R.ADMIN, R.SIEGE}


def iban_sepa(iban: str | None) -> str | None:
    """R76 and issue 16: the volunteer may be paid abroad, to an IBAN of any SEPA country; None if refused."""
    from schwifty import IBAN
    try:
        i = IBAN((iban or "").replace(" ", ""))
    except Exception:  # schwifty raises several exception types for a malformed IBAN
        return None
    return str(i.compact) if i.in_sepa_zone and iban_valide(str(i.compact)) else None


def _refuse(message: str):
    raise TransitionRefused(message)


def _scope_ok(session, model, ident, actor) -> bool:
    clause = policy.row_scope(model, actor) if actor is not None else None
    q = sa.select(model.id).where(model.id == ident)
    if clause is not None:
        q = q.where(clause)
    return session.execute(q).first() is not None


# ---- the host's agrément and the contract ----------------------------------------------------------------------
def enregistrer_agrement(session, *, actor, organisme_id: int, numero: str, associatif: bool, iban: str | None,
                         bic: str | None = None) -> AgrementServiceCivique:
    org = session.get(Structure, organisme_id)
    if org is None or org.type != TypeStructure.ORGANISME_ACCUEIL:
        _refuse("Organisme d'accueil introuvable.")
    compte = None
    if iban:
        compte = iban_sepa(iban)
        if compte is None:
            _refuse("IBAN de l'organisme invalide ou hors zone SEPA (R76).")
    elif associatif:
        _refuse("Un organisme associatif reçoit la subvention de l'État (R55) : son IBAN est obligatoire.")
    a = AgrementServiceCivique(organisme_id=organisme_id, numero=numero.strip(), associatif=associatif, iban=compte,
                               bic=(bic or None))
    session.add(a)
    session.flush()
    audit.record(session, entity="agrement_service_civique", entity_id=a.id, action="creer",
                 actor_id=getattr(actor, "id", None), params={"organisme_id": organisme_id, "associatif": associatif})
    return a


def creer_contrat(session, *, actor, organisme_id: int, numero: str, nom: str, prenom: str, naissance: date,
                  debut: date, fin: date, majoration_sociale: bool, iban: str,
                  prestation: Decimal | None = None, bic: str | None = None, now: datetime) -> ContratServiceCivique:
    """R55: a volunteer aged 16 to 25, a mission of 6 to 12 months, an IBAN of a SEPA country; the monthly
    indemnity (+ the social increase when the volunteer qualifies) from the barème in force at the start, the
    host's prestation at least its minimum (7,43 %). Bad input raises before anything is written."""
    org = session.get(Structure, organisme_id)
    if org is None or org.type != TypeStructure.ORGANISME_ACCUEIL:
        _refuse("Organisme d'accueil introuvable.")
    try:
        regles.verifier_contrat(naissance, debut, fin)
        bareme = regles.BAREME.valeur(debut.replace(day=1))
        prestation = Decimal(prestation) if prestation is not None else bareme.prestation_minimale
        regles.verifier_prestation(prestation, debut.replace(day=1))
    except (regles.ContratInvalide, HorsBareme) as exc:
        _refuse(str(exc))
    compte = iban_sepa(iban)
    if compte is None:
        _refuse("IBAN du volontaire invalide ou hors zone SEPA : un compte d'un pays SEPA est attendu (R76).")
    if session.execute(sa.select(ContratServiceCivique.id).where(ContratServiceCivique.numero == numero)).first():
        _refuse(f"Le contrat n° {numero} existe déjà.")
    mensuel = bareme.indemnite_etat + (bareme.majoration_sociale if majoration_sociale else Decimal("0"))
    c = ContratServiceCivique(numero=numero, organisme_id=organisme_id, volontaire_nom=nom, volontaire_prenom=prenom,
                              volontaire_date_naissance=naissance, date_debut=debut, date_fin=fin,
                              majoration_sociale=majoration_sociale, indemnite_mensuelle=mensuel,
                              prestation_accueil=prestation, iban=compte, bic=bic or None, statut=CS.EN_COURS,
                              created_at=now, updated_at=now)
    session.add(c)
    session.flush()
    audit.record(session, entity="contrat_service_civique", entity_id=c.id, action="creer", at=now,
                 actor_id=getattr(actor, "id", None), to_status=CS.EN_COURS.value,
                 params={"debut": debut, "fin": fin, "majoration_sociale": majoration_sociale,
                         "indemnite_mensuelle": mensuel})
    return c


MOTIF = Param("motif", "Motif", kind="textarea", max_length=300)

CONTRAT = Workflow("contrat_service_civique", ContratServiceCivique, [
    T("terminer", "Terminer (mission achevée)", {CS.EN_COURS}, CS.TERMINEE, ROLES_GESTION,
      guards=[Guard("R55", "la mission n'est pas achevée",
                    lambda ctx: ContratServiceCivique.date_fin < ctx.now.date())]),
    T("resilier", "Résilier", {CS.EN_COURS}, CS.RESILIEE, ROLES_GESTION, params=[MOTIF], style="danger"),
], entity="contrat_service_civique", scope=policy.row_scope)


# ---- the monthly computation -----------------------------------------------------------------------------------
@dataclass
class Calcul:
    """What a monthly computation did, or would do (dry run)."""

    periode: date
    dry_run: bool
    crees: int = 0
    deja: int = 0
    volontaires: Decimal = Decimal("0.00")
    subventions: Decimal = Decimal("0.00")
    prestations: Decimal = Decimal("0.00")
    ids: list[int] = field(default_factory=list)

    def message(self) -> str:
        verbe = "seront calculés" if self.dry_run else "calculés"
        return (f"Mois {self.periode:%m/%Y} : {self.crees} mois de contrat {verbe} ({self.deja} déjà calculés) ; "
                f"indemnités des volontaires {_eur(self.volontaires)}, subventions aux organismes associatifs "
                f"{_eur(self.subventions)}, prestations dues par les organismes {_eur(self.prestations)} (R55).")


def _eur(x: Decimal) -> str:
    return f"{x:,.2f} €".replace(",", "\u202f").replace(".", ",")


def calculer_mois(session, *, actor, periode: date, organisme_ids: list[int] | None = None,
                  contrat_ids: list[int] | None = None, dry_run: bool = False, now: datetime,
                  chunk: int = 1000) -> Calcul:
    """R55: the month lines of every contract (in the actor's scope, of the filter) that covers `periode`, from
    the dated barème; contracts ended or broken off are computed up to their end date."""
    premier = periode.replace(day=1)
    try:
        regles.BAREME.valeur(premier)
    except HorsBareme as exc:
        _refuse(str(exc))
    dernier = premier.replace(day=calendar.monthrange(premier.year, premier.month)[1])
    q = (sa.select(ContratServiceCivique.id, ContratServiceCivique.date_debut, ContratServiceCivique.date_fin,
                   ContratServiceCivique.majoration_sociale, ContratServiceCivique.prestation_accueil,
                   sa.func.coalesce(AgrementServiceCivique.associatif, sa.false()),
                   sa.exists().where(MoisServiceCivique.contrat_id == ContratServiceCivique.id,
                                     MoisServiceCivique.periode == premier))
         .outerjoin(AgrementServiceCivique, AgrementServiceCivique.organisme_id == ContratServiceCivique.organisme_id)
         .where(ContratServiceCivique.statut.in_([CS.EN_COURS, CS.TERMINEE, CS.RESILIEE]),
                ContratServiceCivique.date_debut <= dernier, ContratServiceCivique.date_fin >= premier)
         .order_by(ContratServiceCivique.id))
    scope = policy.row_scope(ContratServiceCivique, actor) if actor is not None else None
    if scope is not None:
        q = q.where(scope)
    if organisme_ids:
        q = q.where(ContratServiceCivique.organisme_id.in_(organisme_ids))
    if contrat_ids is not None:
        q = q.where(id_in(session, ContratServiceCivique.id, contrat_ids))
    rows = session.execute(q).all()
    out = Calcul(premier, dry_run)
    lignes = []
    for cid, debut, fin, majoration, prestation, associatif, deja in rows:
        if deja:
            out.deja += 1
            continue
        m = regles.calculer_mois(premier, debut, fin, majoration_sociale=majoration, associatif=associatif,
                                 prestation_mensuelle=prestation)
        if m.fraction <= 0:
            continue
        out.crees += 1
        out.volontaires += m.verse_au_volontaire
        out.subventions += m.subvention
        out.prestations += m.prestation_due
        lignes.append({"contrat_id": cid, "periode": premier, "fraction": m.fraction, "indemnite": m.indemnite,
                       "majoration": m.majoration, "prestation_due": m.prestation_due, "subvention": m.subvention,
                       "bareme_du": m.bareme_du, "statut": MS.CALCULE.value, "version": 1, "created_at": now,
                       "updated_at": now})
    if dry_run or not lignes:
        return out
    from .paiements import _insert as insert
    out.crees = 0
    for start in range(0, len(lignes), chunk):
        stmt = (insert(session)(MoisServiceCivique.__table__).values(lignes[start:start + chunk])
                .on_conflict_do_nothing(index_elements=["contrat_id", "periode"])
                .returning(MoisServiceCivique.__table__.c.id))
        ids = session.execute(stmt).scalars().all()
        out.ids += ids
        out.crees += len(ids)
        if ids:
            session.execute(sa.insert(AuditEvent).from_select(
                ["at", "actor_id", "entity", "entity_id", "action", "from_status", "to_status"],
                sa.select(sa.literal(now, sa.DateTime), sa.literal(getattr(actor, "id", None), sa.Integer),
                          sa.literal("mois_service_civique"), MoisServiceCivique.id, sa.literal("calculer"),
                          sa.null(), sa.literal(MS.CALCULE.value))
                .where(id_in(session, MoisServiceCivique.id, ids))))
    return out


# ---- liquidation: the payables, sent to payment ----------------------------------------------------------------
def _iban_du_contrat(session, ids, ctx) -> set[int]:
    rows = session.execute(sa.select(MoisServiceCivique.id, ContratServiceCivique.iban)
                           .join(ContratServiceCivique)
                           .where(id_in(session, MoisServiceCivique.id, ids))).all()
    return {i for i, iban in rows if iban_sepa(iban) is None}


def _subvention_sans_compte(session, ids, ctx) -> set[int]:
    rows = session.execute(sa.select(MoisServiceCivique.id, AgrementServiceCivique.iban)
                           .join(ContratServiceCivique)
                           .outerjoin(AgrementServiceCivique,
                                      AgrementServiceCivique.organisme_id == ContratServiceCivique.organisme_id)
                           .where(id_in(session, MoisServiceCivique.id, ids), MoisServiceCivique.subvention > 0)).all()
    return {i for i, iban in rows if iban_sepa(iban) is None}


def payer(session, source_type: SE, lignes, ctx) -> list[int]:
    """The payables of `lignes`, then « Envoyer en paiement » by the same actor: the programme's open SEPA batch
    of its calendar date. Shared by the ESAT workflows."""
    from .echeances import ECHEANCE, creer_echeances
    from .engine import run
    ids = creer_echeances(session, source_type, lignes, ctx)
    if ids:
        actor = session.get(Compte, ctx.actor_id) if ctx.actor_id is not None else None
        run(session, ECHEANCE, "mettre_en_lot", Selection.of_ids(ids), actor, now=ctx.now, system=actor is None)
    return ids


def _effect_liquider(session, ids, ctx):
    from .echeances import LigneEcheance
    rows = session.execute(
        sa.select(MoisServiceCivique.id, MoisServiceCivique.periode, MoisServiceCivique.indemnite,
                  MoisServiceCivique.majoration, MoisServiceCivique.subvention, ContratServiceCivique.id.label("cid"),
                  ContratServiceCivique.numero, ContratServiceCivique.volontaire_nom,
                  ContratServiceCivique.volontaire_prenom, ContratServiceCivique.iban, ContratServiceCivique.bic,
                  ContratServiceCivique.organisme_id, Structure.nom.label("organisme"),
                  AgrementServiceCivique.iban.label("iban_org"), AgrementServiceCivique.bic.label("bic_org"))
        .join(ContratServiceCivique, ContratServiceCivique.id == MoisServiceCivique.contrat_id)
        .join(Structure, Structure.id == ContratServiceCivique.organisme_id)
        .outerjoin(AgrementServiceCivique, AgrementServiceCivique.organisme_id == ContratServiceCivique.organisme_id)
        .where(id_in(session, MoisServiceCivique.id, ids))).all()
    volontaires = [LigneEcheance(source_id=r.id, periode=r.periode, payee_type=TB.VOLONTAIRE, payee_id=r.cid,
                                 montant=r.indemnite + r.majoration, iban=r.iban, bic=r.bic,
                                 titulaire=f"{r.volontaire_prenom} {r.volontaire_nom}",
                                 libelle=f"SERVICE CIVIQUE {r.numero} {r.periode:%m/%Y}")
                   for r in rows if r.indemnite + r.majoration > 0]
    subventions = [LigneEcheance(source_id=r.id, periode=r.periode, payee_type=TB.STRUCTURE_ACCUEIL,
                                 payee_id=r.organisme_id, montant=r.subvention, iban=r.iban_org, bic=r.bic_org,
                                 titulaire=r.organisme, libelle=f"SUBVENTION SERVICE CIVIQUE {r.numero} {r.periode:%m/%Y}")
                   for r in rows if r.subvention > 0]
    payer(session, SE.SERVICE_CIVIQUE_MOIS, volontaires, ctx)
    payer(session, SE.SC_SUBVENTION, subventions, ctx)


IBAN_VOLONTAIRE = Guard("R76", "IBAN du volontaire invalide ou hors zone SEPA", python=_iban_du_contrat)
COMPTE_ORGANISME = Guard("R55", "subvention due à un organisme associatif sans IBAN valide",
                         python=_subvention_sans_compte)

MOIS = Workflow("mois_service_civique", MoisServiceCivique, [
    T("liquider", "Liquider et envoyer en paiement", {MS.CALCULE}, MS.LIQUIDE, ROLES_ASP,
      guards=[IBAN_VOLONTAIRE, COMPTE_ORGANISME], effects=[_effect_liquider], style="success"),
    T("annuler", "Annuler", {MS.CALCULE}, MS.ANNULE, ROLES_ASP | {R.MANAGER}, params=[MOTIF],
      values=lambda ctx: {"motif": ctx.params["motif"]}, style="danger"),
], entity="mois_service_civique", scope=policy.row_scope)


# ---- the host's supporting documents (Elisa) -------------------------------------------------------------------
def deposer_piece(session, *, actor, contrat_id: int, contenu: bytes, nom_fichier: str, objet: str
                  ) -> PieceServiceCivique:
    """A document a host uploads for one of its contracts (another host's contract answers as a missing one)."""
    from . import pieces
    if not _scope_ok(session, ContratServiceCivique, contrat_id, actor):
        _refuse("Contrat introuvable ou supprimé.")
    objet = (objet or "").strip()
    if not objet:
        _refuse("« Objet » est obligatoire.")
    piece = pieces.enregistrer_piece(session, actor=actor, contenu=contenu, nom_fichier=nom_fichier,
                                     etablissement_id=None)
    lien = PieceServiceCivique(contrat_id=contrat_id, piece_id=piece.id, objet=objet[:120])
    session.add(lien)
    session.flush()
    audit.record(session, entity="contrat_service_civique", entity_id=contrat_id, action="piece",
                 actor_id=getattr(actor, "id", None), params={"piece_id": piece.id, "objet": objet[:120]})
    return lien


# ---- the payer's controls (workflows.echeances.controles_sources) ----------------------------------------------
def controles_sources_sc(select, echeance):
    """A service civique payable is paid only for a liquidated month, within the contract's dates, for at most
    what the month computed (R55): the volunteer's indemnity + increase, or the host's subsidy."""
    mois = sa.orm.aliased(MoisServiceCivique)
    contrat = sa.orm.aliased(ContratServiceCivique)
    is_v = echeance.source_type == SE.SERVICE_CIVIQUE_MOIS
    is_s = echeance.source_type == SE.SC_SUBVENTION
    is_sc = sa.or_(is_v, is_s)
    select = (select.outerjoin(mois, sa.and_(is_sc, mois.id == echeance.source_id))
              .outerjoin(contrat, contrat.id == mois.contrat_id))
    return select, [
        (sa.and_(is_sc, sa.func.coalesce(mois.statut, "") != MS.LIQUIDE.value),
         "mois de service civique non liquidé"),
        (sa.and_(is_sc, echeance.periode > contrat.date_fin), "mois après la fin du contrat (R55)"),
        (sa.and_(is_v, echeance.montant > mois.indemnite + mois.majoration),
         "montant supérieur à l'indemnité du mois (R55)"),
        (sa.and_(is_s, echeance.montant > mois.subvention), "montant supérieur à la subvention du mois (R55)"),
    ]
