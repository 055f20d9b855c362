"""Bank returns (issue 13, part 3): a payment status report for an emitted batch, read, checked whole, applied.

Two formats:
- pain.002.001.03 (CstmrPmtStsRpt): OrgnlGrpInfAndSts/OrgnlMsgId is the batch reference (the pain.001 MsgId),
  each TxInfAndSts names a payment by OrgnlEndToEndId with its TxSts and, when rejected, StsRsnInf/Rsn/Cd.
  The ISO XSD of pain.002 is not bundled with our dependencies: the structure is checked here, element by
  element (namespace, message name, mandatory identifiers, status and reason code values), with a parser that
  resolves no entity and reads no network (a DOCTYPE is refused).
- the bank's CSV, UTF-8 with or without BOM, `;` separated, a header line then one line per transfer:
  `reference_lot;end_to_end_id;statut;code_motif` (statut RJCT, ACSC or ACCP; code_motif only for RJCT).

Statuses: RJCT → the payment `rejete` with the reason code and its French label (rules/codes_rejet.py), its
allocation back to « à repayer » (`validee_siege`, transition `rejet_bancaire`); ACSC (settlement completed) →
`execute` and the allocation `versee`; ACCP/ACSP/ACTC/ACWC/PDNG/RCVD (accepted, not yet settled) → counted as
accepted, nothing changes. A pain.002 group status (GrpSts) ACSC or RJCT applies to the transfers it does not
list; PART or an acceptance leaves them as they are.

Reconciliation (decided here): a batch becomes `rapprochee` (with its date) once none of its transfers waits
for the bank any more, i.e. every one is executed or rejected. So a report that rejects 2 transfers and settles
(ACSC) the others reconciles the batch at once; one that rejects 2 and only accepts (ACCP) the others leaves it
`emise` until a later report settles them (or the comptable confirms the execution by hand). A rejected transfer
is final for its batch: its allocation is paid again in a later batch, only after its RIB changed (the
`rejet` guard of « Envoyer en paiement »), and never twice (one live payment per payable, migration 0012).

Everything is validated before anything is written (one transaction, the caller commits): a bad file is refused
whole with a French message. The same file (same SHA-256) imported twice changes nothing and says so. Every
status change goes through a transition, audited with the actor and the file's SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

import sqlalchemy as sa

from ..models import LotPaiement, Paiement, RetourBancaire
from ..models.enums import LotStatut as LS, PaiementStatut as PS, Role as R
from ..rules.codes_rejet import SANS_MOTIF, code_valide, motif_rejet
from .engine import Param, T, Workflow, id_in, run
from .errors import RoleRefused, WorkflowError
from .selection import Selection

NS_PAIN002 = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"
CSV_COLONNES = ["reference_lot", "end_to_end_id", "statut", "code_motif"]
TAILLE_MAX = 20 * 1024 * 1024
REJETE, EXECUTE, ACCEPTE = "RJCT", "ACSC", "ACCP"
# ISO 20022 ExternalPaymentTransactionStatus1Code: what each means for our payment
STATUTS_ACCEPTES = {"ACCP", "ACSP", "ACTC", "ACWC", "PDNG", "RCVD", "ACCC"}
STATUTS_TX = {REJETE, EXECUTE} | STATUTS_ACCEPTES
STATUTS_GROUPE = STATUTS_TX | {"PART"}
ROLES = frozenset({R.COMPTABLE, R.ADMIN})


class RetourInvalide(WorkflowError):
    """The return file is refused whole (French message); nothing was written."""


# ---- the payment life cycle's bank side (en_attente → emis are the batch's, workflows/paiements.py) -------
def _effect_remettre_a_payer(session, ids, ctx):
    _remettre_a_payer(session, ids, ctx)


def _effect_verser(session, ids, ctx):
    from .allocations import ALLOCATION
    from .paiements import _payer_echeances
    rows = session.execute(sa.select(Paiement.allocation_id, Paiement.echeance_id)
                           .where(id_in(session, Paiement.id, ids))).all()
    _payer_echeances(session, [e for _, e in rows], ctx)  # the payable is paid (and its source, e.g. an AP claim)
    allocation_ids = [a for a, _ in rows if a is not None]
    if allocation_ids:
        run(session, ALLOCATION, "verser", Selection.of_ids(allocation_ids), _acteur(ctx), now=ctx.now,
            params=_trace(ctx), system=True)


PAIEMENT = Workflow("paiement", Paiement, [
    T("rejeter", "Rejeté par la banque", {PS.EMIS}, PS.REJETE, ROLES,
      params=[Param("motif_rejet", "Motif du rejet", max_length=300)],
      values=lambda ctx: {"motif_rejet": ctx.params.get("motif_rejet")}, effects=[_effect_remettre_a_payer],
      system=True, style="danger"),
    T("confirmer", "Exécution confirmée par la banque", {PS.EMIS}, PS.EXECUTE, ROLES, effects=[_effect_verser],
      system=True, style="success"),
], amount_column="montant")


def _acteur(ctx):
    """The actor as the engine reads it (id, role) for a system run that keeps who acted in the audit."""
    return SimpleNamespace(id=ctx.actor_id, role=ctx.role)


def _trace(ctx) -> dict:
    return {k: ctx.params[k] for k in ("fichier_sha256", "fichier", "lot") if k in ctx.params}


def _remettre_a_payer(session, paiement_ids, ctx):
    """The sources of these rejected payments back to « à repayer »: their payables through the interface of issue
    13 (workflows/paiements.py::remettre_a_payer, which also undoes an offset made on them, R47), and an
    allocation source through its own `rejet_bancaire` (back to `validee_siege`, from which « Envoyer en
    paiement » sends it again once its RIB changed: the allocation's `rejet` guard). An allocation replaced by a
    correction meanwhile stays as it is: the correction's differential no longer counts the rejected payment
    (R46, deja_verse_expr counts issued and executed payments only)."""
    from .allocations import ALLOCATION
    from .paiements import remettre_a_payer
    remettre_a_payer(session, list(paiement_ids), ctx)
    rows = session.execute(sa.select(Paiement.allocation_id, Paiement.motif_rejet)
                           .where(id_in(session, Paiement.id, list(paiement_ids)), Paiement.statut == PS.REJETE,
                                  Paiement.allocation_id.is_not(None))).all()
    by_motif: dict[str, list[int]] = defaultdict(list)
    for allocation_id, motif in rows:
        by_motif[motif].append(allocation_id)
    changed = 0
    for motif, allocation_ids in sorted(by_motif.items()):
        report = run(session, ALLOCATION, "rejet_bancaire", Selection.of_ids(allocation_ids), _acteur(ctx),
                     params={"motif_rejet": motif, **_trace(ctx)}, now=ctx.now, system=True)
        changed += report.changed
    return changed


# ---- reading ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ligne:
    end_to_end_id: str
    statut: str  # ISO TxSts
    code: str | None = None
    montant: Decimal | None = None


@dataclass
class RetourLu:
    format: str  # pain002 | csv
    reference: str
    lignes: list[Ligne]
    statut_groupe: str | None = None
    code_groupe: str | None = None


def lire(contenu: bytes) -> RetourLu:
    """The file read and checked for form (no database): pain.002 XML or the bank's CSV."""
    if not contenu or not contenu.strip():
        raise RetourInvalide("Fichier vide : rien à importer.")
    if len(contenu) > TAILLE_MAX:
        raise RetourInvalide("Fichier trop volumineux (20 Mo au plus).")
    debut = contenu.lstrip(b"\xef\xbb\xbf \t\r\n")
    if debut.startswith(b"<"):
        return _lire_pain002(contenu)
    return _lire_csv(contenu)


def _lire_pain002(contenu: bytes) -> RetourLu:
    from lxml import etree
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(contenu, parser)
    except etree.XMLSyntaxError as exc:
        raise RetourInvalide(f"Fichier XML illisible : {exc.msg} (ligne {exc.lineno}).") from None
    if root.getroottree().docinfo.doctype:
        raise RetourInvalide("Fichier XML refusé : une déclaration DOCTYPE n'est pas admise dans un pain.002.")
    ns = {"p": NS_PAIN002}
    if root.tag != f"{{{NS_PAIN002}}}Document" or root.find("p:CstmrPmtStsRpt", ns) is None:
        raise RetourInvalide("Ce fichier XML n'est pas un rapport de statut de paiement pain.002.001.03 "
                             f"(attendu : Document/CstmrPmtStsRpt dans l'espace de noms {NS_PAIN002}).")
    rpt = root.find("p:CstmrPmtStsRpt", ns)

    def texte(node, path):
        found = node.find(path, ns)
        return (found.text or "").strip() if found is not None and found.text else ""

    if not texte(rpt, "p:GrpHdr/p:MsgId"):
        raise RetourInvalide("pain.002 invalide : GrpHdr/MsgId manquant.")
    grp = rpt.find("p:OrgnlGrpInfAndSts", ns)
    if grp is None or not texte(grp, "p:OrgnlMsgId"):
        raise RetourInvalide("pain.002 invalide : OrgnlGrpInfAndSts/OrgnlMsgId (référence du lot) manquant.")
    nom_msg = texte(grp, "p:OrgnlMsgNmId")
    if not nom_msg.startswith("pain.001"):
        raise RetourInvalide(f"pain.002 invalide : OrgnlMsgNmId « {nom_msg} » ne désigne pas un virement pain.001.")
    statut_groupe = texte(grp, "p:GrpSts") or None
    if statut_groupe is not None and statut_groupe not in STATUTS_GROUPE:
        raise RetourInvalide(f"pain.002 invalide : statut de groupe GrpSts « {statut_groupe} » inconnu.")
    code_groupe = texte(grp, "p:StsRsnInf/p:Rsn/p:Cd") or None
    lignes = []
    for n, tx in enumerate(rpt.iter(f"{{{NS_PAIN002}}}TxInfAndSts"), start=1):
        e2e, statut = texte(tx, "p:OrgnlEndToEndId"), texte(tx, "p:TxSts")
        if not e2e:
            raise RetourInvalide(f"pain.002 invalide : transaction n° {n} sans OrgnlEndToEndId.")
        if statut not in STATUTS_TX:
            raise RetourInvalide(f"pain.002 invalide : transaction {e2e}, statut TxSts « {statut} » inconnu "
                                 "(attendus : RJCT, ACSC, ACCP…).")
        code = texte(tx, "p:StsRsnInf/p:Rsn/p:Cd") or None
        montant = texte(tx, "p:OrgnlTxRef/p:Amt/p:InstdAmt") or None
        lignes.append(Ligne(e2e, statut, _code(code, statut, e2e, code_groupe), _montant(montant, e2e)))
    if not lignes and statut_groupe not in (REJETE, EXECUTE):
        raise RetourInvalide("pain.002 sans aucune transaction ni statut de groupe RJCT ou ACSC : rien à importer.")
    if statut_groupe == REJETE and code_groupe is None:
        code_groupe = SANS_MOTIF
    if code_groupe is not None and not code_valide(code_groupe):
        raise RetourInvalide(f"pain.002 invalide : code motif de groupe « {code_groupe} » mal formé.")
    return RetourLu("pain002", texte(grp, "p:OrgnlMsgId"), lignes, statut_groupe, code_groupe)


def _code(code, statut, e2e, code_groupe):
    if statut != REJETE:
        return None
    code = (code or code_groupe or SANS_MOTIF).upper()
    if not code_valide(code):
        raise RetourInvalide(f"Transaction {e2e} : code motif « {code} » mal formé (4 lettres ou chiffres ISO).")
    return code


def _montant(value, e2e):
    if value is None:
        return None
    try:
        return Decimal(value).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise RetourInvalide(f"Transaction {e2e} : montant « {value} » illisible.") from None


def _lire_csv(contenu: bytes) -> RetourLu:
    try:
        text = contenu.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RetourInvalide("Fichier refusé : ni XML pain.002, ni CSV en UTF-8.") from None
    rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text), delimiter=";"), start=1)
            if any(c.strip() for c in r)]
    if not rows:
        raise RetourInvalide("Fichier CSV vide.")
    n, header = rows[0]
    if [c.strip().lower() for c in header] != CSV_COLONNES:
        raise RetourInvalide("Fichier CSV refusé : la première ligne doit être l'en-tête "
                             f"« {';'.join(CSV_COLONNES)} » (séparateur « ; »).")
    lignes, references = [], set()
    for n, r in rows[1:]:
        if len(r) != len(CSV_COLONNES):
            raise RetourInvalide(f"Fichier CSV refusé, ligne {n} : {len(CSV_COLONNES)} colonnes attendues "
                                 f"(séparateur « ; »), {len(r)} trouvée(s).")
        reference, e2e, statut, code = (c.strip() for c in r)
        statut = statut.upper()
        if not reference or not e2e:
            raise RetourInvalide(f"Fichier CSV refusé, ligne {n} : référence du lot et EndToEndId obligatoires.")
        if statut not in (REJETE, EXECUTE, ACCEPTE):
            raise RetourInvalide(f"Fichier CSV refusé, ligne {n} : statut « {statut} » inconnu "
                                 "(attendus : RJCT, ACSC ou ACCP).")
        if statut != REJETE and code:
            raise RetourInvalide(f"Fichier CSV refusé, ligne {n} : code motif « {code} » sur un virement non rejeté.")
        references.add(reference)
        lignes.append(Ligne(e2e, statut, _code(code.upper() or None, statut, e2e, None)))
    if not lignes:
        raise RetourInvalide("Fichier CSV sans aucune ligne de virement.")
    if len(references) > 1:
        raise RetourInvalide(f"Fichier CSV refusé : il mélange plusieurs lots ({', '.join(sorted(references))}) ; "
                             "un fichier par lot.")
    return RetourLu("csv", references.pop(), lignes)


# ---- the plan: what the file would do ---------------------------------------------------------------------
@dataclass
class Mouvement:
    paiement_id: int
    end_to_end_id: str
    montant: Decimal
    titulaire: str
    code: str | None = None

    @property
    def motif(self) -> str | None:
        return motif_rejet(self.code) if self.code else None


@dataclass
class Plan:
    """What importing the file does (dry run) or did; `deja_importe` when this very file was already imported."""

    nom: str
    sha256: str
    lot_id: int | None = None
    reference: str = ""
    format: str = ""
    a_rejeter: list[Mouvement] = field(default_factory=list)
    a_executer: list[Mouvement] = field(default_factory=list)
    acceptes: list[Mouvement] = field(default_factory=list)  # accepted, not yet settled: unchanged
    deja_faits: int = 0  # lines the batch already reflects (imported through another file)
    rapprochement: bool = False
    deja_importe: RetourBancaire | None = None
    applique: bool = False

    @property
    def nb_rejetes(self) -> int:
        return len(self.a_rejeter)

    @property
    def nb_acceptes(self) -> int:
        return len(self.a_executer) + len(self.acceptes)

    @property
    def montant_rejete(self) -> Decimal:
        return sum((m.montant for m in self.a_rejeter), Decimal("0.00"))

    @property
    def montant_accepte(self) -> Decimal:
        return sum((m.montant for m in self.a_executer + self.acceptes), Decimal("0.00"))

    @property
    def motifs(self) -> list[tuple[str, int, Decimal]]:
        """(French reason, count, amount) per reason code."""
        out: dict[str, list] = {}
        for m in self.a_rejeter:
            row = out.setdefault(m.motif, [0, Decimal("0.00")])
            row[0] += 1
            row[1] += m.montant
        return [(k, v[0], v[1]) for k, v in sorted(out.items())]

    @property
    def rien_a_faire(self) -> bool:
        return not (self.a_rejeter or self.a_executer or self.rapprochement)

    def message(self) -> str:
        if self.deja_importe is not None:
            d = self.deja_importe
            return (f"Fichier « {self.nom} » déjà importé le {d.importe_at:%d/%m/%Y à %H:%M} "
                    f"(lot {self.reference}) : rien n'a changé.")
        verbe = "" if self.applique else "sera "
        parts = [f"Lot {self.reference} : {len(self.a_rejeter)} virement(s) {verbe}rejeté(s) "
                 f"({_eur(self.montant_rejete)}), {len(self.a_executer)} {verbe}exécuté(s)"]
        if self.acceptes:
            parts.append(f"{len(self.acceptes)} accepté(s) en attente d'exécution")
        if self.deja_faits:
            parts.append(f"{self.deja_faits} déjà pris en compte")
        if self.rapprochement:
            parts.append("lot rapproché" if self.applique else "le lot sera rapproché")
        if self.rien_a_faire:
            parts.append("aucun changement")
        return " ; ".join(parts) + "."


def _eur(montant: Decimal) -> str:
    return f"{montant:,.2f} €".replace(",", "\u202f").replace(".", ",")


def analyser(session, contenu: bytes, nom: str, *, lock: bool = False) -> Plan:
    """Read and check the whole file against the database; raise RetourInvalide, or return the plan."""
    sha = hashlib.sha256(contenu or b"").hexdigest()
    plan = Plan(nom=(nom or "retour")[:255], sha256=sha)
    deja = session.execute(sa.select(RetourBancaire).where(RetourBancaire.fichier_sha256 == sha)).scalar()
    lu = lire(contenu)
    plan.format, plan.reference = lu.format, lu.reference
    query = sa.select(LotPaiement).where(LotPaiement.reference == lu.reference)
    if lock:  # an emission, a manual reconciliation or another import of the batch waits for this one
        query = query.with_for_update()
    lot = session.execute(query).scalar()
    if lot is None:
        raise RetourInvalide(f"Lot « {lu.reference} » inconnu : aucun lot de paiement ne porte cette référence.")
    plan.lot_id = lot.id
    if lot.statut == LS.PREPAREE:
        raise RetourInvalide(f"Le lot {lot.reference} n'a pas encore été émis : aucun retour bancaire possible.")
    if deja is not None:
        plan.deja_importe = deja
        return plan
    payes = {p.end_to_end_id: p for p in session.execute(
        sa.select(Paiement.id, Paiement.end_to_end_id, Paiement.montant, Paiement.titulaire, Paiement.statut)
        .where(Paiement.lot_id == lot.id)).all()}
    vus: dict[str, Ligne] = {}
    for ligne in lu.lignes:
        previous = vus.get(ligne.end_to_end_id)
        if previous is not None and (previous.statut, previous.code) != (ligne.statut, ligne.code):
            raise RetourInvalide(f"Virement {ligne.end_to_end_id} présent deux fois avec des statuts différents.")
        vus[ligne.end_to_end_id] = ligne
    inconnus = sorted(set(vus) - set(payes))
    if inconnus:
        extrait = ", ".join(inconnus[:5]) + (" …" if len(inconnus) > 5 else "")
        raise RetourInvalide(f"{len(inconnus)} EndToEndId inconnu(s) dans le lot {lot.reference} : {extrait}.")
    if lu.statut_groupe in (REJETE, EXECUTE):  # the group status covers the transfers the file does not list
        for e2e, p in payes.items():
            if e2e not in vus and p.statut == PS.EMIS:
                vus[e2e] = Ligne(e2e, lu.statut_groupe, lu.code_groupe if lu.statut_groupe == REJETE else None)
    for e2e, ligne in sorted(vus.items()):
        p = payes[e2e]
        if ligne.montant is not None and ligne.montant != p.montant:
            raise RetourInvalide(f"Virement {e2e} : montant {_eur(ligne.montant)} dans le fichier, "
                                 f"{_eur(p.montant)} dans le lot.")
        m = Mouvement(p.id, e2e, p.montant, p.titulaire, ligne.code)
        statut = PS(p.statut)
        if statut not in (PS.EMIS, PS.EXECUTE, PS.REJETE):
            raise RetourInvalide(f"Virement {e2e} : absent du fichier SEPA émis (statut « {statut.value} »).")
        if ligne.statut == REJETE:
            if statut == PS.EXECUTE:
                raise RetourInvalide(f"Virement {e2e} : déjà confirmé exécuté, il ne peut plus être rejeté.")
            if statut == PS.REJETE:
                plan.deja_faits += 1
            else:
                plan.a_rejeter.append(m)
        elif ligne.statut == EXECUTE:
            if statut == PS.REJETE:
                raise RetourInvalide(f"Virement {e2e} : déjà rejeté, il ne peut être confirmé exécuté.")
            if statut == PS.EXECUTE:
                plan.deja_faits += 1
            else:
                plan.a_executer.append(m)
        else:
            if statut == PS.REJETE:
                raise RetourInvalide(f"Virement {e2e} : déjà rejeté, il ne peut être accepté.")
            plan.acceptes.append(m)
    en_attente = sum(1 for p in payes.values() if p.statut == PS.EMIS)
    plan.rapprochement = (lot.statut == LS.EMISE
                          and en_attente == len(plan.a_rejeter) + len(plan.a_executer))
    return plan


def importer(session, contenu: bytes, nom: str, *, actor, now: datetime, dry_run: bool = False) -> Plan:
    """Import a bank return for an emitted batch (see the module's docstring). Does not commit; on RetourInvalide
    nothing was written. `dry_run`: the plan only."""
    if getattr(actor, "role", None) not in ROLES:
        raise RoleRefused("Votre rôle ne permet pas d'importer un retour bancaire (rôles autorisés : "
                          "comptable, admin).")
    plan = analyser(session, contenu, nom, lock=not dry_run)
    if dry_run or plan.deja_importe is not None:
        return plan
    trace = {"fichier_sha256": plan.sha256, "fichier": plan.nom, "lot": plan.reference}
    by_code: dict[str, list[int]] = defaultdict(list)
    for m in plan.a_rejeter:
        by_code[m.code].append(m.paiement_id)
    for code, ids in sorted(by_code.items()):
        report = run(session, PAIEMENT, "rejeter", Selection.of_ids(ids), actor, now=now, system=True,
                     params={"motif_rejet": motif_rejet(code), "code_motif": code, **trace})
        _tout_ou_rien(report, len(ids))
    if plan.a_executer:
        ids = [m.paiement_id for m in plan.a_executer]
        _tout_ou_rien(run(session, PAIEMENT, "confirmer", Selection.of_ids(ids), actor, now=now, system=True,
                          params=trace), len(ids))
    if plan.rapprochement:
        from .paiements import LOT_PAIEMENT
        _tout_ou_rien(run(session, LOT_PAIEMENT, "rapprocher", Selection.of_ids([plan.lot_id]), actor, now=now,
                          system=True, params=trace), 1)
    session.add(RetourBancaire(lot_id=plan.lot_id, fichier_sha256=plan.sha256, nom_fichier=plan.nom,
                               format=plan.format, importe_par_id=getattr(actor, "id", None), importe_at=now,
                               nb_acceptes=plan.nb_acceptes, nb_rejetes=plan.nb_rejetes,
                               montant_accepte=plan.montant_accepte, montant_rejete=plan.montant_rejete))
    session.flush()
    plan.applique = True
    return plan


def _tout_ou_rien(report, expected: int) -> None:
    """The batch is locked: a transfer that did not move was changed under us; the whole file is refused."""
    if report.changed != expected:
        raise RetourInvalide(f"{report.label} : {report.changed} virement(s) traité(s) sur {expected} "
                             f"({report.message()}) ; import annulé, rien n'a changé.")

