"""ISO 20022 ExternalStatusReason1Code → French label, for the bank's returns (pain.002 StsRsnInf/Rsn/Cd).

Pure: a code in, a label out. The list is the part of the ISO external code set a French bank sends back
for SEPA credit transfers (EPC SCT rulebook reasons and the common ISO ones); an unlisted but well-formed
code keeps the bank's code and says it is not referenced here, it is never dropped.
"""

from __future__ import annotations

import re

CODES_REJET: dict[str, str] = {
    "AC01": "Numéro de compte incorrect",
    "AC02": "Numéro de compte du débiteur invalide",
    "AC03": "Numéro de compte du créancier invalide",
    "AC04": "Compte clôturé",
    "AC06": "Compte bloqué",
    "AC13": "Type de compte du débiteur invalide",
    "AG01": "Opération interdite sur ce type de compte",
    "AG02": "Code opération invalide",
    "AM01": "Montant nul",
    "AM02": "Montant supérieur au maximum autorisé",
    "AM04": "Provision insuffisante",
    "AM05": "Opération en double",
    "AM09": "Montant erroné",
    "BE01": "Nom du titulaire incohérent avec le compte",
    "BE04": "Adresse du créancier absente ou incorrecte",
    "BE05": "Créancier inconnu",
    "CNOR": "Banque du créancier non joignable",
    "CURR": "Devise incorrecte",
    "CUST": "Annulation à la demande du débiteur",
    "DNOR": "Banque du débiteur non joignable",
    "DT01": "Date invalide",
    "DUPL": "Paiement en double",
    "ED05": "Règlement échoué",
    "FF01": "Format de fichier invalide",
    "FOCR": "Retour suite à une demande d'annulation",
    "FRAD": "Opération suspectée de fraude",
    "MD01": "Absence de mandat",
    "MD07": "Titulaire décédé",
    "MS02": "Motif non précisé, à la demande du client",
    "MS03": "Motif non précisé",
    "NARR": "Motif indiqué en texte libre",
    "RC01": "BIC incorrect",
    "RR01": "Identification du débiteur manquante (réglementaire)",
    "RR02": "Nom ou adresse du débiteur manquant (réglementaire)",
    "RR03": "Nom ou adresse du créancier manquant (réglementaire)",
    "RR04": "Motif réglementaire",
    "SL01": "Service spécifique de la banque du débiteur",
    "TM01": "Reçu après l'heure limite",
}

FORMAT_CODE = re.compile(r"^[A-Z0-9]{4}$")
SANS_MOTIF = "MS03"  # a rejection the bank sent without a reason code


def code_valide(code: str) -> bool:
    """An ISO external code is four capital letters or digits."""
    return bool(FORMAT_CODE.match(code or ""))


def libelle_rejet(code: str) -> str:
    """The French label of a reason code (a well-formed unlisted code keeps its code)."""
    code = (code or "").strip().upper()
    if code in CODES_REJET:
        return CODES_REJET[code]
    return f"Motif bancaire {code} (non référencé)"


def motif_rejet(code: str) -> str:
    """What `paiement.motif_rejet` stores: « AC04 – Compte clôturé »."""
    code = (code or "").strip().upper()
    return f"{code} – {libelle_rejet(code)}"
