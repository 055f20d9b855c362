"""Programmes of issue 16: NACRE (R51) in admin_views/nacre.py, Adultes-relais (R52) in admin_views/adultes_relais.py,
Service civique (R55) in admin_views/service_civique.py, ESAT and entreprises adaptées (R53, R54) in admin_views/esat.py."""
