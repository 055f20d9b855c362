"""Workflows: the only place a status changes. REGISTRY maps a name to its transition table."""

from __future__ import annotations

from .engine import Context, Guard, Param, Report, Transition, Workflow, apply_chunk, run
from .selection import Selection


def registry() -> dict[str, Workflow]:
    from .activite_partielle import AUTORISATION, DI
    from .adultes_relais import DECLARATION as DECLARATION_AR, POSTE
    from .afas import DECLARATION
    from .allocations import ALLOCATION
    from .cerfa import CERFA
    from .compte_transitions import COMPTE
    from .echeances import ECHEANCE
    from .esat import EA, GARANTIE, VERSEMENT_DGF
    from .habilitations import HABILITATION
    from .hors_delai import HORS_DELAI
    from .inscriptions import INSCRIPTION
    from .mail import MAIL
    from .nacre import CONVENTION, ETAT, EXPERTISE
    from .paiements import LOT_PAIEMENT
    from .parcours import PARCOURS
    from .retours_banque import PAIEMENT
    from .reversements import REVERSEMENT
    from .service_civique import CONTRAT as CONTRAT_SC, MOIS as MOIS_SC
    return {w.name: w for w in (CERFA, ALLOCATION, HORS_DELAI, REVERSEMENT, COMPTE, LOT_PAIEMENT, MAIL,
                                  ECHEANCE, HABILITATION, PAIEMENT, AUTORISATION, DI, DECLARATION, PARCOURS,
                                  INSCRIPTION, CONTRAT_SC, MOIS_SC, GARANTIE, EA, VERSEMENT_DGF,
                                  CONVENTION, ETAT, EXPERTISE, POSTE, DECLARATION_AR)}


__all__ = ["Context", "Guard", "Param", "Report", "Selection", "Transition", "Workflow", "apply_chunk",
           "registry", "run"]
