"""Volume for benchmarks: `backoffice seed --scale N` adds N × 300 youths, each with a CEJ path,
a validated cerfa with a valid RIB and up to 10 monthly allocations, in a few SQL statements.

PostgreSQL: INSERT … SELECT generate_series (1,000,000 allocations in about a minute here).
SQLite: batched executemany. Never one ORM object per row.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from backoffice.models import Allocation, Beneficiaire, Cerfa, CompteBancaire, Inscription, Structure

from .identites import iban_fr

NOMS = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY", "MOREAU",
        "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX", "VINCENT", "FOURNIER"]
PRENOMS = ["LEA", "HUGO", "CHLOE", "LUCAS", "EMMA", "NATHAN", "INES", "YANIS", "JADE", "ADAM", "SARAH", "NOAH"]
STATUTS = ["versee"] * 6 + ["acceptee", "validee_siege", "soumise", "enregistree"]


def load_volume(session, *, scale: int, seed: int = 2026, progress=print) -> dict[str, int]:
    return load_allocations_bulk(session, beneficiaires=300 * scale, allocations_par_beneficiaire=5, seed=seed,
                                 progress=progress)


def load_allocations_bulk(session, *, beneficiaires: int, allocations_par_beneficiaire: int, seed: int = 2026,
                          progress=print) -> dict[str, int]:
    from seeds.referentiel import load_catalogue, load_structures
    structures = load_structures(session)
    cej = load_catalogue(session)["CEJ"]
    antennes = [s.id for s in structures.values() if s.type.value == "antenne"]
    session.commit()
    start = (session.execute(sa.select(sa.func.coalesce(sa.func.max(Beneficiaire.id), 0))).scalar_one() or 0) + 1
    n, per = beneficiaires, max(1, min(allocations_par_beneficiaire, 10))
    if session.get_bind().dialect.name == "postgresql":
        _postgresql(session, start, n, per, cej.id, antennes, progress)
    else:
        _sqlite(session, start, n, per, cej.id, antennes, seed, progress)
    session.commit()
    return {"bénéficiaires ajoutés": n, "allocations ajoutées": n * per}


def _postgresql(session, start, n, per, dispositif_id, antennes, progress) -> None:
    p = {"a": start, "b": start + n - 1, "disp": dispositif_id, "ants": antennes, "per": per,
         "noms": NOMS, "prenoms": PRENOMS, "statuts": STATUTS}
    steps = [
        ("bénéficiaires", """INSERT INTO beneficiaire (id, identifiant_imilo, nom, prenom, nom_recherche, date_naissance,
             antenne_id, ressortissant_eee, inscrit_france_travail, qpv, rqth, tranche_fiscale, protection_juridique,
             micro_entrepreneur, version, created_at, updated_at)
           SELECT g, 'V' || lpad(g::text, 9, '0'), (CAST(:noms AS text[]))[1 + g % 20] || '-' || (g % 997), (CAST(:prenoms AS text[]))[1 + g % 12],
                  (CAST(:noms AS text[]))[1 + g % 20] || '-' || (g % 997) || ' ' || (CAST(:prenoms AS text[]))[1 + g % 12],
                  DATE '2000-01-01' + (g % 3000), (CAST(:ants AS integer[]))[1 + g % array_length(CAST(:ants AS integer[]), 1)], true, true, g % 5 = 0,
                  false, 'non_imposable', 'aucune', false, 1, now(), now()
           FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) g"""),
        ("RIB", """INSERT INTO compte_bancaire (beneficiaire_id, iban, titulaire, type_compte, compte_joint, actif, version,
             created_at, updated_at)
           SELECT id, 'FR7630006000011234567890189', left(prenom || ' ' || nom, 49), 'courant', false, true, 1, now(), now()
           FROM beneficiaire WHERE id BETWEEN :a AND :b"""),
        ("parcours", """INSERT INTO inscription (numero, beneficiaire_id, dispositif_id, antenne_id, date_debut,
             date_fin_prevue, statut, sortie_positive, nb_renouvellements, version, created_at, updated_at)
           SELECT 'PV' || id, id, :disp, antenne_id, DATE '2024-01-01', DATE '2024-12-31', 'ouvert', false, 0, 1, now(),
                  now() FROM beneficiaire WHERE id BETWEEN :a AND :b"""),
        ("cerfa", """INSERT INTO cerfa (numero, inscription_id, antenne_id, type_version, compte_bancaire_id,
             titulaire_rib, rib_imprime, montant_prevu, statut, version, created_at, updated_at)
           SELECT 'CV' || i.id, i.id, i.antenne_id, 'initial', cb.id, cb.titulaire, true, 561.68, 'accepte', 1, now(), now()
           FROM inscription i JOIN compte_bancaire cb ON cb.beneficiaire_id = i.beneficiaire_id
           WHERE i.beneficiaire_id BETWEEN :a AND :b"""),
        ("allocations", """INSERT INTO allocation (inscription_id, cerfa_id, beneficiaire_id, dispositif_id, antenne_id,
             mois, nature, statut, montant_forfaitaire, ressources_differentielles, montant, hors_delai, version,
             created_at, updated_at)
           SELECT c.inscription_id, c.id, i.beneficiaire_id, i.dispositif_id, i.antenne_id,
                  DATE '2024-01-01' + (m || ' month')::interval, CASE WHEN m = 0 THEN 'entree' ELSE 'courante' END,
                  (CAST(:statuts AS text[]))[1 + (i.beneficiaire_id * 7 + m) % 10], 561.68, 0,
                  round((150 + (i.beneficiaire_id * 37 + m * 13) % 412)::numeric + (i.beneficiaire_id % 100) / 100.0, 2),
                  false, 1, now(), now()
           FROM cerfa c JOIN inscription i ON i.id = c.inscription_id CROSS JOIN generate_series(0, CAST(:per AS integer) - 1) m
           WHERE i.beneficiaire_id BETWEEN :a AND :b"""),
    ]
    for label, sql in steps:
        if label == "parcours":
            # R20's trigger takes one transaction advisory lock per youth (migration 0015): by slices of 2,000, one
            # commit each, so a large load never fills PostgreSQL's lock table (« out of shared memory »)
            for a in range(start, start + n, 2000):
                session.execute(sa.text(sql), {**p, "a": a, "b": min(a + 1999, start + n - 1)})
                session.commit()
        else:
            session.execute(sa.text(sql), p)
        progress(f"  {label} : ok")
    session.execute(sa.text("SELECT setval(pg_get_serial_sequence('beneficiaire', 'id'), (SELECT max(id) FROM beneficiaire))"))
    session.commit()
    session.execute(sa.text("ANALYZE"))


def _sqlite(session, start, n, per, dispositif_id, antennes, seed, progress) -> None:
    rng = random.Random(seed)
    now = datetime(2025, 6, 16)
    for chunk in range(start, start + n, 2000):
        ids = range(chunk, min(chunk + 2000, start + n))
        session.execute(sa.insert(Beneficiaire), [
            {"id": g, "identifiant_imilo": f"V{g:09d}", "nom": f"{NOMS[g % 20]}-{g % 997}", "prenom": PRENOMS[g % 12],
             "nom_recherche": f"{NOMS[g % 20]}-{g % 997} {PRENOMS[g % 12]}", "date_naissance": date(2003, 1, 1),
             "antenne_id": antennes[g % len(antennes)], "version": 1, "created_at": now, "updated_at": now} for g in ids])
        session.execute(sa.insert(CompteBancaire), [
            {"beneficiaire_id": g, "iban": iban_fr(rng), "titulaire": f"{PRENOMS[g % 12]} {NOMS[g % 20]}",
             "version": 1, "created_at": now, "updated_at": now} for g in ids])
        session.execute(sa.insert(Inscription), [
            {"numero": f"PV{g}", "beneficiaire_id": g, "dispositif_id": dispositif_id,
             "antenne_id": antennes[g % len(antennes)], "date_debut": date(2024, 1, 1),
             "date_fin_prevue": date(2024, 12, 31), "version": 1, "created_at": now, "updated_at": now} for g in ids])
        rows = session.execute(sa.select(Inscription.id, Inscription.beneficiaire_id, Inscription.antenne_id,
                                         CompteBancaire.id, CompteBancaire.titulaire)
                               .join(CompteBancaire, CompteBancaire.beneficiaire_id == Inscription.beneficiaire_id)
                               .where(Inscription.beneficiaire_id.in_(list(ids)))).all()
        session.execute(sa.insert(Cerfa), [
            {"numero": f"CV{i}", "inscription_id": i, "antenne_id": ant, "type_version": "initial",
             "compte_bancaire_id": cb, "titulaire_rib": tit, "rib_imprime": True, "montant_prevu": Decimal("561.68"),
             "statut": "accepte", "version": 1, "created_at": now, "updated_at": now} for i, b, ant, cb, tit in rows])
        cerfas = dict(session.execute(sa.select(Cerfa.inscription_id, Cerfa.id)
                                      .where(Cerfa.inscription_id.in_([r[0] for r in rows]))).all())
        session.execute(sa.insert(Allocation), [
            {"inscription_id": i, "cerfa_id": cerfas[i], "beneficiaire_id": b, "dispositif_id": dispositif_id,
             "antenne_id": ant, "mois": date(2024, 1 + m, 1), "nature": "entree" if m == 0 else "courante",
             "statut": STATUTS[(b * 7 + m) % 10], "montant_forfaitaire": Decimal("561.68"),
             "ressources_differentielles": Decimal("0"), "montant": Decimal(150 + (b * 37 + m * 13) % 412),
             "version": 1, "created_at": now, "updated_at": now}
            for i, b, ant, cb, tit in rows for m in range(per)])
        progress(f"  {min(chunk + 2000, start + n) - start} / {n} bénéficiaires")
