"""Règles métier pures : montants (R21-R34, R46-R47, R74), calendrier (R36, R41, R48, R68),
identifiants (R38, R75-R77) et mot de passe (R67).

Decimal en entrée, Decimal en sortie ; ni Flask, ni base de données, ni import d'un autre module
de `backoffice`. Les barèmes datés sont dans `params`.
"""
