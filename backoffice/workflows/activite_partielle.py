"""Activité partielle (issue 14): the authorisation request (DAP) and its decision by the UD (R73), the
10-character secret code (R71), the monthly claim (DI) and its lines (R71, R72, R74), the employees' import.

- A DAP is filed by the employer (`deposer_autorisation`): at most 3 months (6 for a disaster or bad
  weather), at most 6 months in any rolling 12, commitments when AP was used in the previous 36 months, the
  CSE opinion (an attachment, workflows.pieces) from 50 employees (R73). The UD agrees or refuses with a
  reason (AUTORISATION workflow); 15 days of silence is an agreement, applied by the scheduler
  (`appliquer_accords_implicites`, transition « accord_implicite », audited as such).
- An agreement gives the secret code. It is never stored (issue 12): the table keeps its keyed digest
  (`code_secret_hash`), the mail outbox a reference {autorisation, nonce} (REF_CODE) from which the mail job
  derives the code again at send time (`code_de_reference`, called by workflows.mail.contexte_d_envoi), the
  way account links are mailed (workflows.comptes.deriver_jeton).
- A DI is created with the code and a month inside the authorised period, within 6 months after its end
  (`creer_di`, R71, R72); its lines are computed on save with the R74 functions (`recalculer_di`); it is sent
  to the UD, validated or invalidated with a reason (DI workflow), an invalidated one is corrected and sent
  again; a validated one becomes payable (`_creer_echeance_di`, wired at merge to workflows.paiements).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from .. import policy
from ..models import (AutorisationAP, Compte, CompteEtablissement, DemandeIndemnisation, Etablissement, LigneDI,
                      PieceJointe, Salarie)
from ..models.enums import (AutorisationStatut as A, DIStatut as D, FormeAmenagement, MotifAP, Role as R,
                            RoleEtablissement)
from ..rules import activite_partielle as regles
from ..rules.montants import smic_horaire_brut
from . import audit
from .engine import Guard, Param, T, Workflow, id_in
from .errors import RoleRefused, TransitionRefused

DELAI_REPONSE = timedelta(days=15)  # R73: the administration answers within 15 days; silence = agreement
ACCORDEES = (A.ACCORDEE, A.ACCORD_IMPLICITE)
DI_MODIFIABLES = frozenset({D.CREEE, D.EN_SAISIE})
ESSAIS_CODE = 5  # wrong secret codes per account and per hour
FENETRE_CODE = timedelta(hours=1)

# ---- the secret code (R71), never stored in clear (issue 12) -------------------------------------------

ALPHABET_CODE = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 signs: no 0/O nor 1/I, each byte maps evenly
LONGUEUR_CODE = 10
REF_CODE = "code_ap_ref"  # key of the reference in mail_outbox.contexte


def _cle(etiquette: bytes) -> bytes:
    from flask import current_app
    secret = current_app.config["SECRET_KEY"]
    secret = secret if isinstance(secret, bytes) else str(secret).encode("utf-8")
    return hmac.new(secret, etiquette, hashlib.sha256).digest()


def deriver_code(nonce: str) -> str:
    """The 10-character code of a decision, from its nonce and SECRET_KEY."""
    mac = hmac.new(_cle(b"backoffice/code_ap/v1"), f"code_ap:v1:{nonce}".encode(), hashlib.sha256).digest()
    return "".join(ALPHABET_CODE[b % len(ALPHABET_CODE)] for b in mac[:LONGUEUR_CODE])


def normaliser_code(code: str | None) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def hash_code(code: str) -> str:
    """The stored digest: keyed (HMAC), so the table alone gives no way to try codes offline."""
    return hmac.new(_cle(b"backoffice/code_ap/hash/v1"), normaliser_code(code).encode("utf-8", "replace"),
                    hashlib.sha256).hexdigest()


def code_de_reference(ref: dict) -> str:
    """The code a mail's reference stands for (the mail job, at send time)."""
    return deriver_code(ref["nonce"])


# ---- helpers ---------------------------------------------------------------------------------------------

def _scope(session, model, actor):
    clause = policy.row_scope(model, actor) if actor is not None else None
    return clause


def _contacts(session, autorisation_ids):
    """autorisation id -> (e-mail, prénom, établissement) of the establishment's main contact (its e-mail
    otherwise)."""
    rows = session.execute(
        sa.select(AutorisationAP.id, AutorisationAP.numero, AutorisationAP.date_debut, AutorisationAP.date_fin,
                  AutorisationAP.motif_refus, Etablissement.raison_sociale, Etablissement.siret,
                  Etablissement.email, Compte.email.label("contact_email"), Compte.prenom)
        .join(Etablissement, Etablissement.id == AutorisationAP.etablissement_id)
        .outerjoin(CompteEtablissement, sa.and_(CompteEtablissement.etablissement_id == Etablissement.id,
                                                CompteEtablissement.role == RoleEtablissement.CONTACT_PRINCIPAL))
        .outerjoin(Compte, Compte.id == CompteEtablissement.compte_id)
        .where(AutorisationAP.id.in_(list(autorisation_ids)))).all()
    return {r.id: r for r in rows}


def _queue(session, **kw):
    from .mail import queue_mail
    queue_mail(session, **kw)


def _fr(d: date) -> str:
    return d.strftime("%d/%m/%Y")


# ---- R73: filing a DAP -------------------------------------------------------------------------------------

MSG_DUREE = ("Une autorisation d'activité partielle couvre au plus 3 mois (6 mois pour un sinistre ou des "
             "intempéries) (R73).")


def verifier_periode(session, *, etablissement_id: int, motif, date_debut: date, date_fin: date,
                     sauf_id: int | None = None) -> None:
    """R73: the length of the period, and at most 6 authorised months in any rolling 12 (the requests
    filed or granted for this establishment, a disaster's or bad weather's apart)."""
    if date_fin < date_debut:
        raise TransitionRefused("La fin de la période précède son début.")
    sinistre = MotifAP(motif) == MotifAP.SINISTRE
    if not regles.duree_respectee(date_debut, date_fin, sinistre=sinistre):
        raise TransitionRefused(MSG_DUREE)
    if sinistre:
        return
    query = sa.select(AutorisationAP.date_debut, AutorisationAP.date_fin).where(
        AutorisationAP.etablissement_id == etablissement_id, AutorisationAP.motif != MotifAP.SINISTRE,
        AutorisationAP.statut.in_([A.DEPOSEE, A.ACCORDEE, A.ACCORD_IMPLICITE]))
    if sauf_id is not None:
        query = query.where(AutorisationAP.id != sauf_id)
    mois = regles.mois_couverts(date_debut, date_fin)
    for debut, fin in session.execute(query).all():
        mois |= regles.mois_couverts(debut, fin)
    n, depuis = regles.pire_cumul_glissant(mois)
    if n > regles.CUMUL_MAX_12_MOIS:
        raise TransitionRefused(
            f"Avec cette demande, l'établissement cumulerait {n} mois d'activité partielle sur les 12 mois "
            f"à partir de {depuis[1]:02d}/{depuis[0]} : 6 mois au plus sur 12 mois glissants (R73).")


def engagements_requis(session, *, etablissement_id: int, date_debut: date) -> bool:
    """R73: AP was granted to this establishment for a period ending in the 36 months before."""
    depuis = regles.ajouter_mois(date_debut, -regles.ENGAGEMENTS_MOIS)
    return bool(session.execute(sa.select(sa.exists().where(
        AutorisationAP.etablissement_id == etablissement_id, AutorisationAP.statut.in_(list(ACCORDEES)),
        AutorisationAP.date_fin >= depuis, AutorisationAP.date_debut < date_debut))).scalar())


def deposer_autorisation(session, *, actor, etablissement_id: int, motif, date_debut: date, date_fin: date,
                         nb_salaries: int, heures_prevues: Decimal,
                         forme_amenagement=FormeAmenagement.REDUCTION, engagements: str | None = None,
                         piece_cse_id: int | None = None, now: datetime) -> AutorisationAP:
    """The employer files a DAP (status « déposée »); None as actor is the system (the demo seed)."""
    if actor is not None and actor.role != R.PARTENAIRE:
        raise RoleRefused("Une demande d'autorisation est déposée par l'employeur (extranet).")
    query = sa.select(Etablissement).where(Etablissement.id == etablissement_id)
    if (clause := _scope(session, Etablissement, actor)) is not None:
        query = query.where(clause)
    etab = session.execute(query).scalar_one_or_none()
    if etab is None:
        raise TransitionRefused("Établissement introuvable.")
    if not nb_salaries or nb_salaries <= 0:
        raise TransitionRefused("Indiquez le nombre de salariés concernés.")
    if heures_prevues is None or heures_prevues < 0:
        raise TransitionRefused("Indiquez les heures prévues (positives).")
    verifier_periode(session, etablissement_id=etab.id, motif=motif, date_debut=date_debut, date_fin=date_fin)
    engagements = (engagements or "").strip() or None
    if engagements is None and engagements_requis(session, etablissement_id=etab.id, date_debut=date_debut):
        raise TransitionRefused("L'établissement a eu recours à l'activité partielle dans les 36 derniers mois : "
                                "la demande comporte les engagements de l'employeur (R73).")
    piece = None
    if piece_cse_id is not None:
        piece = session.get(PieceJointe, piece_cse_id)
        if piece is None or piece.etablissement_id != etab.id:
            raise TransitionRefused("Pièce jointe introuvable.")
    if (etab.effectif >= 50 or nb_salaries >= 50) and piece is None:
        raise TransitionRefused("À partir de 50 salariés, joignez l'avis du CSE (R73).")
    rang = session.execute(sa.select(sa.func.count()).select_from(AutorisationAP)).scalar_one() + 1
    a = AutorisationAP(numero=f"DAP-{now:%Y}-{rang:06d}", etablissement_id=etab.id,
                       motif=MotifAP(motif), date_debut=date_debut, date_fin=date_fin, nb_salaries=nb_salaries,
                       heures_prevues=heures_prevues, forme_amenagement=FormeAmenagement(forme_amenagement),
                       engagements=engagements, piece_cse_id=piece.id if piece else None,
                       avis_cse=f"Avis du CSE joint : {piece.nom_fichier}"[:300] if piece else None,
                       statut=A.DEPOSEE, deposee_at=now, depose_par_id=getattr(actor, "id", None))
    session.add(a)
    session.flush()
    audit.record(session, entity="autorisation_ap", entity_id=a.id, action="deposer", actor_id=getattr(actor, "id", None),
                 to_status=A.DEPOSEE.value, params={"etablissement": etab.id, "du": date_debut.isoformat(),
                                                    "au": date_fin.isoformat(), "motif": a.motif.value})
    return a


# ---- the decision (R71, R73) ---------------------------------------------------------------------------------

def _effect_code_et_notification(session, ids, ctx) -> None:
    """R71: the agreement gives the secret code: its digest in the table, the reference in the decision
    notice's mail (the code itself in neither)."""
    nonces = {i: secrets.token_urlsafe(24) for i in ids}
    table = AutorisationAP.__table__
    session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                    .values(code_secret_hash=sa.bindparam("b_hash")),
                    [{"b_id": i, "b_hash": hash_code(deriver_code(n))} for i, n in nonces.items()])
    implicite = ctx.params.get("_implicite", False)
    for i, r in _contacts(session, ids).items():
        _queue(session, cle=f"ap-decision-{i}", destinataire=r.contact_email or r.email, template="ap_decision",
               contexte={"prenom": r.prenom or "", "numero": r.numero, "etablissement": r.raison_sociale,
                         "siret": r.siret, "du": _fr(r.date_debut), "au": _fr(r.date_fin), "accordee": True,
                         "implicite": implicite, "motif": "",
                         REF_CODE: {"autorisation": i, "nonce": nonces[i]}})


def _effect_refus(session, ids, ctx) -> None:
    for i, r in _contacts(session, ids).items():
        _queue(session, cle=f"ap-decision-{i}", destinataire=r.contact_email or r.email, template="ap_decision",
               contexte={"prenom": r.prenom or "", "numero": r.numero, "etablissement": r.raison_sociale,
                         "siret": r.siret, "du": _fr(r.date_debut), "au": _fr(r.date_fin), "accordee": False,
                         "implicite": False, "motif": ctx.params.get("motif_refus", "")})


def _silence_15_jours(ctx):
    # R73: the administration answers within 15 days; silence means acceptance
    return AutorisationAP.deposee_at <= sa.literal(ctx.now - DELAI_REPONSE, sa.DateTime)


SILENCE = Guard("R73", "le délai de réponse de 15 jours n'est pas écoulé", _silence_15_jours)

AUTORISATION = Workflow("autorisation_ap", AutorisationAP, [
    T("accorder", "Accorder", {A.DEPOSEE}, A.ACCORDEE, {R.UD, R.SIEGE, R.ADMIN},
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now},
      effects=[_effect_code_et_notification], style="success"),
    T("refuser", "Refuser", {A.DEPOSEE}, A.REFUSEE, {R.UD, R.SIEGE, R.ADMIN},
      params=[Param("motif_refus", "Motif du refus", kind="textarea")],
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now,
                          "motif_refus": ctx.params["motif_refus"]},
      effects=[_effect_refus], style="danger"),
    # R73: run by the scheduler on the requests left unanswered 15 days; audited under this name
    T("accord_implicite", "Accord implicite (15 jours sans réponse)", {A.DEPOSEE}, A.ACCORD_IMPLICITE,
      {R.ADMIN}, guards=[SILENCE], system=True, values=lambda ctx: {"decision_at": ctx.now},
      effects=[_effect_code_et_notification]),
], entity="autorisation_ap", scope=policy.row_scope)


def appliquer_accords_implicites(session, *, now: datetime):
    """The scheduler's job (R73): every request filed 15 days ago or more, still unanswered, is agreed."""
    from .engine import run
    from .selection import Selection
    query = sa.select(AutorisationAP.id).where(AutorisationAP.statut == A.DEPOSEE,
                                               AutorisationAP.deposee_at <= now - DELAI_REPONSE)
    return run(session, AUTORISATION, "accord_implicite", Selection.of_query(query), None,
               params={"_implicite": True}, now=now, system=True)


# ---- the monthly claim (R71, R72) ------------------------------------------------------------------------------

MSG_CODE = "Code secret incorrect : reprenez le code de 10 caractères de la notification de décision (R71)."


def creer_di(session, *, actor, code: str, annee: int, mois: int, now: datetime) -> DemandeIndemnisation:
    """R71: a DI is created with the decision's secret code and a month inside the authorised period;
    R72: within 6 months after its end."""
    from .comptes import compter_tentative, limite_atteinte

    if actor is not None and actor.role != R.PARTENAIRE:
        raise RoleRefused("Une demande d'indemnisation est créée par l'employeur (extranet).")
    code = normaliser_code(code)
    cle = f"code_ap:{getattr(actor, 'id', 0)}"
    if actor is not None and limite_atteinte(session, cle, nombre=ESSAIS_CODE, fenetre=FENETRE_CODE, now=now):
        raise TransitionRefused("Trop de codes secrets incorrects : réessayez dans une heure.")
    if not annee or not mois or not 1 <= int(mois) <= 12:
        raise TransitionRefused("Choisissez l'année et le mois de la demande.")
    autorisation = None
    if len(code) == LONGUEUR_CODE:
        query = sa.select(AutorisationAP).where(AutorisationAP.code_secret_hash == hash_code(code),
                                                AutorisationAP.statut.in_(list(ACCORDEES)))
        if (clause := _scope(session, AutorisationAP, actor)) is not None:
            query = query.where(clause)
        autorisation = session.execute(query).scalar_one_or_none()
    if autorisation is None:
        if actor is not None:
            compter_tentative(session, cle, fenetre=FENETRE_CODE, now=now)
        audit.record(session, entity="demande_indemnisation", entity_id=None, action="code_secret_refuse",
                     actor_id=getattr(actor, "id", None))
        raise TransitionRefused(MSG_CODE)
    premier = date(int(annee), int(mois), 1)
    debut, fin = autorisation.date_debut, autorisation.date_fin
    if premier < date(debut.year, debut.month, 1) or premier > fin:
        raise TransitionRefused(f"Le mois {premier:%m/%Y} n'est pas dans la période autorisée du {_fr(debut)} "
                                f"au {_fr(fin)} (R71).")
    if premier > now.date():
        raise TransitionRefused(f"Le mois {premier:%m/%Y} n'a pas encore commencé.")
    limite = regles.limite_depot_di(fin)
    if now.date() > limite:
        raise TransitionRefused(f"Délai dépassé : une demande d'indemnisation se dépose dans les 6 mois qui suivent "
                                f"la fin de la période autorisée, soit au plus tard le {_fr(limite)} (R72).")
    exists = session.execute(sa.select(DemandeIndemnisation.id).where(
        DemandeIndemnisation.autorisation_id == autorisation.id, DemandeIndemnisation.annee == premier.year,
        DemandeIndemnisation.mois == premier.month)).first()
    if exists is not None:
        raise TransitionRefused(f"Une demande existe déjà pour {premier:%m/%Y} : une par autorisation et par mois "
                                "(R71).")
    di = DemandeIndemnisation(autorisation_id=autorisation.id, annee=premier.year, mois=premier.month,
                              statut=D.CREEE)
    session.add(di)
    session.flush()
    audit.record(session, entity="demande_indemnisation", entity_id=di.id, action="creer",
                 actor_id=getattr(actor, "id", None), to_status=D.CREEE.value,
                 params={"autorisation": autorisation.id, "mois": f"{premier:%Y-%m}"})
    return di


def verifier_ligne(session, *, actor, demande_id: int | None, salarie_id: int | None) -> DemandeIndemnisation:
    """A line is typed on a DI being filled in, of the actor's scope, for an employee of its establishment."""
    if demande_id is None or salarie_id is None:
        raise TransitionRefused("Choisissez la demande et le salarié.")
    with session.no_autoflush:
        query = sa.select(DemandeIndemnisation).where(DemandeIndemnisation.id == demande_id)
        if (clause := _scope(session, DemandeIndemnisation, actor)) is not None:
            query = query.where(clause)
        di = session.execute(query).scalar_one_or_none()
        if di is None:
            raise TransitionRefused("Demande d'indemnisation introuvable.")
        if di.statut not in DI_MODIFIABLES:
            raise TransitionRefused("Une demande envoyée à l'UD ne se modifie plus (corrigez-la si elle est "
                                    "invalidée).")
        salarie = session.get(Salarie, salarie_id)
        if salarie is None or salarie.etablissement_id != di.autorisation.etablissement_id:
            raise TransitionRefused("Ce salarié n'est pas un salarié de l'établissement de la demande.")
    return di


def recalculer_di(session, demande_ids, ctx_now: datetime | None = None, actor=None) -> None:
    """R74 on save: each line's retained idle hours (contract hours not worked, annual quota), the
    employee's indemnity (60 %) and the employer's allocation (36 %, floor, 4,5 SMIC; no floor for an
    apprentice paid below the SMIC), then the DI's totals; a DI « créée » goes « en saisie »."""
    demande_ids = list(demande_ids)
    if not demande_ids:
        return
    session.flush()
    rows = session.execute(
        sa.select(LigneDI.id, LigneDI.demande_id, LigneDI.salarie_id, LigneDI.heures_travaillees,
                  LigneDI.heures_chomees, DemandeIndemnisation.annee, DemandeIndemnisation.mois,
                  AutorisationAP.forme_amenagement, Salarie.taux_horaire_brut, Salarie.heures_contrat_mensuelles,
                  Salarie.apprenti)
        .join(DemandeIndemnisation, DemandeIndemnisation.id == LigneDI.demande_id)
        .join(AutorisationAP, AutorisationAP.id == DemandeIndemnisation.autorisation_id)
        .join(Salarie, Salarie.id == LigneDI.salarie_id)
        .where(LigneDI.demande_id.in_(demande_ids)).order_by(LigneDI.id)).all()
    # R74: the annual quota, less the hours retained in the employee's other DIs of the same year
    used = {}
    if rows:
        autres = session.execute(
            sa.select(LigneDI.salarie_id, DemandeIndemnisation.annee, sa.func.sum(LigneDI.heures_retenues))
            .join(DemandeIndemnisation, DemandeIndemnisation.id == LigneDI.demande_id)
            .where(LigneDI.salarie_id.in_({r.salarie_id for r in rows}),
                   LigneDI.demande_id.not_in(demande_ids))
            .group_by(LigneDI.salarie_id, DemandeIndemnisation.annee)).all()
        used = {(s, y): h or Decimal("0") for s, y, h in autres}
    updates = []
    for r in rows:
        mois = date(r.annee, r.mois, 1)
        smic = smic_horaire_brut(mois)
        travaillees = Decimal("0") if r.forme_amenagement == FormeAmenagement.FERMETURE else r.heures_travaillees
        key = (r.salarie_id, r.annee)
        reste = regles.QUOTA_ANNUEL_HEURES - used.get(key, Decimal("0"))
        heures = regles.heures_retenues(heures_chomees=r.heures_chomees, heures_travaillees=travaillees,
                                        heures_contrat=r.heures_contrat_mensuelles, reste_quota=reste)
        used[key] = used.get(key, Decimal("0")) + heures
        sans_plancher = bool(r.apprenti) and r.taux_horaire_brut < smic
        updates.append({"b_id": r.id, "b_h": heures,
                        "b_i": regles.indemnite_ap(r.taux_horaire_brut, heures, smic),
                        "b_a": regles.allocation_ap(r.taux_horaire_brut, heures, smic, date_reference=mois,
                                                    sans_plancher=sans_plancher)})
    table = LigneDI.__table__
    if updates:
        session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                        .values(heures_retenues=sa.bindparam("b_h"), indemnite=sa.bindparam("b_i"),
                                allocation=sa.bindparam("b_a")), updates)
    totals = (sa.select(sa.func.coalesce(sa.func.sum(LigneDI.indemnite), 0))
              .where(LigneDI.demande_id == DemandeIndemnisation.id).scalar_subquery())
    alloc = (sa.select(sa.func.coalesce(sa.func.sum(LigneDI.allocation), 0))
             .where(LigneDI.demande_id == DemandeIndemnisation.id).scalar_subquery())
    session.execute(sa.update(DemandeIndemnisation).where(DemandeIndemnisation.id.in_(demande_ids))
                    .values(montant_indemnites=totals, montant_allocation=alloc)
                    .execution_options(synchronize_session=False))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (DemandeIndemnisation, LigneDI)) and (
                getattr(obj, "demande_id", None) in demande_ids or getattr(obj, "id", None) in demande_ids):
            session.expire(obj)
    from .engine import run
    from .selection import Selection
    creees = sa.select(DemandeIndemnisation.id).where(DemandeIndemnisation.id.in_(demande_ids),
                                                      DemandeIndemnisation.statut == D.CREEE)
    run(session, DI, "saisir", Selection.of_query(creees), actor, now=ctx_now, system=True)


# ---- the DI workflow ---------------------------------------------------------------------------------------------

def _di_contacts(session, ids):
    rows = session.execute(sa.select(DemandeIndemnisation.id, DemandeIndemnisation.autorisation_id,
                                     DemandeIndemnisation.annee, DemandeIndemnisation.mois,
                                     DemandeIndemnisation.montant_allocation)
                           .where(DemandeIndemnisation.id.in_(list(ids)))).all()
    contacts = _contacts(session, {r.autorisation_id for r in rows})
    return [(r, contacts[r.autorisation_id]) for r in rows]


def _mail_di(template):
    def effect(session, ids, ctx):
        from ..i18n import format_montant
        stamp = ctx.now.strftime("%Y%m%d%H%M%S%f")
        for r, c in _di_contacts(session, ids):
            _queue(session, cle=f"ap-di-{template}-{r.id}-{stamp}", destinataire=c.contact_email or c.email,
                   template=f"ap_di_{template}",
                   contexte={"prenom": c.prenom or "", "numero": c.numero, "etablissement": c.raison_sociale,
                             "mois": f"{r.mois:02d}/{r.annee}", "montant": format_montant(r.montant_allocation),
                             "motif": ctx.params.get("motif_invalidation", "")})
    effect.__name__ = f"mail_di_{template}"
    return effect


def _creer_echeance_di(session, di_ids, ctx) -> None:
    """A validated DI becomes payable to its establishment (issue 14 §3, payment chain): one payable per claim
    (source di_activite_partielle, period its month, payee the establishment with a snapshot of its IBAN, amount the
    claim's total allocation, R74), in « à payer » for « Envoyer en paiement » of the AP programme."""
    from .echeances import echeances_demandes_indemnisation
    comptes = {e.id: (e.iban, e.bic, e.raison_sociale[:70]) for e in session.execute(
        sa.select(Etablissement).join(AutorisationAP, AutorisationAP.etablissement_id == Etablissement.id)
        .join(DemandeIndemnisation, DemandeIndemnisation.autorisation_id == AutorisationAP.id)
        .where(id_in(session, DemandeIndemnisation.id, list(di_ids)), Etablissement.iban.is_not(None))).scalars()}
    echeances_demandes_indemnisation(session, list(di_ids), comptes, ctx)


def _di_payee(session, di_ids, ctx) -> None:
    """The payment chain's call when a claim's payment is executed (its payable paid): validee → payee."""
    from .engine import run
    from .selection import Selection
    if di_ids:
        run(session, DI, "payer", Selection.of_ids(list(di_ids)), None, now=ctx.now, system=True)


def _iban_etablissement(ctx):
    return sa.exists().where(AutorisationAP.id == DemandeIndemnisation.autorisation_id,
                             Etablissement.id == AutorisationAP.etablissement_id, Etablissement.iban.is_not(None),
                             Etablissement.iban != "")


def _a_des_lignes(ctx):
    return sa.exists().where(LigneDI.demande_id == DemandeIndemnisation.id)


def _dans_le_delai(ctx):
    # R72: within 6 months after the end of the authorised period
    return sa.exists().where(AutorisationAP.id == DemandeIndemnisation.autorisation_id,
                             AutorisationAP.date_fin >= sa.literal(regles.ajouter_mois(ctx.now.date(),
                                                                                       -regles.DELAI_DI_MOIS)))


A_DES_LIGNES = Guard("R71", "aucun salarié dans la demande", _a_des_lignes)
IBAN_ETABLISSEMENT = Guard("R74", "compte bancaire (IBAN) de l'établissement non renseigné : impossible de payer "
                           "la demande", _iban_etablissement)
DANS_LE_DELAI = Guard("R72", "délai de 6 mois après la fin de la période autorisée dépassé", _dans_le_delai)

DI = Workflow("demande_indemnisation", DemandeIndemnisation, [
    T("saisir", "Saisie commencée", {D.CREEE}, D.EN_SAISIE, {R.PARTENAIRE}, system=True),
    T("envoyer", "Envoyer à l'UD", {D.EN_SAISIE}, D.ENVOYEE, {R.PARTENAIRE}, guards=[A_DES_LIGNES, DANS_LE_DELAI],
      values=lambda ctx: {"envoyee_at": ctx.now}, effects=[_mail_di("envoyee")]),
    T("valider", "Valider", {D.ENVOYEE}, D.VALIDEE, {R.UD, R.SIEGE}, guards=[IBAN_ETABLISSEMENT],
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now},
      effects=[_creer_echeance_di, _mail_di("validee")], style="success"),
    T("invalider", "Invalider", {D.ENVOYEE}, D.INVALIDEE, {R.UD, R.SIEGE},
      params=[Param("motif_invalidation", "Motif de l'invalidation", kind="textarea", max_length=300)],
      values=lambda ctx: {"decide_par_id": ctx.actor_id, "decision_at": ctx.now,
                          "motif_invalidation": ctx.params["motif_invalidation"]},
      effects=[_mail_di("invalidee")], style="danger"),
    T("corriger", "Corriger", {D.INVALIDEE}, D.EN_SAISIE, {R.PARTENAIRE}, style="secondary"),
    T("payer", "Payée", {D.VALIDEE}, D.PAYEE, {R.COMPTABLE, R.ADMIN}, system=True, effects=[_mail_di("payee")]),
], entity="demande_indemnisation", amount_column="montant_allocation", scope=policy.row_scope)


# ---- employees' import (R71: « importer ») ---------------------------------------------------------------------

TAILLE_MAX_IMPORT = 2 * 1024 * 1024
LIGNES_MAX_IMPORT = 5000
COLONNES = {"nom": "nom", "prenom": "prenom", "nir": "numero_securite_sociale",
            "numero_securite_sociale": "numero_securite_sociale", "n_securite_sociale": "numero_securite_sociale",
            "taux_horaire_brut": "taux_horaire_brut", "taux_horaire": "taux_horaire_brut",
            "heures_contrat_mensuelles": "heures_contrat_mensuelles", "heures_contrat": "heures_contrat_mensuelles",
            "apprenti": "apprenti"}
OBLIGATOIRES = ("nom", "prenom", "numero_securite_sociale", "taux_horaire_brut")
OUI = {"oui", "o", "1", "vrai", "x", "true", "yes"}
NON = {"non", "n", "0", "faux", "", "false", "no"}


@dataclass
class ResultatImport:
    erreurs: list[str] = field(default_factory=list)
    crees: int = 0

    @property
    def ok(self) -> bool:
        return not self.erreurs


def _cle_colonne(texte) -> str:
    texte = unicodedata.normalize("NFKD", str(texte or "")).encode("ascii", "ignore").decode().strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", texte).strip("_")


def _lire(contenu: bytes, nom_fichier: str) -> list[list]:
    if contenu[:2] == b"PK" or (nom_fichier or "").lower().endswith(".xlsx"):
        from openpyxl import load_workbook
        try:
            wb = load_workbook(io.BytesIO(contenu), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable file gets the same French answer
            raise TransitionRefused("Fichier XLSX illisible.") from None
        ws = wb.worksheets[0]
        return [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]
    try:
        texte = contenu.decode("utf-8-sig")
    except UnicodeDecodeError:
        texte = contenu.decode("cp1252", "replace")
    premiere = texte.split("\n", 1)[0]
    delim = ";" if premiere.count(";") >= premiere.count(",") else ","
    return [row for row in csv.reader(io.StringIO(texte), delimiter=delim)]


def _decimal(valeur, libelle, *, minimum, maximum):
    if isinstance(valeur, (int, float, Decimal)) and not isinstance(valeur, bool):
        d = Decimal(str(valeur))
    else:
        texte = str(valeur or "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".").replace("€", "")
        try:
            d = Decimal(texte)
        except InvalidOperation:
            raise ValueError(f"{libelle} : « {valeur} » n'est pas un nombre") from None
    if not d.is_finite() or d < minimum or d > maximum:
        raise ValueError(f"{libelle} : entre {minimum} et {maximum}".replace(".", ","))
    return d.quantize(Decimal("0.01"))


def importer_salaries(session, *, actor, etablissement_id: int, contenu: bytes, nom_fichier: str) -> ResultatImport:
    """Employees from a CSV (« ; » or « , ») or XLSX file: every row checked, the errors listed per row in
    French, and nothing written when one row is wrong."""
    from stdnum.fr import nir

    query = sa.select(Etablissement).where(Etablissement.id == etablissement_id)
    if (clause := _scope(session, Etablissement, actor)) is not None:
        query = query.where(clause)
    etab = session.execute(query).scalar_one_or_none()
    if etab is None:
        raise TransitionRefused("Établissement introuvable.")
    if not contenu:
        raise TransitionRefused("Le fichier est vide.")
    if len(contenu) > TAILLE_MAX_IMPORT:
        raise TransitionRefused("Fichier trop volumineux : 2 Mo au plus.")
    rows = _lire(contenu, nom_fichier)
    while rows and not any(str(v).strip() for v in rows[-1]):
        rows.pop()
    if not rows:
        raise TransitionRefused("Le fichier est vide.")
    entete = [COLONNES.get(_cle_colonne(v)) for v in rows[0]]
    manquantes = [c for c in OBLIGATOIRES if c not in entete]
    if manquantes:
        raise TransitionRefused("Colonnes manquantes dans l'en-tête : " + ", ".join(manquantes)
                                + " (attendu : nom ; prenom ; nir ; taux_horaire_brut ; heures_contrat_mensuelles ; "
                                  "apprenti).")
    if len(rows) - 1 > LIGNES_MAX_IMPORT:
        raise TransitionRefused(f"{LIGNES_MAX_IMPORT} salariés au plus par fichier.")
    existants = set(session.execute(sa.select(Salarie.numero_securite_sociale).where(
        Salarie.etablissement_id == etab.id, Salarie.numero_securite_sociale.is_not(None))).scalars())
    result, vus, valeurs = ResultatImport(), {}, []
    for numero, row in enumerate(rows[1:], start=2):
        if not any(str(v).strip() for v in row):
            continue
        data = {c: row[k] if k < len(row) else "" for k, c in enumerate(entete) if c}
        erreurs = []
        nom, prenom = str(data.get("nom") or "").strip(), str(data.get("prenom") or "").strip()
        if not nom or len(nom) > 80:
            erreurs.append("nom obligatoire (80 caractères au plus)")
        if not prenom or len(prenom) > 80:
            erreurs.append("prénom obligatoire (80 caractères au plus)")
        numero_ss = re.sub(r"\s", "", str(data.get("numero_securite_sociale") or ""))
        try:
            numero_ss = nir.validate(numero_ss)
        except Exception:  # noqa: BLE001 - stdnum raises several ValidationError kinds
            erreurs.append(f"n° de sécurité sociale « {numero_ss} » invalide (15 chiffres avec la clé)")
        else:
            if numero_ss in existants:
                erreurs.append("salarié déjà enregistré pour cet établissement (même n° de sécurité sociale)")
            elif numero_ss in vus:
                erreurs.append(f"même n° de sécurité sociale que la ligne {vus[numero_ss]}")
            vus.setdefault(numero_ss, numero)
        try:
            taux = _decimal(data.get("taux_horaire_brut"), "taux horaire brut", minimum=Decimal("0.01"),
                            maximum=Decimal("9999"))
        except ValueError as exc:
            erreurs.append(str(exc))
            taux = None
        heures_txt = data.get("heures_contrat_mensuelles")
        try:
            heures = (Decimal("151.67") if heures_txt in (None, "") else
                      _decimal(heures_txt, "heures du contrat", minimum=Decimal("1"), maximum=Decimal("300")))
        except ValueError as exc:
            erreurs.append(str(exc))
            heures = None
        apprenti_txt = str(data.get("apprenti") or "").strip().lower()
        if apprenti_txt not in OUI | NON:
            erreurs.append(f"apprenti : « oui » ou « non », pas « {apprenti_txt} »")
        if erreurs:
            result.erreurs.append(f"Ligne {numero} : " + " ; ".join(erreurs) + ".")
        else:
            valeurs.append(dict(etablissement_id=etab.id, nom=nom, prenom=prenom, numero_securite_sociale=numero_ss,
                                taux_horaire_brut=taux, heures_contrat_mensuelles=heures,
                                apprenti=apprenti_txt in OUI))
    if result.erreurs:
        return result  # nothing written
    if not valeurs:
        raise TransitionRefused("Aucun salarié dans le fichier.")
    now = datetime.utcnow()
    session.execute(sa.insert(Salarie), [{**v, "created_at": now, "updated_at": now} for v in valeurs])
    audit.record(session, entity="salarie", entity_id=None, action="import", actor_id=getattr(actor, "id", None),
                 params={"etablissement": etab.id, "fichier": (nom_fichier or "")[:100], "salaries": len(valeurs)})
    result.crees = len(valeurs)
    return result
