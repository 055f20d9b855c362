"""Afas declarations (issue 15, R56-R61, R78-R80): the partner's habilitations, the checks and their
justifications, the estimate, the life cycle and what it makes payable.

- R60: a partner's user holds habilitations on a service (HabilitationAfas): the activity-data provider
  types the activity lines, the financial-data provider the finances, the approver approves and transmits.
  `verifier_part` refuses the other parts; the approver is never the person who filled the declaration in.
- R59: `recalculer` runs on every save: the estimate (R78, rules.afas.estimer_droit) and the checks of the
  table rules.afas.CONTROLES, kept as Anomalie rows (a justification stays while its anomaly does). The
  guards of « contrôler » and « transmettre » run them again before the move: a blocking anomaly must be
  fixed (`justifier` refuses it), a justifiable one needs a written justification.
- Life cycle (DECLARATION): en saisie → contrôlée → approuvée → transmise → en traitement (Caf) → traitée
  (droit retained, a reason when it differs from the estimate) | renvoyée (with a reason, corrected, then
  checked again). Every move audited by the engine; mails to the partner through the outbox.
- R79: the transmission of a forecast makes its 1st acompte payable, the processing of an actual of N-1 the
  2nd acompte of N (70 % limit when a gap over 10 % is not justified) and the balance of N-1 (negative: a
  reversement), as payables of the AFAS programme paid to the partner's IBAN (workflows.afas_paiements; the
  steps that make something payable are refused while the service has no valid IBAN, R76).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from .. import policy
from ..models import Anomalie, Compte, DeclarationPartenaire as Decl, HabilitationAfas, LieuAccueil, LigneActivite, Structure
from ..models.enums import (DeclarationStatut as S, DeclarationType, HabilitationAfasRole as H, NatureAnomalie,
                            Role as R)
from ..rules import afas as regles
from . import audit
from .afas_paiements import IBAN_PREVISIONNELLE, IBAN_REELLE
from .engine import Guard, Param, T, Workflow
from .errors import RoleRefused, TransitionRefused

MODIFIABLES = frozenset({S.EN_SAISIE, S.CONTROLEE, S.RENVOYEE})
STAFF_SAISIE = frozenset({R.ADMIN, R.SIEGE})  # may type on a partner's behalf (support, demo)
PART_ACTIVITE, PART_FINANCES = "activite", "finances"
MSG_PART = {PART_ACTIVITE: "Seul le fournisseur de données d'activité du service saisit l'activité (R60).",
            PART_FINANCES: "Seul le fournisseur de données financières du service saisit les finances (R60)."}
MSG_BLOQUANTE = "Une anomalie bloquante se corrige dans la déclaration : elle ne se justifie pas (R59)."


# ---- R60: habilitations -----------------------------------------------------------------------------------

def habilitations(session, compte_id: int | None, partenaire_id: int | None) -> set[H]:
    if compte_id is None or partenaire_id is None:
        return set()
    with session.no_autoflush:
        return set(session.execute(sa.select(HabilitationAfas.role).where(
            HabilitationAfas.compte_id == compte_id, HabilitationAfas.partenaire_id == partenaire_id)).scalars())


def habiliter(session, *, actor, compte_id: int, partenaire_id: int, role) -> HabilitationAfas:
    """R60: the Caf grants a partner's user a habilitation on a service (audited)."""
    if actor is not None and actor.role not in (R.CAF, R.ADMIN):
        raise RoleRefused("Les habilitations Afas sont accordées par la Caf (R60).")
    compte = session.get(Compte, compte_id) if compte_id else None
    if compte is None or compte.role != R.PARTENAIRE:
        raise TransitionRefused("Une habilitation Afas est donnée à un compte partenaire.")
    if not partenaire_id or not role:
        raise TransitionRefused("Choisissez le service et l'habilitation.")
    h = HabilitationAfas(compte_id=compte_id, partenaire_id=partenaire_id, role=H(role),
                         accordee_par_id=getattr(actor, "id", None))
    session.add(h)
    session.flush()
    audit.record(session, entity="habilitation_afas", entity_id=h.id, action="habiliter",
                 actor_id=getattr(actor, "id", None), params={"compte": compte_id, "service": partenaire_id,
                                                              "role": h.role.value})
    return h


def verifier_part(session, actor, partenaire_id: int | None, part: str) -> None:
    """R60: a partner's user changes only the part their habilitation names (activity or finances)."""
    if actor is None or actor.role in STAFF_SAISIE:
        return
    if actor.role != R.PARTENAIRE:
        raise RoleRefused("Les déclarations Afas sont saisies par le partenaire (R60).")
    wanted = H.FOURNISSEUR_ACTIVITE if part == PART_ACTIVITE else H.FOURNISSEUR_FINANCIER
    if wanted not in habilitations(session, actor.id, partenaire_id):
        raise RoleRefused(MSG_PART[part])


def verifier_modifiable(decl: Decl) -> None:
    if decl.statut not in MODIFIABLES:
        raise TransitionRefused("Une déclaration approuvée ou transmise ne se modifie plus (elle vous revient si "
                                "la Caf la renvoie).")


# ---- R58: the venues -----------------------------------------------------------------------------------------

def verifier_structure(session, partenaire_id: int, *, ajout_mode=None, sauf_id: int | None = None,
                       le: date | None = None) -> None:
    """R58: adding (or changing) a venue keeps the service single-venue, or all-itinérance, or all-antennes."""
    le = le or date.today()
    q = sa.select(LieuAccueil.mode).where(LieuAccueil.partenaire_id == partenaire_id,
                                          sa.or_(LieuAccueil.ferme_le.is_(None), LieuAccueil.ferme_le >= le))
    if sauf_id is not None:
        q = q.where(LieuAccueil.id != sauf_id)
    with session.no_autoflush:
        modes = [m.value for m in session.execute(q).scalars()]
    if ajout_mode is not None:
        modes.append(getattr(ajout_mode, "value", ajout_mode))
    # a multi-venue service is built venue by venue: one itinérance or antenne venue alone is a step
    if len(modes) == 1 and modes[0] != regles.MONO:
        return
    erreur = regles.erreur_structure(modes)
    if erreur:
        raise TransitionRefused(erreur)


def creer_lieu(session, *, actor, partenaire_id: int, nom: str, mode, commune: str | None = None,
               ouvert_le: date | None = None) -> LieuAccueil:
    verifier_structure(session, partenaire_id, ajout_mode=mode, le=ouvert_le)
    lieu = LieuAccueil(partenaire_id=partenaire_id, nom=nom, mode=mode, commune=commune, ouvert_le=ouvert_le)
    session.add(lieu)
    session.flush()
    audit.record(session, entity="lieu_accueil", entity_id=lieu.id, action="creer", actor_id=getattr(actor, "id", None),
                 params={"service": partenaire_id, "mode": getattr(mode, "value", mode)})
    return lieu


# ---- R59, R78: the checks and the estimate, on every save ---------------------------------------------------

def donnees(session, ids) -> dict[int, regles.Donnees]:
    """The checks' input for each declaration, set-based (6 queries whatever the count)."""
    ids = list(ids)
    decls = session.execute(sa.select(Decl.id, Decl.partenaire_id, Decl.exercice, Decl.type, Decl.budget,
                                      Decl.charges, Decl.produits).where(Decl.id.in_(ids))).all()
    if not decls:
        return {}
    lignes: dict[int, list] = {}
    for r in session.execute(sa.select(LigneActivite).where(LigneActivite.declaration_id.in_(ids))).scalars():
        lignes.setdefault(r.declaration_id, []).append(regles.Ligne(r.lieu_id, r.semestre, r.heures_rencontres,
                                                                    r.heures_entretiens, r.heures_organisation))
    partenaires = {d.partenaire_id for d in decls}
    lieux = session.execute(sa.select(LieuAccueil.id, LieuAccueil.partenaire_id, LieuAccueil.nom, LieuAccueil.mode,
                                      LieuAccueil.ouvert_le, LieuAccueil.ferme_le)
                            .where(LieuAccueil.partenaire_id.in_(partenaires))).all()
    # the same type of the previous year, and the year's forecast (for an actual)
    autres = session.execute(sa.select(Decl.id, Decl.partenaire_id, Decl.exercice, Decl.type,
                                       sa.func.coalesce(Decl.droit_retenu, Decl.droit_estime))
                             .where(Decl.partenaire_id.in_(partenaires))).all()
    heures = dict(session.execute(
        sa.select(LigneActivite.declaration_id,
                  sa.func.sum(LigneActivite.heures_rencontres + LigneActivite.heures_entretiens
                              + LigneActivite.heures_organisation))
        .where(LigneActivite.declaration_id.in_([a[0] for a in autres])).group_by(LigneActivite.declaration_id)).all())
    index = {(a.partenaire_id, a.exercice, a.type): a for a in autres}
    from .afas_items import etat_items  # R57: the yearly items of an actual declaration
    items = etat_items(session, [d.id for d in decls])
    out = {}
    for d in decls:
        ouverts = [x for x in lieux if x.partenaire_id == d.partenaire_id
                   and (x.ouvert_le is None or x.ouvert_le <= date(d.exercice, 12, 31))
                   and (x.ferme_le is None or x.ferme_le >= date(d.exercice, 1, 1))]
        prec = index.get((d.partenaire_id, d.exercice - 1, d.type))
        prev = index.get((d.partenaire_id, d.exercice, DeclarationType.PREVISIONNELLE))
        out[d.id] = regles.Donnees(
            type=d.type.value, exercice=d.exercice, budget=d.budget, charges=d.charges, produits=d.produits,
            lignes=tuple(lignes.get(d.id, ())), lieux=tuple(x.id for x in ouverts),
            modes=tuple(x.mode.value for x in ouverts),
            heures_annee_precedente=heures.get(prec[0]) if prec is not None else None,
            droit_previsionnel=prev[4] if prev is not None and d.type == DeclarationType.REELLE else None,
            noms_lieux={x.id: x.nom for x in ouverts},
            items_manquants=items.get(d.id, ((), ()))[0], items_hors_bornes=items.get(d.id, ((), ()))[1])
    return out


def recalculer(session, declaration_ids, *, actor=None, now=None) -> dict[int, list[regles.Constat]]:
    """R59, R78 on every save: the estimate, the anomalies (a justification stays while its anomaly does,
    a fixed one goes); a declaration « contrôlée » or « renvoyée » that changes goes back « en saisie »."""
    ids = list(declaration_ids)
    if not ids:
        return {}
    session.flush()
    data = donnees(session, ids)
    existing = {(a.declaration_id, a.code): a for a in session.execute(
        sa.select(Anomalie).where(Anomalie.declaration_id.in_(ids))).scalars()}
    found: dict[int, list[regles.Constat]] = {}
    estimates = []
    for i, d in data.items():
        constats = regles.controler(d)
        found[i] = constats
        est = d.estimation()
        estimates.append({"b_id": i, "b_droit": est.droit if est is not None else None})
        for c in constats:
            a = existing.pop((i, c.code), None)
            nature = NatureAnomalie(c.nature)
            if a is None:
                session.add(Anomalie(declaration_id=i, code=c.code, libelle=c.libelle, nature=nature))
            else:
                a.libelle = c.libelle
                if a.nature != nature:
                    a.nature = nature
                    if nature == NatureAnomalie.BLOQUANTE:
                        a.justification, a.justifiee_par_id, a.justifiee_at = None, None, None
    for a in existing.values():  # fixed: no longer detected
        session.delete(a)
    table = Decl.__table__
    session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id"))
                    .values(droit_estime=sa.bindparam("b_droit")), estimates)
    session.flush()
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Decl) and obj.id in data:
            session.expire(obj, ["droit_estime", "anomalies"])
    return found


def a_reprendre(session, declaration_ids, *, actor=None, now=None) -> None:
    """A change to a declaration « contrôlée » or « renvoyée » brings it back « en saisie » (checked again)."""
    from .engine import run
    from .selection import Selection
    q = sa.select(Decl.id).where(Decl.id.in_(list(declaration_ids)), Decl.statut.in_([S.CONTROLEE, S.RENVOYEE]))
    run(session, DECLARATION, "reprendre", Selection.of_query(q), actor, now=now, system=True)


def enregistrer(session, declaration_ids, *, actor=None, now=None, part: str | None = None) -> None:
    """What every save of a declaration, an activity line or a justification calls: who filled which part
    in (R60), the checks and the estimate (R59, R78), back « en saisie » when it was further."""
    ids = list(declaration_ids)
    if part is not None and actor is not None and actor.role == R.PARTENAIRE:
        col = Decl.saisie_activite_par_id if part == PART_ACTIVITE else Decl.saisie_finances_par_id
        session.execute(sa.update(Decl).where(Decl.id.in_(ids)).values({col.key: actor.id})
                        .execution_options(synchronize_session=False))
    a_reprendre(session, ids, actor=actor, now=now)
    recalculer(session, ids, actor=actor, now=now)


def justifier(session, *, actor, anomalie_id: int, justification: str | None, now) -> Anomalie:
    """R59: a written justification of a justifiable anomaly, by a partner's user of the service (audited);
    a blocking one is refused: it must be fixed."""
    q = sa.select(Anomalie).where(Anomalie.id == anomalie_id)
    if actor is not None and (clause := policy.row_scope(Anomalie, actor)) is not None:
        q = q.where(clause)
    with session.no_autoflush:
        a = session.execute(q).scalar_one_or_none()
        if a is None:
            raise TransitionRefused("Anomalie introuvable.")
        if a.nature == NatureAnomalie.BLOQUANTE:
            raise TransitionRefused(MSG_BLOQUANTE)
        verifier_modifiable(a.declaration)
    texte = (justification or "").strip()
    if len(texte) < 10:
        raise TransitionRefused("Écrivez la justification de l'anomalie (10 caractères au moins) (R59).")
    a.justification, a.justifiee_par_id, a.justifiee_at = texte[:1000], getattr(actor, "id", None), now
    session.flush()
    audit.record(session, entity="anomalie", entity_id=a.id, action="justifier", actor_id=getattr(actor, "id", None),
                 params={"declaration": a.declaration_id, "code": a.code}, at=now)
    a_reprendre(session, [a.declaration_id], actor=actor, now=now)
    return a


# ---- guards -------------------------------------------------------------------------------------------------

def _bloquantes(session, ids, ctx) -> set[int]:
    """Run before the move (R59: « avant l'envoi »): the checks again, then the declarations still carrying a
    blocking anomaly."""
    recalculer(session, ids, now=ctx.now)
    return set(session.execute(sa.select(Anomalie.declaration_id).where(
        Anomalie.declaration_id.in_(ids), Anomalie.nature == NatureAnomalie.BLOQUANTE)).scalars())


def _non_justifiees(session, ids, ctx) -> set[int]:
    return set(session.execute(sa.select(Anomalie.declaration_id).where(
        Anomalie.declaration_id.in_(ids), Anomalie.nature == NatureAnomalie.JUSTIFIABLE,
        sa.or_(Anomalie.justification.is_(None), sa.func.trim(Anomalie.justification) == ""))).scalars())


def _codes(nature):
    def detail(session, ids, ctx):
        q = sa.select(Anomalie.declaration_id, Anomalie.code).where(Anomalie.declaration_id.in_(ids),
                                                                    Anomalie.nature == nature)
        if nature == NatureAnomalie.JUSTIFIABLE:
            q = q.where(Anomalie.justification.is_(None))
        out: dict[int, list[str]] = {}
        for i, code in session.execute(q.order_by(Anomalie.code)).all():
            out.setdefault(i, []).append(code)
        return {i: ", ".join(c) for i, c in out.items()}
    return detail


def _approbateur(ctx):
    if ctx.actor_id is None:
        return sa.true()
    return sa.exists().where(HabilitationAfas.compte_id == ctx.actor_id,
                             HabilitationAfas.partenaire_id == Decl.partenaire_id,
                             HabilitationAfas.role == H.APPROBATEUR)


def _pas_le_remplisseur(ctx):
    # R60, issue 15: the approver is not the person who filled the declaration in (either part)
    if ctx.actor_id is None:
        return sa.true()
    return sa.and_(sa.func.coalesce(Decl.saisie_activite_par_id, -1) != ctx.actor_id,
                   sa.func.coalesce(Decl.saisie_finances_par_id, -1) != ctx.actor_id)


def montant_param(value) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        d = Decimal(str(value).replace("\u00a0", "").replace(" ", "").replace("€", "").replace(",", "."))
    except InvalidOperation:
        raise TransitionRefused("Droit retenu : montant invalide.") from None
    if not d.is_finite() or d < 0 or d > Decimal("9999999999.99"):
        raise TransitionRefused("Droit retenu : montant invalide.")
    return d.quantize(Decimal("0.01"))


def _motif_si_ecart(ctx):
    # issue 15: a droit retained other than the estimate carries its reason
    droit = montant_param(ctx.params.get("droit_retenu"))
    if droit is None or (ctx.params.get("motif_droit") or "").strip():
        return sa.true()
    return sa.func.coalesce(Decl.droit_estime, -1) == droit


PAS_BLOQUANTE = Guard("R59", "anomalie bloquante à corriger", python=_bloquantes,
                      detail=_codes(NatureAnomalie.BLOQUANTE))
JUSTIFIEES = Guard("R59", "anomalie à justifier avant la transmission", python=_non_justifiees,
                   detail=_codes(NatureAnomalie.JUSTIFIABLE))
APPROBATEUR = Guard("R60", "seul l'approbateur habilité du service approuve et transmet", _approbateur)
PAS_REMPLISSEUR = Guard("R60", "l'approbateur n'est pas la personne qui a rempli la déclaration",
                        _pas_le_remplisseur)
MOTIF_DROIT = Guard("R78", "un droit retenu différent de l'estimation demande un motif", _motif_si_ecart)


# ---- mails to the partner -------------------------------------------------------------------------------------

def _mail(template):
    def effect(session, ids, ctx):
        from ..i18n import format_montant
        from .mail import queue_mail
        rows = session.execute(sa.select(Decl.id, Decl.exercice, Decl.type, Decl.droit_estime, Decl.droit_retenu,
                                         Decl.motif_droit, Decl.motif_renvoi, Structure.nom, Structure.email)
                               .join(Structure, Structure.id == Decl.partenaire_id).where(Decl.id.in_(ids))).all()
        stamp = ctx.now.strftime("%Y%m%d%H%M%S%f")
        for r in rows:
            if not r.email:
                continue
            queue_mail(session, cle=f"afas-{template}-{r.id}-{stamp}", destinataire=r.email,
                       template=f"afas_{template}",
                       contexte={"service": r.nom, "exercice": r.exercice,
                                 "type": {"previsionnelle": "prévisionnelle", "reelle": "réelle",
                                          "actualisation": "d'actualisation"}[r.type.value],
                                 "droit_estime": format_montant(r.droit_estime),
                                 "droit_retenu": format_montant(r.droit_retenu), "motif_droit": r.motif_droit or "",
                                 "motif": r.motif_renvoi or ""})
    effect.__name__ = f"mail_afas_{template}"
    return effect


# ---- R79: acomptes and balance ----------------------------------------------------------------------------------

def _creer_echeance_afas(session, declaration_ids, kind, ctx) -> None:
    """R79, issue 15 §6: what a step made payable goes to the payment chain (workflows.afas_paiements):
    kind "acompte_1" / "acompte_2" (forecasts) and "solde" (actuals) become payables of the AFAS programme, paid to
    the partner structure's IBAN; "reversement" (actuals with a negative balance) an ordre de reversement."""
    from .afas_paiements import creer_echeances_afas
    creer_echeances_afas(session, declaration_ids, kind, ctx)


def _echeance(session, ids, kind, ctx) -> None:
    if ids:  # looked up at call time: the merge replaces the hook in place
        globals()["_creer_echeance_afas"](session, sorted(ids), kind, ctx)


def _droit(row) -> Decimal | None:
    return row.droit_retenu if row.droit_retenu is not None else row.droit_estime


def _declarations(session, partenaires):
    rows = session.execute(sa.select(Decl).where(Decl.partenaire_id.in_(list(partenaires)))).scalars().all()
    return {(d.partenaire_id, d.exercice, d.type): d for d in rows}


def _ecart_non_justifie(session, reel: Decl, index) -> bool:
    """R79: the forecast and the actual of N-1 more than 10 % apart (on the droits the Caf retained) without
    a justification of the gap (the ECART-PREV anomaly's)."""
    prev = index.get((reel.partenaire_id, reel.exercice, DeclarationType.PREVISIONNELLE))
    if prev is None or not regles.ecart_depasse(_droit(prev), _droit(reel)):
        return False
    justifiee = session.execute(sa.select(sa.exists().where(
        Anomalie.declaration_id == reel.id, Anomalie.code == "ECART-PREV",
        Anomalie.justification.is_not(None)))).scalar()
    return not justifiee


def _second_acompte(session, prev: Decl, index) -> bool:
    """R79: the 2nd acompte of N once the actual of N-1 is processed and the forecast of N transmitted."""
    if prev.acompte_2 is not None or prev.statut not in (S.TRANSMISE, S.EN_TRAITEMENT, S.TRAITEE):
        return False
    reel_n1 = index.get((prev.partenaire_id, prev.exercice - 1, DeclarationType.REELLE))
    if reel_n1 is None or reel_n1.statut != S.TRAITEE:
        return False
    prev.acompte_2 = regles.second_acompte(
        droit_previsionnel_n=_droit(prev) or Decimal("0"), droit_reel_n1=reel_n1.droit_retenu,
        premier=prev.acompte_1 or Decimal("0"), ecart_non_justifie=_ecart_non_justifie(session, reel_n1, index))
    return True


def _effect_acompte_1(session, ids, ctx) -> None:
    """R79: the forecast of N transmitted: 1st acompte = 35 % of the actual droit of N-2 (a new service:
    35 % of the forecast droit of N); and the 2nd when the actual of N-1 is already processed."""
    decls = session.execute(sa.select(Decl).where(Decl.id.in_(ids), Decl.type == DeclarationType.PREVISIONNELLE)
                            ).scalars().all()
    if not decls:
        return
    index = _declarations(session, {d.partenaire_id for d in decls})
    premiers, seconds = [], []
    for d in decls:
        if d.acompte_1 is None:  # sent back and transmitted again: paid once
            reel_n2 = index.get((d.partenaire_id, d.exercice - 2, DeclarationType.REELLE))
            base_n2 = reel_n2.droit_retenu if reel_n2 is not None and reel_n2.statut == S.TRAITEE else None
            d.acompte_1 = regles.premier_acompte(droit_reel_n2=base_n2, droit_previsionnel_n=d.droit_estime)
            premiers.append(d.id)
        if _second_acompte(session, d, index):
            seconds.append(d.id)
    session.flush()
    _echeance(session, premiers, "acompte_1", ctx)
    _echeance(session, seconds, "acompte_2", ctx)


def _effect_apres_traitement(session, ids, ctx) -> None:
    """R79: an actual of N-1 processed: the 2nd acompte of the forecast of N, and the balance of N-1
    (droit retained − acomptes paid; negative: a reversement)."""
    decls = session.execute(sa.select(Decl).where(Decl.id.in_(ids), Decl.type == DeclarationType.REELLE)
                            ).scalars().all()
    if not decls:
        return
    index = _declarations(session, {d.partenaire_id for d in decls})
    seconds, soldes, reversements = [], [], []
    for reel in decls:
        prev_suivante = index.get((reel.partenaire_id, reel.exercice + 1, DeclarationType.PREVISIONNELLE))
        if prev_suivante is not None and _second_acompte(session, prev_suivante, index):
            seconds.append(prev_suivante.id)
        if reel.solde is None:
            prev = index.get((reel.partenaire_id, reel.exercice, DeclarationType.PREVISIONNELLE))
            verse = sum((x for x in ((prev.acompte_1, prev.acompte_2) if prev is not None else ()) if x is not None),
                        Decimal("0"))
            s = regles.solde(droit_reel_n=reel.droit_retenu, deja_verse=verse)
            reel.solde = s.montant
            (soldes if s.montant > 0 else reversements if s.montant < 0 else []).append(reel.id)
    session.flush()
    _echeance(session, seconds, "acompte_2", ctx)
    _echeance(session, soldes, "solde", ctx)
    _echeance(session, reversements, "reversement", ctx)


def _valeurs_traitement(ctx):
    droit = montant_param(ctx.params.get("droit_retenu"))
    motif = (ctx.params.get("motif_droit") or "").strip() or None
    return {"droit_retenu": Decl.droit_estime if droit is None else droit, "motif_droit": motif,
            "traitee_at": ctx.now}


def _approbation(ctx):
    nom = sa.select(Compte.prenom + " " + Compte.nom).where(Compte.id == ctx.actor_id).scalar_subquery()
    return {"approuvee_par_id": ctx.actor_id, "approuvee_at": ctx.now, "approuvee_par": nom}


PARTENAIRE = {R.PARTENAIRE}
DECLARATION = Workflow("declaration_afas", Decl, [
    #  name         label                               from                        to                roles
    T("controler", "Contrôler", {S.EN_SAISIE}, S.CONTROLEE, {R.PARTENAIRE, R.ADMIN, R.SIEGE},
      guards=[PAS_BLOQUANTE, JUSTIFIEES]),
    T("approuver", "Approuver", {S.CONTROLEE}, S.APPROUVEE, PARTENAIRE, guards=[APPROBATEUR, PAS_REMPLISSEUR],
      values=_approbation, style="success"),
    T("transmettre", "Transmettre à la Caf", {S.APPROUVEE}, S.TRANSMISE, PARTENAIRE,
      guards=[APPROBATEUR, PAS_BLOQUANTE, JUSTIFIEES, IBAN_PREVISIONNELLE],
      values=lambda ctx: {"transmise_at": ctx.now},
      effects=[_effect_acompte_1, _mail("transmise")]),
    T("prendre_en_traitement", "Prendre en traitement", {S.TRANSMISE}, S.EN_TRAITEMENT, {R.CAF},
      effects=[_mail("en_traitement")]),
    T("traiter", "Traiter (droit retenu)", {S.EN_TRAITEMENT}, S.TRAITEE, {R.CAF},
      params=[Param("droit_retenu", "Droit retenu (vide : l'estimation)", kind="money", required=False),
              Param("motif_droit", "Motif d'un droit différent de l'estimation", kind="textarea", required=False)],
      guards=[MOTIF_DROIT, IBAN_REELLE], values=_valeurs_traitement, effects=[_effect_apres_traitement, _mail("traitee")],
      style="success"),
    T("renvoyer", "Renvoyer au partenaire", {S.TRANSMISE, S.EN_TRAITEMENT}, S.RENVOYEE, {R.CAF},
      params=[Param("motif_renvoi", "Motif du renvoi", kind="textarea")],
      values=lambda ctx: {"motif_renvoi": ctx.params.get("motif_renvoi")}, effects=[_mail("renvoyee")], style="danger"),
    # a change after the checks brings the declaration back to be checked again (run on save, never a button)
    T("reprendre", "Reprise de la saisie", {S.CONTROLEE, S.RENVOYEE}, S.EN_SAISIE,
      {R.PARTENAIRE, R.ADMIN, R.SIEGE}, system=True),
], entity="declaration_partenaire", amount_column="droit_estime", scope=policy.row_scope)


# ---- R56: creating a declaration -----------------------------------------------------------------------------

def creer_declaration(session, *, actor, partenaire_id: int, exercice: int, type, now=None) -> Decl:
    """R56: per financial year one forecast, one actual, and an actualisation when the Caf asks for it;
    created by a partner's user of the service (any habilitation) or by the staff."""
    type = DeclarationType(type)
    if actor is not None and actor.role == R.PARTENAIRE and not habilitations(session, actor.id, partenaire_id):
        raise RoleRefused("Vous n'êtes habilité(e) sur aucune déclaration de ce service (R60).")
    if not exercice or not 2000 <= int(exercice) <= 2100:
        raise TransitionRefused("Exercice invalide (AAAA).")
    with session.no_autoflush:
        exists = session.execute(sa.select(Decl.id).where(Decl.partenaire_id == partenaire_id,
                                                          Decl.exercice == int(exercice), Decl.type == type)).first()
    if exists is not None:
        raise TransitionRefused(f"Ce service a déjà sa déclaration {type.value} {exercice} : une par exercice (R56).")
    d = Decl(partenaire_id=partenaire_id, exercice=int(exercice), type=type, statut=S.EN_SAISIE)
    session.add(d)
    session.flush()
    audit.record(session, entity="declaration_partenaire", entity_id=d.id, action="creer",
                 actor_id=getattr(actor, "id", None), to_status=S.EN_SAISIE.value,
                 params={"service": partenaire_id, "exercice": int(exercice), "type": type.value}, at=now)
    recalculer(session, [d.id], actor=actor, now=now)
    return d
