"""Adultes-relais (R52, issue 16 part 2): a post agreed with a non-profit employer for 3 years (renewable), its
employee's eligibility, the monthly aid paid to the employer, the quarterly declarations and their regularisation.

    poste        en_cours ──payer_mois (mois)──▶ en_cours   the month's aid becomes the employer's payable
                 en_cours ──renouveler─────────▶ en_cours   3 more years (in the last 6 months of the agreement)
                 en_cours ──terminer / resilier (motif)──▶ terminee / resiliee
    déclaration  en_saisie ─deposer─▶ deposee ─regulariser─▶ regularisee   (complement payable or reversement)
                                      deposee ─renvoyer────▶ en_saisie

Money (rules/adultes_relais.py): the month's aid = the yearly barème amount in force that month × the post's
working-time ratio / 12, paid in full each month; the employer's quarterly declaration (unpaid absence days per
month, the contract's end) gives what each month was due; the difference with what was paid is a complement
(payable « adulte_relais_regul ») or an ordre de reversement owed by the employer, recovered by the chain.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from .. import policy
from ..models import DeclarationAdulteRelais, Echeance, PosteAdulteRelais, Structure
from ..models.enums import (ConventionStatut as C, DeclarationARStatut as D, EcheanceStatut as ES, Role as R,
                            SourceEcheance as SE, TypeBeneficiairePaiement as TB)
from ..rules import adultes_relais as regles
from ..rules.activite_partielle import ajouter_mois
from . import audit
from .engine import Guard, Param, T, Workflow, id_in
from .errors import TransitionRefused
from .paie_programmes import MOIS, executemany_update, fin_du_mois, mettre_en_paiement, mois_du_contexte

ZERO = Decimal("0.00")
RENOUVELLEMENT_AVANT_MOIS = 6  # a renewal is asked in the agreement's last 6 months [derived]


def _ok(flag: bool):
    return sa.true() if flag else sa.false()


# ---- eligibility (R52) -------------------------------------------------------------------------------------------
def verifier_eligibilite(*, naissance: date, embauche: date, reside_qpv: bool, sans_emploi: bool) -> None:
    """Raises TransitionRefused with the French reasons when the employee is not eligible on the hiring date."""
    motifs = regles.motifs_ineligibilite(naissance=naissance, embauche=embauche, reside_qpv=bool(reside_qpv),
                                         sans_emploi=bool(sans_emploi))
    if motifs:
        raise TransitionRefused("Salarié non éligible au poste d'adulte-relais : " + " ; ".join(motifs) + " (R52).")


def preparer_poste(poste: PosteAdulteRelais) -> None:
    """A post typed in or edited: its agreement lasts 3 years at most, its employee is eligible, and its yearly and
    monthly aid are the barème's on its first day (shown in the grid; each month is paid at that month's barème)."""
    if poste.date_debut is None or poste.date_fin is None or poste.date_fin < poste.date_debut:
        raise TransitionRefused("La fin de la convention précède son début.")
    if poste.date_fin > regles.ajouter_ans(poste.date_debut, regles.AR_DUREE_CONVENTION_ANS * (1 + (poste.renouvellements or 0))):
        raise TransitionRefused("Une convention de poste d'adulte-relais dure 3 ans au plus, renouvelable (R52).")
    verifier_eligibilite(naissance=poste.salarie_date_naissance, embauche=poste.date_debut,
                         reside_qpv=poste.salarie_qpv, sans_emploi=poste.salarie_sans_emploi)
    quotite = Decimal(poste.quotite if poste.quotite is not None else 100)
    try:
        poste.aide_annuelle = regles.AR_AIDE_ANNUELLE.valeur(poste.date_debut)
        poste.aide_mensuelle = regles.aide_mensuelle(poste.date_debut, quotite)
    except ValueError as exc:
        raise TransitionRefused(str(exc)) from None


def _ineligibles(session, ids, ctx) -> set[int]:
    rows = session.execute(sa.select(PosteAdulteRelais.id, PosteAdulteRelais.salarie_date_naissance,
                                     PosteAdulteRelais.date_debut, PosteAdulteRelais.salarie_qpv,
                                     PosteAdulteRelais.salarie_sans_emploi)
                           .where(id_in(session, PosteAdulteRelais.id, list(ids)))).all()
    return {r.id for r in rows if regles.motifs_ineligibilite(naissance=r.salarie_date_naissance, embauche=r.date_debut,
                                                              reside_qpv=r.salarie_qpv, sans_emploi=r.salarie_sans_emploi)}


def _motifs(session, ids, ctx) -> dict[int, str]:
    rows = session.execute(sa.select(PosteAdulteRelais).where(id_in(session, PosteAdulteRelais.id, list(ids))))
    return {p.id: ", ".join(regles.motifs_ineligibilite(naissance=p.salarie_date_naissance, embauche=p.date_debut,
                                                        reside_qpv=p.salarie_qpv, sans_emploi=p.salarie_sans_emploi))
            for p in rows.scalars()}


# ---- the monthly aid ---------------------------------------------------------------------------------------------
def _dans_convention(ctx):
    m = mois_du_contexte(ctx)
    if m is None:
        return sa.false()
    return sa.and_(PosteAdulteRelais.date_debut <= fin_du_mois(m), PosteAdulteRelais.date_fin >= m)


def _avant_fin_contrat(ctx):
    m = mois_du_contexte(ctx)
    if m is None:
        return sa.false()
    return sa.or_(PosteAdulteRelais.date_fin_contrat.is_(None), PosteAdulteRelais.date_fin_contrat >= m)


def _mois_non_paye(ctx):
    m = mois_du_contexte(ctx)
    if m is None:
        return sa.false()
    # the exactly-once key of the payables (source, n°, month): a replay finds the month paid
    return ~sa.exists().where(Echeance.source_type == SE.ADULTE_RELAIS_MOIS, Echeance.source_id == PosteAdulteRelais.id,
                              Echeance.periode == m)


DANS_CONVENTION = Guard("R52", "mois hors de la convention du poste", _dans_convention)
AVANT_FIN_CONTRAT = Guard("R52", "contrat de travail terminé avant ce mois (déclaration trimestrielle)",
                          _avant_fin_contrat)
MOIS_NON_PAYE = Guard("R52", "aide de ce mois déjà versée", _mois_non_paye)
IBAN_POSTE = Guard("R76", "compte bancaire (IBAN) de l'employeur non renseigné sur le poste",
                   lambda ctx: sa.func.coalesce(PosteAdulteRelais.iban, "") != "")
ELIGIBLE = Guard("R52", "salarié non éligible", python=_ineligibles, detail=_motifs)


def _postes(session, ids):
    return session.execute(
        sa.select(PosteAdulteRelais.id, PosteAdulteRelais.numero_convention, PosteAdulteRelais.quotite,
                  PosteAdulteRelais.date_debut, PosteAdulteRelais.date_fin, PosteAdulteRelais.date_fin_contrat,
                  PosteAdulteRelais.employeur_id, PosteAdulteRelais.iban, PosteAdulteRelais.bic,
                  PosteAdulteRelais.salarie_nom, Structure.nom.label("employeur"), Structure.email)
        .join(Structure, Structure.id == PosteAdulteRelais.employeur_id)
        .where(id_in(session, PosteAdulteRelais.id, list(ids)))).all()


def montants_du_mois(session, poste_ids, mois: date) -> dict[int, Decimal]:
    """R52: poste id -> the month's aid (the barème of `mois` × quotité / 12): what the dry run shows and the run
    pays."""
    return {r.id: regles.aide_mensuelle(mois, r.quotite) for r in _postes(session, poste_ids)}


def _ligne(row, source_id, periode, montant, libelle):
    from .echeances import LigneEcheance
    return LigneEcheance(source_id=source_id, periode=periode, payee_type=TB.PARTENAIRE, payee_id=row.employeur_id,
                         montant=montant, iban=row.iban, bic=row.bic, titulaire=row.employeur[:70],
                         libelle=libelle[:140])


def _effect_aide_du_mois(session, ids, ctx) -> None:
    """R52: each post's aid of the month becomes the employer's payable (one per post and month), sent to payment."""
    from .echeances import creer_echeances
    mois = mois_du_contexte(ctx)
    rows = _postes(session, ids)
    lignes = [_ligne(r, r.id, mois, regles.aide_mensuelle(mois, r.quotite),
                     f"ADULTE-RELAIS {r.numero_convention} {mois:%m/%Y}") for r in rows]
    mettre_en_paiement(session, creer_echeances(session, SE.ADULTE_RELAIS_MOIS, lignes, ctx), ctx)


def _effect_renouveler(session, ids, ctx) -> None:
    """R52: the agreement runs 3 more years from its current end."""
    rows = session.execute(sa.select(PosteAdulteRelais.id, PosteAdulteRelais.date_fin)
                           .where(id_in(session, PosteAdulteRelais.id, list(ids)))).all()
    executemany_update(session, PosteAdulteRelais.__table__,
                       [{"id": r.id, "date_fin": regles.ajouter_ans(r.date_fin, regles.AR_DUREE_CONVENTION_ANS)}
                        for r in rows], date_fin=None)


FIN_PROCHE = Guard("R52", f"renouvellement possible dans les {RENOUVELLEMENT_AVANT_MOIS} derniers mois de la "
                   "convention seulement",
                   lambda ctx: PosteAdulteRelais.date_fin <= ajouter_mois(ctx.now.date(), RENOUVELLEMENT_AVANT_MOIS))
TERMINABLE = Guard("R52", "la convention n'est pas échue et aucune fin de contrat n'est déclarée",
                   lambda ctx: sa.or_(PosteAdulteRelais.date_fin < ctx.now.date(),
                                      PosteAdulteRelais.date_fin_contrat.is_not(None)))

POSTE = Workflow("poste_adulte_relais", PosteAdulteRelais, [
    # the monthly run, from its own page (the month chosen before the dry run): admin_views/paie_programmes.py
    T("payer_mois", "Paie mensuelle de l'aide au poste", {C.EN_COURS}, C.EN_COURS, {R.SIEGE, R.COMPTABLE},
      params=[MOIS], guards=[DANS_CONVENTION, AVANT_FIN_CONTRAT, IBAN_POSTE, MOIS_NON_PAYE, ELIGIBLE],
      effects=[_effect_aide_du_mois], system=True),
    T("renouveler", "Renouveler pour 3 ans", {C.EN_COURS}, C.EN_COURS, {R.SIEGE, R.ADMIN}, guards=[FIN_PROCHE],
      values=lambda ctx: {"renouvellements": PosteAdulteRelais.renouvellements + 1}, effects=[_effect_renouveler],
      style="success"),
    T("terminer", "Terminer", {C.EN_COURS}, C.TERMINEE, {R.SIEGE, R.ADMIN}, guards=[TERMINABLE], style="secondary"),
    T("resilier", "Résilier", {C.EN_COURS}, C.RESILIEE, {R.SIEGE, R.ADMIN},
      params=[Param("motif_fin", "Motif de la résiliation", kind="textarea", max_length=300)],
      values=lambda ctx: {"motif_fin": ctx.params["motif_fin"]}, style="danger"),
], entity="poste_adulte_relais", amount_column="aide_mensuelle", scope=policy.row_scope)


# ---- the quarterly declaration and its regularisation -----------------------------------------------------------
def verifier_declaration(session, *, actor, poste_id: int, annee: int, trimestre: int, absences: tuple[int, int, int],
                         date_fin_contrat: date | None) -> PosteAdulteRelais:
    """A declaration is typed for one of the employer's own posts, for a quarter of its agreement, with at most the
    month's days of absence and a contract end inside the quarter (R52)."""
    query = sa.select(PosteAdulteRelais).where(PosteAdulteRelais.id == poste_id)
    if actor is not None and (clause := policy.row_scope(PosteAdulteRelais, actor)) is not None:
        query = query.where(clause)
    poste = session.execute(query).scalar_one_or_none()
    if poste is None:
        raise TransitionRefused("Poste introuvable.")
    try:
        mois = regles.mois_du_trimestre(int(annee), int(trimestre))
    except (TypeError, ValueError):
        raise TransitionRefused("Trimestre : de 1 à 4.") from None
    if mois[-1] < poste.date_debut.replace(day=1) or mois[0] > poste.date_fin:
        raise TransitionRefused("Ce trimestre n'est pas dans la convention du poste (R52).")
    for m, n in zip(mois, absences):
        if n is None or n < 0 or n > (fin_du_mois(m) - m).days + 1:
            raise TransitionRefused(f"{m:%m/%Y} : jours d'absence entre 0 et {(fin_du_mois(m) - m).days + 1}.")
    if date_fin_contrat is not None and not (mois[0] <= date_fin_contrat <= fin_du_mois(mois[-1])):
        raise TransitionRefused("La fin du contrat déclarée doit tomber dans le trimestre.")
    return poste


def _trimestre_echu(ctx):
    # a quarter is declared once it is over: its last day before today
    fin = sa.case(*[(DeclarationAdulteRelais.trimestre == t, DeclarationAdulteRelais.annee * 10000 + 100 * (3 * t) + 31)
                    for t in (1, 2, 3, 4)])
    today = ctx.now.date()
    return fin < today.year * 10000 + today.month * 100 + today.day


def _mois_regularisables(session, ids) -> dict[int, list[tuple[date, bool]]]:
    """declaration id -> [(month, within the agreement)] for its quarter."""
    rows = session.execute(sa.select(DeclarationAdulteRelais.id, DeclarationAdulteRelais.annee,
                                     DeclarationAdulteRelais.trimestre, PosteAdulteRelais.date_debut,
                                     PosteAdulteRelais.date_fin)
                           .join(PosteAdulteRelais, PosteAdulteRelais.id == DeclarationAdulteRelais.poste_id)
                           .where(id_in(session, DeclarationAdulteRelais.id, list(ids)))).all()
    return {r.id: [(m, r.date_debut <= fin_du_mois(m) and r.date_fin >= m)
                   for m in regles.mois_du_trimestre(r.annee, r.trimestre)] for r in rows}


def _verse_par_mois(session, poste_ids, mois, *, annulees: bool = False) -> dict[tuple[int, date], Decimal]:
    """(post, month) -> what its monthly payable pays (a cancelled one: nothing, or listed with `annulees`)."""
    montant = Echeance.montant if annulees else sa.case((Echeance.statut == ES.ANNULEE, 0), else_=Echeance.montant)
    rows = session.execute(sa.select(Echeance.source_id, Echeance.periode, sa.func.sum(montant))
                           .where(Echeance.source_type == SE.ADULTE_RELAIS_MOIS,
                                  id_in(session, Echeance.source_id, list(poste_ids)),
                                  Echeance.periode.in_(sorted(mois)))
                           .group_by(Echeance.source_id, Echeance.periode)).all()
    return {(r[0], r[1]): Decimal(r[2]) for r in rows}


def _mois_non_payes(session, ids, ctx) -> set[int]:
    """R52: a quarter is regularised once each of its months within the agreement went through the monthly run
    (its payable exists; a cancelled one counts as nothing paid, so the regularisation pays what was due)."""
    mois = _mois_regularisables(session, ids)
    postes = dict(session.execute(sa.select(DeclarationAdulteRelais.id, DeclarationAdulteRelais.poste_id)
                                  .where(id_in(session, DeclarationAdulteRelais.id, list(ids)))).all())
    verse = _verse_par_mois(session, set(postes.values()), {m for ms in mois.values() for m, _ in ms}, annulees=True)
    return {i for i, ms in mois.items() if any(dans and (postes[i], m) not in verse for m, dans in ms)}


def regularisations(session, ids) -> dict[int, regles.Regularisation]:
    """R52: per declaration, what its quarter's months were due (its absences and contract end) and what was paid
    for them."""
    decls = session.execute(sa.select(DeclarationAdulteRelais, PosteAdulteRelais)
                            .join(PosteAdulteRelais, PosteAdulteRelais.id == DeclarationAdulteRelais.poste_id)
                            .where(id_in(session, DeclarationAdulteRelais.id, list(ids)))).all()
    tous = {m for d, _ in decls for m in regles.mois_du_trimestre(d.annee, d.trimestre)}
    verse = _verse_par_mois(session, {p.id for _, p in decls}, tous)
    out = {}
    for d, p in decls:
        dus, paye = [], ZERO
        fin = min([x for x in (d.date_fin_contrat, p.date_fin_contrat) if x is not None], default=None)
        for m, absences in zip(regles.mois_du_trimestre(d.annee, d.trimestre),
                               (d.absences_mois_1, d.absences_mois_2, d.absences_mois_3)):
            if not (p.date_debut <= fin_du_mois(m) and p.date_fin >= m):
                continue
            dus.append(regles.du_du_mois(mois=m, quotite=p.quotite, jours_absence=absences, fin_contrat=fin,
                                         debut_poste=p.date_debut, fin_poste=p.date_fin))
            paye += verse.get((p.id, m), ZERO)
        out[d.id] = regles.regulariser(mois_dus=dus, verse=paye)
    return out


def _calculer_regularisation(session, ids, ctx) -> None:
    executemany_update(session, DeclarationAdulteRelais.__table__,
                       [{"id": i, "montant_du": r.du, "montant_verse": r.verse, "ecart": r.ecart}
                        for i, r in regularisations(session, ids).items()],
                       montant_du=None, montant_verse=None, ecart=None)


def _effect_regularisation(session, ids, ctx) -> None:
    """R52: a positive gap is the employer's complement (payable « adulte_relais_regul », sent to payment); a
    negative one an ordre de reversement it owes (recovered by the chain); a declared contract end stops the
    post's monthly payments from the month after."""
    from .echeances import creer_echeances, dispositif_programme
    from .reversements import emettre_reversements
    decls = session.execute(sa.select(DeclarationAdulteRelais.id, DeclarationAdulteRelais.poste_id,
                                      DeclarationAdulteRelais.annee, DeclarationAdulteRelais.trimestre,
                                      DeclarationAdulteRelais.ecart, DeclarationAdulteRelais.date_fin_contrat)
                            .where(id_in(session, DeclarationAdulteRelais.id, list(ids)))).all()
    postes = {r.id: r for r in _postes(session, {d.poste_id for d in decls})}
    complements = [_ligne(postes[d.poste_id], d.id, regles.mois_du_trimestre(d.annee, d.trimestre)[0], d.ecart,
                          f"ADULTE-RELAIS {postes[d.poste_id].numero_convention} REGUL T{d.trimestre} {d.annee}")
                   for d in decls if d.ecart > 0]
    mettre_en_paiement(session, creer_echeances(session, SE.ADULTE_RELAIS_REGUL, complements, ctx), ctx)
    indus = [d for d in decls if d.ecart < 0]
    if indus:
        dispositif = dispositif_programme(session, "AR").id
        ordres = emettre_reversements(session, [dict(
            origine="regularisation", debiteur_type="partenaire", debiteur_id=postes[d.poste_id].employeur_id,
            dispositif_id=dispositif, antenne_id=postes[d.poste_id].employeur_id, montant=-d.ecart,
            motif=(f"Poste {postes[d.poste_id].numero_convention} : régularisation du T{d.trimestre} {d.annee} "
                   "(déclaration trimestrielle, R52)"),
            debiteur_nom=postes[d.poste_id].employeur, debiteur_email=postes[d.poste_id].email) for d in indus], ctx)
        executemany_update(session, DeclarationAdulteRelais.__table__,
                           [{"id": d.id, "reversement_id": o} for d, o in zip(indus, ordres)], reversement_id=None)
    fins = [{"id": d.poste_id, "date_fin_contrat": d.date_fin_contrat} for d in decls if d.date_fin_contrat]
    executemany_update(session, PosteAdulteRelais.__table__, fins, date_fin_contrat=None)
    for f in fins:
        audit.record(session, entity="poste_adulte_relais", entity_id=f["id"], action="fin_contrat",
                     actor_id=ctx.actor_id, params={"date_fin_contrat": f["date_fin_contrat"].isoformat(),
                                                    "cause": ctx.cause})


TRIMESTRE_ECHU = Guard("R52", "le trimestre n'est pas terminé", _trimestre_echu)
MOIS_PAYES = Guard("R52", "un mois du trimestre n'a pas encore été payé : lancer d'abord sa paie mensuelle",
                   python=_mois_non_payes)

DECLARATION = Workflow("declaration_adulte_relais", DeclarationAdulteRelais, [
    T("deposer", "Déposer la déclaration", {D.EN_SAISIE}, D.DEPOSEE, {R.PARTENAIRE}, guards=[TRIMESTRE_ECHU],
      values=lambda ctx: {"deposee_at": ctx.now}),
    T("regulariser", "Régulariser", {D.DEPOSEE}, D.REGULARISEE, {R.SIEGE, R.COMPTABLE}, guards=[MOIS_PAYES],
      prepare=[_calculer_regularisation], values=lambda ctx: {"regularisee_at": ctx.now},
      effects=[_effect_regularisation], style="success"),
    T("renvoyer", "Renvoyer à l'employeur", {D.DEPOSEE}, D.EN_SAISIE, {R.SIEGE, R.COMPTABLE}, style="secondary"),
], entity="declaration_adulte_relais", amount_column="ecart", scope=policy.row_scope)




# ---- the payer's controls (workflows.echeances.controles_sources) ----------------------------------------------
def _aide_du_mois_sql(poste, periode):
    """R52, rules.adultes_relais.aide_mensuelle in SQL: the yearly barème in force that month (its dated lines,
    AR_AIDE_ANNUELLE) × the post's working-time ratio / 100 / 12, to the cent."""
    annuelle = sa.case(*[(periode >= debut, sa.literal(valeur, sa.Numeric(12, 2)))
                         for debut, valeur in reversed(regles.AR_AIDE_ANNUELLE.lignes)], else_=sa.null())
    return sa.func.round(annuelle * poste.quotite / 1200, 2)


def controles_sources_ar(select, echeance):
    """R52: an Adultes-relais payable is paid only while its post's agreement covers its month (in progress, or
    ended after it), never for a month after the employment contract's end, to the post's employer on the account
    named on the post, for at most the month's aid (barème × quotité / 12) or the regularisation's complement.
    Outer joins on primary keys, one SELECT."""
    from .echeances import couvre_periode, iban_normalise
    poste = sa.orm.aliased(PosteAdulteRelais)
    decl = sa.orm.aliased(DeclarationAdulteRelais)
    is_mois = echeance.source_type == SE.ADULTE_RELAIS_MOIS
    is_regul = echeance.source_type == SE.ADULTE_RELAIS_REGUL
    is_ar = sa.or_(is_mois, is_regul)
    select = (select.outerjoin(decl, sa.and_(is_regul, decl.id == echeance.source_id))
              .outerjoin(poste, sa.and_(is_ar, poste.id == sa.case((is_regul, decl.poste_id),
                                                                    else_=echeance.source_id))))

    def non(cond):
        return sa.not_(sa.func.coalesce(cond, sa.false()))

    return select, [
        (sa.and_(is_ar, non(couvre_periode(poste, "poste_adulte_relais", echeance.periode,
                                                      sa.case((is_regul, 3), else_=1)))),
         "poste d'adulte-relais hors convention : non conventionné ce mois, ou terminé ou résilié avant (R52)"),
        (sa.and_(is_mois, poste.date_fin_contrat.is_not(None), echeance.periode > poste.date_fin_contrat),
         "mois après la fin du contrat de travail de l'adulte-relais (R52)"),
        (sa.and_(is_ar, non(sa.and_(echeance.payee_type == TB.PARTENAIRE, echeance.payee_id == poste.employeur_id))),
         "bénéficiaire différent de l'employeur du poste d'adulte-relais (R52)"),
        (sa.and_(is_ar, sa.or_(iban_normalise(poste.iban) == "", iban_normalise(poste.iban) != echeance.iban)),
         "IBAN différent du compte de l'employeur sur le poste (R76)"),
        (sa.and_(is_mois, non(echeance.montant <= _aide_du_mois_sql(poste, echeance.periode))),
         "montant supérieur à l'aide mensuelle du poste (R52)"),
        (sa.and_(is_regul, sa.func.coalesce(decl.statut, "") != D.REGULARISEE.value),
         "déclaration trimestrielle non régularisée (R52)"),
        (sa.and_(is_regul, echeance.montant > sa.func.coalesce(decl.ecart, 0)),
         "montant supérieur au complément de la régularisation (R52)"),
    ]
