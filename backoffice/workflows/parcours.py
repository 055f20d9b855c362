"""Parcours (enrolment) life cycle: ouvert → (renouvele) → cloture(motif), issue 17.

Opening is a creation (like entering an allocation, workflows/saisie.py): `ouvrir_inscription` and
`controler_inscription` (the grid's create and edit) run the entry checks of the catalogue and the rules
(ages, France Travail R10/R13, AGDREF R14, R7, durations R1/R6/R8, the permit R17, PACEA and CEJ never
together R20). The rest are transitions of the PARCOURS table: renew (R1, R15), close with an exit
reason of the dispositif's own list and its positive-exit flag (R2, R3; France Travail told of a PACEA
closed without a positive exit, R16), the scheduler's automatic ends (the maximum duration or age reached,
the PACEA permit's end R17: jobs/parcours.py) and the manager's CEJ sanctions (R37).

R20 is also held by the database (a trigger, migrations/versions/0015_parcours.py): a row written by any
other path that would overlap is refused by PostgreSQL or SQLite.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from .. import policy
from ..models import ActionParcours, Allocation, Beneficiaire, Dispositif, Inscription, MotifSortie
from ..models.beneficiaires import DOMAINES_ACTION, NATURES_ACTION
from ..models.enums import InscriptionStatut as S, Role as R
from ..rules import parcours as regles
from . import audit
from .engine import Guard, Param, T, Workflow, id_in
from .errors import TransitionRefused

EN_COURS = (S.OUVERT, S.RENOUVELE)
EXCLUSIFS = (regles.PACEA, regles.CEJ)  # R20


# ---- SQL helpers -------------------------------------------------------------------------------
class debut_du_mois(FunctionElement):
    """The first day of a date's month, on PostgreSQL and SQLite."""
    type = sa.Date()
    inherit_cache = True


@compiles(debut_du_mois, "postgresql")
def _debut_du_mois_pg(element, compiler, **kw):
    return "CAST(date_trunc('month', %s) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(debut_du_mois)
def _debut_du_mois_sqlite(element, compiler, **kw):
    return "date(%s, 'start of month')" % compiler.process(element.clauses, **kw)


def fin_effective(insc=Inscription):
    """The last day of an enrolment: its actual end once closed, its planned end before."""
    return sa.func.coalesce(insc.date_fin_reelle, insc.date_fin_prevue)


def catalogue(d: Dispositif) -> regles.Catalogue:
    return regles.Catalogue(code=d.code, duree_min_jours=d.duree_min_jours, duree_max_mois=d.duree_max_mois,
                            renouvelable=d.renouvelable, nb_renouvellements_max=d.nb_renouvellements_max,
                            duree_renouvellement_mois=d.duree_renouvellement_mois,
                            france_travail_requis=d.france_travail_requis, age_min=d.age_min, age_max=d.age_max)


def jeune(b: Beneficiaire) -> regles.Jeune:
    return regles.Jeune(naissance=b.date_naissance, ressortissant_eee=b.ressortissant_eee,
                        numero_agdref=b.numero_agdref, fin_titre_sejour=b.date_fin_titre_sejour,
                        inscrit_france_travail=b.inscrit_france_travail, rqth=b.rqth)


def chevauchement(session, beneficiaire_id: int, debut: date, fin: date, *, sauf: int | None = None):
    """R20: the youth's PACEA or CEJ whose period meets [debut, fin] (other than `sauf`), or None."""
    return session.execute(
        sa.select(Inscription.numero, Dispositif.code, Inscription.date_debut, fin_effective())
        .join(Dispositif, Dispositif.id == Inscription.dispositif_id)
        .where(Inscription.beneficiaire_id == beneficiaire_id, Inscription.id != (sauf or 0),
               Dispositif.code.in_(EXCLUSIFS), Inscription.date_debut <= fin, fin_effective() >= debut)
        .limit(1)).first()


def _message_chevauchement(row) -> str:
    return (f"Le jeune a déjà un {row[1]} (n° {row[0]}, du {row[2]:%d/%m/%Y} au {row[3]:%d/%m/%Y}) sur cette "
            f"période : un PACEA et un CEJ ne se chevauchent jamais (R20).")


# ---- opening (a creation, with the entry checks) ------------------------------------------------
def controler_inscription(session, insc: Inscription, *, is_created: bool, today: date) -> None:
    """The entry checks of an enrolment created or edited in the grid (or by `ouvrir_inscription`):
    fills the antenne, the pilot, the planned end (the dispositif's maximum duration, bounded by the CEJ age
    limit and the PACEA permit R17) and the CEP level (R18); raises TransitionRefused with every reason."""
    b = insc.beneficiaire or session.get(Beneficiaire, insc.beneficiaire_id)
    d = insc.dispositif or session.get(Dispositif, insc.dispositif_id)
    if b is None or d is None:
        raise TransitionRefused("Jeune et dispositif obligatoires.")
    if is_created and insc.statut not in (None, S.OUVERT):
        raise TransitionRefused("Un parcours s'ouvre à l'état « ouvert » ; il se clôture par son action.")
    if not d.actif and is_created:
        raise TransitionRefused(f"Le dispositif {d.code} n'est plus proposé.")
    cat, j = catalogue(d), jeune(b)
    insc.antenne_id = b.antenne_id
    if is_created:
        insc.pilote = insc.pilote or d.pilote_code
        insc.date_fin_prevue = regles.fin_prevue(cat, j, insc.date_debut, insc.date_fin_prevue)
        if d.code == regles.PACEA and insc.niveau_cep is None:
            insc.niveau_cep = 2  # R18: PACEA accompaniment is recorded as CEP level 2
        if d.code in (regles.QPV, regles.RE) and insc.date_premier_entretien is None:
            # R9: the first reception's (or the move's) date; R3: the CRE opens the Relation entreprise at
            # the individual interview it is attached to, their first
            insc.date_premier_entretien = insc.date_debut
    refus_r3 = _referent_r3(session, insc, d) if is_created else []
    saisie = regles.Saisie(premier_entretien=insc.date_premier_entretien, justification_delai=insc.justification_delai,
                           prescripteur=insc.prescripteur, referent=insc.referent_id is not None or insc.referent is not None,
                           pilote=insc.pilote, pilote_catalogue=d.pilote_code, parrain=insc.parrain,
                           acceptation_parrainage=insc.date_acceptation_parrainage,
                           eligibilite_attestee=bool(insc.eligibilite_attestee))
    refus = refus_r3 + (regles.refus_ouverture(cat, j, insc.date_debut, insc.date_fin_prevue, saisie=saisie)
                        if is_created else [])
    if not is_created:  # an edit keeps the enrolment inside its bounds (duration with its renewals, R17)
        borne = regles.bornes(cat, j, insc.date_debut, insc.nb_renouvellements or 0)
        if borne is not None and insc.date_fin_prevue > borne:
            refus.append(f"Fin prévue au-delà de la durée maximale du dispositif (le {borne:%d/%m/%Y} au plus) "
                         "(R1, R17).")
    if insc.precedente_id is not None:
        prev = session.get(Inscription, insc.precedente_id)
        if prev is not None and prev.beneficiaire_id != b.id:
            refus.append("Le parcours précédent doit être celui du même jeune.")
    if d.code in EXCLUSIFS and insc.date_fin_prevue >= insc.date_debut:
        with session.no_autoflush:
            row = chevauchement(session, b.id, insc.date_debut, insc.date_fin_reelle or insc.date_fin_prevue,
                                sauf=insc.id)
        if row is not None:
            refus.append(_message_chevauchement(row))
    if refus:
        raise TransitionRefused(" ".join(refus))


def _referent_r3(session, insc: Inscription, d: Dispositif) -> list[str]:
    """R3: a Relation entreprise leaves the youth's file in the name of their adviser (CIP), the referent of
    their enrolment in progress; the CRE supports. Fills the referent, refuses another one."""
    if d.code != regles.RE:
        return []
    with session.no_autoflush:
        cip = session.execute(
            sa.select(Inscription.referent_id).join(Dispositif, Dispositif.id == Inscription.dispositif_id)
            .where(Inscription.beneficiaire_id == insc.beneficiaire_id, Inscription.statut.in_(EN_COURS),
                   Inscription.referent_id.is_not(None), Dispositif.code.not_in((regles.RE, regles.QPV)),
                   Inscription.id != (insc.id or 0))
            .order_by(Inscription.date_debut.desc()).limit(1)).scalar()
    if cip is None:
        return []
    choisi = insc.referent_id if insc.referent_id is not None else getattr(insc.referent, "id", None)
    if choisi is None:
        from ..models import Compte
        insc.referent = session.get(Compte, cip)  # the relationship too: the grid's form set it to None
        insc.referent_id = cip
        return []
    if choisi != cip:
        return ["Relation entreprise : le dossier du jeune reste au nom de son conseiller référent, celui de son "
                "parcours en cours ; le CRE l'accompagne en soutien (R3)."]
    return []


def ouvrir_inscription(session, *, numero: str, beneficiaire_id: int, dispositif_id: int, date_debut: date,
                       actor, date_fin_prevue: date | None = None, referent_id: int | None = None,
                       prescripteur: str | None = None, precedente_id: int | None = None,
                       date_premier_entretien: date | None = None, now: datetime | None = None,
                       **saisie) -> Inscription:
    """Open an enrolment (state « ouvert ») after the entry checks; audited. Does not commit. `saisie`: the
    other typed fields (justification_delai R7, parrain and date_acceptation_parrainage R8,
    eligibilite_attestee R11, pilote)."""
    from ..models.base import utcnow
    insc = Inscription(numero=numero, beneficiaire_id=beneficiaire_id, dispositif_id=dispositif_id,
                       date_debut=date_debut, date_fin_prevue=date_fin_prevue, referent_id=referent_id,
                       prescripteur=prescripteur, precedente_id=precedente_id, statut=S.OUVERT,
                       date_premier_entretien=date_premier_entretien, **saisie)
    with session.no_autoflush:
        insc.beneficiaire = session.get(Beneficiaire, beneficiaire_id)
        insc.dispositif = session.get(Dispositif, dispositif_id)
        controler_inscription(session, insc, is_created=True, today=(now or utcnow()).date())
    session.add(insc)
    session.flush()
    audit.record(session, entity="inscription", entity_id=insc.id, action="ouvrir",
                 actor_id=getattr(actor, "id", None), to_status=S.OUVERT.value,
                 params={"dispositif": insc.dispositif.code, "date_debut": insc.date_debut,
                         "date_fin_prevue": insc.date_fin_prevue})
    return insc


# ---- guards (SQL predicates over Inscription, True = allowed; or Python over the chunk) ----------
def _dispositif(*conditions):
    return sa.exists().where(Dispositif.id == Inscription.dispositif_id, *conditions)


def _pas_pacea(ctx):
    return _dispositif(Dispositif.code != regles.PACEA)  # R15 / R17


def _renouvellements_restants(ctx):
    # R1 (Relation entreprise: once, 2 months), CEJ: once, 6 months (18 months at most, W33)
    return _dispositif(Dispositif.renouvelable.is_(True),
                       Inscription.nb_renouvellements < Dispositif.nb_renouvellements_max)


def _pas_echu(ctx):
    return Inscription.date_fin_prevue >= ctx.now.date()


def _charger(session, ids):
    return session.execute(sa.select(Inscription, Dispositif, Beneficiaire)
                           .join(Dispositif, Dispositif.id == Inscription.dispositif_id)
                           .join(Beneficiaire, Beneficiaire.id == Inscription.beneficiaire_id)
                           .where(id_in(session, Inscription.id, ids))).all()


def _nouvelles_fins(session, ids) -> dict[int, tuple[date, date]]:
    """id -> (current planned end, planned end after one renewal), from the pure rules."""
    out = {}
    for insc, d, b in _charger(session, ids):
        out[insc.id] = (insc.date_fin_prevue, regles.fin_renouvellement(
            catalogue(d), jeune(b), insc.date_debut, insc.date_fin_prevue, insc.nb_renouvellements))
    return out


def _age_atteint(session, ids, ctx):
    return {i for i, (avant, apres) in _nouvelles_fins(session, ids).items() if apres <= avant}


def _chevauchement_prolonge(session, ids, ctx):
    failing = set()
    for insc, d, b in _charger(session, ids):
        if d.code not in EXCLUSIFS:
            continue
        fin = regles.fin_renouvellement(catalogue(d), jeune(b), insc.date_debut, insc.date_fin_prevue,
                                        insc.nb_renouvellements)
        if chevauchement(session, b.id, insc.date_debut, fin, sauf=insc.id) is not None:
            failing.add(insc.id)
    return failing


def _param_date(ctx, name):
    value = ctx.params.get(name)
    if isinstance(value, str) and value:
        value = date.fromisoformat(value)
    return value or ctx.now.date()


def _param_int(ctx, name):
    try:
        return int(ctx.params.get(name))
    except (TypeError, ValueError):
        return None


def _motif_du_dispositif(ctx):
    # R2: the exit reason is one of the dispositif's own list
    if ctx.params.get("motif_sortie_id") in (None, ""):
        return sa.true()  # the preview, before the form: the real run requires it
    return sa.exists().where(MotifSortie.id == (_param_int(ctx, "motif_sortie_id") or -1),
                             MotifSortie.dispositif_id == Inscription.dispositif_id)


def _fin_apres_debut(ctx):
    return Inscription.date_debut <= _param_date(ctx, "date_fin")


def _fin_passee(ctx):
    return sa.literal(_param_date(ctx, "date_fin") <= ctx.now.date())


def _fin_titre_sejour(ctx):
    # R17: a PACEA ends at the latest on the permit's last valid day
    return sa.or_(_dispositif(Dispositif.code != regles.PACEA), sa.exists().where(
        Beneficiaire.id == Inscription.beneficiaire_id,
        sa.or_(Beneficiaire.ressortissant_eee.is_(True), Beneficiaire.date_fin_titre_sejour.is_(None),
               Beneficiaire.date_fin_titre_sejour >= _param_date(ctx, "date_fin"))))


def _fin_titre_pacea(insc=Inscription):
    """The permit's end of a non-EEA youth's PACEA (NULL otherwise)."""
    return (sa.select(Beneficiaire.date_fin_titre_sejour)
            .join(Dispositif, Dispositif.id == insc.dispositif_id)
            .where(Beneficiaire.id == insc.beneficiaire_id, Beneficiaire.ressortissant_eee.is_(False),
                   Dispositif.code == regles.PACEA)
            .correlate(insc).scalar_subquery())


def _terme_atteint(ctx):
    # the scheduler's ends: planned end passed (maximum duration or age limit), or the PACEA permit's (R17)
    today = ctx.now.date()
    return sa.or_(Inscription.date_fin_prevue < today, sa.func.coalesce(_fin_titre_pacea() < today, False))


def _cej(ctx):
    return _dispositif(Dispositif.code == regles.CEJ)  # R37


def _manquements_restants(ctx):
    return Inscription.nb_manquements < 3


def _notification_valide(ctx):
    notif = _param_date(ctx, "date_notification")
    return sa.and_(Inscription.date_debut <= notif, sa.literal(notif <= ctx.now.date()))


def _r19_autonomie(ctx):
    # R19: a youth who became auto-entrepreneur during the CEJ exits « Accès à l'autonomie »
    if ctx.params.get("motif_sortie_id") in (None, ""):
        return sa.true()
    devenu = sa.exists().where(Beneficiaire.id == Inscription.beneficiaire_id,
                               Beneficiaire.micro_entrepreneur.is_(True),
                               Beneficiaire.date_immatriculation_micro > Inscription.date_debut)
    autonomie = sa.exists().where(MotifSortie.id == (_param_int(ctx, "motif_sortie_id") or -1),
                                  MotifSortie.libelle == "Accès à l'autonomie")
    return sa.or_(_dispositif(Dispositif.code != regles.CEJ), sa.not_(devenu), autonomie)


def _date_dans_parcours(name):
    def predicate(ctx):
        d = _param_date(ctx, name)
        return sa.and_(Inscription.date_debut <= d, fin_effective() >= d, sa.literal(d <= ctx.now.date()))
    return predicate


def _mois_dans_parcours(ctx):
    d = regles.premier_du_mois(_param_date(ctx, "mois"))
    return sa.and_(debut_du_mois(Inscription.date_debut) <= d, fin_effective() >= d,
                   sa.literal(d <= ctx.now.date()))


def heures_saisies(value):
    """R5: weekly hours of activity, as typed (« 17,5 »): a Decimal between 0 and 60, or None."""
    from decimal import Decimal, InvalidOperation
    try:
        h = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, AttributeError):
        return None
    return h if h.is_finite() and 0 <= h <= 60 and h == h.quantize(Decimal("0.1")) else None


def _heures_valides(ctx):
    if ctx.params.get("heures") in (None, ""):
        return sa.true()  # the preview, before the form
    return sa.literal(heures_saisies(ctx.params.get("heures")) is not None)


R19 = Guard("R19", "jeune devenu auto-entrepreneur pendant le CEJ : sortie « Accès à l'autonomie »", _r19_autonomie)
ENTRETIEN_DATE = Guard("R16", "date d'entretien hors du parcours ou dans le futur", _date_dans_parcours("date_entretien"))
CEJ_HEURES = Guard("R5", "les heures d'activité hebdomadaires se suivent au CEJ", lambda ctx: _dispositif(
    Dispositif.code == regles.CEJ))
MOIS_HEURES = Guard("R5", "mois hors du parcours ou à venir", _mois_dans_parcours)
HEURES = Guard("R5", "heures hebdomadaires : un nombre de 0 à 60 (une décimale au plus)", _heures_valides)


# ---- actions: parrainage (R8), Avenir Pro workshops (R11), Déclic days (R12) -------------------------
def _nb_actions(insc=Inscription):
    return (sa.select(sa.func.count(ActionParcours.id)).where(ActionParcours.inscription_id == insc.id)
            .correlate(insc).scalar_subquery())


def _action_du_dispositif(ctx):
    # the dispositif records actions at all (its catalogue names their kind)
    return _dispositif(Dispositif.nature_action.is_not(None))


def _nature_attendue(code, nature):
    def predicate(ctx):
        saisie = ctx.params.get("nature")
        if saisie in (None, ""):
            return sa.true()  # the preview, before the form
        return sa.or_(_dispositif(Dispositif.code != code), sa.literal(saisie == nature))
    return predicate


def _domaine_professionnel(ctx):
    # R8: parrainage actions are professional only (also a CHECK of action_parcours)
    if ctx.params.get("nature") in (None, ""):
        return sa.true()
    return sa.literal(ctx.params.get("nature") != "parrainage" or ctx.params.get("domaine") == "professionnel")


def _actions_restantes(ctx):
    # R11: a cycle of 4 Avenir Pro workshops; Déclic pour l'action: 6 days (the catalogue's maximum)
    return sa.or_(_dispositif(Dispositif.actions_max.is_(None)),
                  _dispositif(_nb_actions() < Dispositif.actions_max))


def _valide_avec_actions(ctx):
    # R8: a Parrainage is validated (a positive exit) only with 2 parrainage actions at least
    if ctx.params.get("motif_sortie_id") in (None, ""):
        return sa.true()
    positif = sa.exists().where(MotifSortie.id == (_param_int(ctx, "motif_sortie_id") or -1),
                                MotifSortie.sortie_positive.is_(True))
    return sa.or_(sa.not_(positif), _dispositif(Dispositif.actions_min.is_(None)),
                  _dispositif(_nb_actions() >= Dispositif.actions_min))


ACTION_DISPOSITIF = Guard("actions", "ce dispositif n'enregistre pas d'actions (Parrainage, Avenir Pro, Déclic pour "
                                     "l'action seulement)", _action_du_dispositif)
R8_NATURE = Guard("R8", "un parrainage enregistre des actions de parrainage", _nature_attendue(regles.PARRAINAGE, "parrainage"))
R8_DOMAINE = Guard("R8", "les actions de parrainage touchent le seul domaine professionnel", _domaine_professionnel)
R11_NATURE = Guard("R11", "Avenir Pro : un cycle d'ateliers", _nature_attendue(regles.AVENIR_PRO, "atelier"))
R12_NATURE = Guard("R12", "Déclic pour l'action : une journée « situation non professionnelle » + mesure, pas un atelier",
                   _nature_attendue(regles.DECLIC, "journee_declic"))
R11_MAX = Guard("R11", "nombre d'actions du dispositif atteint (Avenir Pro : cycle de 4 ateliers ; Déclic pour "
                       "l'action : 6 journées)", _actions_restantes)
ACTION_DATE = Guard("dates", "date de l'action hors du parcours ou dans le futur", _date_dans_parcours("date_action"))
R8_VALIDATION = Guard("R8", "un parrainage n'est validé (sortie positive) qu'avec au moins 2 actions de parrainage",
                      _valide_avec_actions)


PAS_PACEA = Guard("R15", "le PACEA ne se renouvelle pas : ouvrez un second PACEA le mois suivant sa clôture",
                  _pas_pacea)
RENOUVELLEMENTS = Guard("R1", "nombre maximal de renouvellements atteint pour ce dispositif "
                              "(Relation entreprise : une fois 2 mois ; CEJ : une fois 6 mois)", _renouvellements_restants)
PAS_ECHU = Guard("terme", "parcours arrivé à son terme : il ne se renouvelle plus, clôturez-le", _pas_echu)
AGE = Guard("âge", "limite d'âge atteinte : le parcours ne peut pas être prolongé (CEJ : 26 ans, 30 avec RQTH)",
            python=_age_atteint)
R20_PROLONGE = Guard("R20", "la prolongation chevaucherait un autre PACEA ou CEJ du jeune",
                     python=_chevauchement_prolonge)
MOTIF_DISPOSITIF = Guard("R2", "motif de sortie hors de la liste de ce dispositif", _motif_du_dispositif)
FIN_APRES_DEBUT = Guard("dates", "la date de fin précède le début du parcours", _fin_apres_debut)
FIN_PASSEE = Guard("date", "la date de fin ne peut pas être dans le futur", _fin_passee)
FIN_TITRE = Guard("R17", "un PACEA finit au plus tard le dernier jour du titre de séjour", _fin_titre_sejour)
TERME = Guard("terme", "terme non atteint (fin prévue, limite d'âge ou titre de séjour)", _terme_atteint)
CEJ_SEUL = Guard("R37", "les sanctions ne concernent que le CEJ", _cej)
MANQUEMENTS = Guard("R37", "trois manquements : le contrat a déjà pris fin", _manquements_restants)
NOTIFICATION = Guard("R37", "date de notification hors du parcours ou dans le futur", _notification_valide)


# ---- values and effects ----------------------------------------------------------------------------
def _valeurs_cloture(ctx):
    motif_id = _param_int(ctx, "motif_sortie_id")
    motif = sa.select(MotifSortie.sortie_positive).where(MotifSortie.id == motif_id).scalar_subquery()
    pacea = _dispositif(Dispositif.code == regles.PACEA)
    return {"date_fin_reelle": _param_date(ctx, "date_fin"), "motif_sortie_id": motif_id,
            # R2/R3: the exit reason's positive-exit flag
            "sortie_positive": sa.func.coalesce(motif, False),
            # R16: a PACEA closed without a positive exit (no job, no training): France Travail is told and
            # de-registers the youth
            "signalement_france_travail": sa.and_(pacea, sa.not_(sa.func.coalesce(motif, False))),
            # R11: at the end of an Avenir Pro cycle the ML hands France Travail its bilan
            "bilan_france_travail": sa.or_(Inscription.bilan_france_travail,
                                           _dispositif(Dispositif.code == regles.AVENIR_PRO)),
            "motif_cloture": ctx.params.get("commentaire") or None}


def _valeurs_fin_auto(ctx):
    titre = _fin_titre_pacea()
    libelle = ctx.params.get("motif_catalogue")
    motif = (sa.select(MotifSortie.id).where(MotifSortie.dispositif_id == Inscription.dispositif_id,
                                             MotifSortie.libelle == libelle).limit(1).scalar_subquery()
             if libelle else None)
    # R17: the permit's last day when it comes first (never before the start: the CHECK of the table)
    return {"date_fin_reelle": sa.case((sa.and_(titre.is_not(None), titre < Inscription.date_debut), Inscription.date_debut),
                                       (sa.and_(titre.is_not(None), titre < Inscription.date_fin_prevue), titre),
                                       else_=Inscription.date_fin_prevue),
            "motif_sortie_id": motif, "sortie_positive": False, "motif_cloture": ctx.params["motif"]}


def _effet_prolonger(session, ids, ctx):
    """Renewal: the planned end moves by the dispositif's renewal duration, within its bounds."""
    rows = []
    for insc, d, b in _charger(session, ids):  # read after the UPDATE: nb_renouvellements already + 1
        fin = regles.fin_renouvellement(catalogue(d), jeune(b), insc.date_debut, insc.date_fin_prevue,
                                        insc.nb_renouvellements - 1)
        rows.append({"i": insc.id, "fin": fin})
    if rows:
        session.execute(sa.update(Inscription.__table__).where(Inscription.__table__.c.id == sa.bindparam("i"))
                        .values(date_fin_prevue=sa.bindparam("fin")), rows)


def _valeurs_renouvellement(ctx):
    return {"nb_renouvellements": Inscription.nb_renouvellements + 1}


def _valeurs_sanction(ctx):
    # R37: takes effect on the 1st of the month after the notification
    mois = regles.mois_effet_sanction(_param_date(ctx, "date_notification"))
    motif = ctx.params.get("motif")
    n = Inscription.nb_manquements
    return {"nb_manquements": n + 1,
            "sanction_1_mois": sa.case((n == 0, mois), else_=Inscription.sanction_1_mois),
            "sanction_1_motif": sa.case((n == 0, motif), else_=Inscription.sanction_1_motif),
            "sanction_2_mois": sa.case((n == 1, mois), else_=Inscription.sanction_2_mois),
            "sanction_2_motif": sa.case((n == 1, motif), else_=Inscription.sanction_2_motif)}


def _effet_troisieme_manquement(session, ids, ctx):
    """R37: the 3rd breach removes the allowance for good and ends the contract (end of the notification's
    month: the allowance of the following months is never due)."""
    from .engine import run
    from .selection import Selection
    troisiemes = session.execute(sa.select(Inscription.id).where(id_in(session, Inscription.id, ids),
                                                                 Inscription.nb_manquements >= 3)).scalars().all()
    if troisiemes:
        fin = regles.dernier_du_mois(_param_date(ctx, "date_notification"))
        run(session, PARCOURS, "rompre_sanction", Selection.of_ids(troisiemes), None, now=ctx.now, system=True,
            params={"motif": f"Sanction : 3e manquement (R37) — {ctx.params.get('motif') or ''}".strip(" —"),
                    "date_fin": fin.isoformat()}, bulk_run_id=ctx.bulk_run_id)


def _valeurs_rupture(ctx):
    motif = (sa.select(MotifSortie.id).where(MotifSortie.dispositif_id == Inscription.dispositif_id,
                                             MotifSortie.libelle == "Sanction (manquements répétés)")
             .limit(1).scalar_subquery())
    fin = _param_date(ctx, "date_fin")
    return {"date_fin_reelle": sa.case((Inscription.date_debut > fin, Inscription.date_debut), else_=fin),
            "motif_sortie_id": motif, "sortie_positive": False, "motif_cloture": ctx.params["motif"]}


def _valeurs_entretien(ctx):
    d = _param_date(ctx, "date_entretien")
    return {"dernier_contact": sa.case((sa.or_(Inscription.dernier_contact.is_(None), Inscription.dernier_contact < d), d),
                                       else_=Inscription.dernier_contact)}


def _effet_heures(session, ids, ctx):
    """R5: the month's weekly hours stored in the enrolment's record of months (JSON)."""
    mois = regles.premier_du_mois(_param_date(ctx, "mois")).strftime("%Y-%m")
    h = str(heures_saisies(ctx.params["heures"]))
    for insc in session.execute(sa.select(Inscription).where(id_in(session, Inscription.id, ids))).scalars():
        insc.heures_activite = {**(insc.heures_activite or {}), mois: h}
    session.flush()


def _effet_action(session, ids, ctx):
    """R8/R11/R12: one action row per moved enrolment, set-based (INSERT … SELECT); the same kind on the same
    day is recorded once (a replay adds nothing: NOT EXISTS here, a unique key in the table). A Déclic day
    counts the catalogue's hours (7 h) and is an interne + administratif event, not a workshop (R12)."""
    nature, jour = ctx.params["nature"], _param_date(ctx, "date_action")
    deja = sa.exists().where(ActionParcours.inscription_id == Inscription.id, ActionParcours.nature == nature,
                             ActionParcours.date_action == jour)
    evenement = {"journee_declic": "Interne + administratif", "atelier": "Atelier",
                 "parrainage": "Action de parrainage"}[nature]
    select = (sa.select(Inscription.id, sa.literal(nature), sa.literal(jour, sa.Date),
                        sa.literal(ctx.params.get("domaine") or None, sa.String), Dispositif.heures_par_action,
                        sa.literal(evenement), sa.literal(ctx.params.get("libelle") or None, sa.String),
                        sa.literal(ctx.actor_id, sa.Integer), sa.literal(ctx.now, sa.DateTime))
              .join(Dispositif, Dispositif.id == Inscription.dispositif_id)
              .where(id_in(session, Inscription.id, ids), sa.not_(deja)))
    session.execute(sa.insert(ActionParcours).from_select(
        ["inscription_id", "nature", "date_action", "domaine", "heures", "type_evenement", "libelle", "saisi_par_id",
         "created_at"], select))


def _motifs(session):
    rows = session.execute(sa.select(MotifSortie.id, Dispositif.code, MotifSortie.libelle, MotifSortie.sortie_positive)
                           .join(Dispositif, Dispositif.id == MotifSortie.dispositif_id)
                           .order_by(Dispositif.code, MotifSortie.libelle)).all()
    return [(r.id, f"{r.code} — {r.libelle}{' (sortie positive)' if r.sortie_positive else ''}") for r in rows]


MOTIF_SORTIE = Param("motif_sortie_id", "Motif de sortie (liste du dispositif, R2)", kind="select", choices=_motifs)
DATE_FIN = Param("date_fin", "Date de fin réelle (aujourd'hui si vide)", kind="date", required=False)
COMMENTAIRE = Param("commentaire", "Commentaire", kind="textarea", required=False, max_length=200)
NOTIFIEE = Param("date_notification", "Date de notification au jeune (après qu'il a pu répondre)", kind="date")
MOTIF_SANCTION = Param("motif", "Manquement constaté", kind="textarea")

_ENTRETIEN = dict(guards=[ENTRETIEN_DATE], params=[Param("date_entretien", "Date de l'entretien individuel", kind="date")],
                  values=_valeurs_entretien, style="secondary")
_HEURES = dict(guards=[CEJ_HEURES, MOIS_HEURES, HEURES],
               params=[Param("mois", "Mois (un jour du mois)", kind="date"),
                       Param("heures", "Heures d'activité par semaine (15 à 20 h attendues)", max_length=5)],
               effects=[_effet_heures], style="secondary")
_ACTION = dict(guards=[ACTION_DISPOSITIF, ACTION_DATE, R8_NATURE, R8_DOMAINE, R11_NATURE, R12_NATURE, R11_MAX],
               params=[Param("nature", "Nature de l'action", kind="select",
                             choices=lambda session: list(NATURES_ACTION.items())),
                       Param("date_action", "Date de l'action", kind="date"),
                       Param("domaine", "Domaine (parrainage : professionnel seulement, R8)", kind="select",
                             required=False, choices=lambda session: list(DOMAINES_ACTION.items())),
                       Param("libelle", "Libellé", required=False, max_length=200)],
               effects=[_effet_action], style="secondary")
_SANCTION = dict(guards=[CEJ_SEUL, MANQUEMENTS, NOTIFICATION], params=[NOTIFIEE, MOTIF_SANCTION],
                 values=_valeurs_sanction, effects=[_effet_troisieme_manquement], style="danger")

PARCOURS = Workflow("parcours", Inscription, [
    #  name          label                                   from        to            roles
    T("renouveler", "Renouveler", EN_COURS, S.RENOUVELE, {R.CONSEILLER},
      guards=[PAS_PACEA, RENOUVELLEMENTS, PAS_ECHU, AGE, R20_PROLONGE],
      values=_valeurs_renouvellement, effects=[_effet_prolonger]),
    T("cloturer", "Clôturer", EN_COURS, S.CLOTURE, {R.CONSEILLER},
      guards=[MOTIF_DISPOSITIF, FIN_APRES_DEBUT, FIN_PASSEE, FIN_TITRE, R19, R8_VALIDATION],
      params=[MOTIF_SORTIE, DATE_FIN, COMMENTAIRE], values=_valeurs_cloture, style="danger"),
    # follow-up, one transition per source state so the status stays what it was: R16 (PACEA: an individual
    # interview a month), R5 (CEJ: 15-20 h of activity a week, recorded per month)
    T("entretien", "Entretien (R16)", {S.OUVERT}, S.OUVERT, {R.CONSEILLER}, **_ENTRETIEN),
    T("entretien_renouvele", "Entretien (R16)", {S.RENOUVELE}, S.RENOUVELE, {R.CONSEILLER}, **_ENTRETIEN),
    T("heures", "Heures d'activité (R5)", {S.OUVERT}, S.OUVERT, {R.CONSEILLER}, **_HEURES),
    T("heures_renouvele", "Heures d'activité (R5)", {S.RENOUVELE}, S.RENOUVELE, {R.CONSEILLER}, **_HEURES),
    # R8 parrainage actions, R11 Avenir Pro workshops, R12 Déclic days
    T("action", "Action (parrainage, atelier, Déclic)", {S.OUVERT}, S.OUVERT, {R.CONSEILLER}, **_ACTION),
    T("action_renouvele", "Action (parrainage, atelier, Déclic)", {S.RENOUVELE}, S.RENOUVELE, {R.CONSEILLER},
      **_ACTION),
    # R37: a manager's decision; one transition per source state, so the status stays what it was
    T("sanctionner", "Sanction CEJ (R37)", {S.OUVERT}, S.OUVERT, {R.MANAGER}, **_SANCTION),
    T("sanctionner_renouvele", "Sanction CEJ (R37)", {S.RENOUVELE}, S.RENOUVELE, {R.MANAGER}, **_SANCTION),
    # the scheduler (jobs/parcours.py): the maximum duration or age reached, the PACEA permit's end (R17)
    T("cloturer_terme", "Clôture automatique (terme atteint)", EN_COURS, S.CLOTURE, {R.ADMIN},
      guards=[TERME], params=[Param("motif", "Motif")], values=_valeurs_fin_auto, system=True),
    T("rompre_sanction", "Fin du contrat (3e manquement, R37)", EN_COURS, S.CLOTURE, {R.MANAGER},
      params=[Param("motif", "Motif")], values=_valeurs_rupture, system=True),
], scope=policy.row_scope)


def cloturer_parcours_echus(session, *, now: datetime, bulk_run_id: int | None = None) -> dict[str, int]:
    """The scheduler's automatic ends, set-based; idempotent (a closed enrolment is not selected again).
    Does not commit. Returns how many were closed for each reason."""
    from .engine import run
    from .selection import Selection
    today = now.date()
    titre = _fin_titre_pacea()
    echus_titre = sa.select(Inscription.id).where(Inscription.statut.in_(EN_COURS), titre < today,
                                                  titre <= Inscription.date_fin_prevue)
    report_titre = run(session, PARCOURS, "cloturer_terme", Selection.of_query(echus_titre), None, now=now,
                       system=True, bulk_run_id=bulk_run_id,
                       params={"motif": "Fin du titre de séjour (R17)", "motif_catalogue": "Fin du titre de séjour"})
    # R4: a Relation entreprise at its term without a job: the CRE ends it and the youth goes back to the CIP
    # (the youth's file never left the CIP's name, R3)
    echus_re = (sa.select(Inscription.id).join(Dispositif, Dispositif.id == Inscription.dispositif_id)
                .where(Inscription.statut.in_(EN_COURS), Inscription.date_fin_prevue < today, Dispositif.code == regles.RE))
    report_re = run(session, PARCOURS, "cloturer_terme", Selection.of_query(echus_re), None, now=now, system=True,
                    bulk_run_id=bulk_run_id,
                    params={"motif": "Terme de la relation entreprise : retour vers le conseiller référent (R4)",
                            "motif_catalogue": "Sans solution en fin de programme"})
    echus = sa.select(Inscription.id).where(Inscription.statut.in_(EN_COURS), Inscription.date_fin_prevue < today)
    report = run(session, PARCOURS, "cloturer_terme", Selection.of_query(echus), None, now=now, system=True,
                 bulk_run_id=bulk_run_id,
                 params={"motif": "Terme atteint : durée maximale du dispositif ou limite d'âge"})
    return {"titre_de_sejour": report_titre.changed, "terme": report.changed + report_re.changed}


# ---- follow-up queries (the adviser's home, R16, R19, R5) ------------------------------------------------
def pacea_sans_contact(today: date):
    """R16: open PACEA whose last individual interview (or, without any, the start) is 2 months old or more."""
    limite = regles.ajouter_mois(today, -regles.MOIS_SANS_CONTACT_ALERTE)
    return sa.and_(Inscription.statut.in_(EN_COURS), _dispositif(Dispositif.code == regles.PACEA),
                   sa.func.coalesce(Inscription.dernier_contact, Inscription.date_debut) <= limite)


def cej_autonomie_a_sortir():
    """R19: open CEJ of a youth registered as auto-entrepreneur after the start: to exit for autonomy."""
    return sa.and_(Inscription.statut.in_(EN_COURS), _dispositif(Dispositif.code == regles.CEJ), sa.exists().where(
        Beneficiaire.id == Inscription.beneficiaire_id, Beneficiaire.micro_entrepreneur.is_(True),
        Beneficiaire.date_immatriculation_micro > Inscription.date_debut))


def finissant_ce_mois(today: date):
    return sa.and_(Inscription.statut.in_(EN_COURS),
                   Inscription.date_fin_prevue.between(regles.premier_du_mois(today), regles.dernier_du_mois(today)))


# ---- R37 in the allowance computation, and "an allocation needs an enrolment open for its month" ------
def taux_sanction(inscription: Inscription, mois: date):
    """R37: the share of month `mois`'s CEJ allowance removed by this enrolment's sanctions (0, 0.25 or 1)."""
    return regles.taux_sanction(mois, [(1, inscription.sanction_1_mois), (2, inscription.sanction_2_mois)])


def parcours_ouvert_pour_le_mois(ctx=None, alloc=Allocation):
    """SQL predicate over Allocation: its enrolment was open during its month (started by the month's end,
    not ended before the month's first day; a closed enrolment still covers the month it ended in). A guard
    of the allocation transitions (issue 17)."""
    insc = aliased(Inscription)
    return sa.exists().where(insc.id == alloc.inscription_id, debut_du_mois(insc.date_debut) <= alloc.mois,
                             fin_effective(insc) >= alloc.mois)


PARCOURS_OUVERT = Guard("parcours", "pas de parcours ouvert pour le mois de cette allocation",
                        parcours_ouvert_pour_le_mois)


# ---- R49/R50: « Écrire à l'ASP » --------------------------------------------------------------------
def ecrire_au_payeur(session, *, actor, objet: str, message: str, allocation_id: int | None = None,
                     cerfa_id: int | None = None, now: datetime | None = None) -> list[str]:
    """R49: a request about a CEJ/PACEA file, on the template with NOM, Prénom, date de naissance,
    N° parcours/dispositif and Objet, queued in the mail outbox to the siège's validators (R50: a role,
    not a person: the validator and the deputies all receive it and forward it to the ASP). Returns the
    mail rows' keys (`MailOutbox.cle`). Does not commit."""
    from ..models import Cerfa, Compte
    from ..models.enums import CompteStatut
    from ..models.base import utcnow
    from .mail import queue_mail
    objet, message = (objet or "").strip(), (message or "").strip()
    if not objet or not message:
        raise TransitionRefused("« Objet » et « Message » sont obligatoires (R49).")
    if len(objet) > 120 or len(message) > 4000:
        raise TransitionRefused("Objet : 120 caractères au plus ; message : 4 000 au plus.")
    if allocation_id is not None:
        a = session.get(Allocation, allocation_id)
        if a is None:
            raise TransitionRefused("Allocation introuvable.")
        insc, source = a.inscription, f"allocation n° {a.id} du mois {a.mois:%m/%Y}"
    elif cerfa_id is not None:
        c = session.get(Cerfa, cerfa_id)
        if c is None:
            raise TransitionRefused("Cerfa introuvable.")
        insc, source = c.inscription, f"cerfa {c.numero}"
    else:
        raise TransitionRefused("Une allocation ou un cerfa est requis.")
    b = insc.beneficiaire
    destinataires = session.execute(sa.select(Compte.email).where(
        Compte.role == R.SIEGE, Compte.statut == CompteStatut.ACTIF, Compte.email.is_not(None))
        .order_by(Compte.id)).scalars().all()
    if not destinataires:
        raise TransitionRefused("Aucun validateur du siège actif à qui écrire.")
    expediteur = " ".join(x for x in (getattr(actor, "prenom", ""), getattr(actor, "nom", "")) if x) or "Conseiller"
    stamp = (now or utcnow()).strftime("%Y%m%d%H%M%S%f")
    ids = []
    for k, email in enumerate(destinataires):
        ids.append(f"payeur-{insc.id}-{stamp}-{k}")
        queue_mail(session, cle=ids[-1], destinataire=email, template="payeur",
                              antenne_id=insc.antenne_id,
                              contexte={"nom": b.nom, "prenom": b.prenom,
                                        "date_naissance": b.date_naissance.strftime("%d/%m/%Y"),
                                        "numero_parcours": f"{insc.numero} / {insc.dispositif.code}",
                                        "objet": objet, "message": f"{message}\n\n(À propos de : {source}.)",
                                        "expediteur": expediteur})
    audit.record(session, entity="allocation" if allocation_id else "cerfa", entity_id=allocation_id or cerfa_id,
                 action="ecrire_payeur", actor_id=getattr(actor, "id", None),
                 params={"objet": objet, "destinataires": len(destinataires)})
    return ids
