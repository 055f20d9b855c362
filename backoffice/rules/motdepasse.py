"""Politique de mot de passe (R67) : au moins 8 caractères dont 1 chiffre et 1 caractère spécial.

Ajouts [derived] conformes aux recommandations usuelles (NIST SP 800-63B, ANSSI) : au plus 256
caractères, refusés explicitement au-delà et jamais tronqués ; pas de mot de passe courant ; pas
l'identifiant. Une longue phrase de passe est acceptée dès qu'elle remplit ces conditions.
"""

from __future__ import annotations

import unicodedata

from .params import MOT_DE_PASSE_LONGUEUR_MAX, MOT_DE_PASSE_LONGUEUR_MIN

# Shortest login checked for containment: a 1- or 2-letter login would refuse half of all passwords.
_LOGIN_LONGUEUR_MIN_CONTENU = 3

# Common passwords (French and international leak lists), compared case-insensitively. Many do not
# meet the composition rule anyway; the ones that do (azerty123!, motdepasse1!, …) are why the
# list exists.
MOTS_DE_PASSE_COURANTS: frozenset[str] = frozenset(
    """
    123456 123456789 12345678 12345 1234567 1234567890 111111 000000 123123 654321 666666 121212
    112233 123321 696969 987654321 11111111 00000000 1234 0000 azerty azertyuiop azerty1 azerty12
    azerty123 azerty1234 azerty123! azerty1! azerty! azertyuiop1 azertyuiop! qwerty qwerty1
    qwerty123 qwerty123! qwertyuiop qwerty1! password password1 password12 password123 password!
    password1! password123! p@ssw0rd p@ssword p@ssw0rd! p@ssw0rd1 passw0rd passw0rd! pa$$w0rd
    pa$$word motdepasse motdepasse1 motdepasse123 motdepasse! motdepasse1! motdepasse123! m0tdepasse
    m0tdepasse! m0td3p4ss3 mdp123 mdp123! mdp12345 admin admin1 admin123 admin123! admin1234 admin@123
    administrateur administrateur1! root toor root123! welcome welcome1 welcome1! welcome123
    welcome123! bienvenue bienvenue1 bienvenue1! bienvenue123 bienvenue123! bonjour bonjour1
    bonjour1! bonjour123 bonjour123! salut123 coucou coucou1 coucou123 coucou123! soleil soleil1
    soleil123 soleil123! doudou doudou1 doudou123 loulou loulou1 loulou123 chouchou chouchou1
    jetaime jetaime1 jetaime123 jetaime! jetaime1! jetaime123! nicolas nicolas1 camille camille1
    julien julien1 thomas thomas1 alexandre marseille marseille13 marseille13! paris paris75
    paris2024 paris2024! paris123! france france1 france123 france123! om13 psg psg123 football
    football1 football! iloveyou iloveyou1 iloveyou! monkey dragon letmein letmein1 letmein!
    sunshine princess princesse princesse1 superman batman trustno1 master master1 hello hello123
    hello123! abc123 abc123! abcd1234 abcd1234! abcdef abcdefgh azer1234 azer1234! qwer1234
    1q2w3e4r 1q2w3e4r! 1qaz2wsx 1qaz2wsx! a1b2c3d4 aaaaaa aaaaaaaa zxcvbnm 123abc 123abc! 123456a
    123456a! a123456 a123456! 1234567a 12345678a 12345678! 123456789! 1234567890! !qaz2wsx
    changeme changeme1 changeme! changeme123! secret secret1 secret123 secret123! test test1
    test123 test123! test1234 test1234! demo demo123 demo123! utilisateur utilisateur1! user123
    user123! login login123 login123! ordinateur ordinateur1! printemps printemps1! printemps2024!
    printemps2025! ete2024! ete2025! automne2024! automne2025! hiver2024! hiver2025! janvier2025!
    janvier2026! fevrier2025! septembre2025! decembre2025! 01011990 01011980 01012000 chocolat
    chocolat1 chocolat1! charlie charlie1 pokemon pokemon1 naruto naruto1 minecraft minecraft1
    mission1! missionlocale missionlocale1! asp12345 asp12345! cej12345! pacea123!
    """.split()
)


def _est_special(c: str) -> bool:
    # Anything that is neither a letter nor a digit counts, space included (passphrases).
    return not c.isalnum()


def verifier_mot_de_passe(pw: str, *, login: str | None = None) -> list[str]:
    """Liste des manquements au format du mot de passe, en français ; liste vide = accepté (R67).

    E11 : « abcdefg1! » accepté ; « abcdefgh! » refusé (pas de chiffre) ; « abc1! » refusé (moins
    de 8 caractères) ; « abcdefg12 » refusé (pas de caractère spécial).
    """
    erreurs: list[str] = []
    longueur = len(pw)
    # R67: at least 8 characters, one digit, one special character
    if longueur < MOT_DE_PASSE_LONGUEUR_MIN:
        erreurs.append(f"Le mot de passe doit contenir au moins {MOT_DE_PASSE_LONGUEUR_MIN} caractères.")
    if longueur > MOT_DE_PASSE_LONGUEUR_MAX:
        erreurs.append(f"Le mot de passe ne doit pas dépasser {MOT_DE_PASSE_LONGUEUR_MAX} caractères.")
    if not any(c.isdecimal() for c in pw):
        erreurs.append("Le mot de passe doit contenir au moins un chiffre.")
    if not any(_est_special(c) for c in pw):
        erreurs.append("Le mot de passe doit contenir au moins un caractère spécial (par exemple ! ? @ # - _).")
    pli = unicodedata.normalize("NFKC", pw).casefold()
    if pli in MOTS_DE_PASSE_COURANTS:
        erreurs.append("Ce mot de passe est trop courant : choisissez-en un autre.")
    if login:
        identifiant = unicodedata.normalize("NFKC", login).strip().casefold()
        if identifiant and (
            pli == identifiant or (len(identifiant) >= _LOGIN_LONGUEUR_MIN_CONTENU and identifiant in pli)
        ):
            erreurs.append("Le mot de passe ne doit pas contenir l'identifiant.")
    return erreurs


def mot_de_passe_conforme(pw: str, *, login: str | None = None) -> bool:
    return not verifier_mot_de_passe(pw, login=login)
